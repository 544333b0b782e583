//! The DynamoDB store against a real AWS API emulator (moto's server mode, from PyPI; the test
//! command installs it into `.venv`), through the real AWS SDK over HTTP, in a China region.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use newborn_aws::{DynamoStore, create_table};
use newborn_contract::emulator::start_emulator;
use std::time::Duration;

fn client(url: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("cn-northwest-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("test", "test", None, None, "emulator"))
        .http_client(newborn_lambda_harness::plain_http())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// The relay of `table`'s stream (no queues: the contract's writes hand on facts and records),
/// as the contract's [`newborn_contract::Settle`].
async fn settler(
    sdk: &aws_config::SdkConfig,
    table: &str,
) -> impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Sync {
    let stream = std::sync::Arc::new(
        newborn_lambda_harness::StreamPump::of_table(sdk, table)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let relay = newborn_aws::StreamRelay {
        dynamodb: aws_sdk_dynamodb::Client::new(sdk),
        table: table.to_owned(),
        queues: newborn_aws::SqsQueues::new(aws_sdk_sqs::Client::new(sdk)),
        urls: Default::default(),
    };
    move || {
        let (stream, relay) = (stream.clone(), relay.clone());
        Box::pin(async move {
            stream
                .relay_all(&relay)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        })
    }
}

#[tokio::test]
async fn the_dynamodb_store_obeys_the_same_store_contract_as_sqlite() {
    let emulator = start_emulator();
    let sdk = newborn_lambda_harness::sdk_config(&emulator.url, None);
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    create_table(&client, "newborn")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let settle = settler(&sdk, "newborn").await;
    newborn_contract::store_contract(&DynamoStore::new(client.clone(), "newborn"), "D", &settle)
        .await;
    newborn_contract::accepted_message_contract(&DynamoStore::new(client.clone(), "newborn"), "D")
        .await;
    newborn_contract::idempotent_write_contract(
        &DynamoStore::new(client.clone(), "newborn"),
        &newborn_aws::DynamoRequestLog::new(client, "newborn"),
        "D",
        &settle,
    )
    .await;
}

#[tokio::test]
async fn the_dynamodb_request_log_uploads_and_handovers_obey_the_same_contracts_as_sqlite() {
    let emulator = start_emulator();
    let client = client(&emulator.url);
    create_table(&client, "newborn")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    newborn_contract::request_log_contract(
        &newborn_aws::DynamoRequestLog::new(client.clone(), "newborn"),
        "D",
    )
    .await;
    newborn_contract::upload_contract(
        &newborn_aws::DynamoUploads::new(client.clone(), "newborn"),
        "D",
    )
    .await;
    newborn_contract::handover_contract(&newborn_aws::DynamoHandovers::new(client, "newborn"), "D")
        .await;
}

/// A scan verified before slots held their verification (an `UPLOADED#<owner>` item) still
/// counts: the family is not asked for it again. Only for its owner and kind.
#[tokio::test]
async fn an_upload_verified_under_the_earlier_layout_still_counts() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use newborn_domain::application::{DocumentKind, Sha256Hex};
    use newborn_service::ports::UploadStore;
    let emulator = start_emulator();
    let client = client(&emulator.url);
    create_table(&client, "newborn")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let digest: Sha256Hex = "cd".repeat(32).parse().unwrap_or_else(|e| panic!("{e}"));
    client
        .put_item()
        .table_name("newborn")
        .item("pk", AttributeValue::S("UPLOADED#old-mum".into()))
        .item(
            "sk",
            AttributeValue::S(format!("mother_id_card#{}", digest.as_str())),
        )
        .item("upload_id", AttributeValue::S("0f".repeat(16)))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let uploads = newborn_aws::DynamoUploads::new(client, "newborn");
    let verified = |owner: &'static str, kind| {
        let (uploads, digest) = (&uploads, &digest);
        async move {
            uploads
                .verified(owner, kind, digest)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    assert!(verified("old-mum", DocumentKind::MotherIdCard).await);
    assert!(!verified("old-mum", DocumentKind::FatherIdCard).await);
    assert!(!verified("other-mum", DocumentKind::MotherIdCard).await);
}

#[tokio::test]
async fn the_dynamodb_drafts_obey_the_draft_contract_and_a_deleted_one_leaves_no_item() {
    let emulator = start_emulator();
    let client = client(&emulator.url);
    create_table(&client, "newborn")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    newborn_contract::draft_contract(
        &newborn_aws::DynamoDrafts::new(client.clone(), "newborn"),
        "D",
    )
    .await;
    // The whole table, every attribute: the deleted twin's record is in none of them (its index
    // entries went with the item).
    let mut text = String::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name("newborn")
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        text.push_str(&format!("{:?}", page.items()));
        match page.last_evaluated_key() {
            Some(k) => start = Some(k.clone()),
            None => break,
        }
    }
    assert!(text.contains("DRAFT#"), "the kept draft is in the table");
    assert!(
        !text.contains("DZY-TWIN-2"),
        "the deleted draft's data is left in the table"
    );
}

/// One write, one `PutItem`, and nothing lost after it: the write's hand-off, report fact and
/// idempotency record ride in the item's new image; the relay, fed from the table's stream as
/// Lambda feeds it, sends and writes them. A relay that dies mid-batch (the crash between the
/// commit and the send) is handed the same records again and delivers them; a batch relayed
/// twice (a lost response) sends the hand-off again, which its handler absorbs, and writes the
/// fact and the record under the same keys, so the report counts the fact once.
#[tokio::test]
async fn a_write_reaches_its_queue_and_report_through_the_stream_even_after_a_relay_crash() {
    use newborn_domain::stage::{Agency, Stage};
    use newborn_lambda_harness::{StreamPump, sdk_config};
    use newborn_service::ports::{
        ApplicationStore, Claim, Fact, FactKind, IdempotencyClaim, IdempotentResponse, RequestLog,
        StageMessage, Write,
    };
    let emulator = start_emulator();
    let sdk = sdk_config(&emulator.url, None);
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    create_table(&dynamodb, "newborn")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let url = sqs
        .create_queue()
        .queue_name("pre_review")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let relay = newborn_aws::StreamRelay {
        dynamodb: dynamodb.clone(),
        table: "newborn".into(),
        queues: newborn_aws::SqsQueues::new(sqs.clone()),
        urls: [("pre_review".to_owned(), url.clone())].into(),
    };
    let store = DynamoStore::new(dynamodb.clone(), "newborn");
    let requests = newborn_aws::DynamoRequestLog::new(dynamodb.clone(), "newborn");
    let receive = || {
        let (sqs, url) = (sqs.clone(), url.clone());
        async move {
            let out = sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .visibility_timeout(0)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            out.messages()
                .iter()
                .filter_map(|m| serde_json::from_str::<StageMessage>(m.body()?).ok())
                .map(|m| m.application_id.to_string())
                .collect::<Vec<_>>()
        }
    };
    let app = newborn_contract::application("R1");
    let at = app.submitted_at;
    let now = chrono::Utc::now();
    let claim = IdempotencyClaim {
        scope: "mum-1".into(),
        key: "k-1".into(),
        request_hash: "h-1".into(),
    };
    assert_eq!(
        requests.claim("mum-1", "k-1", "h-1", now).await.ok(),
        Some(Claim::New)
    );
    store
        .insert(&Write {
            application: &app,
            owner: "mum-1",
            timeline: vec![],
            outbox: vec![StageMessage {
                application_id: app.id.clone(),
                stage: Stage::PreReview,
                round: 1,
            }],
            evaluations: vec![],
            facts: vec![Fact {
                at,
                application_id: app.id.clone(),
                agency: Agency::Platform,
                kind: FactKind::SupplementRequested,
            }],
            clocks: vec![],
            follow_ups: vec![],
            notifications: vec![],
            deliveries: vec![],
            response: Some(IdempotentResponse {
                claim,
                status: 201,
                body: br#"{"id":"R1"}"#.to_vec(),
            }),
            accepted: None,
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(receive().await.is_empty(), "the write itself sends nothing");
    let span = (
        at - chrono::TimeDelta::days(1),
        at + chrono::TimeDelta::days(1),
    );
    let facts = || store.facts(Agency::Platform, span.0, span.1);

    // The relay dies with its first batch: nothing sent, and the stream keeps the records.
    let stream = StreamPump::of_table(&sdk, "newborn")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let crashed = stream.pump(|_| async { Err::<(), _>("killed") }).await;
    assert!(crashed.is_err(), "the batch failed");
    assert!(
        receive().await.is_empty(),
        "the crash: committed but not sent"
    );
    assert_eq!(
        requests.claim("mum-1", "k-1", "h-1", now).await.ok(),
        Some(Claim::InProgress),
        "a retry meanwhile is told the request is in progress, not run again"
    );

    // Handed again, the relay delivers.
    async fn relay_once(relay: &newborn_aws::StreamRelay, stream: &StreamPump) -> usize {
        stream
            .relay_batch(relay)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }
    assert_eq!(
        relay_once(&relay, &stream).await,
        1,
        "the same record, handed again"
    );
    assert_eq!(receive().await, ["R1"], "the hand-off is on its queue");
    assert_eq!(
        facts().await.map(|f| f.len()).ok(),
        Some(1),
        "the fact is in the report"
    );
    assert_eq!(
        requests.claim("mum-1", "k-1", "h-1", now).await.ok(),
        Some(Claim::Replay {
            status: 201,
            body: br#"{"id":"R1"}"#.to_vec()
        }),
        "the request's retry is answered from its record"
    );
    assert_eq!(
        relay_once(&relay, &stream).await,
        0,
        "nothing new on the stream"
    );

    // The whole stream relayed again (a lost response): the hand-off twice, the fact once.
    let again = StreamPump::of_table(&sdk, "newborn")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(relay_once(&relay, &again).await, 1);
    assert_eq!(
        receive().await,
        ["R1", "R1"],
        "sent again; its handler absorbs it"
    );
    assert_eq!(facts().await.map(|f| f.len()).ok(), Some(1), "counted once");
}

/// The log stays in the item until it would pass the budget, then moves to an archive item;
/// every timeline entry and notification reads back, in order, across archives.
#[tokio::test]
async fn a_long_history_is_archived_and_reads_back_whole() {
    use newborn_domain::stage::Stage;
    use newborn_service::ports::{ApplicationStore, Write};
    let emulator = start_emulator();
    let dynamodb = client(&emulator.url);
    create_table(&dynamodb, "newborn")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let store = DynamoStore::new(dynamodb.clone(), "newborn");
    let app = newborn_contract::application("H1");
    let entry = |n: usize| newborn_contract::timeline_entry(Stage::Police, n);
    let notice = |n: usize| newborn_contract::notification(n);
    let write = |n: usize| Write {
        application: &app,
        owner: "mum-1",
        timeline: vec![entry(n)],
        outbox: vec![],
        evaluations: vec![],
        facts: vec![],
        clocks: vec![],
        follow_ups: vec![],
        notifications: vec![notice(n)],
        deliveries: vec![],
        response: None,
        accepted: None,
    };
    store
        .insert(&write(0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for n in 1..150 {
        store
            .update(&write(n), n as u64)
            .await
            .unwrap_or_else(|e| panic!("write {n}: {e}"));
    }
    let archives = dynamodb
        .query()
        .table_name("newborn")
        .key_condition_expression("pk = :pk AND begins_with(sk, :l)")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S("APP#H1".into()),
        )
        .expression_attribute_values(
            ":l",
            aws_sdk_dynamodb::types::AttributeValue::S("LOG#".into()),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .count();
    assert!(
        archives >= 2,
        "150 writes of history archived in pieces: {archives}"
    );
    let item = dynamodb
        .get_item()
        .table_name("newborn")
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("APP#H1".into()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("APP".into()),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let doc = item
        .item()
        .and_then(|i| i.get("doc"))
        .and_then(|v| v.as_b().ok())
        .map_or(0, |b| b.as_ref().len());
    let alone = newborn_contract::application("H1");
    assert!(
        doc <= serde_json::to_vec(&alone).map_or(0, |j| j.len()) / 2 + newborn_aws::LOG_BUDGET,
        "the item holds the application and a log within its budget: {doc} bytes"
    );
    let id = app.id.clone();
    assert_eq!(
        store.timeline(&id).await.unwrap_or_else(|e| panic!("{e}")),
        (0..150).map(entry).collect::<Vec<_>>(),
        "every entry, once, in order"
    );
    assert_eq!(
        store
            .notifications(&id)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        (0..150).map(notice).collect::<Vec<_>>()
    );
}

fn sqs_client(url: &str) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("cn-northwest-1"))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "emulator",
        ))
        .http_client(newborn_lambda_harness::plain_http())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// A poison message reaches the dead-letter queue after the configured receives; once the fault
/// is fixed the operator's redrive (receive, send, delete — no managed redrive in aws-cn) puts it
/// back, and it is delivered again.
#[tokio::test]
async fn a_dead_lettered_message_is_redriven_by_hand() {
    use aws_sdk_sqs::types::QueueAttributeName;
    let emulator = start_emulator();
    let sqs = sqs_client(&emulator.url);
    let dlq = sqs
        .create_queue()
        .queue_name("police-dlq")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let dlq_url = dlq.queue_url().unwrap_or_default().to_owned();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .unwrap_or_default();
    let redrive = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}"#);
    let queue = sqs
        .create_queue()
        .queue_name("police")
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .attributes(QueueAttributeName::VisibilityTimeout, "0")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url = queue.queue_url().unwrap_or_default().to_owned();
    let queues = newborn_aws::SqsQueues::new(sqs.clone());
    let msg = newborn_service::ports::StageMessage {
        application_id: "NB1".parse().unwrap_or_else(|e| panic!("{e}")),
        stage: newborn_domain::stage::Stage::Police,
        round: 1,
    };
    queues
        .send(&url, &msg)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Received twice and never deleted (it always fails): then it is dead-lettered.
    for _ in 0..4 {
        let _ = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .send()
            .await;
    }
    let count = |q: String| {
        let sqs = sqs.clone();
        async move {
            sqs.get_queue_attributes()
                .queue_url(q)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .send()
                .await
                .ok()
                .and_then(|o| {
                    o.attributes().and_then(|a| {
                        a.get(&QueueAttributeName::ApproximateNumberOfMessages)
                            .cloned()
                    })
                })
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or(99)
        }
    };
    assert_eq!(
        count(dlq_url.clone()).await,
        1,
        "the poison message is in the dead-letter queue"
    );
    let moved = queues
        .redrive(
            &newborn_aws::StageQueue {
                url: url.clone(),
                dead_letter_url: dlq_url.clone(),
            },
            100,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(moved, 1);
    assert_eq!(count(dlq_url).await, 0, "the dead-letter queue is empty");
    let again = sqs
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let body = again
        .messages()
        .first()
        .and_then(|m| m.body())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        serde_json::from_str::<newborn_service::ports::StageMessage>(&body).ok(),
        Some(msg),
        "the same message is delivered again"
    );
}

fn s3_client(url: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("cn-northwest-1"))
        .endpoint_url(url)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "emulator",
        ))
        .http_client(newborn_lambda_harness::plain_http())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A presigned upload round trip: the client PUTs exactly the signed type and length; scans are
/// stored once by SHA-256.
#[tokio::test]
async fn presigned_uploads_round_trip_and_scans_are_stored_by_digest() {
    use newborn_service::ports::DocumentStore;
    let emulator = start_emulator();
    let s3 = s3_client(&emulator.url);
    let location = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
            "cn-northwest-1",
        ))
        .build();
    s3.create_bucket()
        .bucket("scans")
        .create_bucket_configuration(location)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let docs = newborn_aws::S3Documents::new(s3, "scans");
    let png = b"\x89PNG\r\n\x1a\nscan".to_vec();
    let up = docs
        .presign_upload(
            "uploads/slot-1",
            "image/png",
            png.len() as i64,
            None,
            Duration::from_secs(900),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(up.url.contains("X-Amz-Signature="), "{}", up.url);
    let mut req = newborn_http::client().put(&up.url).body(png.clone());
    for (k, v) in &up.headers {
        req = req.header(k, v);
    }
    let res = req.send().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        res.status().is_success(),
        "PUT to the presigned URL: {}",
        res.status()
    );
    assert_eq!(
        docs.read("uploads/slot-1", None)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        Some(png.clone())
    );
    let a = docs.put(&png).await.unwrap_or_else(|e| panic!("{e}"));
    let b = docs.put(&png).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a, b);
    assert!(docs.exists(&a).await.unwrap_or(false));
    let missing: newborn_domain::application::Sha256Hex =
        "0".repeat(64).parse().unwrap_or_else(|e| panic!("{e}"));
    assert!(!docs.exists(&missing).await.unwrap_or(true));

    // Declared digest: the PUT goes to the content address with the checksum and the slot
    // signed in; S3 refuses other bytes of the same length, and only the slot whose PUT wrote
    // the object can read it back as its upload.
    let other = b"\x89PNG\r\n\x1a\nscan-2".to_vec();
    let digest: newborn_domain::application::Sha256Hex = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(&other))
            .parse()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let key = format!("scans/{}", digest.as_str());
    let up = docs
        .presign_upload(
            &key,
            "image/png",
            other.len() as i64,
            Some((&digest, "slot-2")),
            Duration::from_secs(900),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        up.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("x-amz-checksum-sha256")),
        "{:?}",
        up.headers
    );
    let put = |body: Vec<u8>| {
        let mut req = newborn_http::client().put(&up.url).body(body);
        for (k, v) in &up.headers {
            req = req.header(k, v);
        }
        req.send()
    };
    // The checksum is part of the signature: a client cannot drop it, and S3 refuses bytes that
    // do not have it. (The emulator does not check checksums; the service reads the bytes back
    // and refuses a mismatch itself, `checksum_mismatch`, tested on the local runtime.)
    let signed = up
        .url
        .split("X-Amz-SignedHeaders=")
        .nth(1)
        .and_then(|r| r.split('&').next())
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        signed.contains("x-amz-checksum-sha256") && signed.contains("x-amz-meta-slot"),
        "{signed}"
    );
    let mut forged = other.clone();
    forged[12] ^= 1;
    let answer = put(forged).await.unwrap_or_else(|e| panic!("{e}"));
    println!(
        "a PUT of other bytes under the declared checksum: HTTP {} (S3 answers 400 BadDigest)",
        answer.status()
    );
    let stored = put(other.clone()).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(stored.status().is_success(), "{}", stored.status());
    assert_eq!(
        docs.read(&key, Some("slot-2"))
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        Some(other.clone()),
        "the slot that wrote it reads it"
    );
    assert_eq!(
        docs.read(&key, Some("slot-3"))
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        None,
        "another slot declaring the same digest, without sending the bytes, does not"
    );
    assert!(
        docs.exists(&digest).await.unwrap_or(false),
        "at its address"
    );
}
