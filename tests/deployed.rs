//! The deployed shape, run here: the real `template.yaml` deployed into an AWS API emulator, and
//! the real function binaries — the same `bootstrap` SAM zips — each run as Lambda runs it, under
//! a Lambda runtime API, with the environment the stack resolved for it and the credentials of
//! its own execution role, in an emulator that enforces IAM. One application goes from
//! submission to completion through them, with every agency, the licence directory and the
//! applicant gateway reached over HTTPS, and a police supplement answered with an electronic
//! licence that the API function looks up itself.
//!
//! - `tests/deployed/stack.py` packages the template (`sam package`'s step), transforms it with
//!   the AWS SAM translator and creates the stack in moto; it reads back each function's
//!   environment as CloudFormation resolved it and assumes each function's role.
//! - `tests/deployed/moto_iam.py` runs moto with IAM enforcement that checks resources (moto
//!   alone asks about `*` for DynamoDB, SQS and Secrets Manager), switched on once the stack is
//!   up: a function calling anything its role's statements do not allow gets AccessDenied.
//! - This test plays what the emulator cannot: Lambda's runtime API, the SQS event source
//!   mappings (receive, invoke with an `SqsEvent`, delete what the function did not report
//!   failed), API Gateway (payload 2.0 events, with the JWT authorizer's claims for the applicant
//!   API and without for the callbacks) and the EventBridge schedule.
//!
//! The function binaries are built by `scripts/test.sh` (`cargo build --workspace --bins`)
//! before the tests run; the HTTPS tests at the end need nothing built.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use newborn_agency_sim::{Mix, Script, Scripted, SimConfig, Simulator};
use newborn_domain::stage::{Agency, Stage};
use newborn_http::{HttpDispatcher, TrustedRoots};
use newborn_lambda_harness::{self as harness, ApiTarget};
use newborn_service::ports::{AgencyDispatcher, Dispatch, QueueName, SystemClock};
use newborn_service::signing::{KeyRing, Keys};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

const SAMPLE: &str = include_str!("../events/api/submit-application.json");
const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");
/// The functions of `template.yaml`, by binary name.
const FUNCTIONS: [&str; 11] = [
    "api",
    "callbacks",
    "pre-review",
    "health-check",
    "police",
    "insurance",
    "social-security-card",
    "notifier",
    "evaluation",
    "sla-monitor",
    "relay",
];

// ---------------------------------------------------------------------------------------------
// A test certificate authority and an HTTPS server on 127.0.0.1.

/// A CA and a server certificate it issued for 127.0.0.1 and localhost.
struct TestCa {
    /// The CA certificate, PEM: what a client must trust.
    pem: String,
    server: Arc<tokio_rustls::rustls::ServerConfig>,
}

fn test_ca() -> TestCa {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("{e}"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "newborn deployed-shape test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap_or_else(|e| panic!("{e}"));
    let issuer = Issuer::from_params(&ca, &ca_key);
    let leaf_key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .and_then(|p| p.signed_by(&leaf_key, &issuer))
        .unwrap_or_else(|e| panic!("{e}"));
    let key = tokio_rustls::rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der())
        .unwrap_or_else(|e| panic!("{e}"));
    let server = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca_cert.der().clone()], key)
        .unwrap_or_else(|e| panic!("{e}"));
    TestCa {
        pem: ca_cert.pem(),
        server: Arc::new(server),
    }
}

/// TLS over a TCP listener, for `axum::serve`; a failed handshake (a client refusing the
/// certificate) drops that connection only.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// Serves `router` over HTTPS on a free port of 127.0.0.1; returns `https://127.0.0.1:<port>`.
async fn serve_https(router: Router, ca: &TestCa) -> String {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "https://127.0.0.1:{}",
        tcp.local_addr().unwrap_or_else(|e| panic!("{e}")).port()
    );
    let listener = TlsListener {
        tcp,
        acceptor: tokio_rustls::TlsAcceptor::from(ca.server.clone()),
    };
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    url
}

// ---------------------------------------------------------------------------------------------
// Lambda's part: a runtime API per function, and the real binary polling it.

/// Where a function's answer (or its error) goes.
type Answer = oneshot::Sender<Result<Value, String>>;

/// One invocation waiting for the function: the event, and where its answer goes.
struct Invocation {
    event: Vec<u8>,
    answer: Answer,
}

#[derive(Clone)]
struct RuntimeApi {
    queue: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>>,
    pending: Arc<Mutex<HashMap<String, Answer>>>,
    arn: String,
    count: Arc<Mutex<u64>>,
}

impl RuntimeApi {
    fn take(&self, id: &str) -> Option<Answer> {
        self.pending.lock().ok().and_then(|mut p| p.remove(id))
    }
}

/// `GET /runtime/invocation/next`: waits for the next event (long poll, as Lambda's does).
async fn next(State(api): State<RuntimeApi>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let Some(inv) = api.queue.lock().await.recv().await else {
        std::future::pending::<()>().await;
        return (StatusCode::NO_CONTENT, HeaderMap::new(), vec![]);
    };
    let id = {
        let mut n = api.count.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        format!("req-{n}")
    };
    if let Ok(mut p) = api.pending.lock() {
        p.insert(id.clone(), inv.answer);
    }
    let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("lambda-runtime-aws-request-id", id),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        ("lambda-runtime-invoked-function-arn", api.arn.clone()),
        (
            "lambda-runtime-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0".into(),
        ),
        ("content-type", "application/json".into()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    (StatusCode::OK, h, inv.event)
}

fn runtime_router(api: RuntimeApi) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(
                |State(api): State<RuntimeApi>, Path(id): Path<String>, body: Bytes| async move {
                    if let Some(answer) = api.take(&id) {
                        let _ = answer.send(
                            serde_json::from_slice(&body)
                                .map_err(|e| format!("the response is not JSON: {e}")),
                        );
                    }
                    StatusCode::ACCEPTED
                },
            ),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(
                |State(api): State<RuntimeApi>, Path(id): Path<String>, body: Bytes| async move {
                    if let Some(answer) = api.take(&id) {
                        let _ = answer.send(Err(String::from_utf8_lossy(&body).into_owned()));
                    }
                    StatusCode::ACCEPTED
                },
            ),
        )
        .route(
            "/2018-06-01/runtime/init/error",
            post(|body: Bytes| async move {
                eprintln!("init error: {}", String::from_utf8_lossy(&body));
                StatusCode::ACCEPTED
            }),
        )
        .with_state(api)
}

/// A function's real binary, started as Lambda starts it, with its runtime API.
struct Function {
    name: &'static str,
    invocations: mpsc::UnboundedSender<Invocation>,
    child: Mutex<std::process::Child>,
    log: PathBuf,
    invoked: Mutex<u64>,
}

impl Drop for Function {
    fn drop(&mut self) {
        if let Ok(mut c) = self.child.lock() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Function {
    /// Starts `binary` with exactly `environment` (nothing inherited from this process).
    async fn start(
        name: &'static str,
        binary: &FsPath,
        environment: &HashMap<String, String>,
        logs: &FsPath,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let api = RuntimeApi {
            queue: Arc::new(tokio::sync::Mutex::new(rx)),
            pending: Arc::default(),
            arn: format!(
                "arn:aws-cn:lambda:{}:123456789012:function:{name}",
                harness::REGION
            ),
            count: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, runtime_router(api)).await;
        });
        let log = logs.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{e}"));
        let err = out.try_clone().unwrap_or_else(|e| panic!("{e}"));
        let child = std::process::Command::new(binary)
            .env_clear()
            .envs(environment)
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        Self {
            name,
            invocations: tx,
            child: Mutex::new(child),
            log,
            invoked: Mutex::new(0),
        }
    }

    /// What the function wrote, for a failure's message.
    fn output(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Invokes the function with `event`; its answer, or its error (an invocation error, or
    /// the process having exited — at start-up, say).
    async fn run(&self, event: &Value) -> Result<Value, String> {
        let (answer, result) = oneshot::channel();
        let event = serde_json::to_vec(event).map_err(|e| e.to_string())?;
        self.invocations
            .send(Invocation { event, answer })
            .map_err(|_| "the runtime API is gone".to_owned())?;
        if let Ok(mut n) = self.invoked.lock() {
            *n += 1;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut result = std::pin::pin!(result);
        loop {
            match tokio::time::timeout(Duration::from_millis(200), &mut result).await {
                Ok(Ok(answer)) => return answer,
                Ok(Err(_)) => return Err("the invocation was dropped".into()),
                Err(_) => {}
            }
            if let Ok(Some(status)) = self.child.lock().map(|mut c| c.try_wait().ok().flatten()) {
                return Err(format!(
                    "{} exited ({status}):\n{}",
                    self.name,
                    self.output()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not answer in 60 s:\n{}",
                    self.name,
                    self.output()
                ));
            }
        }
    }

    /// Invokes a queue-fed function with one batch; its partial batch response.
    async fn batch(&self, event: aws_lambda_events::event::sqs::SqsEvent) -> SqsBatch {
        let event = serde_json::to_value(event).unwrap_or_default();
        let answer = self
            .run(&event)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", self.name));
        serde_json::from_value(answer)
            .unwrap_or_else(|e| panic!("{}: not a batch response: {e}", self.name))
    }
}

type SqsBatch = aws_lambda_events::event::sqs::SqsBatchResponse;

impl ApiTarget for Function {
    async fn invoke(&self, event: String) -> Result<(u16, Value), newborn_lambda::Error> {
        let event: Value = serde_json::from_str(&event)?;
        let answer = self.run(&event).await?;
        let (status, body) = gateway_answer(&answer)?;
        Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }
}

/// API Gateway's reading of a payload 2.0 answer: status and body bytes.
fn gateway_answer(answer: &Value) -> Result<(u16, Vec<u8>), String> {
    let status = answer["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .ok_or_else(|| format!("no statusCode in {answer}"))?;
    let body = answer["body"].as_str().unwrap_or_default();
    let body = if answer["isBase64Encoded"] == true {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| e.to_string())?
    } else {
        body.as_bytes().to_vec()
    };
    Ok((status, body))
}

/// API Gateway in front of the callbacks function (routes without an authorizer): each HTTP
/// request becomes a payload 2.0 event, the function's answer the HTTP response.
async fn callback_gateway(
    State(function): State<Arc<Function>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Vec<u8>) {
    let path = uri.path().to_owned();
    let event = json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": uri.query().unwrap_or_default(),
        "headers": headers.iter().map(|(k, v)| (k.as_str().to_owned(), Value::String(v.to_str().unwrap_or_default().to_owned()))).collect::<serde_json::Map<_, _>>(),
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.cn",
            "stage": "$default", "requestId": "cb", "time": "02/Dec/2026:10:00:00 +0000", "timeEpoch": 1,
            "http": {"method": method.as_str(), "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "agency"}
        },
        "body": String::from_utf8_lossy(&body),
        "isBase64Encoded": false
    });
    match function.run(&event).await.and_then(|a| gateway_answer(&a)) {
        Ok((status, body)) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            body,
        ),
        Err(e) => {
            eprintln!("callbacks: {e}");
            (StatusCode::BAD_GATEWAY, vec![])
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The stack.

/// A request of the test's family (`mum-deployed`) through API Gateway to the API function
/// `api`: its status and JSON body.
async fn family(api: &Function, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    harness::call(api, "mum-deployed", method, path, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// Where `cargo build --workspace --bins` put the function binaries: beside this test's
/// `deps` directory.
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let dir = exe
        .parent()
        .and_then(FsPath::parent)
        .unwrap_or_else(|| panic!("no target directory above {}", exe.display()));
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the function binaries first with `cargo build --workspace --bins` \
         (scripts/test.sh does, before the tests)",
        path.display()
    );
    path
}

/// The stack as `tests/deployed/stack.py` reports it.
#[derive(serde::Deserialize)]
struct Deployed {
    functions: HashMap<String, DeployedFunction>,
    queues: HashMap<String, String>,
    outputs: HashMap<String, String>,
    operator: Keypair,
}

#[derive(serde::Deserialize)]
struct DeployedFunction {
    function_name: String,
    environment: HashMap<String, String>,
    memory: u64,
    credentials: Keypair,
}

#[derive(serde::Deserialize)]
struct Keypair {
    access_key_id: String,
    secret_access_key: String,
    #[serde(default)]
    session_token: Option<String>,
}

fn deploy(emulator: &str, keys_file: &FsPath, parameters: &Value) -> Deployed {
    let out = std::process::Command::new(format!("{MANIFEST}/.venv/bin/python"))
        .current_dir(MANIFEST)
        .arg("tests/deployed/stack.py")
        .arg(emulator)
        .arg(keys_file)
        .arg(parameters.to_string())
        .output()
        .unwrap_or_else(|e| panic!("cannot run tests/deployed/stack.py: {e}"));
    assert!(
        out.status.success(),
        "deploying template.yaml failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("stack.py's answer: {e}"))
}

/// The environment Lambda gives the function: the stack's variables for it, its role's
/// credentials, the runtime's own variables; plus the emulator's endpoint (the one variable a
/// real Lambda does not have) and the test CA as the system's trust store.
fn lambda_environment(
    f: &DeployedFunction,
    emulator: &str,
    ca_file: &FsPath,
) -> HashMap<String, String> {
    let mut env = f.environment.clone();
    let c = &f.credentials;
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", c.access_key_id.clone()),
        ("AWS_SECRET_ACCESS_KEY", c.secret_access_key.clone()),
        (
            "AWS_SESSION_TOKEN",
            c.session_token.clone().unwrap_or_default(),
        ),
        ("AWS_REGION", harness::REGION.to_owned()),
        ("AWS_DEFAULT_REGION", harness::REGION.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", f.function_name.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", f.memory.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", f.function_name),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "deployed-test".to_owned()),
        ("AWS_ENDPOINT_URL", emulator.to_owned()),
        ("SSL_CERT_FILE", ca_file.display().to_string()),
    ] {
        env.insert(k.to_owned(), v);
    }
    env
}

async fn enable_iam(emulator: &str) {
    let res = newborn_http::client()
        .post(format!("{emulator}/moto-api/reset-auth"))
        .header("content-type", "text/plain")
        .body("0")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(res.status().is_success(), "moto did not switch IAM on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployed_functions_carry_an_application_to_completion_with_the_templates_iam() {
    let binaries: HashMap<&str, PathBuf> = FUNCTIONS.iter().map(|f| (*f, binary(f))).collect();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut moto = std::process::Command::new(format!("{MANIFEST}/.venv/bin/python"));
    moto.arg(format!("{MANIFEST}/tests/deployed/moto_iam.py"));
    let emulator = newborn_contract::emulator::start_emulator_with(moto);

    // The agencies, the licence directory and the applicant gateway: the simulator, over HTTPS
    // with a certificate from the test CA, which the functions trust as the system's.
    let ca = test_ca();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap_or_else(|e| panic!("{e}"));
    let entries = harness::random_keys();
    let key_file = serde_json::to_string(&entries).unwrap_or_else(|e| panic!("{e}"));
    let keys = Keys::from_json(&key_file).unwrap_or_else(|e| panic!("{e}"));
    let keys_path = dir.path().join("keys.json");
    std::fs::write(&keys_path, &key_file).unwrap_or_else(|e| panic!("{e}"));
    let gateway = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let platform_url = format!(
        "http://{}",
        gateway.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let sim = Simulator::open(
        &dir.path().join("agencies.db"),
        SimConfig {
            platform_url: platform_url.clone(),
            delay: Duration::from_millis(10),
            mix: Mix::default(),
            received_token: "not used by this test".into(),
        },
        KeyRing::new(vec![keys.platform.clone()]),
        keys.agencies.clone(),
        Arc::new(SystemClock),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let agencies = serve_https(sim.router(), &ca).await;
    tokio::spawn(sim.clone().run());

    let started = Instant::now();
    let stack = deploy(
        &emulator.url,
        &keys_path,
        &json!({
            "OidcIssuer": "https://idp.example.cn",
            "OidcAudience": "newborn",
            "AgencyBaseUrl": agencies,
            "SupervisorBaseUrl": agencies,
            "NotificationWebhookUrl": format!("{agencies}/notify"),
            "RatingPlatformUrl": agencies,
        }),
    );
    println!("stack deployed in {:?}", started.elapsed());
    assert!(
        stack.outputs["OperatorEnvironment"].contains("NEWBORN_QUEUE_POLICE=https://"),
        "the stack outputs what newborn-aws reads: {:?}",
        stack.outputs
    );
    enable_iam(&emulator.url).await;
    let operator = harness::sdk_config_as(
        &emulator.url,
        &stack.operator.access_key_id,
        &stack.operator.secret_access_key,
        None,
    );

    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap_or_else(|e| panic!("{e}"));
    let mut functions: HashMap<&str, Arc<Function>> = HashMap::new();
    for name in FUNCTIONS {
        let deployed = stack
            .functions
            .get(name)
            .unwrap_or_else(|| panic!("template.yaml has no function with binary {name}"));
        let env = lambda_environment(deployed, &emulator.url, &ca_file);
        functions.insert(
            name,
            Arc::new(Function::start(name, &binaries[name], &env, &logs).await),
        );
    }
    let api = functions["api"].clone();
    let callbacks = functions["callbacks"].clone();
    tokio::spawn(async move {
        let router = Router::new()
            .fallback(callback_gateway)
            .with_state(callbacks);
        let _ = axum::serve(gateway, router).await;
    });
    let queue_of = |queue: QueueName| -> String {
        let env = &stack.functions["api"].environment;
        env[&newborn_lambda::settings::queue_variable(queue)].clone()
    };

    // The family's materials: three electronic licences, the booklet pages as scans uploaded to
    // the presigned S3 URLs the API function signs with its role.
    let licences = sim
        .file_sample_licences()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut documents = vec![];
    for kind in [
        "household_booklet_front",
        "household_booklet_registering_parent",
        "household_booklet_head",
    ] {
        let (reference, _) = harness::upload(api.as_ref(), "mum-deployed", kind)
            .await
            .unwrap_or_else(|e| panic!("upload of {kind}: {e}\n{}", api.output()));
        documents.push(reference);
    }
    let mut form: Value = serde_json::from_str(SAMPLE).unwrap_or_else(|e| panic!("{e}"));
    form["documents"] = Value::Array(documents);
    form["licences"] = licences.clone();
    form["newborn"]["birth_time"] =
        json!((chrono::Utc::now() - chrono::TimeDelta::days(7)).to_rfc3339());
    let (status, submitted) = family(api.as_ref(), "POST", "/applications", Some(&form)).await;
    assert_eq!(status, 201, "{submitted}\n{}", api.output());
    let id = submitted["id"].as_str().unwrap_or_default().to_owned();
    // The police hold their first round; the test sends their answer itself: the marriage
    // certificate asked for again as an electronic licence (a supplement the API answers by
    // looking the licence up in the directory, signed with the keys it reads from the secret).
    sim.script(Script {
        application_id: id.clone(),
        stage: Stage::Police,
        outcomes: vec![Scripted::Hold, Scripted::Approve],
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let mut police_asked = false;
    let mut police_answered = false;

    // The event source mappings: each stage queue to its function, the notification queue to
    // the notifier, until the flow ends.
    let stage_function = |stage: Stage| -> Arc<Function> {
        functions[match stage {
            Stage::PreReview => "pre-review",
            Stage::HealthCheck => "health-check",
            Stage::Police => "police",
            Stage::CertificateRelease => "health-check",
            Stage::Insurance => "insurance",
            Stage::SocialSecurityCard => "social-security-card",
        }]
        .clone()
    };
    let notifier = functions["notifier"].clone();
    // The relay's event source mapping, played by the test like the queues' (as the operator
    // identity): the table's stream, each batch handed to the relay function until it succeeds.
    let stream = harness::StreamPump::new(&operator, &stack.outputs["TableStreamArn"]);
    let relay = || {
        let (stream, f) = (&stream, functions["relay"].clone());
        async move {
            while stream
                .pump(|event| {
                    let f = f.clone();
                    async move { f.run(&event).await.map(drop) }
                })
                .await
                .unwrap_or_else(|e| panic!("relay: {e}\n{}", f.output()))
                > 0
            {}
        }
    };
    // Long enough for one redelivery: the template's queues hide a failed record for 180 s (a
    // stage whose dispatch failed once is sent again then; two runs in about eight under full
    // load saw the hospital's release wait that long).
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut acts = 0;
    let view = loop {
        relay().await;
        for stage in Stage::QUEUES {
            let f = stage_function(stage);
            harness::pump(
                &operator,
                &queue_of(QueueName::Stage(stage)),
                |e| async move { f.batch(e).await },
            )
            .await
            .unwrap_or_else(|e| panic!("{stage} queue: {e}"));
        }
        let n = notifier.clone();
        harness::pump(
            &operator,
            &queue_of(QueueName::Notifications),
            |e| async move { n.batch(e).await },
        )
        .await
        .unwrap_or_else(|e| panic!("notification queue: {e}"));
        let (_, view) = family(api.as_ref(), "GET", &format!("/applications/{id}"), None).await;
        if view["outcome"] != "in_progress" {
            break view;
        }
        let police = view["stages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["stage"] == "police")
            .map(|s| s["status"].clone())
            .unwrap_or_default();
        if !police_asked && police["status"] == "awaiting_agency" {
            police_asked = true;
            ask_for_licence(&platform_url, &keys, &id).await;
            continue;
        }
        if !police_answered && police["status"] == "awaiting_applicant" {
            police_answered = true;
            let marriage = licences[2].clone();
            let (status, answer) = family(
                api.as_ref(),
                "POST",
                &format!("/applications/{id}/supplement"),
                Some(&json!({ "licences": [marriage] })),
            )
            .await;
            assert_eq!(
                status,
                200,
                "the API looks the licence up and accepts the answer: {answer}\n{}",
                api.output()
            );
            acts += 1;
            continue;
        }
        acts += harness::act(api.as_ref(), "mum-deployed", &id, &view)
            .await
            .unwrap_or_else(|e| panic!("{e}: {view:#}"));
        if Instant::now() >= deadline {
            let received = sim.received().await.unwrap_or_default();
            panic!(
                "the flow did not end: {view:#}\nreceived: {received:?}\ncallbacks: {}\nhealth-check: {}",
                functions["callbacks"].output(),
                functions["health-check"].output()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(view["outcome"], "completed", "{view:#}");
    // 办件结果通知: the api function signs the result with the key it read from the secret and
    // publishes the public half; the result verifies offline against it, and the public page
    // (routed without the authorizer) says so.
    let (status, signed) = family(
        api.as_ref(),
        "GET",
        &format!("/applications/{id}/result"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{signed}\n{}", api.output());
    let token = signed["token"].as_str().unwrap_or_default().to_owned();
    assert!(
        signed["verify_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://api.example.cn/verify?token=")),
        "{signed}"
    );
    let (status, jwks) = family(api.as_ref(), "GET", "/.well-known/jwks.json", None).await;
    assert_eq!(status, 200, "{jwks}");
    let jwks: newborn_service::attestation::JwkSet =
        serde_json::from_value(jwks).unwrap_or_else(|e| panic!("{e}"));
    let certified = newborn_service::attestation::verify(&token, &jwks)
        .unwrap_or_else(|e| panic!("{e}: {token}"));
    assert_eq!(certified.application, id.as_str());
    let mut event: Value = serde_json::from_str(&harness::api_event("", "GET", "/verify", None))
        .unwrap_or_else(|e| panic!("{e}"));
    event["rawQueryString"] = json!(format!("token={token}"));
    let answer = api.run(&event).await.unwrap_or_else(|e| panic!("{e}"));
    let (status, page) = gateway_answer(&answer).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("data-verified=\"true\""));
    relay().await;
    while harness::pump(&operator, &queue_of(QueueName::Notifications), |e| {
        let n = notifier.clone();
        async move { n.batch(e).await }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
        > 0
    {}

    // 评价: the family rates the police; the rating goes to the evaluation queue in the same
    // write, and the evaluation function, with its role, opens the follow-up and forwards the
    // rating, signed with the key it reads from the secret, to the 好差评 platform over HTTPS.
    let (status, rated) = family(
        api.as_ref(),
        "POST",
        &format!("/applications/{id}/ratings"),
        Some(&json!({"stage": "police", "level": "dissatisfied"})),
    )
    .await;
    assert_eq!(status, 201, "{rated}\n{}", api.output());
    let evaluation = functions["evaluation"].clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    let ratings = loop {
        relay().await;
        let e = evaluation.clone();
        harness::pump(
            &operator,
            &queue_of(QueueName::Evaluation),
            |event| async move { e.batch(event).await },
        )
        .await
        .unwrap_or_else(|e| panic!("evaluation queue: {e}"));
        let ratings = sim.ratings().await.unwrap_or_else(|e| panic!("{e}"));
        if !ratings.is_empty() {
            break ratings;
        }
        assert!(
            Instant::now() < deadline,
            "the rating never reached the platform: {}",
            evaluation.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        ratings
            .iter()
            .map(|r| (r.key.clone(), r.deliveries))
            .collect::<Vec<_>>(),
        [(format!("{id}:police"), 1)],
        "{ratings:?}"
    );
    let (_, view) = family(api.as_ref(), "GET", &format!("/applications/{id}"), None).await;
    assert_eq!(
        view["follow_ups"].as_array().map(Vec::len),
        Some(1),
        "{view:#}"
    );

    // The scheduled SLA monitor runs with its role.
    let schedule: Value =
        serde_json::from_str(include_str!("../events/scheduled/sla-monitor.json"))
            .unwrap_or_else(|e| panic!("{e}"));
    let report = functions["sla-monitor"]
        .run(&schedule)
        .await
        .unwrap_or_else(|e| panic!("sla-monitor: {e}"));
    assert!(report.get("breaches").is_some(), "{report}");

    // Every function was invoked, every agency reached over HTTPS and answered through the
    // callbacks function, every notification delivered to the gateway.
    let invoked: HashMap<&str, u64> = functions
        .iter()
        .map(|(name, f)| (*name, f.invoked.lock().map(|n| *n).unwrap_or(0)))
        .collect();
    println!("completed with {acts} applicant actions; invocations: {invoked:?}");
    for name in FUNCTIONS {
        assert!(invoked[name] >= 1, "{name} was never invoked");
    }
    let received = sim.received().await.unwrap_or_else(|e| panic!("{e}"));
    let mut reached: Vec<&str> = received.iter().map(|r| r.agency.as_str()).collect();
    reached.sort_unstable();
    reached.dedup();
    assert_eq!(
        reached,
        ["hospital", "insurance", "police", "social-security"]
    );
    assert!(
        received
            .iter()
            .all(|r| r.state == "answered" || r.key == format!("{id}:police:1")),
        "every dispatch was answered through the callbacks function: {received:?}"
    );
    let round_two = received
        .iter()
        .find(|r| r.key == format!("{id}:police:2"))
        .unwrap_or_else(|| panic!("no second police round: {received:?}"));
    let marriage = round_two.body["documents"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["kind"] == "marriage_certificate")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (&marriage["source"], &marriage["verified"]),
        (&json!("licence"), &json!(true)),
        "the police receive the licence given in the supplement, verified: {marriage}"
    );
    let delivered: Value = newborn_http::client_builder()
        .tls_certs_only([
            reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
        ])
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
        .get(format!("{agencies}/notifications"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (_, notes) = family(
        api.as_ref(),
        "GET",
        &format!("/applications/{id}/notifications"),
        None,
    )
    .await;
    assert_eq!(
        delivered.as_array().map(Vec::len),
        notes.as_array().map(Vec::len),
        "each notification reached the gateway: {delivered:#}"
    );
    for (name, dlq) in stack
        .queues
        .iter()
        .filter(|(name, _)| name.ends_with("DeadLetterQueue"))
    {
        let messages = harness::receive_event(&operator, dlq)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(messages.is_none(), "{name} holds dead letters");
    }

    // The IAM check bites: the API's binary with the notifier's role (whose statements name only
    // the webhook-keys secret) starts, but cannot read the application from the table.
    let mut env = lambda_environment(&stack.functions["api"], &emulator.url, &ca_file);
    let notifier_role = lambda_environment(&stack.functions["notifier"], &emulator.url, &ca_file);
    for k in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        env.insert(k.to_owned(), notifier_role[k].clone());
    }
    let wrong_logs = dir.path().join("logs-wrong-role");
    std::fs::create_dir(&wrong_logs).unwrap_or_else(|e| panic!("{e}"));
    let wrong = Function::start("api", &binaries["api"], &env, &wrong_logs).await;
    let (status, problem) = family(&wrong, "GET", &format!("/applications/{id}"), None).await;
    assert_eq!(
        status, 503,
        "with a role lacking the table's statement the read is refused: {problem}"
    );
}

/// The police's answer to round 1, signed with their key and posted to the platform's callback
/// route (the gateway in front of the callbacks function): a supplement asking for the
/// marriage certificate as an electronic licence.
async fn ask_for_licence(platform_url: &str, keys: &Keys, id: &str) {
    let police = keys
        .agencies
        .key_of(Agency::PoliceStation)
        .unwrap_or_else(|| panic!("no police key"));
    let body = serde_json::to_vec(&json!({"application_id": id, "stage": "police", "round": 1, "outcome": {
        "type": "supplement",
        "items": [{"type": "licence", "kind": "marriage_certificate", "problem": "number_mismatch"}],
        "reason": {"zh": "结婚证扫描件不清晰，请提供结婚证电子证照", "en": "the marriage certificate scan is unreadable; give its electronic licence"},
    }}))
    .unwrap_or_default();
    let mut req = newborn_http::client()
        .post(format!("{platform_url}/agency/callbacks"))
        .header("content-type", "application/json");
    for (name, value) in police.headers(
        &newborn_service::signing::new_message_id(),
        chrono::Utc::now(),
        &body,
    ) {
        req = req.header(name, value);
    }
    let res = req
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        res.status(),
        200,
        "the callbacks function took the police's answer"
    );
}

// ---------------------------------------------------------------------------------------------
// HTTPS from the outbound adapters.

/// What a recording agency received: each request's headers and body.
type Seen = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// An agency gateway over HTTPS that records what it received.
async fn recording_agency(ca: &TestCa) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let router = Router::new()
        .route(
            "/dispatch/{agency}",
            post(
                |State(seen): State<Seen>, headers: HeaderMap, body: Bytes| async move {
                    if let Ok(mut s) = seen.lock() {
                        s.push((headers, body));
                    }
                    StatusCode::OK
                },
            ),
        )
        .with_state(seen.clone());
    (serve_https(router, ca).await, seen)
}

#[tokio::test]
async fn a_dispatch_reaches_an_https_agency_and_an_untrusted_certificate_is_refused() {
    let ca = test_ca();
    let (url, seen) = recording_agency(&ca).await;
    let keys = Keys::from_json(
        &serde_json::to_string(&harness::random_keys()).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let dispatch = Dispatch {
        idempotency_key: "NB20261202ABCDEF0123:health_check:1".into(),
        body: json!({"application_id": "NB20261202ABCDEF0123"}),
    };
    let trusted = HttpDispatcher::to_gateway(&url, keys.platform.clone(), Arc::new(SystemClock))
        .and_then(|d| d.trusting(&TrustedRoots::with_pem_bundle(ca.pem.as_bytes())?))
        .unwrap_or_else(|e| panic!("{e}"));
    trusted
        .dispatch(Agency::Hospital, &dispatch)
        .await
        .unwrap_or_else(|e| panic!("over HTTPS with the CA trusted: {e}"));
    {
        let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        assert_eq!(seen.len(), 1);
        let (headers, body) = &seen[0];
        assert_eq!(
            headers.get("webhook-id").and_then(|v| v.to_str().ok()),
            Some("NB20261202ABCDEF0123:health_check:1")
        );
        assert!(headers.contains_key("webhook-signature"));
        assert_eq!(
            serde_json::from_slice::<Value>(body).unwrap_or_default()["application_id"],
            "NB20261202ABCDEF0123"
        );
    }

    // The system's roots do not include the test CA: the handshake is refused, nothing is sent.
    let untrusted = HttpDispatcher::to_gateway(&url, keys.platform.clone(), Arc::new(SystemClock))
        .unwrap_or_else(|e| panic!("{e}"));
    let refused = untrusted
        .dispatch(Agency::Hospital, &dispatch)
        .await
        .expect_err("a certificate from an unknown CA must be refused");
    assert!(
        refused.reason.to_lowercase().contains("certificate"),
        "the reason names the certificate: {}",
        refused.reason
    );
    assert_eq!(
        seen.lock().map(|s| s.len()).unwrap_or(0),
        1,
        "nothing reached the agency"
    );
    assert!(
        TrustedRoots::with_pem_bundle(b"not a certificate").is_err(),
        "a CA file without certificates is refused at start-up"
    );
}
