//! Each function's wiring: the desks it serves, built from the AWS adapters they need. A
//! function cannot serve a route or a message whose desk it does not build, and a desk cannot
//! be built without its ports, so what a function can do follows from these functions' types.
//!
//! [`Adapters`] builds each adapter on request and records the [`Port`] behind it. The IAM test
//! (`shared/lambda/tests/aws.rs`) wires every function of `template.yaml` and checks that the
//! template grants it exactly the IAM actions of the ports it asked for ([`Port::iam`]).

use crate::{ApiGatewayJwt, Error, Settings, read_keys};
use aws_config::SdkConfig;
use newborn_aws::{
    DynamoDrafts, DynamoHandovers, DynamoRequestLog, DynamoStore, DynamoUploads, EmfMetrics,
    S3Documents, SqsQueues, StreamRelay,
};
use newborn_domain::calendar::WorkingCalendar;
use newborn_domain::policy::PolicyRegistry;
use newborn_http::routes::{agency, applicant, operator, results, supervision, uploads};
use newborn_http::{
    AgencyRoutes, ApplicantRoutes, Authenticator, Edge, HttpDispatcher, HttpLicenceDirectory,
    HttpNotifier, HttpRatingPlatform, ResultRoutes, SupervisionRoutes, UploadRoutes,
};
use newborn_service::ports::{Clock, Metrics, SystemClock};
use newborn_service::signing::Keys;
use newborn_service::{
    AgencyDesk, ApplicantDesk, Core, Drafts, EvaluationDesk, Licences, MonitorDesk, NotifierDesk,
    Rules, StageDesk, SupervisionDesk, UploadDesk,
};
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// An AWS resource a function's adapters use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Port {
    /// The application store (the table).
    Applications,
    /// The stream relay: the queues every write hands messages to, and the report facts and
    /// idempotency records it writes to the table.
    Relay,
    /// The upload register (the table).
    Uploads,
    /// The counterfoil register (the table).
    Handovers,
    /// Idempotency records and spent message ids (the table).
    RequestLog,
    /// Drafts from the hospitals' birth records (the table).
    Drafts,
    /// The scan bucket.
    Scans,
    /// The webhook keys secret.
    WebhookKeys,
}

/// One IAM permission: an action on a resource of the template (a logical id, or a logical id
/// with a suffix such as `/index/*` or `/scans/*`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Grant {
    /// The IAM action, e.g. `dynamodb:GetItem`.
    pub action: &'static str,
    /// The resource, e.g. `Table`, `Table/index/*`, `ScanBucket/scans/*`, `WebhookKeysSecretArn`.
    pub resource: &'static str,
}

const TABLE_ACTIONS: [&str; 6] = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:ConditionCheckItem",
];

/// The queues the stream relay sends to: every stage's, the notifications' and the evaluation
/// stage's.
const QUEUES: [&str; 7] = [
    "PreReviewQueue",
    "HealthCheckQueue",
    "PoliceQueue",
    "InsuranceQueue",
    "SocialSecurityCardQueue",
    "NotificationsQueue",
    "EvaluationQueue",
];

/// What Lambda's event source mapping reads the table's stream with, on the relay's role.
const STREAM_ACTIONS: [&str; 3] = [
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
];

impl Port {
    /// The IAM permissions the port's adapter needs.
    pub fn iam(self) -> Vec<Grant> {
        let table = || {
            TABLE_ACTIONS.iter().flat_map(|action| {
                ["Table", "Table/index/*"]
                    .into_iter()
                    .map(move |resource| Grant { action, resource })
            })
        };
        match self {
            Port::Relay => QUEUES
                .iter()
                .map(|resource| Grant {
                    action: "sqs:SendMessage",
                    resource,
                })
                .chain([Grant {
                    action: "dynamodb:BatchWriteItem",
                    resource: "Table",
                }])
                .chain(STREAM_ACTIONS.iter().map(|action| Grant {
                    action,
                    resource: "Table/stream/*",
                }))
                .collect(),
            Port::Applications
            | Port::Uploads
            | Port::Handovers
            | Port::RequestLog
            | Port::Drafts => table().collect(),
            Port::Scans => ["s3:GetObject", "s3:PutObject"]
                .into_iter()
                .flat_map(|action| {
                    ["ScanBucket/scans/*", "ScanBucket/uploads/*"]
                        .into_iter()
                        .map(move |resource| Grant { action, resource })
                })
                .chain([Grant {
                    action: "s3:ListBucket",
                    resource: "ScanBucket",
                }])
                .collect(),
            Port::WebhookKeys => vec![Grant {
                action: "secretsmanager:GetSecretValue",
                resource: "WebhookKeysSecretArn",
            }],
        }
    }
}

enum KeySource {
    Secret,
    Given(Box<Keys>),
}

/// The AWS adapters of one function, each built when a desk asks for it; the ports asked for
/// are recorded.
pub struct Adapters {
    settings: Settings,
    sdk: SdkConfig,
    metrics: Arc<dyn Metrics>,
    clock: Arc<dyn Clock>,
    keys: KeySource,
    used: Mutex<BTreeSet<Port>>,
}

impl Adapters {
    /// The adapters of `settings` over the SDK configuration (the Lambda environment, or an
    /// emulator in tests); metrics as EMF lines on standard output.
    pub fn new(settings: Settings, sdk: SdkConfig) -> Self {
        Self {
            settings,
            sdk,
            metrics: Arc::new(EmfMetrics::stdout()),
            clock: Arc::new(SystemClock),
            keys: KeySource::Secret,
            used: Mutex::new(BTreeSet::new()),
        }
    }

    /// The same adapters running on `clock` (a test's, set ahead of the wall to reach an
    /// instant the functions would otherwise wait days for; deployed functions use the system's).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The same adapters with metrics going to `metrics` (the benchmark keeps its output
    /// readable).
    pub fn with_metrics(mut self, metrics: Arc<dyn Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The same adapters with the webhook keys given instead of read from Secrets Manager
    /// (asking for them still counts as using [`Port::WebhookKeys`]).
    pub fn with_keys(mut self, keys: Keys) -> Self {
        self.keys = KeySource::Given(Box::new(keys));
        self
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The ports asked for so far.
    pub fn used(&self) -> BTreeSet<Port> {
        self.used.lock().map(|u| u.clone()).unwrap_or_default()
    }

    fn record(&self, port: Port) {
        if let Ok(mut used) = self.used.lock() {
            used.insert(port);
        }
    }

    fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    /// The application store.
    pub fn store(&self) -> DynamoStore {
        self.record(Port::Applications);
        DynamoStore::new(self.dynamodb(), &self.settings.table)
    }

    /// The stream relay to the queues and the table.
    pub fn relay(&self) -> StreamRelay {
        self.record(Port::Relay);
        StreamRelay {
            dynamodb: self.dynamodb(),
            table: self.settings.table.clone(),
            queues: SqsQueues::new(aws_sdk_sqs::Client::new(&self.sdk)),
            urls: self.settings.queue_urls(),
        }
    }

    /// The upload register.
    pub fn uploads(&self) -> DynamoUploads {
        self.record(Port::Uploads);
        DynamoUploads::new(self.dynamodb(), &self.settings.table)
    }

    /// The counterfoil register.
    pub fn handovers(&self) -> DynamoHandovers {
        self.record(Port::Handovers);
        DynamoHandovers::new(self.dynamodb(), &self.settings.table)
    }

    /// The drafts from the hospitals' birth records.
    pub fn drafts(&self) -> Drafts {
        self.record(Port::Drafts);
        Drafts::new(Arc::new(DynamoDrafts::new(
            self.dynamodb(),
            &self.settings.table,
        )))
    }

    /// Idempotency records and spent message ids.
    pub fn requests(&self) -> DynamoRequestLog {
        self.record(Port::RequestLog);
        DynamoRequestLog::new(self.dynamodb(), &self.settings.table)
    }

    /// The scan bucket (scans, and presigned uploads).
    pub fn scans(&self) -> S3Documents {
        self.record(Port::Scans);
        // An endpoint override means an emulator, which serves buckets by path.
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&self.sdk)
                .force_path_style(self.sdk.endpoint_url().is_some())
                .build(),
        );
        S3Documents::new(s3, &self.settings.bucket)
    }

    /// The webhook keys. The secret's value is never logged.
    pub async fn keys(&self) -> Result<Keys, Error> {
        self.keys_meanwhile().await
    }

    /// The webhook keys, read on another task from now on: a function's start builds its core
    /// (the built-in policies parsed) while the secret is on its way, instead of after it.
    fn keys_meanwhile(&self) -> impl Future<Output = Result<Keys, Error>> + use<> {
        self.record(Port::WebhookKeys);
        enum Pending {
            Reading(tokio::task::JoinHandle<Result<Keys, Error>>),
            Given(Keys),
        }
        let pending = match &self.keys {
            KeySource::Secret => {
                let (sdk, secret) = (self.sdk.clone(), self.settings.webhook_keys_secret.clone());
                Pending::Reading(tokio::spawn(async move { read_keys(&sdk, &secret).await }))
            }
            KeySource::Given(keys) => Pending::Given((**keys).clone()),
        };
        async move {
            match pending {
                Pending::Reading(task) => task
                    .await
                    .map_err(|e| Error::from(format!("reading the webhook keys: {e}")))?,
                Pending::Given(keys) => Ok(keys),
            }
        }
    }

    /// The core and the webhook keys, the secret read while the core is built.
    pub async fn core_and_keys(&self) -> Result<(Core, Keys), Error> {
        let keys = self.keys_meanwhile();
        let core = self.core()?;
        Ok((core, keys.await?))
    }

    /// The wall clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The counters.
    pub fn metrics(&self) -> Arc<dyn Metrics> {
        self.metrics.clone()
    }

    /// The core over the store: the built-in policies and calendar, the settings' region.
    pub fn core(&self) -> Result<Core, Error> {
        let rules = Rules::new(
            PolicyRegistry::builtin(),
            WorkingCalendar::builtin(),
            &self.settings.policy,
        )?;
        Ok(Core::new(
            Arc::new(self.store()),
            self.clock(),
            self.metrics(),
            Arc::new(rules),
        ))
    }

    /// The licence directory, its look-ups signed with the platform's key and its answers
    /// verified with the directory's.
    fn licences(&self, keys: &Keys) -> Result<Licences, Error> {
        let directory = HttpLicenceDirectory::new(
            &self.settings.licence_directory_url,
            keys.platform.clone(),
            keys.agencies.clone(),
            self.clock(),
        )?;
        Ok(Licences::new(
            Arc::new(directory),
            self.clock(),
            self.metrics(),
        ))
    }
}

/// The applicant desk: the store, the upload register, and the licence directory (a
/// supplement's licences are looked up, signed, before it is accepted).
pub async fn applicant_desk(a: &Adapters) -> Result<ApplicantDesk, Error> {
    let (core, keys) = a.core_and_keys().await?;
    Ok(
        ApplicantDesk::new(core, Arc::new(a.uploads()), a.licences(&keys)?)
            .with_results(keys.results.clone())
            .with_drafts(a.drafts()),
    )
}

/// The `api` function: applicants, uploads to the scan bucket, staff and supervisors, and the
/// operator routes.
pub async fn api(a: &Adapters) -> Result<axum::Router, Error> {
    let applicant = applicant_desk(a).await?;
    let core = applicant.core().clone();
    let published = applicant.published_keys().map(Arc::new);
    let auth: Arc<dyn Authenticator> = Arc::new(ApiGatewayJwt);
    let register = Arc::new(a.uploads());
    let scans = a.scans();
    let edge = Edge {
        auth: auth.clone(),
        requests: Arc::new(a.requests()),
        wall_clock: a.clock(),
    };
    Ok(newborn_http::api(
        edge,
        [
            applicant::routes(ApplicantRoutes {
                desk: applicant,
                auth: auth.clone(),
            }),
            uploads::routes(UploadRoutes {
                desk: UploadDesk::new(register, Arc::new(scans.clone())),
                auth: auth.clone(),
                target: Arc::new(scans),
                signed: None,
                wall_clock: a.clock(),
            }),
            supervision::routes(SupervisionRoutes {
                desk: SupervisionDesk::new(core.clone(), Arc::new(a.handovers())),
                auth,
            }),
            operator::routes(core),
            results::routes(ResultRoutes { keys: published }),
        ],
    ))
}

/// The `callbacks` function: the agencies' signed requests, verified with their keys.
pub async fn callbacks(a: &Adapters) -> Result<axum::Router, Error> {
    let (core, keys) = a.core_and_keys().await?;
    let requests = Arc::new(a.requests());
    let edge = Edge {
        auth: Arc::new(ApiGatewayJwt),
        requests: requests.clone(),
        wall_clock: a.clock(),
    };
    Ok(newborn_http::api(
        edge,
        [
            agency::routes(AgencyRoutes {
                desk: AgencyDesk::new(core.clone()).with_drafts(a.drafts()),
                keys: Arc::new(keys.agencies),
                wall_clock: a.clock(),
            }),
            operator::routes(core),
        ],
    ))
}

/// A stage function: dispatches signed to the agencies' gateway, look-ups and registrations
/// in the licence directory, counterfoils kept in the register.
pub async fn stage(a: &Adapters) -> Result<StageDesk, Error> {
    let (core, keys) = a.core_and_keys().await?;
    let agencies =
        HttpDispatcher::to_gateway(&a.settings.agencies_url, keys.platform.clone(), a.clock())?;
    Ok(StageDesk::new(
        core,
        Arc::new(agencies),
        a.licences(&keys)?,
        Arc::new(a.handovers()),
    ))
}

/// The `notifier` function: deliveries signed to the applicant gateway. It holds no store.
pub async fn notifier(a: &Adapters) -> Result<NotifierDesk, Error> {
    let keys = a.keys().await?;
    let gateway = HttpNotifier::new(&a.settings.notify_url, keys.platform, a.clock())?;
    Ok(NotifierDesk::new(Arc::new(gateway), a.metrics()))
}

/// The `evaluation` function: invitations to rate, written to the store, and ratings signed to
/// the provincial 好差评 platform.
pub async fn evaluation(a: &Adapters) -> Result<EvaluationDesk, Error> {
    let (core, keys) = a.core_and_keys().await?;
    let platform =
        HttpRatingPlatform::new(&a.settings.rating_platform_url, keys.platform, a.clock())?;
    Ok(EvaluationDesk::new(core, Arc::new(platform)))
}

/// The `sla-monitor` function: the SLA sweep, escalations signed to the supervisors.
pub async fn monitor(a: &Adapters) -> Result<MonitorDesk, Error> {
    let (core, keys) = a.core_and_keys().await?;
    let supervisors =
        HttpDispatcher::to_supervisors(&a.settings.supervisors_url, keys.platform, a.clock())?;
    Ok(MonitorDesk::new(core, Arc::new(supervisors)).with_drafts(a.drafts()))
}

/// The `relay` function: what each application write hands on, from the table's stream.
pub fn relay(a: &Adapters) -> StreamRelay {
    a.relay()
}

/// A function of `template.yaml`, by its `Binary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `api`.
    Api,
    /// `callbacks`.
    Callbacks,
    /// A stage function.
    Stage(newborn_domain::stage::Stage),
    /// `notifier`.
    Notifier,
    /// `evaluation`.
    Evaluation,
    /// `sla-monitor`.
    SlaMonitor,
    /// `relay`.
    Relay,
}

impl Function {
    /// The function of a template `Binary` name.
    pub fn of_binary(name: &str) -> Option<Self> {
        use newborn_domain::stage::Stage;
        Some(match name {
            "api" => Function::Api,
            "callbacks" => Function::Callbacks,
            "notifier" => Function::Notifier,
            "evaluation" => Function::Evaluation,
            "sla-monitor" => Function::SlaMonitor,
            "relay" => Function::Relay,
            "pre-review" => Function::Stage(Stage::PreReview),
            "health-check" => Function::Stage(Stage::HealthCheck),
            "police" => Function::Stage(Stage::Police),
            "insurance" => Function::Stage(Stage::Insurance),
            "social-security-card" => Function::Stage(Stage::SocialSecurityCard),
            _ => return None,
        })
    }

    /// Wires the function over `adapters` as its `main` does, and returns the ports it asked for.
    pub async fn ports(self, adapters: &Adapters) -> Result<BTreeSet<Port>, Error> {
        match self {
            Function::Api => drop(api(adapters).await?),
            Function::Callbacks => drop(callbacks(adapters).await?),
            Function::Stage(_) => drop(stage(adapters).await?),
            Function::Notifier => drop(notifier(adapters).await?),
            Function::Evaluation => drop(evaluation(adapters).await?),
            Function::SlaMonitor => drop(monitor(adapters).await?),
            Function::Relay => drop(relay(adapters)),
        }
        Ok(adapters.used())
    }
}
