//! The agencies' routes: signed requests only (Standard Webhooks, five-minute window, each
//! message id once) — stage callbacks, follow-up reports, the licence directory's decisions
//! on missing-licence registrations and the hospitals' birth records (drafts for the mother). Served by the `callbacks` function and the local server,
//! from the [`AgencyDesk`]; no JWT, the signature is the authentication.

use crate::problem::Problem;
use crate::routes::{ApiResult, json_group, ok, parse, problem};
use axum::Router;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use newborn_domain::text::Invalid;
use newborn_service::ports::Clock;
use newborn_service::signing::{
    ID_HEADER, KeyRing, SIGNATURE_HEADER, SigningKey, TIMESTAMP_HEADER,
};
use newborn_service::{AgencyDesk, Callback, FollowUpReport, RegistrationDecision};
use serde::de::DeserializeOwned;
use serde_json::json;
use std::sync::Arc;

/// The agencies' routes' state.
#[derive(Clone)]
pub struct AgencyRoutes {
    /// The use cases.
    pub desk: AgencyDesk,
    /// The keys agencies sign with.
    pub keys: Arc<KeyRing>,
    /// Wall clock for the signature window.
    pub wall_clock: Arc<dyn Clock>,
}

/// The agencies' routes.
pub fn routes(state: AgencyRoutes) -> Router {
    json_group(
        Router::new()
            .route("/agency/callbacks", post(callback))
            .route("/agency/follow-ups", post(follow_up_report))
            .route("/agency/licence-registrations", post(registration_decision))
            .route("/agency/births", post(birth)),
    )
    .with_state(state)
}

/// A signed agency request: the signature verified and the body parsed. `key` is the agency's
/// key that signed it; `message` the message id the desk spends with the change it makes (a
/// malformed or refused request leaves nothing behind).
pub struct SignedBy<T> {
    /// The key that signed the request (its owner is the agency).
    pub key: SigningKey,
    /// The signed message's id, the replay guard's key.
    pub message: String,
    /// The request's body.
    pub body: T,
}

impl<T: DeserializeOwned + Send> FromRequest<AgencyRoutes> for SignedBy<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, s: &AgencyRoutes) -> Result<Self, Problem> {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, crate::middleware::JSON_LIMIT)
            .await
            .map_err(|_| {
                problem(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "请求体过大",
                    "the request body is too large",
                )
            })?;
        let h = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let verified = s
            .keys
            .verify(
                h(ID_HEADER),
                h(TIMESTAMP_HEADER),
                h(SIGNATURE_HEADER),
                &body,
                s.wall_clock.now(),
            )
            .map_err(|e| {
                tracing::warn!(error = %e, "callback refused");
                Problem::new(
                    StatusCode::UNAUTHORIZED,
                    &Invalid::new(
                        "bad_signature",
                        "签名校验失败",
                        format!("signature refused: {e}"),
                    ),
                )
            })?;
        let parsed: T = parse(&body)?;
        // A message is accepted once: its id (which the signature covers, unlike the header's
        // text) is handed to the desk, which refuses it if the application accepted it before
        // and records it in the change's own write; so a captured request replayed within the
        // window, however its signature header is spelled, is refused.
        Ok(Self {
            key: verified.key.clone(),
            message: verified.replay_key(),
            body: parsed,
        })
    }
}

async fn callback(State(s): State<AgencyRoutes>, signed: SignedBy<Callback>) -> ApiResult {
    let SignedBy { key, message, body } = signed;
    let ack = s
        .desk
        .accept_callback(key.owner, &key.key_id, &message, &body)
        .await?;
    ok(StatusCode::OK, json!({"result": ack}))
}

/// An agency reports the follow-up of a bad rating done.
async fn follow_up_report(
    State(s): State<AgencyRoutes>,
    signed: SignedBy<FollowUpReport>,
) -> ApiResult {
    let SignedBy { key, message, body } = signed;
    let ack = s
        .desk
        .close_follow_up(key.owner, &key.key_id, &message, &body)
        .await?;
    ok(StatusCode::OK, json!({"result": ack}))
}

/// A hospital's birth record: drafts for the mother to confirm (201 when made now, 200 when the
/// same record was taken before).
async fn birth(
    State(s): State<AgencyRoutes>,
    signed: SignedBy<newborn_domain::draft::BirthRecord>,
) -> ApiResult {
    let ack = s.desk.record_birth(signed.key.owner, &signed.body).await?;
    let status = match ack.result {
        newborn_service::CallbackAck::Applied => StatusCode::CREATED,
        newborn_service::CallbackAck::AlreadyApplied => StatusCode::OK,
    };
    ok(status, ack)
}

/// The licence directory's decision on a registration.
async fn registration_decision(
    State(s): State<AgencyRoutes>,
    signed: SignedBy<RegistrationDecision>,
) -> ApiResult {
    let SignedBy { key, message, body } = signed;
    let ack = s
        .desk
        .decide_registration(key.owner, &key.key_id, &message, &body)
        .await?;
    ok(StatusCode::OK, json!({"result": ack}))
}
