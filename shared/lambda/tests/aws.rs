//! The functions end to end against a real AWS API emulator (moto's server mode): the same
//! `Deps` a Lambda builds from its environment, over DynamoDB, SQS, S3 and Secrets Manager in
//! cn-northwest-1. Applicant requests are real API Gateway (HTTP API, payload 2.0) events with the
//! JWT authorizer's claims, turned into requests by `lambda_http`; stage batches are real
//! `SqsEvent`s built from the messages the emulator's SQS delivers; the simulated agencies answer
//! over real HTTP with real signatures.

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use axum::body::Body;
use axum::http::Response;
use newborn_agency_sim::{Mix, SimConfig, Simulator};
use newborn_domain::stage::{Agency, Stage};
use newborn_lambda::{Deps, Needs, Settings, settings::queue_variable};
use newborn_service::ports::QueueName;
use newborn_service::signing::{KeyEntry, KeyRing, Keys};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const REGION: &str = "cn-northwest-1";
const SAMPLE: &str = include_str!("../../../events/api/submit-application.json");
const SAMPLE_DOCUMENTS: [&str; 6] = [
    "mother_id_card",
    "father_id_card",
    "marriage_certificate",
    "household_booklet_front",
    "household_booklet_registering_parent",
    "household_booklet_head",
];

/// What `template.yaml` declares, created in the emulator: the table, a queue and dead-letter
/// queue per stage, the scan bucket, the webhook-keys secret.
struct Stack {
    emulator: newborn_contract::emulator::Emulator,
    sdk: SdkConfig,
    vars: HashMap<String, String>,
    keys: Keys,
    queues: HashMap<Stage, String>,
    dead_letters: HashMap<Stage, String>,
    notifications: String,
}

fn sdk_config(url: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_sqs::config::SharedCredentialsProvider::new(
            aws_sdk_sqs::config::Credentials::new("test", "test", None, None, "emulator"),
        ))
        .build()
}

/// A queue as `template.yaml` declares it: dead-lettered after `maxReceiveCount` receives (3
/// here), a short visibility timeout so the test sees redeliveries quickly. Returns both URLs.
async fn queue_with_dead_letters(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    let dlq = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let dlq_url = dlq.queue_url().unwrap_or_default().to_owned();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .unwrap_or_default();
    let q = sqs
        .create_queue()
        .queue_name(name)
        .attributes(
            QueueAttributeName::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"3"}}"#),
        )
        .attributes(QueueAttributeName::VisibilityTimeout, "1")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (q.queue_url().unwrap_or_default().to_owned(), dlq_url)
}

async fn provision() -> Stack {
    let emulator = newborn_contract::emulator::start_emulator();
    let sdk = sdk_config(&emulator.url);
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    newborn_aws::create_table(&dynamodb, "newborn")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let mut vars = HashMap::new();
    let (mut queues, mut dead_letters) = (HashMap::new(), HashMap::new());
    let mut notifications = String::new();
    for queue in QueueName::ALL {
        let (url, dlq_url) = queue_with_dead_letters(&sqs, queue.as_str()).await;
        vars.insert(queue_variable(queue), url.clone());
        match queue {
            QueueName::Stage(stage) => {
                queues.insert(stage, url);
                dead_letters.insert(stage, dlq_url);
            }
            QueueName::Notifications => notifications = url,
        }
    }
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket("scans")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(REGION))
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let entries: Vec<KeyEntry> = [
        (Agency::Platform, "platform-1"),
        (Agency::Hospital, "hospital-1"),
        (Agency::PoliceStation, "police-1"),
        (Agency::MedicalInsurance, "insurance-1"),
        (Agency::SocialSecurity, "social-security-1"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (owner, id))| KeyEntry {
        key_id: id.into(),
        owner,
        secret_hex: format!("{:064x}", 0x5eed_0000 + i),
    })
    .collect();
    let key_file = serde_json::to_string(&entries).unwrap_or_default();
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name("newborn/webhook-keys")
        .secret_string(&key_file)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for (k, v) in [
        ("NEWBORN_TABLE", "newborn"),
        ("NEWBORN_BUCKET", "scans"),
        ("NEWBORN_WEBHOOK_KEYS_SECRET", "newborn/webhook-keys"),
    ] {
        vars.insert(k.into(), v.into());
    }
    Stack {
        emulator,
        sdk,
        vars,
        keys: Keys::from_json(&key_file).unwrap_or_else(|e| panic!("{e}")),
        queues,
        dead_letters,
        notifications,
    }
}

impl Stack {
    async fn deps(&self, agencies_url: &str, needs: Needs) -> Deps {
        let mut vars = self.vars.clone();
        vars.insert("NEWBORN_AGENCIES_URL".into(), agencies_url.into());
        vars.insert("NEWBORN_SUPERVISORS_URL".into(), agencies_url.into());
        vars.insert(
            "NEWBORN_NOTIFY_URL".into(),
            format!("{agencies_url}/notify"),
        );
        let settings =
            Settings::from_vars(|k| vars.get(k).cloned()).unwrap_or_else(|e| panic!("{e}"));
        Deps::connect(settings, &self.sdk, needs)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    async fn depth(&self, url: &str) -> u32 {
        aws_sdk_sqs::Client::new(&self.sdk)
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .ok()
            .and_then(|o| {
                let a = o.attributes()?;
                let n = |k| a.get(&k).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
                Some(
                    n(QueueAttributeName::ApproximateNumberOfMessages)
                        + n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
                )
            })
            .unwrap_or(u32::MAX)
    }
}

/// One applicant request as API Gateway (HTTP API, payload 2.0) hands it to the function after
/// its JWT authorizer verified the token of `subject`.
fn api_event(subject: &str, method: &str, path: &str, body: Option<&Value>) -> String {
    json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "api.example.cn", "content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.cn",
            "stage": "$default",
            "requestId": "req",
            "time": "24/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "10.0.0.1", "userAgent": "app"},
            "authorizer": {"jwt": {"claims": {"sub": subject, "iss": "https://idp.example.cn"}, "scopes": null}}
        },
        "body": body.map(Value::to_string),
        "isBase64Encoded": false
    })
    .to_string()
}

async fn call(
    router: &axum::Router,
    subject: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let req = lambda_http::request::from_str(&api_event(subject, method, path, body))
        .unwrap_or_else(|e| panic!("{e}"));
    let res: Response<Body> = router
        .clone()
        .oneshot(req.map(|b| Body::from(b.to_vec())))
        .await
        .unwrap_or_else(|e| match e {});
    let status = res.status().as_u16();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The messages the emulator's SQS delivers, as the `SqsEvent` Lambda's event source mapping
/// would invoke the function with.
async fn receive_event(
    sdk: &SdkConfig,
    url: &str,
) -> Option<aws_lambda_events::event::sqs::SqsEvent> {
    let out = aws_sdk_sqs::Client::new(sdk)
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    if out.messages().is_empty() {
        return None;
    }
    let records: Vec<Value> = out
        .messages()
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "md5OfBody": m.md5_of_body(),
                "attributes": m.attributes().map(|a| a.iter().map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone()))).collect::<serde_json::Map<_, _>>()).unwrap_or_default(),
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": format!("arn:aws-cn:sqs:{REGION}:123456789012:{}", url.rsplit('/').next().unwrap_or_default()),
                "awsRegion": REGION
            })
        })
        .collect();
    Some(
        serde_json::from_value(json!({ "Records": records }))
            .unwrap_or_else(|e| panic!("not an SqsEvent: {e}")),
    )
}

/// Invokes a stage function with one batch and deletes what it did not report as failed, as the
/// event source mapping does; returns how many records were handled.
async fn pump(stack: &Stack, deps: &Deps, stage: Stage) -> usize {
    pump_queue(stack, &stack.queues[&stage], |event| async move {
        newborn_handlers::handle_stage_batch(&deps.service, stage, event).await
    })
    .await
}

/// Invokes the notifier function with one batch of the notification queue.
async fn pump_notifications(stack: &Stack, deps: &Deps) -> usize {
    pump_queue(stack, &stack.notifications, |event| async move {
        newborn_handlers::handle_notification_batch(&deps.service, event).await
    })
    .await
}

async fn pump_queue<F, Fut>(stack: &Stack, url: &str, handler: F) -> usize
where
    F: FnOnce(aws_lambda_events::event::sqs::SqsEvent) -> Fut,
    Fut: std::future::Future<Output = aws_lambda_events::event::sqs::SqsBatchResponse>,
{
    let Some(event) = receive_event(&stack.sdk, url).await else {
        return 0;
    };
    let handles: HashMap<String, String> = event
        .records
        .iter()
        .map(|r| {
            (
                r.message_id.clone().unwrap_or_default(),
                r.receipt_handle.clone().unwrap_or_default(),
            )
        })
        .collect();
    let n = handles.len();
    let response = handler(event).await;
    let failed: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    for (id, receipt) in handles {
        if !failed.contains(&id) {
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(receipt)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    n
}

/// Uploads a PNG scan of `kind` the AWS way: slot, PUT to the presigned S3 URL with exactly the
/// signed headers, complete; returns the document reference.
async fn upload(router: &axum::Router, subject: &str, kind: &str) -> Value {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(format!("scan of {kind} for {subject}").as_bytes());
    let (status, slot) = call(
        router,
        subject,
        "POST",
        "/uploads",
        Some(&json!({"kind": kind, "content_type": "image/png", "size": png.len()})),
    )
    .await;
    assert_eq!(status, 201, "{slot}");
    let mut put = reqwest::Client::new().put(slot["upload_url"].as_str().unwrap_or_default());
    for (name, value) in slot["headers"].as_object().into_iter().flatten() {
        put = put.header(name.as_str(), value.as_str().unwrap_or_default());
    }
    let res = put.body(png).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(res.status().is_success(), "PUT to S3: {}", res.status());
    let complete = slot["complete_url"].as_str().unwrap_or_default();
    let (status, done) = call(router, subject, "POST", complete, None).await;
    assert_eq!(status, 200, "{done}");
    let (again, same) = call(router, subject, "POST", complete, None).await;
    assert_eq!(
        (again, &same["sha256"]),
        (200, &done["sha256"]),
        "completing twice answers the same"
    );
    json!({"kind": kind, "sha256": done["sha256"]})
}

/// Does what the parent is asked to (confirm generated forms, supply a missing page); returns
/// how many actions it took.
async fn act(router: &axum::Router, subject: &str, id: &str, view: &Value) -> usize {
    let Some(waiting) = view["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["status"]["status"] == "awaiting_applicant")
    else {
        return 0;
    };
    let (status, body) = match waiting["status"]["wait"].as_str().unwrap_or_default() {
        "confirm_forms" => {
            call(
                router,
                subject,
                "POST",
                &format!("/applications/{id}/confirmation"),
                None,
            )
            .await
        }
        "supplement" => {
            let mut documents = vec![];
            for item in waiting["status"]["items"].as_array().into_iter().flatten() {
                if item["type"] == "document" {
                    documents.push(
                        upload(router, subject, item["kind"].as_str().unwrap_or_default()).await,
                    );
                }
            }
            call(
                router,
                subject,
                "POST",
                &format!("/applications/{id}/supplement"),
                Some(&json!({"documents": documents})),
            )
            .await
        }
        other => panic!("the applicant is asked for {other}: {view:#}"),
    };
    assert_eq!(status, 200, "{body}");
    1
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_travels_from_submission_to_completion_through_the_lambda_handlers() {
    let stack = provision().await;
    // The callbacks function's router, reachable over HTTP by the simulated agencies.
    let callback_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let platform_url = format!(
        "http://{}",
        callback_listener
            .local_addr()
            .unwrap_or_else(|e| panic!("{e}"))
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sim = Simulator::open(
        &dir.path().join("agencies.db"),
        SimConfig {
            platform_url,
            delay: Duration::from_millis(10),
            mix: Mix::default(),
        },
        KeyRing::new(vec![stack.keys.platform.clone()]),
        stack.keys.agencies.clone(),
        Arc::new(newborn_service::ports::SystemClock),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let agencies_url = serve(sim.router()).await;
    tokio::spawn(sim.clone().run());

    let api = stack.deps(&agencies_url, Needs::Nothing).await;
    let callbacks = stack.deps(&agencies_url, Needs::WebhookKeys).await;
    let stages = stack.deps(&agencies_url, Needs::WebhookKeys).await;
    let pre_review = stack.deps(&agencies_url, Needs::Nothing).await;
    let notifier = stack.deps(&agencies_url, Needs::WebhookKeys).await;
    let callback_router = newborn_http::router(callbacks.api_state());
    tokio::spawn(async move {
        let _ = axum::serve(callback_listener, callback_router).await;
    });
    let router = newborn_http::router(api.api_state());
    // Scans go to presigned S3 URLs (type and exact length signed in), then are completed.
    let (status, early) = call(
        &router,
        "mum-aws",
        "POST",
        "/uploads",
        Some(&json!({"kind": "mother_id_card", "content_type": "image/png", "size": 8})),
    )
    .await;
    assert_eq!(status, 201, "{early}");
    let complete = early["complete_url"].as_str().unwrap_or_default();
    let (status, missing) = call(&router, "mum-aws", "POST", complete, None).await;
    assert_eq!(
        (status, missing["code"].as_str()),
        (409, Some("upload_missing")),
        "completing before the upload names what is missing"
    );
    let (_, other) = call(&router, "dad-else", "POST", complete, None).await;
    assert_eq!(
        other["code"], "not_found",
        "another account cannot complete it"
    );
    let mut documents = vec![];
    for kind in SAMPLE_DOCUMENTS {
        documents.push(upload(&router, "mum-aws", kind).await);
    }
    let mut form: Value = serde_json::from_str(SAMPLE).unwrap_or_else(|e| panic!("{e}"));
    form["documents"] = Value::Array(documents);
    // Born a week ago: the functions run on the system clock.
    form["newborn"]["birth_time"] =
        json!((chrono::Utc::now() - chrono::TimeDelta::days(7)).to_rfc3339());
    let (status, submitted) = call(&router, "mum-aws", "POST", "/applications", Some(&form)).await;
    assert_eq!(status, 201, "{submitted}");
    let id = submitted["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        stack.depth(&stack.queues[&Stage::PreReview]).await,
        1,
        "the submission queued its pre-review on SQS"
    );

    // The stage functions, invoked with what SQS delivers, until the flow ends.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut handled: HashMap<Stage, usize> = HashMap::new();
    let mut applicant_acts = 0;
    let view = loop {
        for stage in Stage::ALL {
            let deps = if stage == Stage::PreReview {
                &pre_review
            } else {
                &stages
            };
            *handled.entry(stage).or_default() += pump(&stack, deps, stage).await;
        }
        pump_notifications(&stack, &notifier).await;
        let (_, view) = call(
            &router,
            "mum-aws",
            "GET",
            &format!("/applications/{id}"),
            None,
        )
        .await;
        if view["outcome"] != "in_progress" {
            break view;
        }
        applicant_acts += act(&router, "mum-aws", &id, &view).await;
        assert!(Instant::now() < deadline, "the flow did not end: {view:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(view["outcome"], "completed", "{view:#}");
    println!("completed with {applicant_acts} applicant actions; handled per stage: {handled:?}");
    for stage in Stage::ALL {
        assert!(
            handled.get(&stage).copied().unwrap_or(0) >= 1,
            "the {stage} function handled its hand-off"
        );
    }

    // Each agency got its dispatch and answered; each stage completed exactly once.
    let received = sim.received().await.unwrap_or_else(|e| panic!("{e}"));
    let mut agencies: Vec<&str> = received.iter().map(|r| r.agency.as_str()).collect();
    agencies.sort_unstable();
    agencies.dedup();
    assert_eq!(
        agencies,
        ["hospital", "insurance", "police", "social-security"]
    );
    assert!(
        received
            .iter()
            .all(|r| r.state == "answered" && r.deliveries == 1),
        "every dispatch (one per agency and round) was sent once and answered: {received:?}"
    );
    println!(
        "{} dispatches: {:?}",
        received.len(),
        received.iter().map(|r| &r.key).collect::<Vec<_>>()
    );
    let (_, timeline) = call(
        &router,
        "mum-aws",
        "GET",
        &format!("/applications/{id}/timeline"),
        None,
    )
    .await;
    for stage in Stage::ALL {
        let completed = timeline
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["stage"] == stage.as_str() && e["to"] == "completed")
            .count();
        assert_eq!(completed, 1, "{stage} completed once: {timeline:#}");
    }
    // Every notification of the application reached the app's gateway once, in Chinese.
    while pump_notifications(&stack, &notifier).await > 0 {}
    let (_, notes) = call(
        &router,
        "mum-aws",
        "GET",
        &format!("/applications/{id}/notifications"),
        None,
    )
    .await;
    let delivered: Value = reqwest::get(format!("{agencies_url}/notifications"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let delivered = delivered.as_array().cloned().unwrap_or_default();
    assert_eq!(
        delivered.len(),
        notes.as_array().map_or(0, Vec::len),
        "one delivery per notification: {delivered:#?}"
    );
    assert!(
        delivered
            .iter()
            .all(|d| d["deliveries"] == 1 && d["body"]["owner"] == "mum-aws")
    );
    assert!(
        delivered
            .iter()
            .any(|d| d["body"]["notification"]["kind"] == "accepted")
    );
    // Nothing stuck: no dead letters, no hand-off left pending, the monitor finds no breach.
    for stage in Stage::ALL {
        assert_eq!(
            stack.depth(&stack.dead_letters[&stage]).await,
            0,
            "{stage} DLQ"
        );
        assert_eq!(stack.depth(&stack.queues[&stage]).await, 0, "{stage} queue");
    }
    assert_eq!(
        stack.depth(&stack.notifications).await,
        0,
        "notification queue"
    );
    let monitor_deps = stack.deps(&agencies_url, Needs::WebhookKeys).await;
    let report = newborn_lambda::monitor(
        &monitor_deps,
        serde_json::from_value(json!({
            "version": "0", "id": "sla", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-24T10:00:00Z", "region": REGION,
            "resources": [], "detail": {}
        }))
        .unwrap_or_else(|e| panic!("{e}")),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (report.relayed, report.sweep.breaches),
        (0, 0),
        "{report:?}"
    );
}

/// A message that always fails (here: not a stage message) is dead-lettered after the queue's
/// `maxReceiveCount` receives; `newborn-aws redrive` puts it back once the fault is fixed, with
/// nothing but the queue named (the dead-letter queue is found through the redrive policy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_is_dead_lettered_and_the_operator_command_redrives_it() {
    let stack = provision().await;
    let police = stack.deps("http://127.0.0.1:9", Needs::WebhookKeys).await;
    let url = &stack.queues[&Stage::Police];
    aws_sdk_sqs::Client::new(&stack.sdk)
        .send_message()
        .queue_url(url)
        .message_body("{\"application_id\": 7}")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut receives = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while stack.depth(&stack.dead_letters[&Stage::Police]).await == 0 {
        receives += pump(&stack, &police, Stage::Police).await;
        assert!(Instant::now() < deadline, "never dead-lettered");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        receives, 3,
        "handled (and failed) once per receive, up to maxReceiveCount"
    );
    let newborn_aws = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_newborn-aws"));
        cmd.args(args)
            .env("AWS_ENDPOINT_URL", &stack.emulator.url)
            .env("AWS_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env_remove("AWS_PROFILE");
        for (stage, url) in &stack.queues {
            cmd.env(queue_variable(*stage), url);
        }
        cmd.env(
            queue_variable(QueueName::Notifications),
            &stack.notifications,
        );
        let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let before = newborn_aws(&["queues"]);
    assert!(
        before
            .lines()
            .any(|l| l.starts_with("police") && l.trim_end().ends_with(" 1")),
        "the queues command shows the dead letter: {before}"
    );
    let out = newborn_aws(&["redrive", "--queue", "police"]);
    assert!(out.contains("moved 1 "), "{out}");
    assert_eq!(
        stack.depth(&stack.dead_letters[&Stage::Police]).await,
        0,
        "the DLQ is empty"
    );
    let event = receive_event(&stack.sdk, url)
        .await
        .unwrap_or_else(|| panic!("not redriven"));
    assert_eq!(
        event.records[0].body.as_deref(),
        Some("{\"application_id\": 7}"),
        "the same message is delivered again"
    );
    println!("dead-lettered after {receives} receives; {before}{out}");
}
