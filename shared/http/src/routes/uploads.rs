//! The upload routes: a slot (a presigned URL for one scan), the bytes sent to it, and the
//! completion of an upload sent to object storage. Served by the `api` function and the local
//! server, from the [`UploadDesk`].

use crate::auth::Authenticator;
use crate::extract::{Applicant, Authenticated};
use crate::middleware::UPLOAD_LIMIT;
use crate::routes::{ApiResult, json_group, ok, parse, problem};
use crate::uploads::SignedUploadUrls;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{post, put};
use newborn_domain::application::DocumentKind;
use newborn_service::ports::{Clock, UploadSlot, UploadTarget};
use newborn_service::{ServiceError, UploadDesk};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// The upload routes' state.
#[derive(Clone)]
pub struct UploadRoutes {
    /// The use cases.
    pub desk: UploadDesk,
    /// Who is calling.
    pub auth: Arc<dyn Authenticator>,
    /// Where applicants send the bytes of their scans.
    pub target: Arc<dyn UploadTarget>,
    /// Uploads through this API (`PUT /uploads/{id}`, the local runtime); `None` where they go
    /// to object storage (AWS), and that route answers 404.
    pub signed: Option<SignedUploadUrls>,
    /// The wall clock (a slot's validity).
    pub wall_clock: Arc<dyn Clock>,
}

impl Authenticated for UploadRoutes {
    fn authenticator(&self) -> &Arc<dyn Authenticator> {
        &self.auth
    }
}

/// The upload routes.
pub fn routes(state: UploadRoutes) -> Router {
    json_group(Router::new().route("/uploads", post(open_upload)))
        .route(
            "/uploads/{id}",
            put(receive_upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT + 1)),
        )
        .route("/uploads/{id}/complete", post(complete_upload))
        .with_state(state)
}

type S = State<UploadRoutes>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadRequest {
    kind: DocumentKind,
    content_type: String,
    size: u64,
    /// The bytes' SHA-256 (64 hex digits), if the app computed it: on S3 the bytes then go to
    /// their content address directly, checked by S3 on the PUT.
    #[serde(default)]
    sha256: Option<newborn_domain::application::Sha256Hex>,
}

/// Opens an upload slot: a signed URL, valid 15 minutes, for one scan of one kind.
async fn open_upload(State(s): S, Applicant(owner): Applicant, body: Bytes) -> ApiResult {
    let r: UploadRequest = parse(&body)?;
    let slot = s
        .desk
        .open_upload(
            &owner,
            r.kind,
            &r.content_type,
            r.size,
            r.sha256,
            s.wall_clock.now(),
        )
        .await?;
    let ticket = s.target.ticket(&slot).await.map_err(ServiceError::from)?;
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
    State(s): S,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> ApiResult {
    let Some(urls) = &s.signed else {
        return Err(problem(
            StatusCode::NOT_FOUND,
            "no_route",
            "请将文件上传至获取的上传地址",
            "upload to the URL the upload slot gave",
        ));
    };
    let owner = q.get("owner").map(String::as_str).unwrap_or_default();
    let signed = match (
        q.get("expires").and_then(|e| e.parse::<i64>().ok()),
        q.get("signature"),
    ) {
        (Some(expires), Some(sig)) => urls.verifies(owner, &id, expires, sig),
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
        .desk
        .receive_upload(owner, &id, &body, s.wall_clock.now())
        .await?;
    uploaded(&slot, body.len())
}

/// Completes an upload sent outside the API (to object storage): the bytes are read back,
/// checked like any upload (time, size, type by the whole content) and stored by SHA-256. Completing a
/// slot that is already verified answers the same again.
async fn complete_upload(
    State(s): S,
    Applicant(owner): Applicant,
    Path(id): Path<String>,
) -> ApiResult {
    let slot = s.desk.upload_slot(&owner, &id).await?;
    if slot.sha256.is_some() {
        return uploaded(&slot, slot.size as usize);
    }
    let bytes = s
        .target
        .arrived(&slot)
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(|| {
            problem(
                StatusCode::CONFLICT,
                "upload_missing",
                "文件尚未上传到上传地址",
                "nothing has been uploaded to the upload URL yet",
            )
        })?;
    let slot = s
        .desk
        .receive_upload(&owner, &id, &bytes, s.wall_clock.now())
        .await?;
    uploaded(&slot, bytes.len())
}
