//! The operator's and everyone's routes: health, the OpenAPI contract, and each region's
//! policy and its notice (申报须知). Served by every HTTP function and the local server, from the
//! [`Core`] alone.

use crate::problem::Problem;
use crate::routes::{ApiResult, ok, problem};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use newborn_domain::text::Invalid;
use newborn_service::Core;
use serde_json::json;

/// The OpenAPI 3.1 contract of the routes.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// The public routes.
pub fn routes(core: Core) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi))
        .route("/policies/{id}", get(policy))
        .route("/policies/{id}/notice", get(notice))
        .with_state(core)
}

async fn openapi() -> Response {
    ([("content-type", "application/json")], OPENAPI).into_response()
}

async fn health(State(core): State<Core>) -> Json<serde_json::Value> {
    Json(json!({"status": "ok", "now": core.now()}))
}

async fn policy(State(s): State<Core>, Path(id): Path<String>) -> ApiResult {
    match s.policies().latest(&id) {
        Some(p) => ok(StatusCode::OK, p),
        None => Err(Problem::new(
            StatusCode::NOT_FOUND,
            &Invalid::new("unknown_policy", "未知的地区政策", "unknown policy"),
        )),
    }
}

/// 申报须知: per case, the route and the materials (with the stage that needs them and when).
async fn notice(State(s): State<Core>, Path(id): Path<String>) -> ApiResult {
    let Some(p) = s.policies().latest(&id) else {
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
                .map(|m| json!({"kind": m.kind, "name": m.kind.label(), "when": m.when, "when_label": m.when.label(), "at": m.at, "source": m.source}))
                .collect();
            json!({"case": case, "name": case.label(), "route": c.route, "source": c.source, "materials": materials})
        })
        .collect();
    let services: Vec<serde_json::Value> = p
        .services
        .offered
        .iter()
        .map(|s| json!({"service": s, "name": s.label()}))
        .collect();
    let el = &p.eligibility;
    let (pledge_zh, pledge_en) = newborn_domain::application::PLEDGE_TEXT;
    ok(
        StatusCode::OK,
        json!({
            "policy": p.reference().to_string(),
            "name": p.name,
            "newborn_age_under_months": el.newborn_age.under_months,
            "services": services,
            "services_source": p.services.source,
            "parenting_guidance": p.services.parenting_guidance,
            "applicant": {
                "father_with_authorisation": el.applicant.father_with_authorisation,
                "counter_intake": el.applicant.counter_intake,
                "source": el.applicant.source,
            },
            // 附件2 一(二): single mothers and unmarried parents apply offline.
            "married_parents_only": {
                "message": {"zh": "暂不支持单亲母亲和未婚公民线上申请", "en": "single mothers and unmarried parents cannot apply online yet"},
                "source": el.marriage.source,
            },
            "pledge": {"zh": pledge_zh, "en": pledge_en},
            "declarations": p.declarations,
            "collection": p.collection,
            "counterfoil": p.counterfoil,
            "notices": p.notices,
            "cases": cases,
        }),
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
            ("/applications/{id}/parenting-guidance", "post"),
            ("/policies/{id}", "get"),
            ("/policies/{id}/notice", "get"),
            ("/agency/callbacks", "post"),
            ("/supervision/alerts", "get"),
            ("/supervision/reports", "get"),
            ("/supervision/follow-ups", "get"),
            ("/agency/follow-ups", "post"),
            ("/supervision/counterfoils", "get"),
            ("/supervision/handovers", "post"),
            ("/supervision/handovers/{number}", "get"),
            ("/applications/{id}/licence-registrations", "post"),
            ("/applications/{id}/offers/{stage}/accept", "post"),
            ("/agency/licence-registrations", "post"),
            ("/applications/{id}/result", "get"),
            ("/applications/{id}/result.png", "get"),
            ("/verify", "get"),
            ("/.well-known/jwks.json", "get"),
            ("/supervision/watchdog", "get"),
            ("/agency/births", "post"),
            ("/drafts", "get"),
            ("/drafts/{id}", "get"),
            ("/drafts/{id}/confirmation", "post"),
        ];
        for (path, method) in routes {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} is not documented"
            );
        }
        assert_eq!(
            doc["paths"].as_object().map(|p| p.len()),
            Some(38),
            "a documented path the router does not serve?"
        );
    }
}
