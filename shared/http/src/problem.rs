//! RFC 9457 problem details with a stable code and messages in Chinese and English.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use newborn_domain::application::FieldIssue;
use newborn_domain::text::Invalid;
use newborn_service::ServiceError;
use serde::Serialize;

/// An `application/problem+json` response (boxed: errors travel cheaply through `Result`).
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Problem(pub Box<ProblemDetails>);

/// The fields of a problem (RFC 9457 members plus our code and bilingual detail).
#[derive(Debug, Clone, Serialize)]
pub struct ProblemDetails {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short English title.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Stable machine-readable code.
    pub code: String,
    /// 中文说明
    pub detail: String,
    /// English explanation.
    pub detail_en: String,
    /// Per-field problems, when the input was wrong.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldIssue>,
}

impl Problem {
    /// A problem from a status and a coded, bilingual error.
    pub fn new(status: StatusCode, error: &Invalid) -> Self {
        Self(Box::new(ProblemDetails {
            kind: format!("urn:newborn:problem:{}", error.code),
            title: status.canonical_reason().unwrap_or("error").to_owned(),
            status: status.as_u16(),
            code: error.code.clone(),
            detail: error.message.zh.clone(),
            detail_en: error.message.en.clone(),
            errors: vec![],
        }))
    }

    /// 400 with one coded error.
    pub fn bad_request(code: &str, zh: &str, en: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, &Invalid::new(code, zh, en))
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, axum::Json(self)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        res
    }
}

impl From<ServiceError> for Problem {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::BadInput(issues) => {
                let first = issues
                    .first()
                    .map(|i| i.error.clone())
                    .unwrap_or_else(|| Invalid::new("bad_input", "输入有误", "bad input"));
                let mut p = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &Invalid::new(
                        &first.code,
                        format!("输入有误：{}", first.message.zh),
                        format!("invalid input: {}", first.message.en),
                    ),
                );
                p.0.errors = issues;
                p
            }
            ServiceError::NotFound => Problem::new(
                StatusCode::NOT_FOUND,
                &Invalid::new("not_found", "未找到该办件", "no such application"),
            ),
            ServiceError::Conflict(e) => Problem::new(StatusCode::CONFLICT, &e),
            ServiceError::Forbidden(e) => Problem::new(StatusCode::FORBIDDEN, &e),
            ServiceError::TooLarge(e) => Problem::new(StatusCode::PAYLOAD_TOO_LARGE, &e),
            ServiceError::TooMany(e) => Problem::new(StatusCode::TOO_MANY_REQUESTS, &e),
            ServiceError::UnsupportedMedia(e) => {
                Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, &e)
            }
            ServiceError::Transient(detail) => {
                tracing::error!(%detail, "transient failure");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &Invalid::new(
                        "unavailable",
                        "服务暂时不可用，请稍后重试",
                        "temporarily unavailable; retry later",
                    ),
                )
            }
        }
    }
}
