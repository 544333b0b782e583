//! The Lambda service's part, played locally against an AWS API emulator: provisions what
//! `template.yaml` declares (the table, a queue and dead-letter queue per stage and for
//! notifications, the scan bucket, the webhook-keys secret), and hands the functions the events
//! Lambda would — API Gateway HTTP API (payload 2.0) requests with the JWT authorizer's claims,
//! and `SqsEvent`s built from what SQS delivers, deleting what the function did not report as
//! failed, as the event source mapping does. Used by the AWS end-to-end test and the benchmark.

use aws_config::SdkConfig;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::QueueAttributeName;
use axum::body::Body;
use newborn_domain::stage::{Agency, Stage};
use newborn_lambda::settings::queue_variable;
use newborn_lambda::{Adapters, Error, Settings};
use newborn_service::ports::QueueName;
use newborn_service::signing::{Algorithm, FileEntry, KeyEntry, Keys, ResultKeyEntry};
use serde_json::{Value, json};
use std::collections::HashMap;
use tower::ServiceExt;

/// The region the emulator plays.
pub const REGION: &str = "cn-northwest-1";

/// The webhook-keys secret's name.
const KEYS_SECRET: &str = "newborn/webhook-keys";

/// `POST url` with the JSON `body`, signed with `key` as an agency's system signs its requests
/// (a fresh message id, the time now): the tests' one way to speak as an agency over HTTP.
pub fn signed_post(
    http: &reqwest::Client,
    url: &str,
    key: &newborn_service::signing::SigningKey,
    body: &Value,
) -> reqwest::RequestBuilder {
    let body = body.to_string().into_bytes();
    let mut req = http
        .post(url)
        .header("content-type", "application/json")
        .body(body.clone());
    for (k, v) in key.headers(
        &newborn_service::signing::new_message_id(),
        chrono::Utc::now(),
        &body,
    ) {
        req = req.header(k, v);
    }
    req
}

/// An SDK configuration for the emulator at `url` (fixed test credentials); `http` replaces the
/// SDK's HTTP client (the benchmark counts requests with it).
pub fn sdk_config(url: &str, http: Option<aws_sdk_sqs::config::SharedHttpClient>) -> SdkConfig {
    let mut b = SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_sqs::config::SharedCredentialsProvider::new(
            aws_sdk_sqs::config::Credentials::new("test", "test", None, None, "emulator"),
        ));
    // The emulator speaks plain HTTP: the SDK's own client, without TLS.
    b = b.http_client(http.unwrap_or_else(plain_http));
    b.build()
}

/// The SDK's HTTP client without TLS, for the emulator (the workspace builds the SDK without a
/// default client).
pub fn plain_http() -> aws_sdk_sqs::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_http()
}

/// A key file with a fresh random webhook key for the platform and for each agency, and the
/// platform's result key.
pub fn random_keys() -> Vec<FileEntry> {
    [
        (Agency::Platform, "platform-1"),
        (Agency::Hospital, "hospital-1"),
        (Agency::PoliceStation, "police-1"),
        (Agency::MedicalInsurance, "insurance-1"),
        (Agency::SocialSecurity, "social-security-1"),
        (Agency::LicenceDirectory, "licence-directory-1"),
    ]
    .into_iter()
    .map(|(owner, id)| FileEntry::Webhook(KeyEntry::random(id, owner, Algorithm::HmacSha256)))
    .chain(
        ResultKeyEntry::random("results-1")
            .ok()
            .map(FileEntry::Result),
    )
    .collect()
}

/// An SDK configuration for the emulator at `url` as the IAM identity with these keys (an
/// assumed role's temporary credentials carry a `session_token`).
pub fn sdk_config_as(
    url: &str,
    access_key_id: &str,
    secret_access_key: &str,
    session_token: Option<String>,
) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_sqs::config::SharedCredentialsProvider::new(
            aws_sdk_sqs::config::Credentials::new(
                access_key_id,
                secret_access_key,
                session_token,
                None,
                "emulator",
            ),
        ))
        .http_client(plain_http())
        .build()
}

/// What `template.yaml` declares, created in the emulator.
pub struct Stack {
    /// The SDK configuration every client is built from.
    pub sdk: SdkConfig,
    /// The functions' environment (table, bucket, secret, queue URLs).
    pub vars: HashMap<String, String>,
    /// The webhook keys stored in the secret.
    pub keys: Keys,
    /// Each stage's queue URL.
    pub queues: HashMap<Stage, String>,
    /// Each stage's dead-letter queue URL.
    pub dead_letters: HashMap<Stage, String>,
    /// The notification queue's URL.
    pub notifications: String,
    /// The evaluation queue's URL.
    pub evaluation: String,
    /// The evaluation queue's dead-letter queue URL.
    pub evaluation_dead_letters: String,
    /// The table's stream, as the relay function's event source mapping reads it.
    pub stream: StreamPump,
    /// The relay function's wiring.
    pub relay: newborn_aws::StreamRelay,
}

/// A DynamoDB stream read as Lambda's event source mapping reads it for a function: from the
/// oldest record, in order, a batch handed again until the function succeeds with it.
pub struct StreamPump {
    client: aws_sdk_dynamodbstreams::Client,
    arn: String,
    /// Each shard's next iterator, once started.
    iterators: tokio::sync::Mutex<Option<Vec<String>>>,
}

impl StreamPump {
    /// The stream `arn` (as the relay's event source mapping names it), read through `sdk`.
    pub fn new(sdk: &SdkConfig, arn: &str) -> Self {
        Self {
            client: aws_sdk_dynamodbstreams::Client::new(sdk),
            arn: arn.to_owned(),
            iterators: tokio::sync::Mutex::new(None),
        }
    }

    /// The stream of `table`, found with `DescribeTable`.
    pub async fn of_table(sdk: &SdkConfig, table: &str) -> Result<Self, Error> {
        let described = aws_sdk_dynamodb::Client::new(sdk)
            .describe_table()
            .table_name(table)
            .send()
            .await?;
        let arn = described
            .table()
            .and_then(|t| t.latest_stream_arn())
            .ok_or_else(|| format!("table {table} has no stream"))?;
        Ok(Self::new(sdk, arn))
    }

    async fn start(&self) -> Result<Vec<String>, Error> {
        use aws_sdk_dynamodbstreams::types::ShardIteratorType;
        let described = self
            .client
            .describe_stream()
            .stream_arn(&self.arn)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "DescribeStream: {}",
                    aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e)
                )
            })?;
        let mut out = vec![];
        for shard in described
            .stream_description()
            .map(|d| d.shards())
            .unwrap_or_default()
        {
            let it = self
                .client
                .get_shard_iterator()
                .stream_arn(&self.arn)
                .shard_id(shard.shard_id().unwrap_or_default())
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await?;
            out.extend(it.shard_iterator().map(str::to_owned));
        }
        Ok(out)
    }

    /// One batch of every shard through `handler`, as the stream event Lambda hands a function
    /// (`Records[].dynamodb.NewImage`, binary values base64) after the relay's filter (records
    /// whose new image has `m`); the position moves past the batch only if `handler` succeeds.
    /// Returns how many records were handed (0: nothing new).
    pub async fn pump<F, Fut, E>(&self, handler: F) -> Result<usize, Error>
    where
        F: Fn(Value) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: std::fmt::Display,
    {
        let mut guard = self.iterators.lock().await;
        if guard.is_none() {
            *guard = Some(self.start().await?);
        }
        let iterators = guard.as_mut().ok_or("no stream position")?;
        let mut handed = 0;
        for iterator in iterators.iter_mut() {
            loop {
                let out = self
                    .client
                    .get_records()
                    .shard_iterator(iterator.as_str())
                    .limit(100)
                    .send()
                    .await?;
                if out.records().is_empty() {
                    break;
                }
                // The relay's event source mapping filters on the new image's `m`
                // (template.yaml's FilterCriteria): a write that hands nothing on invokes nothing.
                let records: Vec<Value> = out
                    .records()
                    .iter()
                    .map(stream_record)
                    .filter(|r| r["dynamodb"]["NewImage"].get("m").is_some())
                    .collect();
                let n = records.len();
                if n > 0 {
                    handler(json!({ "Records": records }))
                        .await
                        .map_err(|e| format!("the relay failed its batch: {e}"))?;
                }
                if let Some(next) = out.next_shard_iterator() {
                    *iterator = next.to_owned();
                }
                if n > 0 {
                    handed += n;
                    break;
                }
            }
        }
        Ok(handed)
    }
}

impl StreamPump {
    /// One batch through `relay` (the relay function's code), as its event source mapping
    /// invokes it; returns how many records it was handed (0: nothing new).
    pub async fn relay_batch(&self, relay: &newborn_aws::StreamRelay) -> Result<usize, Error> {
        self.pump(|event| async move { relay.relay_event(&event).await.map(drop) })
            .await
    }

    /// Everything new through `relay`, batch by batch; returns how many records it was handed.
    pub async fn relay_all(&self, relay: &newborn_aws::StreamRelay) -> Result<usize, Error> {
        let mut total = 0;
        loop {
            match self.relay_batch(relay).await? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }
}

/// A stream record as Lambda's event carries it; of the new image, the string, number and
/// binary attributes (all the relay reads).
fn stream_record(r: &aws_sdk_dynamodbstreams::types::Record) -> Value {
    use aws_sdk_dynamodbstreams::types::AttributeValue;
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let image: serde_json::Map<String, Value> = r
        .dynamodb()
        .and_then(|d| d.new_image())
        .into_iter()
        .flatten()
        .filter_map(|(name, v)| {
            let v = match v {
                AttributeValue::S(s) => json!({ "S": s }),
                AttributeValue::N(n) => json!({ "N": n }),
                AttributeValue::B(b) => {
                    // moto 5.1 puts a binary value into its stream records base64-encoded once
                    // more than GetItem returns it; unwrap that layer (compressed bytes are
                    // never base64 text themselves).
                    let bytes = b.as_ref();
                    let inner = std::str::from_utf8(bytes)
                        .ok()
                        .and_then(|t| b64.decode(t).ok())
                        .unwrap_or_else(|| bytes.to_vec());
                    json!({ "B": b64.encode(inner) })
                }
                _ => return None,
            };
            Some((name.clone(), v))
        })
        .collect();
    json!({
        "eventID": r.event_id(),
        "eventName": r.event_name().map(|n| n.as_str()),
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "NewImage": image,
            "SequenceNumber": r.dynamodb().and_then(|d| d.sequence_number()),
        },
    })
}

/// A queue as `template.yaml` declares it: dead-lettered after `maxReceiveCount` receives (3
/// here), a short visibility timeout so redeliveries come quickly. Returns both URLs.
async fn queue_with_dead_letters(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
) -> Result<(String, String), Error> {
    let dlq = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await?;
    let dlq_url = dlq.queue_url().unwrap_or_default().to_owned();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
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
        .await?;
    Ok((q.queue_url().unwrap_or_default().to_owned(), dlq_url))
}

impl Stack {
    /// Creates the stack in the emulator `sdk` points at.
    pub async fn provision(sdk: SdkConfig) -> Result<Self, Error> {
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        newborn_aws::create_table(&dynamodb, "newborn").await?;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let mut vars = HashMap::new();
        let (mut queues, mut dead_letters) = (HashMap::new(), HashMap::new());
        let mut notifications = String::new();
        let (mut evaluation, mut evaluation_dead_letters) = (String::new(), String::new());
        for queue in QueueName::ALL {
            let (url, dlq_url) = queue_with_dead_letters(&sqs, queue.as_str()).await?;
            vars.insert(queue_variable(queue), url.clone());
            match queue {
                QueueName::Stage(stage) => {
                    queues.insert(stage, url);
                    dead_letters.insert(stage, dlq_url);
                }
                QueueName::Notifications => notifications = url,
                QueueName::Evaluation => (evaluation, evaluation_dead_letters) = (url, dlq_url),
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
            .await?;
        let key_file = serde_json::to_string(&random_keys())?;
        aws_sdk_secretsmanager::Client::new(&sdk)
            .create_secret()
            .name(KEYS_SECRET)
            .secret_string(&key_file)
            .send()
            .await?;
        for (k, v) in [
            ("NEWBORN_TABLE", "newborn"),
            ("NEWBORN_BUCKET", "scans"),
            ("NEWBORN_WEBHOOK_KEYS_SECRET", KEYS_SECRET),
        ] {
            vars.insert(k.into(), v.into());
        }
        let stream = StreamPump::of_table(&sdk, "newborn").await?;
        let relay = newborn_aws::StreamRelay {
            dynamodb: dynamodb.clone(),
            table: "newborn".into(),
            queues: newborn_aws::SqsQueues::new(sqs.clone()),
            urls: QueueName::ALL
                .into_iter()
                .map(|q| (q.as_str().to_owned(), vars[&queue_variable(q)].clone()))
                .collect(),
        };
        Ok(Stack {
            stream,
            relay,
            sdk,
            vars,
            keys: Keys::from_json(&key_file)?,
            queues,
            dead_letters,
            notifications,
            evaluation,
            evaluation_dead_letters,
        })
    }

    /// A function's environment with the agencies (and their supervisors, the applicant
    /// gateway at `<agencies_url>/notify` and the 好差评 platform) at `agencies_url`.
    pub fn environment(&self, agencies_url: &str) -> HashMap<String, String> {
        let mut vars = self.vars.clone();
        vars.insert("NEWBORN_AGENCIES_URL".into(), agencies_url.into());
        vars.insert("NEWBORN_SUPERVISORS_URL".into(), agencies_url.into());
        vars.insert(
            "NEWBORN_NOTIFY_URL".into(),
            format!("{agencies_url}/notify"),
        );
        vars.insert("NEWBORN_RATING_PLATFORM_URL".into(), agencies_url.into());
        vars
    }

    /// The adapters a function's cold start builds, in this stack.
    pub fn adapters(&self, agencies_url: &str) -> Result<Adapters, Error> {
        let vars = self.environment(agencies_url);
        let settings = Settings::from_vars(|k| vars.get(k).cloned())?;
        Ok(Adapters::new(settings, self.sdk.clone()))
    }

    /// Messages in a queue, visible and in flight (`u32::MAX` if the emulator did not say).
    pub async fn depth(&self, url: &str) -> u32 {
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

    /// One batch of the table's stream through the relay function's code, as its event source
    /// mapping invokes it; returns how many records it was handed (0: nothing new).
    pub async fn relay_batch(&self) -> Result<usize, Error> {
        self.stream.relay_batch(&self.relay).await
    }

    /// Everything new on the table's stream through the relay, batch by batch; returns how
    /// many records it was handed.
    pub async fn relay(&self) -> Result<usize, Error> {
        self.stream.relay_all(&self.relay).await
    }

    /// One batch of `url` through `handler`, as the event source mapping does ([`pump`]).
    pub async fn pump<F, Fut>(&self, url: &str, handler: F) -> Result<usize, Error>
    where
        F: FnOnce(SqsEvent) -> Fut,
        Fut: std::future::Future<Output = SqsBatchResponse>,
    {
        pump(&self.sdk, url, handler).await
    }
}

/// One batch of `url` as Lambda's event source mapping invokes a function with it: the messages
/// SQS delivers as an `SqsEvent`; afterwards deletes every record `handler` did not report as
/// failed. Returns how many records the batch had (0: nothing was delivered, and `handler` was
/// not called).
pub async fn pump<F, Fut>(sdk: &SdkConfig, url: &str, handler: F) -> Result<usize, Error>
where
    F: FnOnce(SqsEvent) -> Fut,
    Fut: std::future::Future<Output = SqsBatchResponse>,
{
    let Some(event) = receive_event(sdk, url).await? else {
        return Ok(0);
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
    let sqs = aws_sdk_sqs::Client::new(sdk);
    for (id, receipt) in handles {
        if !failed.contains(&id) {
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(receipt)
                .send()
                .await?;
        }
    }
    Ok(n)
}

/// What an API Gateway HTTP API event is handed to: the function's router in this process, or
/// a function's real binary under a Lambda runtime API (the deployed-shape test).
pub trait ApiTarget: Sync {
    /// Hands `event` (payload 2.0 JSON) to the function; returns the status and JSON body of
    /// its answer.
    fn invoke(&self, event: String) -> impl Future<Output = Result<(u16, Value), Error>> + Send;
}

impl ApiTarget for axum::Router {
    async fn invoke(&self, event: String) -> Result<(u16, Value), Error> {
        let req = lambda_http::request::from_str(&event)?;
        let res = self
            .clone()
            .oneshot(req.map(|b| Body::from(b.to_vec())))
            .await
            .unwrap_or_else(|e| match e {});
        let status = res.status().as_u16();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }
}

/// One applicant request as API Gateway (HTTP API, payload 2.0) hands it to the function after
/// its JWT authorizer verified the token of `subject`.
pub fn api_event(subject: &str, method: &str, path: &str, body: Option<&Value>) -> String {
    // API Gateway passes the verified claims as strings; the token was issued a minute ago.
    let iat = chrono::Utc::now().timestamp() - 60;
    let (iat, exp) = (iat.to_string(), (iat + 3600).to_string());
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
            "authorizer": {"jwt": {"claims": {"sub": subject, "iss": "https://idp.example.cn", "iat": iat, "exp": exp}, "scopes": null}}
        },
        "body": body.map(Value::to_string),
        "isBase64Encoded": false
    })
    .to_string()
}

/// Hands [`api_event`] to the API function `target` for a caller whose real-name identity number
/// the province's sign-in verified (the authorizer passes the token's `id_number` claim).
pub async fn call_real_name(
    target: &impl ApiTarget,
    subject: &str,
    id_number: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), Error> {
    let mut event: Value = serde_json::from_str(&api_event(subject, method, path, body))?;
    event["requestContext"]["authorizer"]["jwt"]["claims"]["id_number"] = json!(id_number);
    target.invoke(event.to_string()).await
}

/// Hands [`api_event`] to the API function `target`; returns the status and JSON body.
pub async fn call(
    target: &impl ApiTarget,
    subject: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), Error> {
    target.invoke(api_event(subject, method, path, body)).await
}

/// The messages the emulator's SQS delivers from `url` (up to 10), as the `SqsEvent` Lambda's
/// event source mapping would invoke the function with; `None` when none was delivered.
pub async fn receive_event(sdk: &SdkConfig, url: &str) -> Result<Option<SqsEvent>, Error> {
    let out = aws_sdk_sqs::Client::new(sdk)
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await?;
    if out.messages().is_empty() {
        return Ok(None);
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
    Ok(Some(serde_json::from_value(json!({ "Records": records }))?))
}

/// Uploads a PNG scan of `kind` the AWS way: a slot from the API, a PUT to the presigned S3 URL
/// with exactly the signed headers, then completing it. Returns the document reference and the
/// completion path.
pub async fn upload(
    router: &impl ApiTarget,
    subject: &str,
    kind: &str,
) -> Result<(Value, String), Error> {
    let png = newborn_service::scans::sample_png(&format!("scan of {kind} for {subject}"));
    upload_png(router, subject, kind, png).await
}

/// Uploads `png` as a scan of `kind` (see [`upload`]), declaring its SHA-256 as the app does:
/// the presigned PUT goes to the scan's content address, checked by S3.
pub async fn upload_png(
    router: &impl ApiTarget,
    subject: &str,
    kind: &str,
    png: Vec<u8>,
) -> Result<(Value, String), Error> {
    use sha2::Digest as _;
    let sha256 = hex::encode(sha2::Sha256::digest(&png));
    let (status, slot) = call(
        router,
        subject,
        "POST",
        "/uploads",
        Some(&json!({"kind": kind, "content_type": "image/png", "size": png.len(), "sha256": sha256})),
    )
    .await?;
    if status != 201 {
        return Err(format!("upload slot: HTTP {status}: {slot}").into());
    }
    let mut put = newborn_http::client().put(slot["upload_url"].as_str().unwrap_or_default());
    for (name, value) in slot["headers"].as_object().into_iter().flatten() {
        put = put.header(name.as_str(), value.as_str().unwrap_or_default());
    }
    let res = put.body(png).send().await?;
    if !res.status().is_success() {
        return Err(format!("PUT to S3: HTTP {}", res.status()).into());
    }
    let complete = slot["complete_url"].as_str().unwrap_or_default().to_owned();
    let (status, done) = call(router, subject, "POST", &complete, None).await?;
    if status != 200 {
        return Err(format!("completing the upload: HTTP {status}: {done}").into());
    }
    Ok((json!({"kind": kind, "sha256": done["sha256"]}), complete))
}

/// Does what the parent is asked to in `view` (confirm generated forms, supply missing scans);
/// returns how many actions it took (0 or 1).
pub async fn act(
    router: &impl ApiTarget,
    subject: &str,
    id: &str,
    view: &Value,
) -> Result<usize, Error> {
    let Some(waiting) = view["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["status"]["status"] == "awaiting_applicant")
    else {
        return Ok(0);
    };
    let (status, body) = match waiting["status"]["wait"].as_str().unwrap_or_default() {
        "confirm_forms" => {
            let path = format!("/applications/{id}/confirmation");
            call(router, subject, "POST", &path, None).await?
        }
        "supplement" => {
            let mut documents = vec![];
            for item in waiting["status"]["items"].as_array().into_iter().flatten() {
                if item["type"] == "document" {
                    // A new photo of the page, not the rejected one again.
                    let kind = item["kind"].as_str().unwrap_or_default();
                    let png = newborn_service::scans::sample_png(&format!(
                        "scan of {kind} for {subject}, taken again for {id}"
                    ));
                    documents.push(upload_png(router, subject, kind, png).await?.0);
                }
            }
            let path = format!("/applications/{id}/supplement");
            let answer = json!({ "documents": documents });
            call(router, subject, "POST", &path, Some(&answer)).await?
        }
        other => return Err(format!("the applicant is asked for {other}").into()),
    };
    if status != 200 {
        return Err(format!("HTTP {status}: {body}").into());
    }
    Ok(1)
}
