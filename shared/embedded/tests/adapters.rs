//! The embedded adapters against a real SQLite file and a real folder.

use newborn_embedded::{
    Database, FileDocuments, SqliteQueue, SqliteRequestLog, SqliteStore, SqliteUploads,
};
use newborn_service::ports::{DocumentStore, StageMessage, Write};
use std::time::Duration;

fn db(dir: &tempfile::TempDir) -> Database {
    Database::open(&dir.path().join("t.db")).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn the_sqlite_store_obeys_the_store_contract() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    newborn_contract::store_contract(&SqliteStore::new(db(&dir)), "C", &newborn_contract::settled)
        .await;
    newborn_contract::accepted_message_contract(&SqliteStore::new(db(&dir)), "C").await;
}

#[tokio::test]
async fn an_application_and_its_idempotency_record_are_written_together_in_sqlite() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = db(&dir);
    newborn_contract::idempotent_write_contract(
        &SqliteStore::new(db.clone()),
        &SqliteRequestLog::new(db),
        "C",
        &newborn_contract::settled,
    )
    .await;
}

#[tokio::test]
async fn the_sqlite_request_log_obeys_the_request_log_contract() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    newborn_contract::request_log_contract(&SqliteRequestLog::new(db(&dir)), "C").await;
}

#[tokio::test]
async fn the_sqlite_upload_store_obeys_the_upload_contract() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    newborn_contract::upload_contract(&SqliteUploads::new(db(&dir)), "C").await;
}

#[tokio::test]
async fn the_sqlite_handover_register_obeys_the_handover_contract() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    newborn_contract::handover_contract(&newborn_embedded::SqliteHandovers::new(db(&dir)), "C")
        .await;
}

#[tokio::test]
async fn the_sqlite_drafts_obey_the_draft_contract_and_leave_no_trace_in_the_files() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let database = db(&dir);
    let drafts = newborn_embedded::SqliteDrafts::new(database.clone());
    newborn_contract::draft_contract(&drafts, "C").await;
    // The SMS to the mother was queued with the drafts.
    let queue = SqliteQueue::new(database);
    let sms = queue
        .receive(
            newborn_service::ports::NOTIFICATIONS_QUEUE,
            10,
            Duration::from_secs(30),
            5,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sms.len(), 1, "the notice rides in the drafts' transaction");
    // The deleted twin's record is nowhere in the database files (secure_delete, and the log
    // truncated after the deletion).
    let mut bytes = vec![];
    for entry in std::fs::read_dir(dir.path()).unwrap_or_else(|e| panic!("{e}")) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        bytes.extend(std::fs::read(&path).unwrap_or_default());
    }
    let marker = b"CZY-TWIN-2";
    assert!(
        !bytes.windows(marker.len()).any(|w| w == marker),
        "the deleted draft's data is left in the files"
    );
}

#[tokio::test]
async fn a_hand_off_is_queued_in_the_same_transaction_as_the_state_change() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let database = db(&dir);
    let store = SqliteStore::new(database.clone());
    let queue = SqliteQueue::new(database);
    let app = newborn_contract::application("Q1");
    let msg = StageMessage {
        application_id: app.id.clone(),
        stage: newborn_domain::stage::Stage::PreReview,
        round: 1,
    };
    let write = Write {
        application: &app,
        owner: "o",
        timeline: vec![],
        outbox: vec![msg.clone()],
        evaluations: vec![],
        facts: vec![],
        clocks: vec![],
        follow_ups: vec![],
        notifications: vec![],
        deliveries: vec![],
        response: None,
        accepted: None,
    };
    use newborn_service::ports::ApplicationStore;
    store.insert(&write).await.unwrap_or_else(|e| panic!("{e}"));
    // A refused (conflicting) write queues nothing.
    assert!(store.insert(&write).await.is_err());
    let got = queue
        .receive("pre_review", 10, Duration::from_secs(30), 5)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.len(), 1, "exactly one hand-off");
    assert_eq!(
        serde_json::from_str::<StageMessage>(&got[0].body).ok(),
        Some(msg)
    );
}

#[tokio::test]
async fn queues_hide_received_messages_redeliver_them_and_dead_letter_after_the_receive_limit() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let q = SqliteQueue::new(db(&dir));
    q.send("police", "a", Duration::ZERO)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    q.send("police", "later", Duration::from_secs(3600))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let first = q
        .receive("police", 10, Duration::from_millis(150), 2)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        first.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["a"],
        "a delayed message is not delivered early"
    );
    assert!(
        q.receive("police", 10, Duration::from_millis(150), 2)
            .await
            .unwrap_or_default()
            .is_empty(),
        "a received message is hidden"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = q
        .receive("police", 10, Duration::from_millis(150), 2)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        second.first().map(|m| m.receive_count),
        Some(2),
        "redelivered after the visibility timeout, counted"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        q.receive("police", 10, Duration::from_millis(150), 2)
            .await
            .unwrap_or_default()
            .is_empty(),
        "after two receives it is dead-lettered, not delivered"
    );
    let stats = q.stats().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        stats
            .iter()
            .any(|s| s.queue == "police-dlq" && s.visible == 1),
        "{stats:?}"
    );
    assert_eq!(
        q.redrive("police").await.unwrap_or_else(|e| panic!("{e}")),
        1
    );
    let back = q
        .receive("police", 10, Duration::from_secs(30), 2)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (back.len(), back[0].receive_count),
        (1, 1),
        "redriven with a fresh receive count"
    );
    q.delete(vec![back[0].id])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    q.retry_after(back[0].id, Duration::ZERO)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        q.receive("police", 10, Duration::from_secs(30), 2)
            .await
            .unwrap_or_default()
            .is_empty(),
        "a deleted message is gone"
    );
}

#[tokio::test]
async fn scans_are_stored_once_by_digest_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let docs = FileDocuments::new(&dir.path().join("documents")).unwrap_or_else(|e| panic!("{e}"));
    let a = docs
        .put(b"%PDF-1.4 scan")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let b = docs
        .put(b"%PDF-1.4 scan")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a, b);
    // printf '%PDF-1.4 scan' | sha256sum
    assert_eq!(
        a.as_str(),
        "0d9ffe45b6fdf3720448bb18add30655a229b31c16a9c5891546f86155a320d9"
    );
    let reopened =
        FileDocuments::new(&dir.path().join("documents")).unwrap_or_else(|e| panic!("{e}"));
    assert!(reopened.exists(&a).await.unwrap_or(false));
    let leftovers = std::fs::read_dir(dir.path().join("documents/tmp"))
        .map(|d| d.count())
        .unwrap_or(1);
    assert_eq!(leftovers, 0, "no temporary file is left behind");
    let on_disk = std::fs::read(
        dir.path()
            .join("documents")
            .join(&a.as_str()[..2])
            .join(a.as_str()),
    )
    .unwrap_or_default();
    assert_eq!(on_disk, b"%PDF-1.4 scan");
}

/// The same scan stored by many requests at once (an app retrying an upload) is stored once,
/// and every request succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_scan_stored_concurrently_succeeds_every_time() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let docs = FileDocuments::new(&dir.path().join("documents")).unwrap_or_else(|e| panic!("{e}"));
    let mut puts = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let docs = docs.clone();
        puts.spawn(async move { docs.put(b"\x89PNG\r\n\x1a\n the same photo").await });
    }
    let mut digests = vec![];
    while let Some(done) = puts.join_next().await {
        let put = done.unwrap_or_else(|e| panic!("{e}"));
        digests.push(put.unwrap_or_else(|e| panic!("a concurrent put failed: {e}")));
    }
    digests.dedup();
    assert_eq!(digests.len(), 1);
    let leftovers = std::fs::read_dir(dir.path().join("documents/tmp"))
        .map(|d| d.count())
        .unwrap_or(1);
    assert_eq!(leftovers, 0, "no temporary file is left behind");
}
