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
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

#[tokio::test]
async fn the_dynamodb_store_obeys_the_same_store_contract_as_sqlite() {
    let emulator = start_emulator();
    let client = client(&emulator.url);
    create_table(&client, "newborn")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    newborn_contract::store_contract(&DynamoStore::new(client.clone(), "newborn"), "D").await;
    newborn_contract::idempotent_write_contract(
        &DynamoStore::new(client.clone(), "newborn"),
        &newborn_aws::DynamoRequestLog::new(client, "newborn"),
        "D",
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

/// The transactional outbox: a committed hand-off reaches its stage queue at once; one that a
/// crash left unsent (committed by a store without the relay) is sent by the relay sweep, once.
#[tokio::test]
async fn hand_offs_reach_sqs_after_the_commit_and_the_relay_sweep_sends_what_a_crash_left() {
    use newborn_domain::stage::Stage;
    use newborn_service::ports::{ApplicationStore, StageMessage, Write};
    let emulator = start_emulator();
    let dynamodb = client(&emulator.url);
    create_table(&dynamodb, "newborn")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sqs = sqs_client(&emulator.url);
    let mut urls = std::collections::HashMap::new();
    for stage in Stage::QUEUES {
        let q = sqs
            .create_queue()
            .queue_name(stage.as_str())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        urls.insert(stage, q.queue_url().unwrap_or_default().to_owned());
    }
    let relay = newborn_aws::Relay {
        queues: newborn_aws::SqsQueues::new(sqs.clone()),
        urls: urls
            .iter()
            .map(|(stage, url)| (stage.as_str().to_owned(), url.clone()))
            .collect(),
    };
    let relaying = DynamoStore::new(dynamodb.clone(), "newborn").with_relay(relay);
    let crashed = DynamoStore::new(dynamodb, "newborn");
    let receive = |stage: Stage| {
        let (sqs, url) = (sqs.clone(), urls[&stage].clone());
        async move {
            let out = sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            out.messages()
                .iter()
                .filter_map(|m| serde_json::from_str::<StageMessage>(m.body()?).ok())
                .collect::<Vec<_>>()
        }
    };
    let write = |app: &'static newborn_domain::flow::Application| Write {
        application: app,
        owner: "mum-1",
        timeline: vec![],
        outbox: vec![StageMessage {
            application_id: app.id.clone(),
            stage: Stage::PreReview,
            round: 1,
        }],
        evaluations: vec![],
        facts: vec![],
        clocks: vec![],
        follow_ups: vec![],
        notifications: vec![],
        deliveries: vec![],
        response: None,
    };
    let first: &'static _ = Box::leak(Box::new(newborn_contract::application("R1")));
    relaying
        .insert(&write(first))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let got = receive(Stage::PreReview).await;
    assert_eq!(
        got.len(),
        1,
        "the hand-off is on the queue after the commit"
    );
    assert_eq!(got[0].application_id.as_str(), "R1");
    let later = chrono::Utc::now() + chrono::TimeDelta::seconds(1);
    assert_eq!(
        relaying.relay_pending(later).await.ok(),
        Some(0),
        "a sent hand-off is no longer pending"
    );

    let second: &'static _ = Box::leak(Box::new(newborn_contract::application("R2")));
    crashed
        .insert(&write(second))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        receive(Stage::PreReview).await.is_empty(),
        "the crash: committed but not sent"
    );
    let later = chrono::Utc::now() + chrono::TimeDelta::seconds(1);
    assert_eq!(
        relaying.relay_pending(later).await.ok(),
        Some(1),
        "the sweep finds the pending hand-off by the index"
    );
    let got = receive(Stage::PreReview).await;
    assert_eq!(
        got.iter()
            .map(|m| m.application_id.as_str())
            .collect::<Vec<_>>(),
        ["R2"],
        "and sends it"
    );
    assert_eq!(relaying.relay_pending(later).await.ok(), Some(0), "once");
}

fn sqs_client(url: &str) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("cn-northwest-1"))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "emulator",
        ))
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
    let mut req = reqwest::Client::new().put(&up.url).body(png.clone());
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
        let mut req = reqwest::Client::new().put(&up.url).body(body);
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
