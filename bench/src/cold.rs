//! Cold start of the functions: each release binary is started as Lambda starts it — with
//! `AWS_LAMBDA_RUNTIME_API` pointing at a local Lambda runtime API (served here: `next`,
//! `response`, `error`, `init/error`) and the function's environment over the emulator, and no
//! variable of the shell that runs it — and
//! timed from process start to its first request for an event (ready) and to its answer
//! (handled). Peak memory is the process's high-water mark (`VmHWM`) after the answer.

use crate::stats::{Summary, summarise};
use anyhow::{Context, Result, bail};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use newborn_domain::kinds::RatingSubject;
use newborn_lambda_harness::{self as harness, Stack};
use newborn_service::ports::EvaluationTask;
use serde::Serialize;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The functions: binary name and the event it is started with.
fn functions() -> Vec<(&'static str, Value)> {
    let stage_event = |stage: &str| -> Value {
        let mut e: Value =
            serde_json::from_str(include_str!("../../events/sqs/police-stage-message.json"))
                .unwrap_or(Value::Null);
        e["Records"][0]["body"] = json!(
            json!({"application_id": "NB20251117ABCDEF0123", "stage": stage, "round": 1})
                .to_string()
        );
        e
    };
    let api = |path: &str| -> Value {
        serde_json::from_str(&harness::api_event("bench", "GET", path, None)).unwrap_or_default()
    };
    let mut notifier = stage_event("police");
    notifier["Records"][0]["body"] = json!(
        json!({
            "id": "NB20251117ABCDEF0123:1763341200000:0",
            "application_id": "NB20251117ABCDEF0123",
            "owner": "bench",
            "notification": {"at": "2025-11-17T01:00:00Z", "kind": "accepted",
                "message": {"zh": "您的申请已提交", "en": "Your application was submitted"}}
        })
        .to_string()
    );
    let mut evaluation = stage_event("evaluation");
    evaluation["Records"][0]["body"] = json!(
        "NB20251117ABCDEF0123"
            .parse()
            .ok()
            .map(|application_id| EvaluationTask::Forward {
                application_id,
                subject: RatingSubject::Matter,
            })
            .and_then(|task| serde_json::to_string(&task).ok())
    );
    vec![
        ("api", api("/health")),
        ("callbacks", api("/health")),
        ("pre-review", stage_event("pre_review")),
        ("health-check", stage_event("health_check")),
        ("police", stage_event("police")),
        ("insurance", stage_event("insurance")),
        ("social-security-card", stage_event("social_security_card")),
        ("evaluation", evaluation),
        ("notifier", notifier),
        // A stream batch with no record: the relay's start and an empty answer.
        ("relay", json!({"Records": []})),
        (
            "sla-monitor",
            serde_json::from_str(include_str!("../../events/scheduled/sla-monitor.json"))
                .unwrap_or_default(),
        ),
    ]
}

/// One function's cold start.
#[derive(Debug, Clone, Serialize)]
pub struct ColdStart {
    /// The function.
    pub function: String,
    /// Its release binary (this machine's architecture), bytes.
    pub binary_bytes: u64,
    /// Process start → first request for an event.
    pub ready: Summary,
    /// Process start → answer to that event.
    pub handled: Summary,
    /// Largest peak resident memory over the runs, KiB.
    pub peak_rss_kib: u64,
    /// Whether the function answered the event without an error.
    pub answered_ok: bool,
}

#[derive(Default)]
struct Run {
    event: Vec<u8>,
    ready: Option<Instant>,
    handled: Option<(Instant, bool)>,
}

type Shared = Arc<Mutex<Run>>;

async fn next(State(run): State<Shared>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let event = {
        let Ok(mut r) = run.lock() else {
            return (StatusCode::INTERNAL_SERVER_ERROR, HeaderMap::new(), vec![]);
        };
        if r.ready.is_some() {
            None
        } else {
            r.ready = Some(Instant::now());
            Some(r.event.clone())
        }
    };
    let Some(event) = event else {
        // One event per cold start: the next poll waits until the process is stopped.
        std::future::pending::<()>().await;
        return (StatusCode::NO_CONTENT, HeaderMap::new(), vec![]);
    };
    let mut h = HeaderMap::new();
    let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
    for (k, v) in [
        ("lambda-runtime-aws-request-id", "bench-1".to_owned()),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws-cn:lambda:cn-northwest-1:123456789012:function:bench".to_owned(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0".to_owned(),
        ),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    h.insert("content-type", HeaderValue::from_static("application/json"));
    (StatusCode::OK, h, event)
}

fn finished(run: &Shared, ok: bool) -> StatusCode {
    if let Ok(mut r) = run.lock() {
        r.handled.get_or_insert((Instant::now(), ok));
    }
    StatusCode::ACCEPTED
}

/// The Lambda runtime API for one run, and the applicant gateway / agencies the function calls.
fn runtime_api(run: Shared) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(|State(r): State<Shared>| async move { finished(&r, true) }),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(|State(r): State<Shared>| async move { finished(&r, false) }),
        )
        .route(
            "/2018-06-01/runtime/init/error",
            post(|State(r): State<Shared>| async move { finished(&r, false) }),
        )
        .route("/notify", post(|| async { StatusCode::ACCEPTED }))
        .with_state(run)
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Starts `binary` once with `event`; returns (ready, handled, peak KiB, answered without error).
async fn once(
    binary: &Path,
    event: &Value,
    env: &[(String, String)],
) -> Result<(Duration, Duration, u64, bool)> {
    let run: Shared = Arc::new(Mutex::new(Run {
        event: serde_json::to_vec(event)?,
        ..Run::default()
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(axum::serve(listener, runtime_api(run.clone())).into_future());
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        // Only Lambda's and the function's variables, as on Lambda: none of this shell's (a
        // developer's SSL_CERT_DIR, for one, would make each start read ~300 certificate files).
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("TZ", ":UTC")
        .env("LANG", "en_US.UTF-8")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("NEWBORN_AGENCIES_URL", format!("http://{addr}"))
        .env("NEWBORN_SUPERVISORS_URL", format!("http://{addr}"))
        .env("NEWBORN_NOTIFY_URL", format!("http://{addr}/notify"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let pid = child.id().unwrap_or(0);
    let deadline = started + Duration::from_secs(20);
    let outcome = loop {
        let (ready, handled) = run
            .lock()
            .map(|r| (r.ready, r.handled))
            .map_err(|_| anyhow::anyhow!("poisoned"))?;
        if let Some((at, ok)) = handled {
            break (ready, at, ok);
        }
        if Instant::now() > deadline {
            let _ = child.kill().await;
            server.abort();
            bail!("{} did not answer within 20 s", binary.display());
        }
        if let Ok(Some(status)) = child.try_wait() {
            server.abort();
            bail!("{} exited ({status}) before answering", binary.display());
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    };
    let peak = peak_rss_kib(pid);
    let _ = child.kill().await;
    server.abort();
    let (ready, handled, ok) = outcome;
    Ok((
        ready.map_or(Duration::ZERO, |r| r - started),
        handled - started,
        peak,
        ok,
    ))
}

/// Measures every function in `bin_dir` `runs` times.
pub async fn run(bin_dir: &Path, runs: usize) -> Result<Vec<ColdStart>> {
    let emulator = newborn_contract::emulator::start_emulator();
    let stack = Stack::provision(harness::sdk_config(&emulator.url, None))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut env: Vec<(String, String)> = stack
        .environment("http://127.0.0.1:9")
        .into_iter()
        .collect();
    for (k, v) in [
        ("AWS_ENDPOINT_URL", emulator.url.as_str()),
        ("AWS_REGION", harness::REGION),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_CONFIG_FILE", "/nonexistent"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
        ("AWS_LAMBDA_FUNCTION_NAME", "bench"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
        ("RUST_LOG", "warn"),
    ] {
        env.push((k.to_owned(), v.to_owned()));
    }
    let progress = indicatif::ProgressBar::new((functions().len() * runs) as u64);
    let mut out = vec![];
    for (function, event) in functions() {
        let binary = bin_dir.join(function);
        let binary_bytes = std::fs::metadata(&binary)
            .with_context(|| {
                format!(
                    "{} is missing: build the functions with `cargo build --release -p newborn-fn-{function}`",
                    binary.display()
                )
            })?
            .len();
        let (mut ready, mut handled, mut peak, mut ok) = (vec![], vec![], 0, true);
        for _ in 0..runs {
            let (r, h, p, answered) = once(&binary, &event, &env).await?;
            ready.push(r.as_secs_f64() * 1000.0);
            handled.push(h.as_secs_f64() * 1000.0);
            peak = peak.max(p);
            ok &= answered;
            progress.inc(1);
        }
        out.push(ColdStart {
            function: function.to_owned(),
            binary_bytes,
            ready: summarise(ready),
            handled: summarise(handled),
            peak_rss_kib: peak,
            answered_ok: ok,
        });
    }
    progress.finish();
    Ok(out)
}
