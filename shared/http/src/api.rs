//! The routes. Bodies are read as bytes and parsed here, so malformed JSON gets the same
//! problem+json answer as any other bad input.

use crate::problem::Problem;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use newborn_domain::application::Text;
use newborn_domain::flow::RatingLevel;
use newborn_domain::stage::Stage;
use newborn_domain::text::Invalid;
use newborn_service::Service;
use newborn_service::ports::{Actor, Clock};
use newborn_service::service::{Callback, SupplementAnswer};
use newborn_service::signing::{KEY_ID_HEADER, KeyRing, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use newborn_service::view::ApplicationView;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// The header naming the applicant's account. The local runtime trusts it; the interfaces issue
/// replaces it with a verified OIDC token (the API Gateway JWT authorizer on AWS).
pub const APPLICANT_HEADER: &str = "x-applicant-id";

/// Largest JSON body accepted.
const JSON_LIMIT: usize = 256 * 1024;
/// Largest uploaded scan.
const UPLOAD_LIMIT: usize = 10 * 1024 * 1024;

/// What the routes need.
#[derive(Clone)]
pub struct ApiState {
    /// The use cases.
    pub service: Arc<Service>,
    /// Keys agencies sign callbacks with.
    pub agency_keys: Arc<KeyRing>,
    /// Wall clock for signature windows.
    pub wall_clock: Arc<dyn Clock>,
}

/// The router of the applicant API and the agency callbacks.
pub fn router(state: ApiState) -> Router {
    let json_routes = Router::new()
        .route("/applications", post(submit).get(list))
        .route("/applications/{id}", get(read))
        .route("/applications/{id}/timeline", get(timeline))
        .route("/applications/{id}/notifications", get(notifications))
        .route("/applications/{id}/supplement", post(supplement))
        .route("/applications/{id}/confirmation", post(confirm))
        .route("/applications/{id}/partner-bank", post(partner_bank))
        .route("/applications/{id}/offline", post(offline))
        .route("/applications/{id}/withdraw", post(withdraw))
        .route("/applications/{id}/ratings", post(rate))
        .route("/policies/{id}", get(policy))
        .route("/agency/callbacks", post(callback))
        .route("/supervision/alerts", get(alerts))
        .layer(DefaultBodyLimit::max(JSON_LIMIT));
    Router::new()
        .route("/health", get(health))
        .route(
            "/documents",
            post(upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .merge(json_routes)
        .fallback(|| async {
            Problem::new(
                StatusCode::NOT_FOUND,
                &Invalid::new("no_route", "没有这个接口", "no such route"),
            )
        })
        .with_state(state)
}

type ApiResult = Result<Response, Problem>;

async fn health(State(s): State<ApiState>) -> Json<serde_json::Value> {
    Json(json!({"status": "ok", "now": s.service.now()}))
}

fn applicant(headers: &HeaderMap) -> Result<String, Problem> {
    headers
        .get(APPLICANT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .ok_or_else(|| {
            Problem::new(
                StatusCode::UNAUTHORIZED,
                &Invalid::new("unauthenticated", "请先登录", "sign in first"),
            )
        })
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(body).map_err(|e| {
        Problem::bad_request(
            "malformed_json",
            &format!("请求内容格式错误：{e}"),
            &format!("malformed request body: {e}"),
        )
    })
}

fn view(state: &ApiState, stored: &newborn_service::ports::Stored) -> ApplicationView {
    ApplicationView::of(
        &stored.application,
        stored.version,
        state.service.calendar(),
        state.service.now(),
    )
}

fn ok<T: serde::Serialize>(status: StatusCode, body: T) -> ApiResult {
    Ok((status, Json(body)).into_response())
}

/// Accepts JPEG, PNG and PDF by their magic bytes.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

async fn upload(State(s): State<ApiState>, headers: HeaderMap, body: Bytes) -> ApiResult {
    applicant(&headers)?;
    let declared = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(actual) = sniff(&body) else {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &Invalid::new(
                "unsupported_document",
                "仅支持JPEG、PNG或PDF文件",
                "only JPEG, PNG or PDF files are accepted",
            ),
        ));
    };
    if !declared.is_empty() && !declared.starts_with(actual) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &Invalid::new(
                "content_type_mismatch",
                format!("文件内容为{actual}，与声明的类型不符"),
                format!("the file is {actual}, not {declared}"),
            ),
        ));
    }
    let digest = s.service.upload(&body).await?;
    ok(
        StatusCode::CREATED,
        json!({"sha256": digest.as_str(), "content_type": actual, "size": body.len()}),
    )
}

#[derive(Deserialize)]
struct PolicyQuery {
    policy: Option<String>,
}

async fn submit(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Query(q): Query<PolicyQuery>,
    body: Bytes,
) -> ApiResult {
    let owner = applicant(&headers)?;
    let stored = s
        .service
        .submit(
            &owner,
            Actor::Applicant {
                subject: owner.clone(),
            },
            &body,
            q.policy.as_deref(),
        )
        .await?;
    let mut res = (StatusCode::CREATED, Json(view(&s, &stored))).into_response();
    if let Ok(loc) = format!("/applications/{}", stored.application.id.as_str()).parse() {
        res.headers_mut().insert("location", loc);
    }
    Ok(res)
}

async fn list(State(s): State<ApiState>, headers: HeaderMap) -> ApiResult {
    let owner = applicant(&headers)?;
    ok(StatusCode::OK, s.service.list(&owner).await?)
}

async fn read(State(s): State<ApiState>, headers: HeaderMap, Path(id): Path<String>) -> ApiResult {
    let owner = applicant(&headers)?;
    ok(StatusCode::OK, s.service.view(&owner, &id).await?)
}

async fn timeline(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let owner = applicant(&headers)?;
    ok(StatusCode::OK, s.service.timeline(&owner, &id).await?)
}

async fn notifications(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let owner = applicant(&headers)?;
    ok(StatusCode::OK, s.service.notifications(&owner, &id).await?)
}

async fn supplement(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let owner = applicant(&headers)?;
    let answer: SupplementAnswer = parse(&body)?;
    let stored = s.service.supplement(&owner, &id, &answer).await?;
    ok(StatusCode::OK, view(&s, &stored))
}

async fn confirm(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let owner = applicant(&headers)?;
    let stored = s.service.confirm(&owner, &id).await?;
    ok(StatusCode::OK, view(&s, &stored))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BankChoice {
    partner_bank: String,
}

async fn partner_bank(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let owner = applicant(&headers)?;
    let choice: BankChoice = parse(&body)?;
    let stored = s
        .service
        .choose_partner_bank(&owner, &id, &choice.partner_bank)
        .await?;
    ok(StatusCode::OK, view(&s, &stored))
}

async fn offline(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let owner = applicant(&headers)?;
    let stored = s.service.go_offline(&owner, &id).await?;
    ok(StatusCode::OK, view(&s, &stored))
}

async fn withdraw(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let owner = applicant(&headers)?;
    let stored = s.service.withdraw(&owner, &id).await?;
    ok(StatusCode::OK, view(&s, &stored))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RatingRequest {
    stage: Stage,
    level: RatingLevel,
    #[serde(default)]
    comment: Option<Text>,
}

async fn rate(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let owner = applicant(&headers)?;
    let r: RatingRequest = parse(&body)?;
    let stored = s
        .service
        .rate(&owner, &id, r.stage, r.level, r.comment)
        .await?;
    ok(StatusCode::CREATED, view(&s, &stored))
}

async fn policy(State(s): State<ApiState>, Path(id): Path<String>) -> ApiResult {
    match s.service.policies().latest(&id) {
        Some(p) => ok(StatusCode::OK, p),
        None => Err(Problem::new(
            StatusCode::NOT_FOUND,
            &Invalid::new("unknown_policy", "未知的地区政策", "unknown policy"),
        )),
    }
}

async fn callback(State(s): State<ApiState>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let key = s
        .agency_keys
        .verify(
            h(KEY_ID_HEADER),
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
    let cb: Callback = parse(&body)?;
    let ack = s
        .service
        .accept_callback(key.owner, &key.key_id, &cb)
        .await?;
    ok(StatusCode::OK, json!({"result": ack}))
}

async fn alerts(State(s): State<ApiState>) -> ApiResult {
    let alerts = s
        .service
        .store()
        .alerts()
        .await
        .map_err(newborn_service::ServiceError::from)?;
    let mut by_level: HashMap<String, usize> = HashMap::new();
    for a in &alerts {
        *by_level
            .entry(
                serde_json::to_value(a.level)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            )
            .or_default() += 1;
    }
    ok(
        StatusCode::OK,
        json!({"counts": by_level, "alerts": alerts}),
    )
}
