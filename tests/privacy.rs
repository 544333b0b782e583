//! Privacy of logs: the demo's eleven scenarios run against `newborn serve` at the most verbose
//! log level (text and JSON), with every line of the service's log and of the demo's output
//! captured; no identity number, mobile number, bank account or address of the applicants may
//! appear unmasked. Prints what it scanned and found.

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The personal data of the sample form, each with what it is.
fn sample_personal_data() -> Result<Vec<(&'static str, String)>> {
    let form: serde_json::Value = serde_json::from_str(newborn::demo::SAMPLE)?;
    let text = |p: &str| {
        form.pointer(p)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .with_context(|| format!("the sample has no {p}"))
    };
    Ok(vec![
        ("ID number", text("/mother/id_number")?),
        ("ID number", text("/father/id_number")?),
        ("mobile number", text("/mother/phone")?),
        ("mobile number", "13900001234".to_owned()), // the father's, without spaces
        ("bank account", text("/maternity/payout/account")?),
        ("address", text("/mother/household_address")?),
        ("address", text("/father/household_address")?),
        ("address", text("/insurance/address")?),
    ])
}

/// Digit runs that look like personal numbers whatever the application: 18-character identity
/// numbers, mainland mobile numbers, 16–19 digit bank cards.
fn looks_personal(line: &str) -> Vec<(&'static str, String)> {
    let mut found = vec![];
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        let x = i < chars.len() && (chars[i] == 'X' || chars[i] == 'x');
        let run: String = chars[start..i].iter().collect();
        let before = start.checked_sub(1).map(|j| chars[j]);
        if before.is_some_and(|c| c.is_ascii_alphanumeric()) {
            continue; // part of an identifier (a hash, an application id)
        }
        match (run.len(), x) {
            (17, true) | (18, false) => found.push(("ID number", run)),
            (11, false) if run.starts_with('1') && run.as_bytes()[1] >= b'3' => {
                found.push(("mobile number", run))
            }
            (16..=19, false) => found.push(("bank account", run)),
            _ => {}
        }
    }
    found
}

fn run_demo_against_verbose_service(json: bool) -> Result<(String, String)> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let (api, sim) = (free_port()?, free_port()?);
    let log = dir.path().join("serve.log");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_newborn"));
    serve
        .args(["serve", "--data-dir"])
        .arg(&data)
        .args(["--listen", &format!("127.0.0.1:{api}")])
        .args(["--simulator-listen", &format!("127.0.0.1:{sim}")])
        .args(["--agency-delay-ms", "20"])
        .env(
            "RUST_LOG",
            "trace,hyper=info,h2=info,reqwest=info,rustls=info",
        )
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?);
    if json {
        serve.arg("--log-json");
    }
    let mut child = serve.spawn()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !data.join("service.json").exists()
        || std::net::TcpStream::connect(("127.0.0.1", api)).is_err()
    {
        anyhow::ensure!(Instant::now() < deadline, "the service did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let demo = Command::new(env!("CARGO_BIN_EXE_newborn"))
        .args(["demo", "--data-dir"])
        .arg(&data)
        .args(["--timeout-secs", "120"])
        .env("RUST_LOG", "trace")
        .output()?;
    child.kill()?;
    child.wait()?;
    anyhow::ensure!(
        demo.status.success(),
        "the demo failed: {}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let demo_output = format!(
        "{}{}",
        String::from_utf8_lossy(&demo.stdout),
        String::from_utf8_lossy(&demo.stderr)
    );
    Ok((std::fs::read_to_string(log)?, demo_output))
}

#[test]
fn no_personal_data_reaches_the_logs_unmasked() -> Result<()> {
    let personal = sample_personal_data()?;
    for json in [false, true] {
        let (service_log, demo_output) = run_demo_against_verbose_service(json)?;
        let mut lines = 0;
        let mut leaks: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (source, text) in [("service log", &service_log), ("demo output", &demo_output)] {
            for line in text.lines() {
                lines += 1;
                for (what, value) in &personal {
                    if line.contains(value.as_str()) {
                        leaks
                            .entry(what)
                            .or_default()
                            .push(format!("{source}: {line}"));
                    }
                }
                for (what, run) in looks_personal(line) {
                    leaks
                        .entry(what)
                        .or_default()
                        .push(format!("{source}: {run} in {line}"));
                }
            }
        }
        println!(
            "{} logs: scanned {lines} lines ({} bytes of service log at trace level, {} bytes of demo output) for {} known values and 3 number patterns: {} leaks",
            if json { "JSON" } else { "text" },
            service_log.len(),
            demo_output.len(),
            personal.len(),
            leaks.values().map(Vec::len).sum::<usize>()
        );
        assert!(
            service_log.lines().count() > 100,
            "the service logged too little to prove anything: {service_log}"
        );
        assert!(
            leaks.is_empty(),
            "personal data in the logs: {:#?}",
            leaks
                .iter()
                .map(|(k, v)| (k, v.iter().take(3).collect::<Vec<_>>()))
                .collect::<Vec<_>>()
        );
    }
    Ok(())
}

#[test]
fn the_scanner_finds_what_it_looks_for() {
    let found: Vec<&str> = looks_personal(
        "id 35010219940315002X, phone 13812345678, card 6217001234567890123, hash a1350102199403150021",
    )
    .into_iter()
    .map(|(what, _)| what)
    .collect();
    assert_eq!(found, ["ID number", "mobile number", "bank account"]);
}
