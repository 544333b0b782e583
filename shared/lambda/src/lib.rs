//! What every Lambda of `functions/` shares. A function's `main` calls one `run_*`; each reads
//! its [`Settings`], builds exactly the desks it serves from the AWS [`Adapters`] they need
//! (the [`wire`] module: what a function can do follows from the types it builds, and the ports
//! it asks the adapters for are the IAM statements `template.yaml` grants it), and hands events
//! to the same core the local runtime runs:
//!
//! - [`run_api`] — the applicants', uploads', supervision and operator route groups under
//!   `lambda_http`;
//! - [`run_callbacks`] — the agencies' signed routes (API Gateway routes the agency paths here,
//!   without the JWT authorizer, behind an optional address allow-list);
//! - [`run_stage`] — `SqsEvent -> SqsBatchResponse` for one stage's queue;
//! - [`run_notifier`] — notification deliveries to the applicant gateway, from their queue;
//! - [`run_evaluation`] — the evaluation stage (评价): rating invitations and ratings to the
//!   好差评 platform, from its queue;
//! - [`run_sla_monitor`] — the scheduled SLA sweep;
//! - [`run_relay`] — the table's stream: each application write's messages to their queues, its
//!   report facts and idempotency record to the table.

pub mod allow;
pub mod auth;
pub mod settings;
pub mod wire;

pub use auth::ApiGatewayJwt;
pub use settings::{Settings, SettingsError};
pub use wire::{Adapters, Port};

use aws_config::SdkConfig;
use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use lambda_runtime::{LambdaEvent, service_fn};
use newborn_domain::stage::Stage;
use newborn_service::signing::Keys;

/// The error a function's `main` returns.
pub type Error = lambda_runtime::Error;

/// Reads the key file from Secrets Manager. The secret's value is never logged.
pub(crate) async fn read_keys(sdk: &SdkConfig, secret: &str) -> Result<Keys, Error> {
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

/// The HTTPS client of every AWS SDK client of the functions: the SDK's own (hyper), with rustls
/// on ring, the crypto library of the outbound webhooks too, so a function binary links one
/// (the SDK's default, aws-lc-rs, is not compiled). It trusts the system's roots as read once
/// for the webhooks' clients ([`newborn_http::system_roots_pem`]), not read again, and is built
/// at the first request: a function that calls no AWS API before its first event (the relay)
/// reads no certificate before it.
pub fn https_client() -> SharedHttpClient {
    SharedHttpClient::new(LazyHttps::default())
}

#[derive(Debug, Default)]
struct LazyHttps(std::sync::OnceLock<SharedHttpClient>);

impl HttpClient for LazyHttps {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0
            .get_or_init(|| {
                use aws_smithy_http_client::tls::{
                    Provider, TlsContext, TrustStore, rustls_provider::CryptoMode,
                };
                let roots = TrustStore::empty()
                    .with_native_roots(false)
                    .with_pem_certificate(newborn_http::system_roots_pem());
                let builder = aws_smithy_http_client::Builder::new()
                    .tls_provider(Provider::Rustls(CryptoMode::Ring));
                match TlsContext::builder().with_trust_store(roots).build() {
                    Ok(context) => builder.tls_context(context).build_https(),
                    // Not reached with this provider; the SDK's own trust store is the fallback.
                    Err(_) => builder.build_https(),
                }
            })
            .http_connector(settings, components)
    }
}

async fn adapters() -> Result<Adapters, Error> {
    init_tracing();
    let settings = Settings::from_env()?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await;
    Ok(Adapters::new(settings, sdk))
}

/// The `api` function: the applicants', uploads', supervision and operator routes under
/// `lambda_http`, callers from the JWT authorizer.
pub async fn run_api() -> Result<(), Error> {
    let router = wire::api(&adapters().await?).await?;
    lambda_http::run(router).await
}

/// The `callbacks` function: the agencies' signed routes, behind the optional address
/// allow-list.
pub async fn run_callbacks() -> Result<(), Error> {
    let adapters = adapters().await?;
    let router = wire::callbacks(&adapters).await?;
    lambda_http::run(adapters.settings().callback_allowed.clone().guard(router)).await
}

/// A stage function: each SQS batch through the stage desk, failures reported per record.
pub async fn run_stage(stage: Stage) -> Result<(), Error> {
    let desk = wire::stage(&adapters().await?).await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let desk = desk.clone();
        async move {
            Ok::<_, Error>(newborn_handlers::handle_stage_batch(&desk, stage, event.payload).await)
        }
    }))
    .await
}

/// The `notifier` function: each SQS batch of notification deliveries to the applicant gateway.
pub async fn run_notifier() -> Result<(), Error> {
    let desk = wire::notifier(&adapters().await?).await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let desk = desk.clone();
        async move {
            Ok::<_, Error>(newborn_handlers::handle_notification_batch(&desk, event.payload).await)
        }
    }))
    .await
}

/// The `evaluation` function: each SQS batch of evaluation tasks.
pub async fn run_evaluation() -> Result<(), Error> {
    let desk = wire::evaluation(&adapters().await?).await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let desk = desk.clone();
        async move {
            Ok::<_, Error>(newborn_handlers::handle_evaluation_batch(&desk, event.payload).await)
        }
    }))
    .await
}

/// The `sla-monitor` function (an EventBridge rule with a schedule expression).
pub async fn run_sla_monitor() -> Result<(), Error> {
    let desk = wire::monitor(&adapters().await?).await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<CloudWatchEvent>| {
        let desk = desk.clone();
        async move { Ok::<_, Error>(newborn_handlers::handle_schedule(&desk, event.payload).await?) }
    }))
    .await
}

/// The `relay` function (the table's stream, new images): a failed batch fails whole, and
/// Lambda hands the same records again, in order.
pub async fn run_relay() -> Result<(), Error> {
    let relay = wire::relay(&adapters().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let relay = relay.clone();
        async move { Ok::<_, Error>(relay.relay_event(&event.payload).await?) }
    }))
    .await
}
