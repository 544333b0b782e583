//! Poison messages on the local runtime: while the hospital's system is unreachable every
//! hand-off to it fails; after the configured receives the message goes to the dead-letter queue,
//! where `/metrics` counts it (the alarm) and the log names it. Once the fault is fixed (the
//! service restarted with the hospital reachable), `newborn redrive --queue health_check` puts it
//! back and the application completes, its hospital stage once. (The same on the AWS emulator:
//! `shared/lambda/tests/aws.rs`.)

mod support;

use anyhow::{Context, Result};
use newborn::demo::ApplicantClient;
use std::time::{Duration, Instant};
use support::*;

async fn metric(api: u16, line_start: &str) -> Result<u64> {
    let text = reqwest::get(format!("http://127.0.0.1:{api}/metrics"))
        .await?
        .text()
        .await?;
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no {line_start} in {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_off_that_keeps_failing_is_dead_lettered_counted_and_redriven_after_the_fix()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let (api, sim, down) = (free_port()?, free_port()?, free_port()?);
    let issuer = newborn::runtime::keys::dev_issuer(&data)?;
    let client = ApplicantClient::new(&format!("http://127.0.0.1:{api}"), issuer)?;
    let common = [
        "--clock-start",
        CLOCK_START,
        "--sla-interval-secs",
        "3600",
        "--visibility-timeout-secs",
        "1",
        "--max-receives",
        "3",
    ];
    // The fault: the agencies' gateway is down (nothing listens there).
    let unreachable = format!("http://127.0.0.1:{down}");
    let mut args = common.to_vec();
    args.extend(["--agencies-url", &unreachable]);
    let mut child = serve_process(&data, api, &args, &dir.path().join("broken.log"))?;
    wait_healthy(&client).await?;
    let mut form: serde_json::Value = serde_json::from_str(newborn::demo::SAMPLE)?;
    let mut docs = vec![];
    // No licence directory is reachable either: a family whose identity cards were issued
    // outside the province photographs them (闽卫政法〔2024〕40号 附件2 一(一)), so pre-review
    // needs no look-up and the fault meets the hospital's hand-off.
    for kind in SAMPLE_DOCUMENTS
        .iter()
        .chain(&["mother_id_card", "father_id_card"])
    {
        docs.push(client.upload("mum-poison", kind).await?);
    }
    form["documents"] = serde_json::Value::Array(docs);
    form.as_object_mut().map(|f| f.remove("licences"));
    form["mother"]["id_number"] = serde_json::json!("440104199403150024");
    form["father"]["id_number"] = serde_json::json!("440104199207080014");
    let id = client.submit("mum-poison", &form).await?;

    let started = Instant::now();
    let line = "newborn_dead_letters{queue=\"health_check\"}";
    while metric(api, line).await? == 0 {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "never dead-lettered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let dead_lettered_after = started.elapsed();
    let view = client.view("mum-poison", &id).await?;
    assert_eq!(
        stage(&view, "health_check")["status"]["status"],
        "awaiting_agency",
        "the application waits, nothing lost: {view:#}"
    );
    child.kill()?;
    child.wait()?;
    let log = std::fs::read_to_string(dir.path().join("broken.log"))?;
    assert!(
        log.contains("message dead-lettered"),
        "the log names the dead letter: {log}"
    );

    // The fix: the hospital is reachable again (the simulated agencies). Redrive, then finish.
    let redrive = std::process::Command::new(env!("CARGO_BIN_EXE_newborn"))
        .args(["redrive", "--data-dir"])
        .arg(&data)
        .args(["--queue", "health_check"])
        .output()?;
    let said = String::from_utf8_lossy(&redrive.stdout).into_owned();
    assert!(
        redrive.status.success() && said.contains("moved 1 "),
        "{said}{}",
        String::from_utf8_lossy(&redrive.stderr)
    );
    let mut args = common.to_vec();
    let sim_listen = format!("127.0.0.1:{sim}");
    args.extend(["--simulator-listen", &sim_listen, "--agency-delay-ms", "20"]);
    let mut child = serve_process(&data, api, &args, &dir.path().join("fixed.log"))?;
    wait_healthy(&client).await?;
    assert_eq!(
        metric(api, line).await?,
        0,
        "the dead-letter queue is empty"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let view = loop {
        let v = client.act("mum-poison", &id).await?;
        if v["outcome"] != "in_progress" {
            break v;
        }
        anyhow::ensure!(Instant::now() < deadline, "never finished: {v:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let timeline = client
        .json(client.get("mum-poison", &format!("/applications/{id}/timeline")))
        .await?;
    child.kill()?;
    child.wait()?;
    assert_eq!(view["outcome"], "completed", "{view:#}");
    let completed = timeline
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["stage"] == "health_check" && e["to"] == "completed")
        .count();
    assert_eq!(
        completed, 1,
        "the hospital stage completed once: {timeline:#}"
    );
    println!(
        "dead-lettered after 3 receives in {:.1} s, counted on /metrics, redriven (1 message), completed",
        dead_lettered_after.as_secs_f64()
    );
    Ok(())
}
