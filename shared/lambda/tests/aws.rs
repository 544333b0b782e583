//! The functions end to end against a real AWS API emulator (moto's server mode): the same
//! desks each Lambda wires from its environment (`newborn_lambda::wire`), over DynamoDB, SQS, S3 and Secrets Manager in
//! cn-northwest-1. Applicant requests are real API Gateway (HTTP API, payload 2.0) events with the
//! JWT authorizer's claims, turned into requests by `lambda_http`; stage batches are real
//! `SqsEvent`s built from the messages the emulator's SQS delivers; the simulated agencies answer
//! over real HTTP with real signatures.

use newborn_agency_sim::{Mix, SimConfig, Simulator};
use newborn_domain::stage::Stage;
use newborn_lambda::{Adapters, settings::queue_variable, wire};
use newborn_lambda_harness::{self as harness, REGION};
use newborn_service::ports::QueueName;
use newborn_service::signing::KeyRing;
use newborn_service::{EvaluationDesk, NotifierDesk, StageDesk};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SAMPLE: &str = include_str!("../../../events/api/submit-application.json");
const SAMPLE_DOCUMENTS: [&str; 6] = [
    "mother_id_card",
    "father_id_card",
    "marriage_certificate",
    "household_booklet_front",
    "household_booklet_registering_parent",
    "household_booklet_head",
];

/// The stack in a running emulator (which lives as long as the stack).
struct Stack {
    emulator: newborn_contract::emulator::Emulator,
    stack: harness::Stack,
}

impl std::ops::Deref for Stack {
    type Target = harness::Stack;
    fn deref(&self) -> &harness::Stack {
        &self.stack
    }
}

async fn provision() -> Stack {
    let emulator = newborn_contract::emulator::start_emulator();
    let stack = harness::Stack::provision(harness::sdk_config(&emulator.url, None))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    Stack { emulator, stack }
}

impl Stack {
    fn adapters(&self, agencies_url: &str) -> Adapters {
        self.stack
            .adapters(agencies_url)
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

async fn call(
    router: &axum::Router,
    subject: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    harness::call(router, subject, method, path, body)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Invokes the relay function with what is new on the table's stream (each write's messages to
/// their queues).
async fn relay(stack: &Stack) -> usize {
    stack.relay().await.unwrap_or_else(|e| panic!("{e}"))
}

/// Invokes a stage function with one batch and deletes what it did not report as failed, as the
/// event source mapping does; returns how many records were handled.
async fn pump(stack: &Stack, desk: &StageDesk, stage: Stage) -> usize {
    relay(stack).await;
    stack
        .pump(&stack.queues[&stage], |event| async move {
            newborn_handlers::handle_stage_batch(desk, stage, event).await
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Invokes the notifier function with one batch of the notification queue.
async fn pump_notifications(stack: &Stack, desk: &NotifierDesk) -> usize {
    relay(stack).await;
    stack
        .pump(&stack.notifications, |event| async move {
            newborn_handlers::handle_notification_batch(desk, event).await
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Invokes the evaluation function with one batch of its queue; with `lost`, its response is
/// lost (every record reported failed, as after a timeout), so SQS delivers them again.
async fn pump_evaluation(stack: &Stack, desk: &EvaluationDesk, lost: bool) -> usize {
    relay(stack).await;
    stack
        .pump(&stack.evaluation, |event| async move {
            let ids: Vec<String> = event
                .records
                .iter()
                .filter_map(|r| r.message_id.clone())
                .collect();
            let mut response = newborn_handlers::handle_evaluation_batch(desk, event).await;
            if lost {
                response = aws_lambda_events::event::sqs::SqsBatchResponse::default();
                for id in ids {
                    response.add_failure(id);
                }
            }
            response
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Uploads a PNG scan of `kind` the AWS way: slot, PUT to the presigned S3 URL with exactly the
/// signed headers, complete; returns the document reference.
async fn upload(router: &axum::Router, subject: &str, kind: &str) -> Value {
    let (reference, complete) = harness::upload(router, subject, kind)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (again, same) = call(router, subject, "POST", &complete, None).await;
    assert_eq!(
        (again, &same["sha256"]),
        (200, &reference["sha256"]),
        "completing twice answers the same"
    );
    reference
}

/// Does what the parent is asked to (confirm generated forms, supply a missing page); returns
/// how many actions it took.
async fn act(router: &axum::Router, subject: &str, id: &str, view: &Value) -> usize {
    harness::act(router, subject, id, view)
        .await
        .unwrap_or_else(|e| panic!("{e}: {view:#}"))
}

/// The simulated agencies (and licence directory) with the stack's keys, calling back to
/// `platform_url`, served over HTTP: the simulator, its address and its data directory.
async fn simulator(stack: &Stack, platform_url: String) -> (Simulator, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sim = Simulator::open(
        &dir.path().join("agencies.db"),
        SimConfig {
            platform_url,
            delay: Duration::from_millis(10),
            mix: Mix::default(),
            received_token: "not used by this test".into(),
        },
        KeyRing::new(vec![stack.keys.platform.clone()]),
        stack.keys.agencies.clone(),
        Arc::new(newborn_service::ports::SystemClock),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let url = serve(sim.router()).await;
    (sim, url, dir)
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
    let (sim, agencies_url, _dir) = simulator(&stack, platform_url).await;
    tokio::spawn(sim.clone().run());

    let stages = wire::stage(&stack.adapters(&agencies_url))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let pre_review = wire::stage(&stack.adapters(&agencies_url))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let notifier = wire::notifier(&stack.adapters(&agencies_url))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let callback_router = wire::callbacks(&stack.adapters(&agencies_url))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(callback_listener, callback_router).await;
    });
    let router = wire::api(&stack.adapters(&agencies_url))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
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
    // The identity cards and the marriage certificate are electronic licences in the province's
    // directory (the pre-review function looks them up, signed); the booklet pages are scans.
    let licences = sim
        .file_sample_licences()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut documents = vec![];
    for kind in SAMPLE_DOCUMENTS
        .iter()
        .filter(|k| k.starts_with("household"))
    {
        documents.push(upload(&router, "mum-aws", kind).await);
    }
    // Another account that declares the digest of one of her scans, without sending the bytes,
    // cannot complete a slot with it (the object at the content address was not its PUT).
    let (status, borrowed) = call(
        &router,
        "dad-else",
        "POST",
        "/uploads",
        Some(
            &json!({"kind": "household_booklet_front", "content_type": "image/png",
            "size": 8, "sha256": documents[0]["sha256"]}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{borrowed}");
    let (status, refused) = call(
        &router,
        "dad-else",
        "POST",
        borrowed["complete_url"].as_str().unwrap_or_default(),
        None,
    )
    .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("upload_missing")),
        "knowing a scan's digest does not make it one's own: {refused}"
    );
    let mut form: Value = serde_json::from_str(SAMPLE).unwrap_or_else(|e| panic!("{e}"));
    form["documents"] = Value::Array(documents);
    form["licences"] = licences;
    // Born a week ago: the functions run on the system clock.
    form["newborn"]["birth_time"] =
        json!((chrono::Utc::now() - chrono::TimeDelta::days(7)).to_rfc3339());
    let (status, submitted) = call(&router, "mum-aws", "POST", "/applications", Some(&form)).await;
    assert_eq!(status, 201, "{submitted}");
    let id = submitted["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        stack.depth(&stack.queues[&Stage::PreReview]).await,
        0,
        "the submission's write sends nothing itself"
    );
    assert_eq!(
        relay(&stack).await,
        1,
        "its one write, relayed from the stream"
    );
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
        for stage in Stage::QUEUES {
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
    for stage in Stage::QUEUES {
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
    let to_hospital = received
        .iter()
        .find(|r| r.agency == "hospital")
        .unwrap_or_else(|| panic!("no hospital dispatch"));
    let sources: Vec<(&str, &str, bool)> = to_hospital.body["documents"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d["kind"].as_str().unwrap_or(""),
                d["source"].as_str().unwrap_or(""),
                d["verified"] == true,
            )
        })
        .collect();
    assert_eq!(
        sources,
        [
            ("mother_id_card", "licence", true),
            ("father_id_card", "licence", true),
            ("marriage_certificate", "licence", true)
        ],
        "the hospital learns the materials are verified licences"
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
            .filter(|e| {
                e["stage"] == stage.as_str() && e["to"] == "completed" && e["from"] != "completed"
            })
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
    let delivered: Value = newborn_http::client()
        .get(format!("{agencies_url}/notifications"))
        .send()
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
    // 评价: the family rates the police badly. The rating is queued on SQS in the same write;
    // the evaluation function, invoked with what SQS delivers, opens the follow-up and forwards
    // the rating to the 好差评 platform. Its first response is lost (every record reported
    // failed), so SQS delivers the task again: the platform still records the rating once.
    let (status, rated) = call(
        &router,
        "mum-aws",
        "POST",
        &format!("/applications/{id}/ratings"),
        Some(&json!({"stage": "police", "level": "dissatisfied", "comment": "等待较久"})),
    )
    .await;
    assert_eq!(status, 201, "{rated}");
    relay(&stack).await;
    assert_eq!(
        stack.depth(&stack.evaluation).await,
        1,
        "the rating queued its forward on SQS"
    );
    let evaluation = wire::evaluation(&stack.adapters(&agencies_url))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pump_evaluation(&stack, &evaluation, true).await, 1);
    let deadline = Instant::now() + Duration::from_secs(30);
    while pump_evaluation(&stack, &evaluation, false).await == 0 {
        assert!(Instant::now() < deadline, "the task never came back");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let ratings = sim.ratings().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ratings
            .iter()
            .map(|r| (r.key.as_str(), r.deliveries))
            .collect::<Vec<_>>(),
        [(format!("{id}:police").as_str(), 2)],
        "one rating, recorded once, delivered twice: {ratings:?}"
    );
    assert_eq!(ratings[0].body["department"], "police_station");
    let (_, view) = call(
        &router,
        "mum-aws",
        "GET",
        &format!("/applications/{id}"),
        None,
    )
    .await;
    assert_eq!(
        view["follow_ups"].as_array().map(Vec::len),
        Some(1),
        "the bad rating opened one follow-up: {view:#}"
    );
    assert_eq!(stack.depth(&stack.evaluation).await, 0, "evaluation queue");
    assert_eq!(
        stack.depth(&stack.evaluation_dead_letters).await,
        0,
        "evaluation DLQ"
    );

    // Nothing stuck: no dead letters, nothing left on the stream, the monitor finds no breach.
    assert_eq!(relay(&stack).await, 0, "the stream is relayed");
    for stage in Stage::QUEUES {
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
    let monitor = wire::monitor(&stack.adapters(&agencies_url))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let report = newborn_handlers::handle_schedule(
        &monitor,
        serde_json::from_value(json!({
            "version": "0", "id": "sla", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-24T10:00:00Z", "region": REGION,
            "resources": [], "detail": {}
        }))
        .unwrap_or_else(|e| panic!("{e}")),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.breaches, 0, "{report:?}");
    // The watchdog read every open clock of the table's index: nothing is left open.
    assert_eq!(report.watchdog.len(), 4, "{report:?}");
    assert!(
        report
            .watchdog
            .iter()
            .all(|w| w.open == 0 && w.unacknowledged == 0 && w.due_first.is_none()),
        "{report:?}"
    );
}

/// A message that always fails (here: not a stage message) is dead-lettered after the queue's
/// `maxReceiveCount` receives; `newborn-aws redrive` puts it back once the fault is fixed, with
/// nothing but the queue named (the dead-letter queue is found through the redrive policy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_is_dead_lettered_and_the_operator_command_redrives_it() {
    let stack = provision().await;
    let police = wire::stage(&stack.adapters("http://127.0.0.1:9"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
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
        cmd.env(queue_variable(QueueName::Evaluation), &stack.evaluation);
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
    let event = harness::receive_event(&stack.sdk, url)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("not redriven"));
    assert_eq!(
        event.records[0].body.as_deref(),
        Some("{\"application_id\": 7}"),
        "the same message is delivered again"
    );
    println!("dead-lettered after {receives} receives; {before}{out}");
}

/// Every function of `template.yaml` is granted exactly the IAM actions of the ports its wiring
/// asks for (no more, none missing): each is wired as its `main` wires it (offline, with keys
/// given), the ports it asked the adapters for are turned into IAM grants
/// ([`newborn_lambda::Port::iam`]) and compared with the template's statements, which
/// `tests/deployed/policies.py` reads with cfn-lint's template parser.
#[tokio::test]
async fn the_template_grants_each_function_exactly_the_iam_of_its_ports() {
    use newborn_lambda::wire::Function;
    use newborn_lambda::{Port, Settings};
    use std::collections::BTreeSet;
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = std::process::Command::new(format!("{root}/.venv/bin/python"))
        .current_dir(root)
        .arg("tests/deployed/policies.py")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run tests/deployed/policies.py (./scripts/tools.sh installs .venv): {e}")
        });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let template: HashMap<String, Value> =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let mut vars: HashMap<String, String> = [
        ("NEWBORN_TABLE", "newborn"),
        ("NEWBORN_BUCKET", "newborn-scans"),
        ("NEWBORN_AGENCIES_URL", "http://127.0.0.1:9"),
        ("NEWBORN_SUPERVISORS_URL", "http://127.0.0.1:9"),
        ("NEWBORN_NOTIFY_URL", "http://127.0.0.1:9/notify"),
        ("NEWBORN_RATING_PLATFORM_URL", "http://127.0.0.1:9"),
        ("NEWBORN_WEBHOOK_KEYS_SECRET", "newborn/webhook-keys"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for queue in QueueName::ALL {
        vars.insert(queue_variable(queue), format!("http://127.0.0.1:9/{queue}"));
    }
    let key_file = serde_json::to_string(&harness::random_keys()).unwrap_or_default();
    let keys =
        newborn_service::signing::Keys::from_json(&key_file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(template.len(), 11, "eleven functions in the template");
    let mut report = vec![];
    for (logical, function) in &template {
        let binary = function["binary"].as_str().unwrap_or_default();
        let wired = Function::of_binary(binary)
            .unwrap_or_else(|| panic!("{logical}: no wiring for binary {binary}"));
        let settings =
            Settings::from_vars(|k| vars.get(k).cloned()).unwrap_or_else(|e| panic!("{e}"));
        let adapters = Adapters::new(settings, harness::sdk_config("http://127.0.0.1:9", None))
            .with_keys(keys.clone());
        let ports = wired
            .ports(&adapters)
            .await
            .unwrap_or_else(|e| panic!("{logical}: {e}"));
        let needed: BTreeSet<(String, String)> = ports
            .iter()
            .flat_map(|p| p.iam())
            .map(|g| (g.action.to_owned(), g.resource.to_owned()))
            .collect();
        let granted: BTreeSet<(String, String)> =
            serde_json::from_value(function["grants"].clone()).unwrap_or_else(|e| panic!("{e}"));
        let missing: Vec<_> = needed.difference(&granted).collect();
        let extra: Vec<_> = granted.difference(&needed).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{logical} ({binary}) uses {ports:?}:\n  missing from the template: {missing:?}\n  granted but unused: {extra:?}"
        );
        report.push(format!(
            "{binary}: {}",
            ports
                .iter()
                .map(|p: &Port| format!("{p:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    report.sort();
    println!("{}", report.join("\n"));
}

/// A clock set ahead of the wall.
struct Ahead(chrono::TimeDelta);

impl newborn_service::ports::Clock for Ahead {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + self.0
    }
}

/// 无感申办 through the functions (docs/rules.md OURS-DRAFT): the hospital's signed birth record
/// reaches the `callbacks` function over HTTP, its drafts land in DynamoDB and the relay hands
/// the mother's SMS to the `notifier`; the `api` function shows them only to her real-name
/// identity number and confirms one into an application whose pre-review the relay queues; the
/// hospital's system being down, the `sla-monitor` function run 11 minutes on escalates the
/// unacknowledged dispatch, and run 31 days on deletes the other draft.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_birth_record_becomes_drafts_through_the_functions_and_the_monitor_deletes_the_unconfirmed()
 {
    use newborn_domain::stage::Agency;
    let stack = provision().await;
    let (sim, agencies_url, _dir) = simulator(&stack, "http://127.0.0.1:9".into()).await;
    sim.file_sample_licences()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let callbacks = serve(
        wire::callbacks(&stack.adapters(&agencies_url))
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    let router = wire::api(&stack.adapters(&agencies_url))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let notifier = wire::notifier(&stack.adapters(&agencies_url))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let pre_review = wire::stage(&stack.adapters(&agencies_url))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // The hospital posts the twins' record, signed with its key.
    // Born yesterday: the functions run on the wall clock.
    let born = (chrono::Utc::now() - chrono::TimeDelta::days(1))
        .with_timezone(&newborn_domain::calendar::CHINA)
        .to_rfc3339();
    let record = newborn_contract::twins_record("A", "AZY-TWIN-2", &born);
    let key = stack
        .keys
        .agencies
        .key_of(Agency::Hospital)
        .cloned()
        .unwrap_or_else(|| panic!("no hospital key"));
    let res = harness::signed_post(
        &newborn_http::client(),
        &format!("{callbacks}/agency/births"),
        &key,
        &serde_json::to_value(&record).unwrap_or_else(|e| panic!("{e}")),
    )
    .send()
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status(), 201);
    let made: Value = res.json().await.unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<String> = made["drafts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids.len(), 2, "{made}");

    // The relay hands the SMS to the notifier, which delivers it to the gateway.
    let deadline = Instant::now() + Duration::from_secs(30);
    while pump_notifications(&stack, &notifier).await == 0 {
        assert!(Instant::now() < deadline, "the SMS never reached the queue");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let sms = sim.notifications().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        sms.iter().any(|n| n.body["owner"] == "sms:13812345678"
            && n.body["notification"]["kind"] == "draft_ready"),
        "{sms:?}"
    );

    // Only the mother, by her real-name identity number, sees them.
    let mum = |method: &'static str, path: String, body: Option<Value>| {
        let router = router.clone();
        async move {
            harness::call_real_name(
                &router,
                "mum-aws-draft",
                "35010219940315002X",
                method,
                &path,
                body.as_ref(),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    let (status, none) = call(&router, "someone", "GET", "/drafts", None).await;
    assert_eq!(
        (status, none["code"].as_str()),
        (403, Some("real_name_required"))
    );
    let (status, theirs) = harness::call_real_name(
        &router,
        "dad-aws",
        "350203199207080011",
        "GET",
        "/drafts",
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((status, theirs), (200, json!([])));
    let (status, drafts) = mum("GET", "/drafts".into(), None).await;
    assert_eq!(status, 200, "{drafts}");
    assert_eq!(drafts.as_array().map(Vec::len), Some(2), "{drafts}");
    assert_eq!(
        drafts[0]["licences_on_file"].as_array().map(Vec::len),
        Some(3),
        "the directory's licences, looked up signed: {drafts}"
    );

    // She confirms the first with her choices and the booklet's pages.
    let sample: Value = serde_json::from_str(SAMPLE).unwrap_or_else(|e| panic!("{e}"));
    let mut documents = vec![];
    for kind in SAMPLE_DOCUMENTS
        .iter()
        .filter(|k| k.starts_with("household"))
    {
        documents.push(upload(&router, "mum-aws-draft", kind).await);
    }
    let details = |p: &Value| {
        json!({
            "ethnicity": p["ethnicity"], "household_address": p["household_address"],
            "household_region": p["household_region"], "household_kind": p["household_kind"],
            "marriage_certificate": p["marriage_certificate"],
        })
    };
    let mut father = details(&sample["father"]);
    father["phone"] = sample["father"]["phone"].clone();
    let answer = json!({
        "services": ["birth_certificate", "vaccination_certificate", "household_registration"],
        "mother": details(&sample["mother"]),
        "father": father,
        "household": sample["household"],
        "delivery": sample["delivery"],
        "documents": documents,
        "pledge": {"truthful": true},
    });
    let (status, view) = mum(
        "POST",
        format!("/drafts/{}/confirmation", ids[0]),
        Some(answer),
    )
    .await;
    assert_eq!(status, 201, "{view}");
    assert_eq!(view["id"], ids[0].as_str());
    let deadline = Instant::now() + Duration::from_secs(30);
    while pump(&stack, &pre_review, Stage::PreReview).await == 0 {
        assert!(Instant::now() < deadline, "the pre-review was never queued");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, view) = call(
        &router,
        "mum-aws-draft",
        "GET",
        &format!("/applications/{}", ids[0]),
        None,
    )
    .await;
    assert_eq!(
        view["stages"][0]["status"]["status"], "completed",
        "pre-review passed the confirmed form: {view}"
    );

    // The hospital's system is down: the `health-check` function's dispatch reaches nothing, and
    // the `sla-monitor` function, 11 minutes on, escalates the unacknowledged dispatch (the
    // watchdog, docs/rules.md OURS-WATCHDOG) long before any deadline.
    let hospital_down = wire::stage(&stack.adapters("http://127.0.0.1:9"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while pump(&stack, &hospital_down, Stage::HealthCheck).await == 0 {
        assert!(
            Instant::now() < deadline,
            "the hospital's dispatch was never queued"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let schedule = || -> aws_lambda_events::event::cloudwatch_events::CloudWatchEvent {
        serde_json::from_value(json!({
            "version": "0", "id": "sla", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-24T10:00:00Z", "region": REGION,
            "resources": [], "detail": {}
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    };
    let soon = wire::monitor(
        &stack
            .adapters(&agencies_url)
            .with_clock(Arc::new(Ahead(chrono::TimeDelta::minutes(11)))),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let report = newborn_handlers::handle_schedule(&soon, schedule())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (report.unacknowledged, report.breaches),
        (1, 0),
        "{report:?}"
    );
    let hospital = report
        .watchdog
        .iter()
        .find(|w| w.agency == Agency::Hospital)
        .unwrap_or_else(|| panic!("{report:?}"));
    assert_eq!(
        (hospital.open, hospital.unacknowledged),
        (1, 1),
        "{report:?}"
    );
    let again = newborn_handlers::handle_schedule(&soon, schedule())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.unacknowledged, 0, "escalated once: {again:?}");

    // 31 days on, the monitor deletes the unconfirmed twin's draft.
    let monitor = wire::monitor(
        &stack
            .adapters(&agencies_url)
            .with_clock(Arc::new(Ahead(chrono::TimeDelta::days(31)))),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let report = newborn_handlers::handle_schedule(&monitor, schedule())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.drafts_expired, 1, "{report:?}");
    let (status, left) = mum("GET", "/drafts".into(), None).await;
    assert_eq!((status, left), (200, json!([])));
}
