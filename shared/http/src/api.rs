//! The routes. Bodies are read as bytes and parsed here, so malformed JSON gets the same
//! problem+json answer as any other bad input.

use crate::auth::{Authenticator, Role};
use crate::problem::Problem;
use crate::uploads::SignedUploadUrls;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::Method;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use newborn_domain::application::{DocumentKind, Text};
use newborn_domain::flow::RatingLevel;
use newborn_domain::stage::Stage;
use newborn_domain::text::Invalid;
use newborn_service::Service;
use newborn_service::ports::{Actor, Clock};
use newborn_service::ports::{Claim, IdempotencyClaim, RequestLog, UploadSlot, UploadTarget};
use newborn_service::service::{Callback, FollowUpReport, RegistrationDecision, SupplementAnswer};
use newborn_service::signing::{ID_HEADER, KeyRing, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use newborn_service::view::ApplicationView;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

/// The header of a client-chosen key that makes a POST safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The most counterfoils in one handover batch (what one DynamoDB transaction can mark).
const HANDOVER_BATCH_MAX: usize = 99;

/// Largest total of request headers accepted: a real sign-in token is a few KB. (Past the HTTP
/// server's own buffer, about 400 KB, the server answers 431 itself, without a body.)
const HEADER_LIMIT: usize = 16 * 1024;
/// Largest JSON body accepted.
const JSON_LIMIT: usize = 256 * 1024;
/// Largest uploaded scan.
const UPLOAD_LIMIT: usize = newborn_service::service::MAX_UPLOAD as usize;

/// What the routes need.
#[derive(Clone)]
pub struct ApiState {
    /// The use cases.
    pub service: Arc<Service>,
    /// Keys agencies sign callbacks with.
    pub agency_keys: Arc<KeyRing>,
    /// Wall clock for signature windows.
    pub wall_clock: Arc<dyn Clock>,
    /// Who is calling.
    pub auth: Arc<dyn Authenticator>,
    /// Idempotency records and callback nonces.
    pub requests: Arc<dyn RequestLog>,
    /// Where applicants send the bytes of their scans.
    pub upload_target: Arc<dyn UploadTarget>,
    /// Uploads through this API (`PUT /uploads/{id}`, the local runtime); `None` where they go
    /// to object storage (AWS), and that route answers 404.
    pub signed_uploads: Option<SignedUploadUrls>,
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
        .route(
            "/applications/{id}/licence-registrations",
            post(file_registration),
        )
        .route(
            "/applications/{id}/offers/{stage}/accept",
            post(accept_offer),
        )
        .route("/agency/licence-registrations", post(registration_decision))
        .route("/policies/{id}", get(policy))
        .route("/policies/{id}/notice", get(notice))
        .route("/agency/callbacks", post(callback))
        .route("/agency/follow-ups", post(follow_up_report))
        .route("/supervision/counterfoils", get(counterfoils))
        .route("/supervision/handovers", post(create_handover))
        .route("/supervision/handovers/{number}", get(read_handover))
        .merge(
            // Supervisors' routes: the group's layer refuses everyone else before any handler.
            Router::new()
                .route("/supervision/follow-ups", get(follow_ups))
                .route("/supervision/alerts", get(alerts))
                .route_layer(middleware::from_fn_with_state(
                    state.clone(),
                    supervisors_only,
                )),
        )
        .route("/uploads", post(open_upload))
        .layer(middleware::from_fn(json_bodies_only))
        .layer(DefaultBodyLimit::max(JSON_LIMIT))
        .layer(middleware::from_fn(oversized_bodies));
    Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi))
        .route(
            "/uploads/{id}",
            axum::routing::put(receive_upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT + 1)),
        )
        .route("/uploads/{id}/complete", post(complete_upload))
        .merge(json_routes)
        .layer(middleware::from_fn_with_state(state.clone(), idempotency))
        .layer(middleware::from_fn(framework_refusals))
        .fallback(|| async {
            Problem::new(
                StatusCode::NOT_FOUND,
                &Invalid::new("no_route", "没有这个接口", "no such route"),
            )
        })
        .with_state(state)
}

/// Bodies up to this size are read (and dropped) before an oversized request is refused, so the
/// client receives the 413 instead of a connection reset while it is still sending.
const DRAIN_LIMIT: u64 = 8 * 1024 * 1024;

/// A JSON request declaring a body over the limit is refused with a 413 problem; a body of up to
/// [`DRAIN_LIMIT`] is read first and discarded (beyond that the connection is simply closed).
async fn oversized_bodies(req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    if declared <= JSON_LIMIT as u64 {
        return next.run(req).await;
    }
    if declared <= DRAIN_LIMIT {
        use http_body_util::BodyExt;
        let mut body = req.into_body();
        while let Some(Ok(_)) = body.frame().await {}
    }
    problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "请求体过大",
        "the request body is too large",
    )
    .into_response()
}

/// A request with a body must say it is JSON (`application/json` or a `+json` type): a form
/// sent as text or as a file upload is refused before anything reads it.
async fn json_bodies_only(req: Request, next: Next) -> Response {
    let has_body = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v != "0")
        || req
            .headers()
            .contains_key(axum::http::header::TRANSFER_ENCODING);
    let json = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v == "application/json" || v.ends_with("+json"));
    if has_body && !json {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "请求体应为JSON（Content-Type: application/json）",
            "the body must be JSON (Content-Type: application/json)",
        )
        .into_response();
    }
    next.run(req).await
}

/// Refusals the framework writes itself before a handler runs (a body over the limit, a
/// method the route does not have) come as plain text; they are answered as problems with a
/// code and both languages like every other refusal. Headers over [`HEADER_LIMIT`] are refused
/// here too (431).
async fn framework_refusals(req: Request, next: Next) -> Response {
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if header_bytes > HEADER_LIMIT {
        return problem(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            "请求头过大（例如令牌过长）",
            "the request headers are too large (a token that long is not one of ours)",
        )
        .into_response();
    }
    let res = next.run(req).await;
    let json = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if json || !(res.status().is_client_error() || res.status().is_server_error()) {
        return res;
    }
    let (code, zh, en) = match res.status() {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "body_too_large",
            "请求体过大",
            "the request body is too large",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "该接口不支持此请求方法",
            "the route does not take this method",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "不支持的内容类型",
            "unsupported content type",
        ),
        StatusCode::NOT_FOUND => ("not_found", "未找到", "not found"),
        s if s.is_server_error() => (
            "unavailable",
            "服务暂时不可用，请稍后重试",
            "the service is unavailable; try again later",
        ),
        _ => ("bad_request", "请求无效", "the request is not valid"),
    };
    problem(res.status(), code, zh, en).into_response()
}

type ApiResult = Result<Response, Problem>;

/// The OpenAPI 3.1 contract of these routes.
pub const OPENAPI: &str = include_str!("../openapi.json");

async fn openapi() -> Response {
    ([("content-type", "application/json")], OPENAPI).into_response()
}

async fn health(State(s): State<ApiState>) -> Json<serde_json::Value> {
    Json(json!({"status": "ok", "now": s.service.now()}))
}

/// The account of an applicant request.
fn applicant(s: &ApiState, parts: &Parts) -> Result<String, Problem> {
    Ok(s.auth.authenticate(parts)?.subject)
}

fn problem(status: StatusCode, code: &str, zh: &str, en: &str) -> Problem {
    Problem::new(status, &Invalid::new(code, zh, en))
}

/// `Idempotency-Key` on POST: the same key with the same request returns the first response;
/// with another request it is refused. Keys are scoped to the caller. Agency callbacks are
/// idempotent by (application, stage, round) instead.
async fn idempotency(State(s): State<ApiState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || req.uri().path().starts_with("/agency/") {
        return next.run(req).await;
    }
    let Some(key) = req
        .headers()
        .get(IDEMPOTENCY_KEY)
        .map(|v| v.to_str().map(str::to_owned))
    else {
        return next.run(req).await;
    };
    let Some(key) = key
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
    else {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            "Idempotency-Key应为1至255个可见ASCII字符",
            "an Idempotency-Key has 1 to 255 visible ASCII characters",
        )
        .into_response();
    };
    let (parts, body) = req.into_parts();
    let Ok(who) = s.auth.authenticate(&parts) else {
        // the handler answers 401
        return next.run(Request::from_parts(parts, body)).await;
    };
    let Ok(bytes) = axum::body::to_bytes(body, UPLOAD_LIMIT).await else {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "请求内容过大",
            "the request body is too large",
        )
        .into_response();
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(parts.uri.path().as_bytes());
    hasher.update(b"?");
    hasher.update(parts.uri.query().unwrap_or("").as_bytes());
    hasher.update(b"\n");
    hasher.update(&bytes);
    let hash = hex::encode(hasher.finalize());
    // From the claim on, the request runs to its end in a task of its own: a client that
    // disconnects midway does not stop it between the claim, the change and the record of its
    // response. Where the change is an application, the handler writes that record in the same
    // transaction (the claim it receives), so even a crash leaves the full record.
    let run = tokio::spawn(claimed(s, who.subject, key, hash, parts, bytes, next));
    run.await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "an idempotent request failed");
        problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "服务暂时不可用，请稍后重试",
            "temporarily unavailable; retry later",
        )
        .into_response()
    })
}

/// Claims `key` for the request and runs it, or answers from the key's record.
async fn claimed(
    s: ApiState,
    scope: String,
    key: String,
    hash: String,
    parts: Parts,
    bytes: Bytes,
    next: Next,
) -> Response {
    match s
        .requests
        .claim(&scope, &key, &hash, s.wall_clock.now())
        .await
    {
        Err(e) => Problem::from(newborn_service::ServiceError::from(e)).into_response(),
        Ok(Claim::Mismatch) => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "该Idempotency-Key已用于另一个请求",
            "this Idempotency-Key was used for a different request",
        )
        .into_response(),
        Ok(Claim::InProgress) => problem(
            StatusCode::CONFLICT,
            "request_in_progress",
            "相同的请求正在处理中，请稍后重试",
            "the same request is being processed; retry shortly",
        )
        .into_response(),
        Ok(Claim::Replay { status, body }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let content_type = if status.is_success() {
                "application/json"
            } else {
                "application/problem+json"
            };
            (
                status,
                [
                    ("content-type", content_type),
                    ("idempotent-replayed", "true"),
                ],
                body,
            )
                .into_response()
        }
        Ok(Claim::New) => {
            let mut req = Request::from_parts(parts, Body::from(bytes));
            req.extensions_mut().insert(IdempotencyClaim {
                scope: scope.clone(),
                key: key.clone(),
                request_hash: hash,
            });
            let res = next.run(req).await;
            record(&s, &scope, &key, res).await
        }
    }
}

/// Stores the response of a claimed request (or releases the claim after a server error) and
/// returns it.
async fn record(s: &ApiState, scope: &str, key: &str, res: Response) -> Response {
    if res.status().is_server_error() {
        if let Err(e) = s.requests.release(scope, key).await {
            tracing::warn!(error = %e, "could not release an idempotency claim; it expires in a minute");
        }
        return res;
    }
    let (parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "服务暂时不可用，请稍后重试",
            "temporarily unavailable; retry later",
        )
        .into_response();
    };
    if let Err(e) = s
        .requests
        .complete(scope, key, parts.status.as_u16(), &bytes)
        .await
    {
        tracing::warn!(error = %e, "could not store an idempotent response");
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(body).map_err(|e| {
        // The rule and the position stay; the submitted values do not come back.
        let e = newborn_domain::text::without_values(&e.to_string());
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadRequest {
    kind: DocumentKind,
    content_type: String,
    size: u64,
}

/// Opens an upload slot: a signed URL, valid 15 minutes, for one scan of one kind.
async fn open_upload(State(s): State<ApiState>, parts: Parts, body: Bytes) -> ApiResult {
    let owner = applicant(&s, &parts)?;
    let r: UploadRequest = parse(&body)?;
    let slot = s
        .service
        .open_upload(&owner, r.kind, &r.content_type, r.size, s.wall_clock.now())
        .await?;
    let ticket = s
        .upload_target
        .ticket(&slot)
        .await
        .map_err(newborn_service::ServiceError::from)?;
    ok(
        StatusCode::CREATED,
        json!({
            "upload_id": slot.id,
            "upload_url": ticket.url,
            "method": "PUT",
            "headers": ticket.headers.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect::<serde_json::Map<_, _>>(),
            "complete_url": format!("/uploads/{}/complete", slot.id),
            "kind": slot.kind,
            "max_size": slot.size,
            "expires_at": slot.expires_at,
        }),
    )
}

fn uploaded(slot: &UploadSlot, size: usize) -> ApiResult {
    ok(
        StatusCode::OK,
        json!({"upload_id": slot.id, "kind": slot.kind, "sha256": slot.sha256, "size": size}),
    )
}

/// Receives the bytes of a slot. The signed URL is the permission (as with an S3 presigned URL).
async fn receive_upload(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> ApiResult {
    let Some(urls) = &s.signed_uploads else {
        return Err(problem(
            StatusCode::NOT_FOUND,
            "no_route",
            "请将文件上传至获取的上传地址",
            "upload to the URL the upload slot gave",
        ));
    };
    let signed = match (
        q.get("expires").and_then(|e| e.parse::<i64>().ok()),
        q.get("signature"),
    ) {
        (Some(expires), Some(sig)) => urls.verifies(&id, expires, sig),
        _ => false,
    };
    if !signed {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "bad_upload_signature",
            "上传地址签名无效",
            "the upload URL's signature is not valid",
        ));
    }
    let slot = s
        .service
        .receive_upload(&id, &body, s.wall_clock.now())
        .await?;
    uploaded(&slot, body.len())
}

/// Completes an upload sent outside the API (to object storage): the bytes are read back,
/// checked like any upload (time, size, type by the whole content) and stored by SHA-256. Completing a
/// slot that is already verified answers the same again.
async fn complete_upload(
    State(s): State<ApiState>,
    parts: Parts,
    Path(id): Path<String>,
) -> ApiResult {
    let owner = applicant(&s, &parts)?;
    let slot = s.service.upload_slot(&owner, &id).await?;
    if slot.sha256.is_some() {
        return uploaded(&slot, slot.size as usize);
    }
    let bytes = s
        .upload_target
        .arrived(&slot)
        .await
        .map_err(newborn_service::ServiceError::from)?
        .ok_or_else(|| {
            problem(
                StatusCode::CONFLICT,
                "upload_missing",
                "文件尚未上传到上传地址",
                "nothing has been uploaded to the upload URL yet",
            )
        })?;
    let slot = s
        .service
        .receive_upload(&id, &bytes, s.wall_clock.now())
        .await?;
    uploaded(&slot, bytes.len())
}

#[derive(Deserialize)]
struct SubmitQuery {
    policy: Option<String>,
    /// For counter staff (一窗受理): the parent's account the application belongs to.
    on_behalf_of: Option<String>,
}

async fn submit(
    State(s): State<ApiState>,
    parts: Parts,
    Query(q): Query<SubmitQuery>,
    body: Bytes,
) -> ApiResult {
    let claim = parts.extensions.get::<IdempotencyClaim>().cloned();
    let who = s.auth.authenticate(&parts)?;
    let (owner, actor) = match (who.role, q.on_behalf_of) {
        (Role::Applicant, None) => (
            who.subject.clone(),
            Actor::Applicant {
                subject: who.subject,
            },
        ),
        (Role::CounterStaff, Some(parent))
            if (1..=128).contains(&parent.len())
                && parent.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            (
                parent,
                Actor::CounterStaff {
                    subject: who.subject,
                },
            )
        }
        (Role::CounterStaff, _) => {
            return Err(problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "on_behalf_of_missing",
                "窗口代办须注明申请人账号（on_behalf_of）",
                "counter staff must name the parent's account (on_behalf_of)",
            ));
        }
        (Role::Supervisor, _) => {
            return Err(problem(
                StatusCode::FORBIDDEN,
                "not_an_applicant",
                "监督人员不能提交申请",
                "supervisors do not submit applications",
            ));
        }
        (Role::Applicant, Some(_)) => {
            return Err(problem(
                StatusCode::FORBIDDEN,
                "not_counter_staff",
                "只有窗口工作人员可以代为申请",
                "only counter staff may apply on someone's behalf",
            ));
        }
    };
    let stored = s
        .service
        .submit(&owner, actor, &body, q.policy.as_deref(), claim)
        .await?;
    let mut res = (StatusCode::CREATED, Json(view(&s, &stored))).into_response();
    if let Ok(loc) = format!("/applications/{}", stored.application.id.as_str()).parse() {
        res.headers_mut().insert("location", loc);
    }
    Ok(res)
}

async fn list(State(s): State<ApiState>, parts: Parts) -> ApiResult {
    let owner = applicant(&s, &parts)?;
    ok(StatusCode::OK, s.service.list(&owner).await?)
}

async fn read(State(s): State<ApiState>, parts: Parts, Path(id): Path<String>) -> ApiResult {
    let owner = applicant(&s, &parts)?;
    ok(StatusCode::OK, s.service.view(&owner, &id).await?)
}

async fn timeline(State(s): State<ApiState>, parts: Parts, Path(id): Path<String>) -> ApiResult {
    let owner = applicant(&s, &parts)?;
    ok(StatusCode::OK, s.service.timeline(&owner, &id).await?)
}

async fn notifications(
    State(s): State<ApiState>,
    parts: Parts,
    Path(id): Path<String>,
) -> ApiResult {
    let owner = applicant(&s, &parts)?;
    ok(StatusCode::OK, s.service.notifications(&owner, &id).await?)
}

async fn supplement(
    State(s): State<ApiState>,
    parts: Parts,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let owner = applicant(&s, &parts)?;
    let answer: SupplementAnswer = parse(&body)?;
    let stored = s.service.supplement(&owner, &id, &answer).await?;
    ok(StatusCode::OK, view(&s, &stored))
}

async fn confirm(State(s): State<ApiState>, parts: Parts, Path(id): Path<String>) -> ApiResult {
    let owner = applicant(&s, &parts)?;
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
    parts: Parts,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let owner = applicant(&s, &parts)?;
    let choice: BankChoice = parse(&body)?;
    let stored = s
        .service
        .choose_partner_bank(&owner, &id, &choice.partner_bank)
        .await?;
    ok(StatusCode::OK, view(&s, &stored))
}

async fn offline(State(s): State<ApiState>, parts: Parts, Path(id): Path<String>) -> ApiResult {
    let owner = applicant(&s, &parts)?;
    let stored = s.service.go_offline(&owner, &id).await?;
    ok(StatusCode::OK, view(&s, &stored))
}

async fn withdraw(State(s): State<ApiState>, parts: Parts, Path(id): Path<String>) -> ApiResult {
    let owner = applicant(&s, &parts)?;
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
    parts: Parts,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let owner = applicant(&s, &parts)?;
    let r: RatingRequest = parse(&body)?;
    let stored = s
        .service
        .rate(&owner, &id, r.stage, r.level, r.comment)
        .await?;
    ok(StatusCode::CREATED, view(&s, &stored))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistrationRequest {
    kinds: Vec<DocumentKind>,
    reason: newborn_domain::licence::RegistrationReason,
}

/// 授权缺失登记: the applicant registers missing or wrong electronic licences for review.
async fn file_registration(
    State(s): State<ApiState>,
    parts: Parts,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let owner = applicant(&s, &parts)?;
    let r: RegistrationRequest = parse(&body)?;
    let stored = s
        .service
        .file_registration(&owner, &id, &r.kinds, r.reason)
        .await?;
    ok(StatusCode::CREATED, view(&s, &stored))
}

/// Accepts the proactive offer of a declined stage: it starts on the data on file.
async fn accept_offer(
    State(s): State<ApiState>,
    parts: Parts,
    Path((id, stage)): Path<(String, String)>,
) -> ApiResult {
    let owner = applicant(&s, &parts)?;
    let stage: Stage = stage.parse().map_err(|e: String| {
        Problem::new(
            StatusCode::NOT_FOUND,
            &Invalid::new("unknown_stage", "没有这个办理环节", e),
        )
    })?;
    let stored = s.service.accept_offer(&owner, &id, stage).await?;
    ok(StatusCode::OK, view(&s, &stored))
}

/// The licence directory's decision on a registration (signed like a callback).
async fn registration_decision(
    State(s): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let (key, decision): (_, RegistrationDecision) = signed_by_agency(&s, &headers, &body).await?;
    let ack = s
        .service
        .decide_registration(key.owner, &key.key_id, &decision)
        .await?;
    ok(StatusCode::OK, json!({"result": ack}))
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

/// A signed agency request (Standard Webhooks, five-minute window, each message id once): the
/// signature verified, the body parsed, and only then the message id spent (a malformed request
/// leaves nothing behind, not even its nonce).
async fn signed_by_agency<T: DeserializeOwned>(
    s: &ApiState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(newborn_service::signing::SigningKey, T), Problem> {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let verified = s
        .agency_keys
        .verify(
            h(ID_HEADER),
            h(TIMESTAMP_HEADER),
            h(SIGNATURE_HEADER),
            body,
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
    let parsed: T = parse(body)?;
    // A message is accepted once: its id (which the signature covers, unlike the header's text)
    // is spent, so a captured request replayed within the window, however its signature header
    // is spelled, is refused.
    if !s
        .requests
        .first_use(&verified.replay_key(), s.wall_clock.now())
        .await
        .map_err(newborn_service::ServiceError::from)?
    {
        tracing::warn!(key_id = %verified.key.key_id, "replayed message refused");
        return Err(problem(
            StatusCode::CONFLICT,
            "replayed_message",
            "该消息（webhook-id）已接收过，不会重复处理",
            "this message (webhook-id) was received before and is not applied again",
        ));
    }
    Ok((verified.key.clone(), parsed))
}

async fn callback(State(s): State<ApiState>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let (key, cb): (_, Callback) = signed_by_agency(&s, &headers, &body).await?;
    let ack = s
        .service
        .accept_callback(key.owner, &key.key_id, &cb)
        .await?;
    ok(StatusCode::OK, json!({"result": ack}))
}

/// An agency reports the follow-up of a bad rating done (signed like a callback).
async fn follow_up_report(State(s): State<ApiState>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let (key, report): (_, FollowUpReport) = signed_by_agency(&s, &headers, &body).await?;
    let ack = s
        .service
        .close_follow_up(key.owner, &key.key_id, &report)
        .await?;
    ok(StatusCode::OK, json!({"result": ack}))
}

/// The supervisors' group: no token is a 401, another role's token a 403.
async fn supervisors_only(State(s): State<ApiState>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    match s.auth.authenticate(&parts) {
        Err(p) => p.into_response(),
        Ok(who) if who.role != Role::Supervisor => problem(
            StatusCode::FORBIDDEN,
            "supervisors_only",
            "仅限监督人员查看",
            "for supervisors only",
        )
        .into_response(),
        Ok(_) => next.run(Request::from_parts(parts, body)).await,
    }
}

/// Staff only (the counterfoil register is kept by the county health bureau's staff).
fn staff(s: &ApiState, parts: &Parts) -> Result<String, Problem> {
    let who = s.auth.authenticate(parts)?;
    if who.role != Role::CounterStaff {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "staff_only",
            "仅限工作人员操作",
            "for staff only",
        ));
    }
    Ok(who.subject)
}

fn county(raw: &str) -> Result<newborn_domain::region::RegionCode, Problem> {
    raw.parse()
        .map_err(|e: Invalid| Problem::from(newborn_service::ServiceError::bad("county", e)))
}

/// Counterfoils of a county ready for handover (《出生医学证明》副页).
async fn counterfoils(
    State(s): State<ApiState>,
    parts: Parts,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    staff(&s, &parts)?;
    let code = q.get("county").map(String::as_str).unwrap_or_default();
    let ready = s.service.counterfoils_ready(&county(code)?).await?;
    ok(
        StatusCode::OK,
        json!({"county": code, "count": ready.len(), "counterfoils": ready}),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HandoverRequest {
    county: String,
    handing_unit: Text,
    handing_person: Text,
    receiving_unit: Text,
    receiving_person: Text,
}

/// Hands a county's ready counterfoils over in one batch (移交记录表).
async fn create_handover(State(s): State<ApiState>, parts: Parts, body: Bytes) -> ApiResult {
    let who = staff(&s, &parts)?;
    let r: HandoverRequest = parse(&body)?;
    let batch = s
        .service
        .hand_over(
            &county(&r.county)?,
            newborn_domain::handover::HandoverParties {
                handing_unit: r.handing_unit,
                handing_person: r.handing_person,
                receiving_unit: r.receiving_unit,
                receiving_person: r.receiving_person,
            },
            HANDOVER_BATCH_MAX,
        )
        .await?;
    tracing::info!(number = %batch.number, counterfoils = batch.items.len(), staff = %who, "handover batch created");
    ok(StatusCode::CREATED, json!(batch))
}

/// A handover batch as JSON, or as the register's CSV with `?format=csv`.
async fn read_handover(
    State(s): State<ApiState>,
    parts: Parts,
    Path(number): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    staff(&s, &parts)?;
    let batch = s.service.handover(&number).await?;
    match q.get("format").map(String::as_str) {
        Some("csv") => Ok((
            [
                ("content-type", "text/csv; charset=utf-8".to_owned()),
                (
                    "content-disposition",
                    format!("attachment; filename=\"handover-{}.csv\"", batch.number),
                ),
            ],
            batch.to_csv(),
        )
            .into_response()),
        None | Some("json") => ok(StatusCode::OK, json!(batch)),
        Some(_) => Err(problem(
            StatusCode::BAD_REQUEST,
            "unknown_format",
            "format 只能是 json 或 csv",
            "format is json or csv",
        )),
    }
}

/// Open follow-ups of bad ratings, soonest due first, for supervisors.
async fn follow_ups(State(s): State<ApiState>) -> ApiResult {
    let open = s
        .service
        .store()
        .open_follow_ups()
        .await
        .map_err(newborn_service::ServiceError::from)?;
    let now = s.service.now();
    let overdue = open.iter().filter(|f| f.follow_up.due_at < now).count();
    ok(
        StatusCode::OK,
        json!({"open": open.len(), "overdue": overdue, "follow_ups": open}),
    )
}

/// 申报须知: per case, the route and the materials (with the stage that needs them and when).
async fn notice(State(s): State<ApiState>, Path(id): Path<String>) -> ApiResult {
    let Some(p) = s.service.policies().latest(&id) else {
        return Err(problem(
            StatusCode::NOT_FOUND,
            "unknown_policy",
            "未知的地区政策",
            "unknown policy",
        ));
    };
    let cases: Vec<serde_json::Value> = p
        .cases
        .iter()
        .map(|(case, c)| {
            let materials: Vec<serde_json::Value> = p
                .materials
                .iter()
                .filter(|m| m.cases.contains(case))
                .map(|m| json!({"kind": m.kind, "name": m.kind.label(), "when": m.when, "at": m.at, "source": m.source}))
                .collect();
            json!({"case": case, "name": case.label(), "route": c.route, "source": c.source, "materials": materials})
        })
        .collect();
    ok(
        StatusCode::OK,
        json!({"policy": p.reference().to_string(), "name": p.name, "newborn_age_under_months": p.eligibility.newborn_age.under_months, "cases": cases}),
    )
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

#[cfg(test)]
mod tests {
    /// Every route the router serves to applicants and agencies is in the OpenAPI document.
    #[test]
    fn the_openapi_document_covers_every_public_route() {
        let doc: serde_json::Value = serde_json::from_str(super::OPENAPI).unwrap_or_default();
        assert_eq!(doc["openapi"], "3.1.0");
        let routes = [
            ("/health", "get"),
            ("/openapi.json", "get"),
            ("/uploads", "post"),
            ("/uploads/{id}", "put"),
            ("/uploads/{id}/complete", "post"),
            ("/applications", "post"),
            ("/applications", "get"),
            ("/applications/{id}", "get"),
            ("/applications/{id}/timeline", "get"),
            ("/applications/{id}/notifications", "get"),
            ("/applications/{id}/supplement", "post"),
            ("/applications/{id}/confirmation", "post"),
            ("/applications/{id}/partner-bank", "post"),
            ("/applications/{id}/offline", "post"),
            ("/applications/{id}/withdraw", "post"),
            ("/applications/{id}/ratings", "post"),
            ("/policies/{id}", "get"),
            ("/policies/{id}/notice", "get"),
            ("/agency/callbacks", "post"),
            ("/supervision/alerts", "get"),
            ("/supervision/follow-ups", "get"),
            ("/agency/follow-ups", "post"),
            ("/supervision/counterfoils", "get"),
            ("/supervision/handovers", "post"),
            ("/supervision/handovers/{number}", "get"),
            ("/applications/{id}/licence-registrations", "post"),
            ("/applications/{id}/offers/{stage}/accept", "post"),
            ("/agency/licence-registrations", "post"),
        ];
        for (path, method) in routes {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} is not documented"
            );
        }
        assert_eq!(
            doc["paths"].as_object().map(|p| p.len()),
            Some(27),
            "a documented path the router does not serve?"
        );
    }
}
