//! What every request passes through before a route: header and body limits, JSON bodies only,
//! the framework's own refusals as problems, and `Idempotency-Key` replay.

use crate::auth::Authenticator;
use crate::problem::Problem;
use crate::routes::problem;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use newborn_service::ports::{Claim, Clock, IdempotencyClaim, RequestLog};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The header of a client-chosen key that makes a POST safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Largest total of request headers accepted: a real sign-in token is a few KB. (Past the HTTP
/// server's own buffer, about 400 KB, the server answers 431 itself, without a body.)
const HEADER_LIMIT: usize = 16 * 1024;
/// Largest JSON body accepted.
pub(crate) const JSON_LIMIT: usize = 256 * 1024;
/// Largest uploaded scan.
pub(crate) const UPLOAD_LIMIT: usize = newborn_service::MAX_UPLOAD as usize;

/// What the edge of the API holds: who is calling, the request log (idempotency records and
/// message ids) and the wall clock.
#[derive(Clone)]
pub struct Edge {
    /// Who is calling.
    pub auth: Arc<dyn Authenticator>,
    /// Idempotency records and callback nonces.
    pub requests: Arc<dyn RequestLog>,
    /// Wall clock for signature windows and idempotency records.
    pub wall_clock: Arc<dyn Clock>,
}

/// Bodies up to this size are read (and dropped) before an oversized request is refused, so the
/// client receives the 413 instead of a connection reset while it is still sending.
const DRAIN_LIMIT: u64 = 8 * 1024 * 1024;

/// A JSON request declaring a body over the limit is refused with a 413 problem; a body of up to
/// [`DRAIN_LIMIT`] is read first and discarded (beyond that the connection is simply closed).
pub(crate) async fn oversized_bodies(req: Request, next: Next) -> Response {
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
pub(crate) async fn json_bodies_only(req: Request, next: Next) -> Response {
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
pub(crate) async fn framework_refusals(req: Request, next: Next) -> Response {
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
    // Our own answers are JSON problems or, for the public pages, HTML written to be read;
    // the framework's refusals are plain text.
    let ours = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json") || v.starts_with("text/html"));
    if ours || !(res.status().is_client_error() || res.status().is_server_error()) {
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

/// `Idempotency-Key` on POST: the same key with the same request returns the first response;
/// with another request it is refused. Keys are scoped to the caller. Agency callbacks are
/// idempotent by (application, stage, round) instead.
pub(crate) async fn idempotency(State(s): State<Edge>, req: Request, next: Next) -> Response {
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
    s: Edge,
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
async fn record(s: &Edge, scope: &str, key: &str, res: Response) -> Response {
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
