//! AWS requests per application, counted on the SDK's HTTP client while applications travel
//! through the functions' handlers against the emulator (the same harness as the AWS end-to-end
//! test), and turned into a cost per million applications with the list prices of
//! `bench/prices.toml`; beside it, what the same flow costs as a Step Functions Standard workflow.

use anyhow::{Context, Result, bail};
use aws_sdk_sqs::config::{HttpClient, SharedHttpClient};
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use axum::extract::{Request, State};
use axum::middleware::Next;
use newborn_agency_sim::{Mix, SimConfig, Simulator};
use newborn_domain::stage::Stage;
use newborn_lambda::wire;
use newborn_lambda_harness::{self as harness, Stack};
use newborn_service::ApplicantDesk;
use newborn_service::signing::KeyRing;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The list prices the cost is computed with (see `bench/prices.toml` for their sources).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Prices {
    /// Where and when the prices were read.
    pub source: String,
    /// Lambda, per million requests.
    pub lambda_request_per_million: f64,
    /// Lambda on arm64, per GB-second.
    pub lambda_arm64_gb_second: f64,
    /// API Gateway HTTP API, per million requests.
    pub http_api_request_per_million: f64,
    /// SQS standard queues, per million requests.
    pub sqs_request_per_million: f64,
    /// DynamoDB on-demand, per million write request units.
    pub dynamodb_write_unit_per_million: f64,
    /// DynamoDB on-demand, per million read request units.
    pub dynamodb_read_unit_per_million: f64,
    /// S3 Standard, PUT, COPY, POST, LIST per thousand.
    pub s3_put_per_thousand: f64,
    /// S3 Standard, GET and the rest per thousand.
    pub s3_get_per_thousand: f64,
    /// Secrets Manager, per 10,000 API calls.
    pub secrets_manager_call_per_10k: f64,
    /// Step Functions Standard, per thousand state transitions.
    pub step_functions_transition_per_thousand: f64,
}

/// Requests of one service and operation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OpCount {
    /// HTTP requests (attempts).
    pub requests: f64,
    /// DynamoDB write request units (estimated from the items written).
    pub write_units: f64,
    /// DynamoDB read request units (estimated from the items read).
    pub read_units: f64,
}

/// Counts by `(service, operation)`, and DynamoDB writes by operation and the kinds of item
/// they write.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    ops: Arc<Mutex<BTreeMap<(String, String), OpCount>>>,
    writes: Arc<Mutex<BTreeMap<String, OpCount>>>,
    images: Arc<Mutex<Images>>,
}

impl Counts {
    fn add(&self, service: &str, op: &str, write_units: f64, read_units: f64) {
        if let Ok(mut m) = self.ops.lock() {
            let c = m.entry((service.to_owned(), op.to_owned())).or_default();
            c.requests += 1.0;
            c.write_units += write_units;
            c.read_units += read_units;
        }
    }

    fn add_write(&self, what: String, write_units: f64) {
        if let Ok(mut m) = self.writes.lock() {
            let c = m.entry(what).or_default();
            c.requests += 1.0;
            c.write_units += write_units;
        }
    }

    fn take(&self) -> BTreeMap<(String, String), OpCount> {
        if let Ok(mut m) = self.writes.lock() {
            m.clear();
        }
        self.ops
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default()
    }

    fn take_writes(&self) -> BTreeMap<String, OpCount> {
        self.writes
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default()
    }
}

/// The kinds of item a DynamoDB write touches, by the prefix of their partition keys
/// (`APP#…` → `APP`), and of their sort keys where they tell items apart (`APP/LOG`, an
/// archived log): `PutItem APP`, `TransactWriteItems UPLOAD+UPLOADED`.
fn written_kinds(op: &str, request: &Value) -> String {
    let kind = |w: &Value| -> String {
        let key = |k: &str| {
            w["Item"][k]["S"]
                .as_str()
                .or_else(|| w["Key"][k]["S"].as_str())
                .unwrap_or("?")
        };
        let pk = key("pk");
        let pk = pk.split('#').next().unwrap_or(pk);
        // A sort key's capital prefix (`LOG#…`) tells an application item from its archived
        // logs; other sort keys (dates, certificate numbers) name no kind.
        let sk = key("sk").split('#').next().unwrap_or_default();
        if sk.is_empty() || sk == pk || !sk.chars().all(|c| c.is_ascii_uppercase()) {
            pk.to_owned()
        } else {
            format!("{pk}/{sk}")
        }
    };
    let mut kinds: Vec<String> = match op {
        "TransactWriteItems" => request["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_object()?.values().next().map(kind))
            .collect(),
        "BatchWriteItem" => request["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(_, l)| l.as_array().into_iter().flatten())
            .filter_map(|r| r.as_object()?.values().next().map(kind))
            .collect(),
        _ => vec![kind(request)],
    };
    kinds.sort();
    kinds.dedup();
    format!("{op} {}", kinds.join("+"))
}

/// The SDK's HTTP client with every request counted (an interceptor at the wire: what is billed
/// is what is sent, retries included).
#[derive(Debug)]
struct CountingClient {
    inner: SharedHttpClient,
    counts: Counts,
}

#[derive(Debug)]
struct CountingConnector {
    inner: SharedHttpConnector,
    counts: Counts,
}

impl HttpClient for CountingClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(CountingConnector {
            inner: self.inner.http_connector(settings, components),
            counts: self.counts.clone(),
        })
    }
}

impl HttpConnector for CountingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (service, op) = classify(&request);
        let body: Value = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        let future = self.inner.call(request);
        let counts = self.counts.clone();
        HttpConnectorFuture::new(async move {
            let mut response = future.await?;
            let bytes = aws_smithy_types::byte_stream::ByteStream::new(response.take_body())
                .collect()
                .await
                .map_err(|e| ConnectorError::other(Box::new(e), None))?
                .into_bytes();
            let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            *response.body_mut() = SdkBody::from(bytes);
            let op = if service == "sqs" && op == "ReceiveMessage" && answer["Messages"].is_null() {
                "ReceiveMessage (empty)".to_owned()
            } else {
                op
            };
            let (w, r) = if service == "dynamodb" {
                let applied = response.status().is_success();
                counts
                    .images
                    .lock()
                    .map(|mut images| capacity(&mut images, &op, &body, &answer, applied))
                    .unwrap_or_default()
            } else {
                (0.0, 0.0)
            };
            if service == "dynamodb" && is_write(&op) {
                counts.add_write(written_kinds(&op, &body), w);
            }
            counts.add(&service, &op, w, r);
            Ok(response)
        })
    }
}

/// The service and operation of a request: from `X-Amz-Target` for the JSON protocols
/// (DynamoDB, SQS, Secrets Manager), from the method and path for S3.
fn classify(request: &HttpRequest) -> (String, String) {
    if let Some(target) = request.headers().get("x-amz-target") {
        let (prefix, op) = target.split_once('.').unwrap_or(("", target));
        let service = match prefix {
            p if p.starts_with("DynamoDB") => "dynamodb",
            "AmazonSQS" => "sqs",
            "secretsmanager" => "secretsmanager",
            other => other,
        };
        return (service.to_owned(), op.to_owned());
    }
    let path = request.uri().split('?').next().unwrap_or_default();
    let object = path
        .trim_start_matches("http://")
        .split_once('/')
        .map(|(_, p)| p);
    let is_object = object.is_some_and(|p| p.trim_matches('/').contains('/'));
    let op = match (request.method(), is_object) {
        ("PUT", true) if request.headers().get("x-amz-copy-source").is_some() => "CopyObject",
        ("PUT", true) => "PutObject",
        ("PUT", false) => "CreateBucket",
        ("GET", true) => "GetObject",
        ("GET", false) => "ListObjects",
        ("HEAD", true) => "HeadObject",
        ("DELETE", true) => "DeleteObject",
        (m, _) => m,
    };
    ("s3".to_owned(), op.to_owned())
}

/// The size DynamoDB bills for an item in its JSON wire form: attribute names plus values
/// (strings and binaries by length, numbers by about half their digits, containers 3 bytes
/// plus their elements).
fn item_size(item: &Value) -> usize {
    item.as_object()
        .map(|m| m.iter().map(|(k, v)| k.len() + value_size(v)).sum())
        .unwrap_or(0)
}

fn value_size(v: &Value) -> usize {
    let Some((t, v)) = v.as_object().and_then(|m| m.iter().next()) else {
        return 0;
    };
    match t.as_str() {
        "S" => v.as_str().map_or(0, str::len),
        "B" => v.as_str().map_or(0, |s| s.len() * 3 / 4),
        "N" => v.as_str().map_or(0, |s| s.len().div_ceil(2) + 1),
        "BOOL" | "NULL" => 1,
        "M" => 3 + item_size(v),
        "L" => {
            3 + v
                .as_array()
                .map_or(0, |l| l.iter().map(|e| 1 + value_size(e)).sum())
        }
        "SS" | "NS" | "BS" => v.as_array().map_or(0, |l| {
            l.iter().map(|e| e.as_str().map_or(0, str::len)).sum()
        }),
        _ => 0,
    }
}

/// A global secondary index of the table (`template.yaml`): its key attributes and the
/// attributes it projects besides every key.
struct Index {
    keys: [&'static str; 2],
    projected: &'static [&'static str],
}

/// The table's global secondary indexes, as `template.yaml` declares them.
const INDEXES: [Index; 3] = [
    Index {
        keys: ["clock_pk", "clock_due"],
        projected: &["clocks"],
    },
    Index {
        keys: ["owner_pk", "submitted_at"],
        projected: &[],
    },
    Index {
        keys: ["follow_pk", "follow_due"],
        projected: &["follow_ups"],
    },
];

/// The table's own key attributes, projected into every index.
const TABLE_KEYS: [&str; 2] = ["pk", "sk"];

/// What the benchmark knows of a stored item from the writes it saw: its billed size and the
/// attributes its indexes read.
#[derive(Debug, Clone, Default)]
struct Image {
    size: usize,
    indexed: serde_json::Map<String, Value>,
}

impl Image {
    fn of(item: &Value) -> Self {
        let indexed = INDEXES
            .iter()
            .flat_map(|i| i.keys.iter().chain(i.projected))
            .chain(&TABLE_KEYS)
            .filter_map(|k| Some(((*k).to_owned(), item.get(*k)?.clone())))
            .collect();
        Self {
            size: item_size(item),
            indexed,
        }
    }

    /// The entry of this item in `index`, if it is in it.
    fn entry(&self, index: &Index) -> Option<serde_json::Map<String, Value>> {
        if index.keys.iter().any(|k| !self.indexed.contains_key(*k)) {
            return None;
        }
        Some(
            index
                .keys
                .iter()
                .chain(index.projected)
                .chain(&TABLE_KEYS)
                .filter_map(|k| Some(((*k).to_owned(), self.indexed.get(*k)?.clone())))
                .collect(),
        )
    }
}

/// The items written so far, by table and key: a write is billed on the larger of the item
/// before and after it, and an index is written only when the item enters, leaves or changes in
/// it (AWS, *Amazon DynamoDB Developer Guide*, "Read/write capacity mode", item sizes of
/// `PutItem`/`UpdateItem`; "Provisioned throughput considerations for Global Secondary
/// Indexes", write capacity).
#[derive(Debug, Default)]
struct Images(std::collections::HashMap<String, Image>);

/// Write units of `bytes` (1 KB each, at least one).
fn kilobytes(bytes: usize) -> f64 {
    (bytes.max(1) as f64 / 1024.0).ceil()
}

/// Write units the indexes take when an item goes from `before` to `after`: one write to put
/// an entry, one to delete it, two when its key changes, one when only its projected
/// attributes change, none when the index does not see a difference.
fn index_units(before: Option<&Image>, after: Option<&Image>) -> f64 {
    let units =
        |e: &serde_json::Map<String, Value>| kilobytes(item_size(&Value::Object(e.clone())));
    INDEXES
        .iter()
        .map(|index| {
            let old = before.and_then(|i| i.entry(index));
            let new = after.and_then(|i| i.entry(index));
            match (old, new) {
                (None, None) => 0.0,
                (Some(e), None) | (None, Some(e)) => units(&e),
                (Some(o), Some(n)) if index.keys.iter().any(|k| o.get(*k) != n.get(*k)) => {
                    units(&o) + units(&n)
                }
                (Some(o), Some(n)) if o != n => units(&n),
                _ => 0.0,
            }
        })
        .sum()
}

/// The table and key of a write's item, as one string.
fn item_key(table: &str, w: &Value) -> String {
    let key = |k: &str| {
        w["Item"][k]
            .as_object()
            .or_else(|| w["Key"][k].as_object())
            .map(|v| Value::Object(v.clone()).to_string())
            .unwrap_or_default()
    };
    format!("{table}|{}|{}", key("pk"), key("sk"))
}

impl Images {
    /// Write units of one put, update or delete of an item (`w`: a request, or one element of
    /// a transaction or batch) in `table`, `factor` times for transactions; what it stores is
    /// remembered when `applied`.
    fn write(&mut self, table: &str, kind: &str, w: &Value, factor: f64, applied: bool) -> f64 {
        let key = item_key(table, w);
        let before = self.0.get(&key).cloned();
        let after = match kind {
            "Put" => Some(Image::of(&w["Item"])),
            // Updates here never touch an index's attributes; the new size is at least the
            // key and the values written.
            "Update" => {
                let mut k = w["Key"].as_object().cloned().unwrap_or_default();
                for (name, v) in w["ExpressionAttributeValues"]
                    .as_object()
                    .into_iter()
                    .flatten()
                {
                    k.insert(name.clone(), v.clone());
                }
                let written = item_size(&Value::Object(k));
                let mut image = before.clone().unwrap_or_default();
                image.size = image.size.max(written);
                image
                    .indexed
                    .extend(w["Key"].as_object().cloned().unwrap_or_default());
                Some(image)
            }
            _ => None,
        };
        let size = |i: &Option<Image>| i.as_ref().map_or(0, |i| i.size);
        let base = kilobytes(size(&before).max(size(&after))) * factor;
        if !applied {
            // A refused condition still costs the item's units, and changes nothing.
            return base;
        }
        let indexes = index_units(before.as_ref(), after.as_ref());
        match after {
            Some(image) => self.0.insert(key, image),
            None => self.0.remove(&key),
        };
        base + indexes
    }
}

/// Estimated (write, read) request units of one DynamoDB call: writes from the items in the
/// request and what is known of them before (1 KB units of the larger, doubled in
/// transactions, plus the indexes they change), reads from the items in the answer (4 KB
/// units, halved when eventually consistent, doubled in transactions). `applied`: whether the
/// call succeeded.
fn capacity(
    images: &mut Images,
    op: &str,
    request: &Value,
    answer: &Value,
    applied: bool,
) -> (f64, f64) {
    let table = request["TableName"].as_str().unwrap_or_default();
    let read = |bytes: usize, factor: f64| (bytes.max(1) as f64 / 4096.0).ceil() * factor;
    let consistency = if request["ConsistentRead"] == json!(true) {
        1.0
    } else {
        0.5
    };
    match op {
        "PutItem" => (images.write(table, "Put", request, 1.0, applied), 0.0),
        "UpdateItem" => (images.write(table, "Update", request, 1.0, applied), 0.0),
        "DeleteItem" => (images.write(table, "Delete", request, 1.0, applied), 0.0),
        "TransactWriteItems" => {
            let mut w = 0.0;
            let mut r = 0.0;
            for t in request["TransactItems"].as_array().into_iter().flatten() {
                for kind in ["Put", "Update", "Delete"] {
                    if let Some(x) = t.get(kind) {
                        let table = x["TableName"].as_str().unwrap_or_default();
                        w += images.write(table, kind, x, 2.0, applied);
                    }
                }
                if t.get("ConditionCheck").is_some() {
                    r += 2.0;
                }
            }
            (w, r)
        }
        "BatchWriteItem" => {
            let mut w = 0.0;
            for (table, reqs) in request["RequestItems"].as_object().into_iter().flatten() {
                for r in reqs.as_array().into_iter().flatten() {
                    if let Some(p) = r.get("PutRequest") {
                        w += images.write(table, "Put", p, 1.0, applied);
                    } else if let Some(d) = r.get("DeleteRequest") {
                        w += images.write(table, "Delete", d, 1.0, applied);
                    }
                }
            }
            (w, 0.0)
        }
        "GetItem" => (0.0, read(item_size(&answer["Item"]), consistency)),
        "Query" | "Scan" => {
            let bytes = answer["Items"]
                .as_array()
                .map_or(0, |items| items.iter().map(item_size).sum());
            (0.0, read(bytes, consistency))
        }
        "BatchGetItem" => {
            let mut r = 0.0;
            for items in answer["Responses"].as_object().into_iter().flatten() {
                for i in items.1.as_array().into_iter().flatten() {
                    r += read(item_size(i), consistency);
                }
            }
            (0.0, r)
        }
        "TransactGetItems" => {
            let r = answer["Responses"].as_array().map_or(0.0, |l| {
                l.iter().map(|i| read(item_size(&i["Item"]), 2.0)).sum()
            });
            (0.0, r)
        }
        _ => (0.0, 0.0),
    }
}

fn is_write(op: &str) -> bool {
    matches!(
        op,
        "PutItem" | "UpdateItem" | "DeleteItem" | "TransactWriteItems" | "BatchWriteItem"
    )
}

/// Invocations of one function.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Invocations {
    /// How many.
    pub count: f64,
    /// Their total duration, seconds (measured here, against the emulator).
    pub seconds: f64,
}

type Invoked = Arc<Mutex<BTreeMap<String, Invocations>>>;

fn invoked(map: &Invoked, function: &str, took: Duration) {
    if let Ok(mut m) = map.lock() {
        let i = m.entry(function.to_owned()).or_default();
        i.count += 1.0;
        i.seconds += took.as_secs_f64();
    }
}

/// Counts the callbacks function's invocations (each agency callback is one API request).
async fn count_callbacks(
    State(map): State<Invoked>,
    req: Request,
    next: Next,
) -> axum::response::Response {
    let started = Instant::now();
    let res = next.run(req).await;
    invoked(&map, "callbacks", started.elapsed());
    res
}

/// One line of the cost table.
#[derive(Debug, Clone, Serialize)]
pub struct CostLine {
    /// What is billed.
    pub item: String,
    /// Units per application.
    pub per_application: f64,
    /// The unit.
    pub unit: String,
    /// USD per million applications.
    pub usd_per_million_applications: f64,
}

/// The AWS measurements.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Applications driven through.
    pub applications: usize,
    /// Their outcomes.
    pub outcomes: BTreeMap<String, usize>,
    /// State transitions per application (timeline entries).
    pub transitions_per_application: f64,
    /// Requests per application, by service and operation.
    pub requests_per_application: BTreeMap<String, BTreeMap<String, OpCount>>,
    /// Lambda invocations per application, by function.
    pub invocations_per_application: BTreeMap<String, Invocations>,
    /// API Gateway requests per application (applicant calls and agency callbacks).
    pub api_requests_per_application: f64,
    /// S3 PUTs the applicants send to presigned URLs per application.
    pub presigned_puts_per_application: f64,
    /// DynamoDB write requests (all kinds) per state transition.
    pub dynamodb_writes_per_transition: f64,
    /// DynamoDB write requests per state transition by operation.
    pub dynamodb_writes_per_transition_by_operation: BTreeMap<String, f64>,
    /// DynamoDB write requests per state transition by operation and the kinds of item written
    /// (partition key prefixes), with their estimated write units per transition.
    pub dynamodb_writes_per_transition_by_item: BTreeMap<String, OpCount>,
    /// The cost lines.
    pub cost: Vec<CostLine>,
    /// USD per million applications, all lines.
    pub usd_per_million_applications: f64,
    /// The same flow's state transitions in Step Functions Standard, USD per million
    /// applications (one transition per timeline entry, a lower bound).
    pub step_functions_usd_per_million_applications: f64,
    /// Requests made once per cold start of a function that signs (keys from Secrets Manager).
    pub per_cold_start: BTreeMap<String, f64>,
    /// The prices used.
    pub prices: Prices,
    /// Lambda memory, MB (from `template.yaml`).
    pub lambda_memory_mb: u32,
}

/// The memory size the template gives every function.
fn template_memory_mb() -> Result<u32> {
    let template = include_str!("../../template.yaml");
    template
        .lines()
        .find_map(|l| l.trim().strip_prefix("MemorySize:"))
        .and_then(|v| v.trim().parse().ok())
        .context("template.yaml has no MemorySize")
}

fn grouped(
    counts: &BTreeMap<(String, String), OpCount>,
    per: f64,
) -> BTreeMap<String, BTreeMap<String, OpCount>> {
    let mut out: BTreeMap<String, BTreeMap<String, OpCount>> = BTreeMap::new();
    for ((service, op), c) in counts {
        out.entry(service.clone()).or_default().insert(
            op.clone(),
            OpCount {
                requests: c.requests / per,
                write_units: c.write_units / per,
                read_units: c.read_units / per,
            },
        );
    }
    out
}

/// Reads outcomes and timelines for the report around the counter.
struct Observer(ApplicantDesk);

fn app_id(id: &str) -> Result<newborn_domain::flow::ApplicationId> {
    id.parse()
        .map_err(|e: newborn_domain::text::Invalid| anyhow::anyhow!("{e}"))
}

impl Observer {
    async fn view(&self, owner: &str, id: &str) -> Result<Value> {
        Ok(serde_json::to_value(
            self.0.view(owner, &app_id(id)?).await?,
        )?)
    }

    async fn timeline_len(&self, owner: &str, id: &str) -> Result<usize> {
        Ok(self.0.timeline(owner, &app_id(id)?).await?.len())
    }
}

/// Drives `applications` case-1 applications (every stage) through the functions against the
/// emulator and prices what they used.
pub async fn run(applications: usize, prices: Prices) -> Result<Report> {
    let emulator = newborn_contract::emulator::start_emulator();
    let counts = Counts::default();
    // The emulator speaks plain HTTP; the SDK's own client, without TLS.
    let default_client = harness::plain_http();
    let http = SharedHttpClient::new(CountingClient {
        inner: default_client,
        counts: counts.clone(),
    });
    let stack = Stack::provision(harness::sdk_config(&emulator.url, Some(http)))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let invocations: Invoked = Arc::default();
    let callbacks_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let platform_url = format!("http://{}", callbacks_listener.local_addr()?);
    let dir = tempfile::tempdir()?;
    let sim = Simulator::open(
        &dir.path().join("agencies.db"),
        SimConfig {
            platform_url,
            delay: Duration::ZERO,
            mix: Mix::default(),
            received_token: "not used by this test".into(),
        },
        KeyRing::new(vec![stack.keys.platform.clone()]),
        stack.keys.agencies.clone(),
        Arc::new(newborn_service::ports::SystemClock),
    )
    .map_err(anyhow::Error::msg)?;
    // The sample family's identity cards are electronic licences in the province's directory.
    sim.file_sample_licences()
        .await
        .map_err(anyhow::Error::msg)?;
    let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let agencies_url = format!("http://{}", sim_listener.local_addr()?);
    let sim_router = sim.router();
    tokio::spawn(async move {
        let _ = axum::serve(sim_listener, sim_router).await;
    });
    tokio::spawn(sim.clone().run());

    let metrics: Arc<dyn newborn_service::ports::Metrics> =
        Arc::new(newborn::runtime::metrics::Counters::default());
    let e = |e: newborn_lambda::Error| anyhow::anyhow!("{e}");
    let adapters = || {
        stack
            .adapters(&agencies_url)
            .map(|a| a.with_metrics(metrics.clone()))
            .map_err(e)
    };
    let api = wire::api(&adapters()?).await.map_err(e)?;
    let callbacks = wire::callbacks(&adapters()?).await.map_err(e)?;
    let stages = wire::stage(&adapters()?).await.map_err(e)?;
    let pre_review = wire::stage(&adapters()?).await.map_err(e)?;
    let notifier = wire::notifier(&adapters()?).await.map_err(e)?;
    let observer = {
        let vars = stack.environment(&agencies_url);
        let settings = newborn_lambda::Settings::from_vars(|k| vars.get(k).cloned())?;
        let uncounted = harness::sdk_config(&emulator.url, None);
        // The report reads outcomes with an applicant desk of its own, outside the counts.
        let a = newborn_lambda::Adapters::new(settings, uncounted).with_metrics(metrics.clone());
        Observer(wire::applicant_desk(&a).await.map_err(e)?)
    };
    let cold = counts.take();
    let per_cold_start = cold
        .iter()
        .filter(|((s, o), _)| s == "secretsmanager" && o == "GetSecretValue")
        // Each of the five functions above reads the keys once.
        .map(|((s, o), c)| (format!("{s} {o}"), c.requests / 5.0))
        .collect();
    let callback_router = callbacks.layer(axum::middleware::from_fn_with_state(
        invocations.clone(),
        count_callbacks,
    ));
    tokio::spawn(async move {
        let _ = axum::serve(callbacks_listener, callback_router).await;
    });
    let router = api;
    let api_calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let call = |subject: String, method: &'static str, path: String, body: Option<Value>| {
        let (router, invocations, api_calls) =
            (router.clone(), invocations.clone(), api_calls.clone());
        async move {
            let started = Instant::now();
            let out = harness::call(&router, &subject, method, &path, body.as_ref())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"));
            invoked(&invocations, "api", started.elapsed());
            api_calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            out
        }
    };

    // Every applicant uploads her six scans and submits (case 1: every stage).
    let sample: Value = serde_json::from_str(newborn::demo::SAMPLE)?;
    let mut apps = vec![];
    let mut presigned_puts = 0u64;
    for i in 0..applications {
        let subject = format!("aws-bench-{i}");
        let mut documents = vec![];
        for kind in newborn::demo::SAMPLE_DOCUMENTS {
            let started = Instant::now();
            let (reference, _) = harness::upload(&router, &subject, kind).await.map_err(e)?;
            // A slot and its completion: two API calls (the PUT goes to S3 directly), each
            // given half the time.
            for _ in 0..2 {
                invoked(&invocations, "api", started.elapsed() / 2);
            }
            api_calls.fetch_add(2, std::sync::atomic::Ordering::Relaxed);
            presigned_puts += 1;
            documents.push(reference);
        }
        let mut form = sample.clone();
        form["documents"] = Value::Array(documents);
        form["newborn"]["birth_time"] =
            json!((chrono::Utc::now() - chrono::TimeDelta::days(7)).to_rfc3339());
        let (status, created) =
            call(subject.clone(), "POST", "/applications".into(), Some(form)).await?;
        if status != 201 {
            bail!("submission failed: HTTP {status}: {created}");
        }
        apps.push((
            subject,
            created["id"].as_str().unwrap_or_default().to_owned(),
        ));
    }

    // The functions, invoked with what SQS delivers, until every flow has ended.
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut open: Vec<(String, String)> = apps.clone();
    while !open.is_empty() {
        if Instant::now() > deadline {
            bail!("{} applications did not end within 300 s", open.len());
        }
        // The relay function, from the table's stream (one invocation per batch).
        loop {
            let started = Instant::now();
            if stack.relay_batch().await.map_err(e)? == 0 {
                break;
            }
            invoked(&invocations, "relay", started.elapsed());
        }
        for stage in Stage::QUEUES {
            let (deps, name) = if stage == Stage::PreReview {
                (&pre_review, "pre-review".to_owned())
            } else {
                (&stages, stage.as_str().replace('_', "-"))
            };
            loop {
                let started = Instant::now();
                let n = stack
                    .pump(&stack.queues[&stage], |event| async move {
                        newborn_handlers::handle_stage_batch(deps, stage, event).await
                    })
                    .await
                    .map_err(e)?;
                if n == 0 {
                    break;
                }
                invoked(&invocations, &name, started.elapsed());
            }
        }
        loop {
            let started = Instant::now();
            let n = stack
                .pump(&stack.notifications, |event| {
                    let desk = notifier.clone();
                    async move { newborn_handlers::handle_notification_batch(&desk, event).await }
                })
                .await
                .map_err(e)?;
            if n == 0 {
                break;
            }
            invoked(&invocations, "notifier", started.elapsed());
        }
        let mut still = vec![];
        for (subject, id) in open {
            let view = observer.view(&subject, &id).await?;
            if view["outcome"] != "in_progress" {
                continue;
            }
            let started = Instant::now();
            if harness::act(&router, &subject, &id, &view)
                .await
                .map_err(e)?
                > 0
            {
                invoked(&invocations, "api", started.elapsed());
                api_calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            still.push((subject, id));
        }
        open = still;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // What the last writes hand on (the final notices).
    loop {
        let started = Instant::now();
        if stack.relay_batch().await.map_err(e)? == 0 {
            break;
        }
        invoked(&invocations, "relay", started.elapsed());
    }
    // The parent opens the finished application once.
    for (subject, id) in &apps {
        call(subject.clone(), "GET", format!("/applications/{id}"), None).await?;
    }
    let writes = counts.take_writes();
    let used = counts.take();

    let per = applications as f64;
    let mut outcomes = BTreeMap::new();
    let mut transitions = 0usize;
    for (subject, id) in &apps {
        let view = observer.view(subject, id).await?;
        *outcomes
            .entry(view["outcome"].as_str().unwrap_or_default().to_owned())
            .or_insert(0) += 1;
        transitions += observer.timeline_len(subject, id).await?;
    }
    let transitions_per_application = transitions as f64 / per;
    let memory_mb = template_memory_mb()?;
    let invocations = invocations.lock().map(|m| m.clone()).unwrap_or_default();
    let total_invocations: f64 = invocations.values().map(|i| i.count).sum();
    let gb_seconds: f64 =
        invocations.values().map(|i| i.seconds).sum::<f64>() * f64::from(memory_mb) / 1024.0;
    let sum = |f: &dyn Fn(&str, &str, &OpCount) -> f64| -> f64 {
        used.iter().map(|((s, o), c)| f(s, o, c)).sum::<f64>()
    };
    let write_units = sum(&|_, _, c| c.write_units);
    let read_units = sum(&|_, _, c| c.read_units);
    let dynamodb_writes = sum(&|s, o, c| {
        if s == "dynamodb" && is_write(o) {
            c.requests
        } else {
            0.0
        }
    });
    let sqs = sum(&|s, _, c| if s == "sqs" { c.requests } else { 0.0 });
    let s3_put = sum(&|s, o, c| {
        if s == "s3" && matches!(o, "PutObject" | "CopyObject" | "ListObjects" | "POST") {
            c.requests
        } else {
            0.0
        }
    }) + presigned_puts as f64;
    let s3_get = sum(&|s, o, c| {
        if s == "s3" && matches!(o, "GetObject" | "HeadObject") {
            c.requests
        } else {
            0.0
        }
    });
    let api_requests = api_calls.load(std::sync::atomic::Ordering::Relaxed) as f64
        + invocations.get("callbacks").map_or(0.0, |i| i.count);
    let p = &prices;
    let line = |item: &str, units: f64, unit: &str, usd_per_unit: f64| CostLine {
        item: item.to_owned(),
        per_application: units / per,
        unit: unit.to_owned(),
        usd_per_million_applications: units / per * usd_per_unit * 1e6,
    };
    let cost = vec![
        line(
            "Lambda requests",
            total_invocations as f64,
            "invocations",
            p.lambda_request_per_million / 1e6,
        ),
        line(
            "Lambda duration (arm64)",
            gb_seconds,
            "GB-s",
            p.lambda_arm64_gb_second,
        ),
        line(
            "API Gateway HTTP API",
            api_requests,
            "requests",
            p.http_api_request_per_million / 1e6,
        ),
        line("SQS", sqs, "requests", p.sqs_request_per_million / 1e6),
        line(
            "DynamoDB writes",
            write_units,
            "write request units",
            p.dynamodb_write_unit_per_million / 1e6,
        ),
        line(
            "DynamoDB reads",
            read_units,
            "read request units",
            p.dynamodb_read_unit_per_million / 1e6,
        ),
        line("S3 PUT", s3_put, "requests", p.s3_put_per_thousand / 1e3),
        line("S3 GET", s3_get, "requests", p.s3_get_per_thousand / 1e3),
    ];
    let usd_per_million_applications = cost.iter().map(|c| c.usd_per_million_applications).sum();
    Ok(Report {
        applications,
        outcomes,
        transitions_per_application,
        requests_per_application: grouped(&used, per),
        invocations_per_application: invocations
            .iter()
            .map(|(f, i)| {
                (
                    f.clone(),
                    Invocations {
                        count: i.count / per,
                        seconds: i.seconds / per,
                    },
                )
            })
            .collect(),
        api_requests_per_application: api_requests / per,
        presigned_puts_per_application: presigned_puts as f64 / per,
        dynamodb_writes_per_transition: dynamodb_writes / transitions as f64,
        dynamodb_writes_per_transition_by_operation: used
            .iter()
            .filter(|((s, o), _)| s == "dynamodb" && is_write(o))
            .map(|((_, o), c)| (o.clone(), c.requests / transitions as f64))
            .collect(),
        dynamodb_writes_per_transition_by_item: writes
            .iter()
            .map(|(what, c)| {
                (
                    what.clone(),
                    OpCount {
                        requests: c.requests / transitions as f64,
                        write_units: c.write_units / transitions as f64,
                        read_units: 0.0,
                    },
                )
            })
            .collect(),
        cost,
        usd_per_million_applications,
        step_functions_usd_per_million_applications: transitions_per_application
            * p.step_functions_transition_per_thousand
            / 1e3
            * 1e6,
        per_cold_start,
        prices,
        lambda_memory_mb: memory_mb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: usize) -> Value {
        json!({ "S": "x".repeat(n) })
    }

    fn put(images: &mut Images, item: Value) -> f64 {
        capacity(
            images,
            "PutItem",
            &json!({ "Item": item }),
            &Value::Null,
            true,
        )
        .0
    }

    #[test]
    fn a_transactional_put_costs_twice_its_kilobytes_plus_the_indexes_it_enters() {
        // 2,000 bytes of value + "body" (4) → 2 KB → 2 units, doubled: 4; it enters one index:
        // +1. A small item doubled: 2. The condition check reads twice.
        let request = json!({"TransactItems": [
            {"Put": {"Item": {"pk": s(5), "body": s(2000), "owner_pk": s(10), "submitted_at": s(5)}}},
            {"Put": {"Item": {"pk": s(100)}}},
            {"ConditionCheck": {"Key": {"pk": s(10)}}}
        ]});
        let (w, r) = capacity(
            &mut Images::default(),
            "TransactWriteItems",
            &request,
            &Value::Null,
            true,
        );
        assert_eq!((w, r), (4.0 + 1.0 + 2.0, 2.0));
    }

    #[test]
    fn a_replaced_item_is_billed_on_the_larger_image_and_unchanged_indexes_cost_nothing() {
        let mut images = Images::default();
        let big =
            json!({"pk": s(3), "sk": s(3), "doc": s(3000), "owner_pk": s(5), "submitted_at": s(5)});
        // 3 KB and a new entry in `by-owner`.
        assert_eq!(put(&mut images, big), 4.0);
        // Smaller now, but billed on the 3 KB it replaces; `by-owner` unchanged: no index write.
        let small =
            json!({"pk": s(3), "sk": s(3), "doc": s(10), "owner_pk": s(5), "submitted_at": s(5)});
        assert_eq!(put(&mut images, small.clone()), 3.0);
        // A clock index entry appears (+1), then its key moves (delete and put: +2), then only
        // its projected clocks change (+1), then nothing it sees changes (0), then it leaves (+1).
        let with = |due: usize, clocks: usize| {
            let mut i = small.clone();
            i["clock_pk"] = s(5);
            i["clock_due"] = s(due);
            i["clocks"] = s(clocks);
            i
        };
        assert_eq!(put(&mut images, with(20, 50)), 1.0 + 1.0);
        assert_eq!(put(&mut images, with(21, 50)), 1.0 + 2.0);
        assert_eq!(put(&mut images, with(21, 51)), 1.0 + 1.0);
        assert_eq!(put(&mut images, with(21, 51)), 1.0);
        assert_eq!(put(&mut images, small), 1.0 + 1.0);
    }

    #[test]
    fn a_refused_write_costs_its_units_and_changes_nothing() {
        let mut images = Images::default();
        let item = json!({"pk": s(3), "owner_pk": s(5), "submitted_at": s(5)});
        let request = json!({ "Item": item });
        assert_eq!(
            capacity(&mut images, "PutItem", &request, &Value::Null, false).0,
            1.0
        );
        // Still new to the index when it finally lands.
        assert_eq!(put(&mut images, item), 2.0);
    }

    #[test]
    fn reads_are_counted_in_4_kb_units_halved_when_eventually_consistent() {
        let mut images = Images::default();
        let answer = json!({"Items": [{"body": s(5000)}, {"body": s(3000)}]});
        assert_eq!(
            capacity(&mut images, "Query", &json!({}), &answer, true),
            (0.0, 1.0)
        );
        let consistent = json!({"ConsistentRead": true});
        let item = json!({"Item": {"body": s(100)}});
        assert_eq!(
            capacity(&mut images, "GetItem", &consistent, &item, true),
            (0.0, 1.0)
        );
        assert_eq!(put(&mut images, json!({"a": s(1500)})), 2.0);
    }

    #[test]
    fn numbers_and_containers_are_sized_as_dynamodb_bills_them() {
        let item = json!({"n": {"N": "12345"}, "m": {"M": {"k": {"S": "abc"}}}, "l": {"L": [{"BOOL": true}]}});
        // "n" 1 + 4; "m" 1 + 3 + ("k" 1 + 3); "l" 1 + 3 + (1 + 1)
        assert_eq!(item_size(&item), 5 + 8 + 6);
    }
}
