//! The sample events in `events/` parse as what they claim to be and round-trip, and the stage
//! handler reports a poison record alone in a batch (partial batch failure).

mod support;

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use newborn_domain::application::parse_form;
use newborn_domain::stage::Stage;
use newborn_service::ports::StageMessage;
use newborn_service::{Callback, RegistrationDecision, SupplementAnswer};
use serde_json::Value;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/events/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn round_trips<T: serde::de::DeserializeOwned + serde::Serialize>(path: &str) -> T {
    let text = read(path);
    let value: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let again: Value = serde_json::to_value(&value).unwrap_or_default();
    let original: Value = serde_json::from_str(&text).unwrap_or_default();
    assert_eq!(again, original, "{path} does not round-trip");
    value
}

#[test]
fn every_sample_event_parses_and_round_trips() {
    assert!(parse_form(read("api/submit-application.json").as_bytes()).is_ok());
    round_trips::<SupplementAnswer>("api/supplement.json");
    let licence = round_trips::<SupplementAnswer>("api/supplement-licence.json");
    assert_eq!(licence.licences.len(), 1);
    let registration: Value = serde_json::from_str(&read("api/licence-registration.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    let _: newborn_domain::licence::RegistrationReason =
        serde_json::from_value(registration["reason"].clone()).unwrap_or_else(|e| panic!("{e}"));
    let _: Vec<newborn_domain::application::DocumentKind> =
        serde_json::from_value(registration["kinds"].clone()).unwrap_or_else(|e| panic!("{e}"));
    for name in ["registration-approved.json", "registration-rejected.json"] {
        round_trips::<RegistrationDecision>(&format!("directory/{name}"));
    }
    let sqs: SqsEvent = serde_json::from_str(&read("sqs/police-stage-message.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    let body = sqs.records[0].body.as_deref().unwrap_or_default();
    let msg: StageMessage = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((msg.stage, msg.round), (Stage::Police, 1));
    let sched: CloudWatchEvent =
        serde_json::from_str(&read("scheduled/sla-monitor.json")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sched.detail_type.as_deref(), Some("Scheduled Event"));
    let dir = format!("{}/events/callbacks", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{e}")) {
        let name = entry
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .unwrap_or_default();
        round_trips::<Callback>(&format!("callbacks/{name}"));
        n += 1;
    }
    assert!(n >= 6);
}

/// style.md 6: each record is handled on its own; a bad one fails alone and is reported by id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_record_fails_alone_in_its_batch() -> anyhow::Result<()> {
    let t = support::TestService::start().await?;
    let mut event: SqsEvent = serde_json::from_str(&read("sqs/police-stage-message.json"))?;
    let mut poison = event.records[0].clone();
    poison.message_id = Some("poison-1".into());
    poison.body = Some("{not json".into());
    let mut wrong_queue = event.records[0].clone();
    wrong_queue.message_id = Some("wrong-queue".into());
    wrong_queue.body = Some(r#"{"application_id":"NB1","stage":"insurance","round":1}"#.into());
    // A message for an application the store does not have fails too (retried, then
    // dead-lettered): it is never silently dropped.
    event.records[0].message_id = Some("unknown-app".into());
    event.records.push(poison);
    event.records.push(wrong_queue);
    let response =
        newborn_handlers::handle_stage_batch(&t.running.desks.stages, Stage::Police, event).await;
    let mut failed: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    failed.sort();
    assert_eq!(failed, ["poison-1", "unknown-app", "wrong-queue"]);

    // A good record beside a poison one succeeds.
    let id = t.submit("mum-e", &[], &[], |_| {}).await?;
    t.wait_for("mum-e", &id, "pre-review done", |v| {
        support::status(v, "pre_review") == "completed"
    })
    .await?;
    let mut batch: SqsEvent = serde_json::from_str(&read("sqs/police-stage-message.json"))?;
    batch.records[0].body = Some(
        serde_json::json!({"application_id": id, "stage": "health_check", "round": 1}).to_string(),
    );
    let mut bad = batch.records[0].clone();
    bad.message_id = Some("poison-2".into());
    bad.body = Some("[]".into());
    batch.records.push(bad);
    let response =
        newborn_handlers::handle_stage_batch(&t.running.desks.stages, Stage::HealthCheck, batch)
            .await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        ["poison-2"],
        "the good record of the batch succeeded"
    );
    Ok(())
}
