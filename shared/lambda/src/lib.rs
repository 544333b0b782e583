//! What every Lambda of `functions/` shares. A function's `main` calls one `run_*`; each reads
//! its [`Settings`], builds the AWS adapters once ([`Deps`]), and hands events to the same core
//! the local runtime runs:
//!
//! - [`run_api`], [`run_callbacks`] — the one axum router under `lambda_http` (API Gateway
//!   routes the callback path to the latter, without the JWT authorizer, behind an optional
//!   address allow-list);
//! - [`run_stage`] — `SqsEvent -> SqsBatchResponse` for one stage's queue;
//! - [`run_notifier`] — notification deliveries to the applicant gateway, from their queue;
//! - [`run_sla_monitor`] — the scheduled SLA sweep, and the outbox relay sweep.

pub mod allow;
pub mod auth;
pub mod harness;
pub mod settings;

pub use auth::ApiGatewayJwt;
pub use settings::{Settings, SettingsError};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use chrono::TimeDelta;
use lambda_runtime::{LambdaEvent, service_fn};
use newborn_aws::{
    DynamoHandovers, DynamoRequestLog, DynamoStore, DynamoUploads, EmfMetrics, Relay, S3Documents,
    SqsQueues,
};
use newborn_domain::calendar::WorkingCalendar;
use newborn_domain::licence::{LicenceRecord, LicenceRef};
use newborn_domain::policy::PolicyRegistry;
use newborn_domain::stage::{Agency, Stage};
use newborn_http::{ApiState, HttpDispatcher, HttpLicenceDirectory, HttpNotifier};
use newborn_service::Service;
use newborn_service::ports::{
    AgencyDispatcher, Clock, Delivery, DeliveryError, DirectoryError, Dispatch, DispatchError,
    LicenceDirectory, Notifier, RegistrationRequest, SystemClock,
};
use newborn_service::service::Ports;
use newborn_service::signing::{KeyRing, Keys};
use std::sync::Arc;

/// The error a function's `main` returns.
pub type Error = lambda_runtime::Error;

/// Hand-offs still pending this long after their commit are re-sent by the relay sweep.
const RELAY_AFTER: TimeDelta = TimeDelta::seconds(60);

/// The adapters of one function, built once per cold start.
pub struct Deps {
    /// The use cases over the AWS adapters.
    pub service: Arc<Service>,
    /// The store (the SLA monitor also runs its relay sweep).
    pub store: DynamoStore,
    /// The DynamoDB client.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// The scan bucket (scans, and presigned uploads).
    pub scans: S3Documents,
    /// The webhook keys, for functions that sign or verify.
    pub keys: Option<Keys>,
    /// The settings.
    pub settings: Settings,
}

/// Which secrets a function needs (least privilege: only those that sign or verify webhooks
/// may read the key secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// No webhook keys: the function can neither sign nor verify. Since the API reads the keys,
    /// no function, test or benchmark builds one; it and the null adapters go when functions
    /// build their capabilities as types (the house issue).
    Nothing,
    /// The webhook keys (stages sign dispatches and licence look-ups, the SLA monitor signs
    /// escalations, callbacks verify signatures, the API signs the licence look-ups of
    /// supplement answers).
    WebhookKeys,
}

/// The dispatcher of a function that never dispatches: an attempt is a configuration error,
/// reported like any failed dispatch (the message is retried, then dead-lettered).
struct NoDispatcher;

#[async_trait]
impl Notifier for NoDispatcher {
    async fn deliver(&self, _: &Delivery) -> Result<(), DeliveryError> {
        Err(DeliveryError(
            "this function holds no signing key and cannot notify".into(),
        ))
    }
}

#[async_trait]
impl LicenceDirectory for NoDispatcher {
    async fn lookup(&self, _: &LicenceRef) -> Result<Option<LicenceRecord>, DirectoryError> {
        Err(DirectoryError(
            "this function holds no signing key and cannot ask the licence directory".into(),
        ))
    }
    async fn register(&self, _: &RegistrationRequest) -> Result<(), DirectoryError> {
        Err(DirectoryError(
            "this function holds no signing key and cannot reach the licence directory".into(),
        ))
    }
}

#[async_trait]
impl AgencyDispatcher for NoDispatcher {
    async fn dispatch(&self, agency: Agency, _: &Dispatch) -> Result<(), DispatchError> {
        Err(DispatchError {
            agency,
            reason: "this function holds no signing key and cannot dispatch".into(),
        })
    }
}

impl Deps {
    /// Builds every adapter from `settings` and the SDK configuration (the Lambda environment,
    /// or an emulator in tests).
    pub async fn connect(settings: Settings, sdk: &SdkConfig, needs: Needs) -> Result<Self, Error> {
        Self::connect_with_metrics(settings, sdk, needs, Arc::new(EmfMetrics::stdout())).await
    }

    /// [`connect`](Self::connect) with metrics going to `metrics` instead of EMF lines on
    /// standard output (the benchmark keeps its output readable).
    pub async fn connect_with_metrics(
        settings: Settings,
        sdk: &SdkConfig,
        needs: Needs,
        metrics: Arc<dyn newborn_service::ports::Metrics>,
    ) -> Result<Self, Error> {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let sqs = SqsQueues::new(aws_sdk_sqs::Client::new(sdk));
        // An endpoint override means an emulator, which serves buckets by path.
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(sdk)
                .force_path_style(sdk.endpoint_url().is_some())
                .build(),
        );
        let keys = match needs {
            Needs::Nothing => None,
            Needs::WebhookKeys => Some(read_keys(sdk, &settings.webhook_keys_secret).await?),
        };
        let wall: Arc<dyn Clock> = Arc::new(SystemClock);
        let notifier: Arc<dyn Notifier> = match &keys {
            Some(keys) => Arc::new(HttpNotifier::new(
                &settings.notify_url,
                keys.platform.clone(),
                wall.clone(),
            )?),
            None => Arc::new(NoDispatcher),
        };
        let (agencies, supervisors): (Arc<dyn AgencyDispatcher>, Arc<dyn AgencyDispatcher>) =
            match &keys {
                Some(keys) => (
                    Arc::new(HttpDispatcher::to_gateway(
                        &settings.agencies_url,
                        keys.platform.clone(),
                        wall.clone(),
                    )?),
                    Arc::new(HttpDispatcher::to_supervisors(
                        &settings.supervisors_url,
                        keys.platform.clone(),
                        wall.clone(),
                    )?),
                ),
                None => (Arc::new(NoDispatcher), Arc::new(NoDispatcher)),
            };
        let licences: Arc<dyn LicenceDirectory> = match &keys {
            Some(keys) => Arc::new(HttpLicenceDirectory::new(
                &settings.licence_directory_url,
                keys.platform.clone(),
                keys.agencies.clone(),
                wall.clone(),
            )?),
            None => Arc::new(NoDispatcher),
        };
        let scans = S3Documents::new(s3, &settings.bucket);
        let store = DynamoStore::new(dynamodb.clone(), &settings.table).with_relay(Relay {
            queues: sqs,
            urls: settings.queue_urls(),
        });
        let ports = Ports {
            store: Arc::new(store.clone()),
            documents: Arc::new(scans.clone()),
            uploads: Arc::new(DynamoUploads::new(dynamodb.clone(), &settings.table)),
            agencies,
            supervisors,
            handovers: Arc::new(DynamoHandovers::new(dynamodb.clone(), &settings.table)),
            notifier,
            licences,
            clock: wall,
            metrics,
        };
        let service = Service::new(
            ports,
            PolicyRegistry::builtin(),
            WorkingCalendar::builtin(),
            &settings.policy,
        )?;
        Ok(Self {
            service: Arc::new(service),
            store,
            dynamodb,
            scans,
            keys,
            settings,
        })
    }

    /// The HTTP API's state over these adapters: callers identified by API Gateway's JWT
    /// authorizer, agency callbacks verified with the webhook keys.
    pub fn api_state(&self) -> ApiState {
        let agency_keys = self
            .keys
            .as_ref()
            .map(|k| k.agencies.clone())
            .unwrap_or_else(|| KeyRing::new(vec![]));
        ApiState {
            service: self.service.clone(),
            agency_keys: Arc::new(agency_keys),
            wall_clock: Arc::new(SystemClock),
            auth: Arc::new(ApiGatewayJwt),
            requests: Arc::new(DynamoRequestLog::new(
                self.dynamodb.clone(),
                &self.settings.table,
            )),
            upload_target: Arc::new(self.scans.clone()),
            signed_uploads: None,
        }
    }
}

/// Reads the key file from Secrets Manager. The secret's value is never logged.
async fn read_keys(sdk: &SdkConfig, secret: &str) -> Result<Keys, Error> {
    let out = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(secret)
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot read the webhook keys secret {secret}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
            )
        })?;
    let text = out
        .secret_string()
        .ok_or("the webhook keys secret has no string value")?;
    Ok(Keys::from_json(text).map_err(|e| format!("the webhook keys secret: {e}"))?)
}

/// JSON log lines (CloudWatch Logs Insights reads them field by field), level from `RUST_LOG`.
/// Personal data reaches logs only through masking types.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_ansi(false)
        .try_init();
}

async fn start(needs: Needs) -> Result<Deps, Error> {
    init_tracing();
    let settings = Settings::from_env()?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Deps::connect(settings, &sdk, needs).await
}

/// The `api` function: the one router under `lambda_http`, callers from the JWT authorizer. It
/// reads the webhook keys: a supplement answer naming an electronic licence is looked up in the
/// licence directory, signed, before it is accepted.
pub async fn run_api() -> Result<(), Error> {
    let deps = start(Needs::WebhookKeys).await?;
    lambda_http::run(newborn_http::router(deps.api_state())).await
}

/// The `callbacks` function: the same router with the webhook keys, behind the optional
/// address allow-list.
pub async fn run_callbacks() -> Result<(), Error> {
    let deps = start(Needs::WebhookKeys).await?;
    let router = newborn_http::router(deps.api_state());
    lambda_http::run(deps.settings.callback_allowed.clone().guard(router)).await
}

/// A stage function: each SQS batch through the stage handler, failures reported per record.
pub async fn run_stage(stage: Stage) -> Result<(), Error> {
    // Every stage signs: the agencies' dispatches, and pre-review's look-ups in the licence
    // directory and its missing-licence registrations.
    let deps = start(Needs::WebhookKeys).await?;
    let service = deps.service.clone();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let service = service.clone();
        async move {
            Ok::<_, Error>(
                newborn_handlers::handle_stage_batch(&service, stage, event.payload).await,
            )
        }
    }))
    .await
}

/// The `notifier` function: each SQS batch of notification deliveries to the applicant gateway.
pub async fn run_notifier() -> Result<(), Error> {
    let deps = start(Needs::WebhookKeys).await?;
    let service = deps.service.clone();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let service = service.clone();
        async move {
            Ok::<_, Error>(
                newborn_handlers::handle_notification_batch(&service, event.payload).await,
            )
        }
    }))
    .await
}

/// What one run of the SLA monitor did.
#[derive(Debug, serde::Serialize)]
pub struct MonitorReport {
    /// The SLA sweep.
    pub sweep: newborn_service::SweepReport,
    /// Hand-offs a failure had left pending, sent now.
    pub relayed: usize,
}

/// One run of the scheduled monitor: the SLA sweep, then the outbox relay sweep.
pub async fn monitor(deps: &Deps, event: CloudWatchEvent) -> Result<MonitorReport, Error> {
    let sweep = newborn_handlers::handle_schedule(&deps.service, event).await?;
    let relayed = deps
        .store
        .relay_pending(chrono::Utc::now() - RELAY_AFTER)
        .await?;
    Ok(MonitorReport { sweep, relayed })
}

/// The `sla-monitor` function (an EventBridge rule with a schedule expression).
pub async fn run_sla_monitor() -> Result<(), Error> {
    let deps = Arc::new(start(Needs::WebhookKeys).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<CloudWatchEvent>| {
        let deps = deps.clone();
        async move { monitor(&deps, event.payload).await }
    }))
    .await
}
