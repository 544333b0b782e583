//! The DynamoDB store against a real AWS API emulator (moto's server mode, from PyPI; the test
//! command installs it into `.venv`), through the real AWS SDK over HTTP, in a China region.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use newborn_aws::{DynamoStore, create_table};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Emulator {
    child: Child,
    url: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_server() -> PathBuf {
    std::env::var_os("NEWBORN_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../.venv/bin/moto_server"
            ))
        })
}

fn start_emulator() -> Emulator {
    let server = moto_server();
    assert!(
        server.exists(),
        "{} is missing: run ./scripts/test.sh, which installs moto[server] into .venv",
        server.display()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let child = Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start moto: {e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Emulator {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

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
    newborn_contract::store_contract(&DynamoStore::new(client, "newborn"), "D").await;
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
        application_id: "NB1".into(),
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
        docs.read("uploads/slot-1")
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
}
