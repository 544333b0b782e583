//! Poison messages on the local runtime: while the hospital's system is unreachable every
//! hand-off to it fails; after the configured receives the message goes to the dead-letter queue,
//! where `/metrics` counts it (the alarm) and the log names it. Once the fault is fixed (the
//! service restarted with the hospital reachable), `newborn redrive --queue health_check` puts it
//! back and the application completes, its hospital stage once. (The same on the AWS emulator:
//! `shared/lambda/tests/aws.rs`.)
//!
//! And the evaluation stage across a SIGKILL: a rating given just before the kill reaches the
//! 好差评 platform once after the restart, and the month's efficiency report — computed from the
//! store, not from counters — reads the same before and after, number for number with the
//! application's own timeline.

mod support;

use anyhow::{Context, Result};
use newborn::demo::ApplicantClient;
use std::time::{Duration, Instant};
use support::*;

/// The service clock of both tests, a rare SLA sweep and quick redeliveries.
const CLOCK: [&str; 6] = [
    "--clock-start",
    CLOCK_START,
    "--sla-interval-secs",
    "3600",
    "--visibility-timeout-secs",
    "1",
];

async fn metric(api: u16, line_start: &str) -> Result<u64> {
    let text = newborn_http::client()
        .get(format!("http://127.0.0.1:{api}/metrics"))
        .send()
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
    let mut common = CLOCK.to_vec();
    common.extend(["--max-receives", "3"]);
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
        .filter(|e| e["stage"] == "health_check" && e["event"] == "complete")
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

/// The agency a stage's work counts for in the reports.
fn agency_of(stage: &str) -> &'static str {
    match stage {
        "health_check" | "certificate_release" => "hospital",
        "police" => "police_station",
        "insurance" => "medical_insurance",
        "social_security_card" => "social_security",
        _ => "platform",
    }
}

/// Rules: OURS-REPORTS, OURS-RATING-PLATFORM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rating_reaches_the_platform_once_across_a_kill_and_the_report_survives_the_restart()
-> Result<()> {
    use serde_json::{Value, json};
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let (api, sim) = (free_port()?, free_port()?);
    let issuer = newborn::runtime::keys::dev_issuer(&data)?;
    let supervisor = issuer
        .mint(
            "sup-report",
            newborn_http::Role::Supervisor,
            chrono::TimeDelta::hours(1),
            chrono::Utc::now(),
        )
        .map_err(anyhow::Error::msg)?;
    let client = ApplicantClient::new(&format!("http://127.0.0.1:{api}"), issuer)?;
    let sim_listen = format!("127.0.0.1:{sim}");
    let mut args = CLOCK.to_vec();
    args.extend(["--simulator-listen", &sim_listen, "--agency-delay-ms", "20"]);
    let mut child = serve_process(&data, api, &args, &dir.path().join("first.log"))?;
    wait_healthy(&client).await?;
    let owner = "mum-kill-rate";
    let mut form: Value = serde_json::from_str(newborn::demo::SAMPLE)?;
    let mut docs = vec![];
    for kind in SAMPLE_DOCUMENTS
        .iter()
        .chain(&["household_booklet_newborn"])
    {
        docs.push(client.upload(owner, kind).await?);
    }
    form["documents"] = Value::Array(docs);
    let id = client.submit(owner, &form).await?;
    // The police ask for a supplement first: the report counts it.
    let http = newborn_http::client();
    http.post(format!("http://{sim_listen}/scripts"))
        .json(&json!({"application_id": id, "stage": "police", "outcomes": ["supplement", "approve"]}))
        .send()
        .await?
        .error_for_status()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = client.act(owner, &id).await?;
        if v["outcome"] != "in_progress" {
            anyhow::ensure!(v["outcome"] == "completed", "{v:#}");
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "never finished: {v:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (stage, level) in [
        ("police", "dissatisfied"),
        ("health_check", "very_satisfied"),
    ] {
        let res = client
            .post(owner, &format!("/applications/{id}/ratings"))
            .json(&json!({"stage": stage, "level": level}))
            .send()
            .await?;
        anyhow::ensure!(res.status() == 201, "{}", res.text().await?);
    }
    let report_url = format!("http://127.0.0.1:{api}/supervision/reports?period=2025-11");
    let report = || async {
        let v: Value = http
            .get(&report_url)
            .bearer_auth(&supervisor)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        anyhow::Ok(v)
    };
    // Killed right after the ratings were accepted: their forwards may be in flight.
    let before_kill = report().await?;
    child.kill()?;
    child.wait()?;

    let mut child = serve_process(&data, api, &args, &dir.path().join("second.log"))?;
    wait_healthy(&client).await?;
    let ratings_url = format!("http://{sim_listen}/ratings");
    let deadline = Instant::now() + Duration::from_secs(60);
    let (received, follow_ups) = loop {
        let got: Value = http.get(&ratings_url).send().await?.json().await?;
        let view = client.view(owner, &id).await?;
        let mine: Vec<Value> = got
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| {
                r["key"]
                    .as_str()
                    .is_some_and(|k| k.starts_with(id.as_str()))
            })
            .cloned()
            .collect();
        let follow_ups = view["follow_ups"].as_array().map_or(0, Vec::len);
        if mine.len() == 2 && follow_ups == 1 {
            break (mine, follow_ups);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the ratings never all arrived: {mine:#?} {view:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut keys: Vec<&str> = received.iter().filter_map(|r| r["key"].as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [format!("{id}:health_check"), format!("{id}:police")],
        "each rating recorded once by the platform (repeats only counted): {received:#?}"
    );
    let after_restart = report().await?;
    assert_eq!(follow_ups, 1);

    // The report, number for number, from the application's own timeline.
    let timeline = client
        .json(client.get(owner, &format!("/applications/{id}/timeline")))
        .await?;
    let mut expected: std::collections::BTreeMap<&str, [u64; 5]> = Default::default();
    for e in timeline.as_array().into_iter().flatten() {
        let agency = agency_of(e["stage"].as_str().unwrap_or_default());
        let row = expected.entry(agency).or_default();
        let event = e["event"].as_str().unwrap_or_default();
        if e["to"] == "completed" && e["from"] != "completed" {
            row[0] += 1;
        }
        row[1] += u64::from(event == "request_supplement");
        row[2] += u64::from(event == "rated_dissatisfied");
        row[3] += u64::from(event == "rated_very_satisfied");
        row[4] += u64::from(event == "follow_up_opened");
    }
    for (agency, [completed, supplements, dissatisfied, very_satisfied, opened]) in &expected {
        let row = after_restart["agencies"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["agency"] == *agency))
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            (
                row["stages_completed"].as_u64(),
                row["completed_on_time"].as_u64(),
                row["supplements_requested"].as_u64(),
                row["ratings"]["dissatisfied"].as_u64(),
                row["ratings"]["very_satisfied"].as_u64(),
                row["follow_ups_opened"].as_u64(),
                row["overdue"].as_u64(),
            ),
            (
                Some(*completed),
                Some(*completed),
                Some(*supplements),
                Some(*dissatisfied),
                Some(*very_satisfied),
                Some(*opened),
                Some(0)
            ),
            "{agency}: {row:#}"
        );
    }
    assert_eq!(expected["police_station"], [1, 1, 1, 0, 1], "{timeline:#}");
    assert_eq!(expected["hospital"][3], 1);
    // The restart changes nothing the report had counted before the kill (the follow-up may
    // have opened after it, if its forward was still in flight).
    let without_follow_ups = |mut v: Value| {
        for row in v["agencies"].as_array_mut().into_iter().flatten() {
            row["follow_ups_opened"] = Value::Null;
        }
        v
    };
    assert_eq!(
        without_follow_ups(before_kill),
        without_follow_ups(after_restart.clone())
    );
    // The command reads the same from the data directory.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_newborn"))
        .args(["report", "--data-dir"])
        .arg(&data)
        .args(["--period", "2025-11", "--json"])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(printed, after_restart, "newborn report and the route agree");
    child.kill()?;
    child.wait()?;
    println!(
        "ratings forwarded once each across a SIGKILL; report identical before and after the restart: {}",
        after_restart["agencies"]
    );
    Ok(())
}
