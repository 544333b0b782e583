//! The routes, grouped by caller: [`applicant`], [`uploads`], [`agency`], [`supervision`] and
//! [`operator`]. Each group is built from the desk it serves, so a function that does not build
//! a desk cannot serve its routes. [`api`] puts the groups a function serves behind the edge
//! (limits, problems, idempotency). Bodies are read as bytes and parsed here, so malformed JSON
//! gets the same problem+json answer as any other bad input.

pub mod agency;
pub mod applicant;
pub mod operator;
pub mod results;
pub mod supervision;
pub mod uploads;

use crate::middleware::{self as mw, Edge, JSON_LIMIT};
use crate::problem::Problem;
use axum::Json;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use newborn_domain::text::Invalid;
use newborn_service::Core;
use newborn_service::ports::Stored;
use newborn_service::view::ApplicationView;
use serde::de::DeserializeOwned;

pub(crate) type ApiResult = Result<Response, Problem>;

/// The API of the route groups `groups` behind the edge: header limits, framework refusals as
/// problems, `Idempotency-Key` replay on POST, and a problem for every unknown route.
pub fn api(edge: Edge, groups: impl IntoIterator<Item = Router>) -> Router {
    let mut router = Router::new();
    for group in groups {
        router = router.merge(group);
    }
    router
        .layer(axum::middleware::from_fn_with_state(edge, mw::idempotency))
        .layer(axum::middleware::from_fn(mw::framework_refusals))
        .fallback(|| async {
            Problem::new(
                StatusCode::NOT_FOUND,
                &Invalid::new("no_route", "没有这个接口", "no such route"),
            )
        })
}

/// The layers of a group of JSON routes: JSON bodies only, within [`JSON_LIMIT`].
pub(crate) fn json_group<S: Clone + Send + Sync + 'static>(routes: Router<S>) -> Router<S> {
    routes
        .layer(axum::middleware::from_fn(mw::json_bodies_only))
        .layer(DefaultBodyLimit::max(JSON_LIMIT))
        .layer(axum::middleware::from_fn(mw::oversized_bodies))
}

pub(crate) fn problem(status: StatusCode, code: &str, zh: &str, en: &str) -> Problem {
    Problem::new(status, &Invalid::new(code, zh, en))
}

pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        // A value our types refuse (a digest, an identity number, a text) is named with its
        // field and its rule in both languages (422); anything else is malformed JSON (400).
        let message = e.inner().to_string();
        if let Some(invalid) = newborn_domain::text::Invalid::from_serde_message(&message) {
            return Problem::from(newborn_service::ServiceError::bad(
                &e.path().to_string(),
                invalid,
            ));
        }
        // The rule and the position stay; the submitted values do not come back.
        let e = newborn_domain::text::without_values(&message);
        Problem::bad_request(
            "malformed_json",
            &format!("请求内容格式错误：{e}"),
            &format!("malformed request body: {e}"),
        )
    })
}

pub(crate) async fn view(core: &Core, stored: &Stored) -> ApplicationView {
    core.view(stored).await
}

pub(crate) fn ok<T: serde::Serialize>(status: StatusCode, body: T) -> ApiResult {
    Ok((status, Json(body)).into_response())
}
