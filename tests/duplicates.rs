//! Duplicate and reordered delivery: the queues deliver every message twice and out of order
//! (`--duplicate-delivery`), and agency callbacks are replayed and raced in parallel for the
//! same stage. No transition happens twice, none is lost; racing writers are settled by the
//! store's optimistic locking.

mod support;

use anyhow::Result;
use chrono::{TimeDelta, Utc};
use newborn_domain::stage::Agency;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use support::*;

/// Per stage, how often each transition (from → to) happened in the timeline.
fn transitions(timeline: &[Value]) -> BTreeMap<(String, String, String), usize> {
    let mut out = BTreeMap::new();
    for e in timeline {
        let key = (
            e["stage"].as_str().unwrap_or_default().to_owned(),
            e["from"].as_str().unwrap_or_default().to_owned(),
            e["to"].as_str().unwrap_or_default().to_owned(),
        );
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

/// Per stage, the sequence of its transitions (event, from, to) — the same for a given scenario
/// however the hand-offs were delivered (parallel stages may interleave differently).
fn per_stage(timeline: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in timeline {
        out.entry(e["stage"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push(format!("{} {} → {}", e["event"], e["from"], e["to"]));
    }
    out
}

/// Runs the scenarios (six plain applications, a police supplement loop, an insurance
/// go-offline) to their end; returns per application its outcome and per-stage transitions.
async fn run_scenarios(t: &TestService) -> Result<Vec<(String, BTreeMap<String, Vec<String>>)>> {
    let mut apps = vec![];
    for i in 0..6 {
        let owner = format!("dup-{i}");
        apps.push((owner.clone(), t.submit(&owner, &[], &[], |_| {}).await?));
    }
    let id = t.submit("dup-supplement", &[], &[], |_| {}).await?;
    t.script(&id, "police", &["supplement", "approve"]).await?;
    apps.push(("dup-supplement".into(), id));
    let id = t.submit("dup-offline", &[], &[], |_| {}).await?;
    t.script(&id, "insurance", &["offline"]).await?;
    apps.push(("dup-offline".into(), id));
    let mut out = vec![];
    for (owner, id) in &apps {
        let view = t.drive(owner, id).await?;
        let timeline = t.timeline(owner, id).await?;
        out.push((
            format!("{owner}: {}", view["outcome"].as_str().unwrap_or_default()),
            per_stage(&timeline),
        ));
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_delivered_twice_and_out_of_order_changes_each_application_once() -> Result<()>
{
    let reference = run_scenarios(&TestService::start().await?).await?;
    let t = TestService::start_with(|c| c.duplicate_delivery = true).await?;
    let doubled = run_scenarios(&t).await?;
    let mut transitions = 0;
    for ((want_outcome, want), (got_outcome, got)) in reference.iter().zip(&doubled) {
        assert_eq!(got_outcome, want_outcome);
        assert_eq!(
            got, want,
            "{got_outcome}: the same transitions as with single delivery, none twice, none lost"
        );
        transitions += got.values().map(Vec::len).sum::<usize>();
    }
    assert!(
        doubled.iter().any(|(o, _)| o.ends_with("terminated"))
            && doubled
                .iter()
                .filter(|(o, _)| o.ends_with("completed"))
                .count()
                == 7
    );

    // The agencies saw each dispatch (one per stage and round) more than once, and answered it
    // once: the duplicates really were delivered, and de-duplicated by idempotency key.
    let received = t.received().await?;
    let deliveries: u64 = received
        .iter()
        .map(|r| r["deliveries"].as_u64().unwrap_or(0))
        .sum();
    println!(
        "{} applications, {transitions} transitions as with single delivery; {} distinct dispatches received {deliveries} times, answered once each",
        doubled.len(),
        received.len()
    );
    assert!(
        deliveries > received.len() as u64,
        "the test mode delivered duplicates to the agencies"
    );
    assert!(received.iter().all(|r| r["state"] == "answered"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raced_and_replayed_callbacks_apply_once() -> Result<()> {
    let t = TestService::start().await?;
    let police = t.agency_key(Agency::PoliceStation)?;
    let t = &t;
    let held = |owner: &'static str| async move { anyhow::Ok(t.held_by_police(owner).await?.0) };
    let approve = police_approval;
    // Sends each body signed `seconds` ago (distinct signatures), all at once.
    let police = &police;
    let race = |bodies: Vec<(Value, i64)>| {
        let mut tasks = tokio::task::JoinSet::new();
        for (body, seconds) in bodies {
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            let signed = police.headers(
                &newborn_service::signing::new_message_id(),
                Utc::now() - TimeDelta::seconds(seconds),
                &bytes,
            );
            let req = t.callback(signed, bytes);
            tasks.spawn(async move {
                let res = req.send().await?;
                let status = res.status().as_u16();
                let body: Value = res.json().await.unwrap_or(Value::Null);
                anyhow::Ok((status, body))
            });
        }
        async move {
            let mut out = vec![];
            while let Some(r) = tasks.join_next().await {
                out.push(r??);
            }
            anyhow::Ok(out)
        }
    };

    // Eight copies of the same approval, each a new message (an agency retrying), at once.
    let id = held("race-same").await?;
    let answers = race((0..8).map(|i| (approve(&id), i)).collect()).await?;
    let applied = answers
        .iter()
        .filter(|(s, b)| *s == 200 && b["result"] == "applied")
        .count();
    let acknowledged = answers
        .iter()
        .filter(|(s, b)| *s == 200 && b["result"] == "already_applied")
        .count();
    assert_eq!(
        (applied, acknowledged),
        (1, 7),
        "one applied, the rest acknowledged: {answers:?}"
    );
    // The same message (webhook-id) again is a replay.
    let bytes = serde_json::to_vec(&approve(&id))?;
    let signed = police.headers(
        &newborn_service::signing::new_message_id(),
        Utc::now(),
        &bytes,
    );
    let mut statuses = vec![];
    for _ in 0..3 {
        let res = t.callback(signed.clone(), bytes.clone()).send().await?;
        statuses.push(res.status().as_u16());
    }
    assert_eq!(
        statuses[1..],
        [409, 409],
        "replays are refused: {statuses:?}"
    );
    let timeline = t.timeline("race-same", &id).await?;
    let done = transitions(&timeline)
        .into_iter()
        .filter(|((s, from, to), _)| s == "police" && to == "completed" && from != "completed")
        .map(|(_, n)| n)
        .sum::<usize>();
    assert_eq!(done, 1, "the police stage completed once: {timeline:#?}");

    // Contradicting answers at once: an approval and a supplement request. One wins.
    let id = held("race-conflict").await?;
    let supplement = json!({"application_id": id, "stage": "police", "round": 1, "outcome": {
        "type": "supplement", "items": [{"type": "document", "kind": "household_booklet_registering_parent"}],
        "reason": {"zh": "户口簿页不清晰", "en": "the booklet page is unreadable"}}});
    let answers = race(vec![(approve(&id), 0), (supplement, 1)]).await?;
    let won = answers.iter().filter(|(s, _)| *s == 200).count();
    let lost = answers.iter().filter(|(s, _)| *s == 409).count();
    assert_eq!((won, lost), (1, 1), "one wins, one is refused: {answers:?}");
    let timeline = t.timeline("race-conflict", &id).await?;
    let left = timeline
        .iter()
        .filter(|e| e["stage"] == "police" && e["from"] == "awaiting_agency")
        .count();
    assert_eq!(
        left, 1,
        "the stage left awaiting_agency once: {timeline:#?}"
    );
    println!(
        "8 raced retries: {applied} applied, {acknowledged} acknowledged; 2 replays refused; approve vs supplement: {won} won, {lost} refused"
    );
    Ok(())
}
