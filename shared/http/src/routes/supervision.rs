//! The supervision routes: staff's counterfoil handover (《出生医学证明》副页, 移交记录表) and
//! supervisors' lists of alerts and open follow-ups. Served by the `api` function and the local
//! server, from the [`SupervisionDesk`].

use crate::auth::Authenticator;
use crate::extract::{Authenticated, Staff, Supervisor};
use crate::problem::Problem;
use crate::routes::{ApiResult, json_group, ok, parse, problem};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use newborn_domain::application::Text;
use newborn_domain::text::Invalid;
use newborn_service::{ServiceError, SupervisionDesk};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// The most counterfoils in one handover batch (what one DynamoDB transaction can mark).
const HANDOVER_BATCH_MAX: usize = 99;

/// The supervision routes' state.
#[derive(Clone)]
pub struct SupervisionRoutes {
    /// The use cases.
    pub desk: SupervisionDesk,
    /// Who is calling.
    pub auth: Arc<dyn Authenticator>,
}

impl Authenticated for SupervisionRoutes {
    fn authenticator(&self) -> &Arc<dyn Authenticator> {
        &self.auth
    }
}

/// The supervision routes.
pub fn routes(state: SupervisionRoutes) -> Router {
    json_group(
        Router::new()
            .route("/supervision/counterfoils", get(counterfoils))
            .route("/supervision/handovers", post(create_handover))
            .route("/supervision/handovers/{number}", get(read_handover))
            .route("/supervision/follow-ups", get(follow_ups))
            .route("/supervision/alerts", get(alerts))
            .route("/supervision/watchdog", get(watchdog))
            .route("/supervision/reports", get(report)),
    )
    .with_state(state)
}

type S = State<SupervisionRoutes>;

fn county(raw: &str) -> Result<newborn_domain::region::RegionCode, Problem> {
    raw.parse()
        .map_err(|e: Invalid| Problem::from(ServiceError::bad("county", e)))
}

/// Counterfoils of a county ready for handover (《出生医学证明》副页).
async fn counterfoils(
    State(s): S,
    _: Staff,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let code = q.get("county").map(String::as_str).unwrap_or_default();
    let ready = s.desk.counterfoils_ready(&county(code)?).await?;
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
async fn create_handover(State(s): S, Staff(who): Staff, body: Bytes) -> ApiResult {
    let r: HandoverRequest = parse(&body)?;
    let batch = s
        .desk
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
    State(s): S,
    _: Staff,
    Path(number): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let batch = s.desk.handover(&number).await?;
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
async fn follow_ups(State(s): S, _: Supervisor) -> ApiResult {
    let open = s.desk.open_follow_ups().await?;
    let now = s.desk.core().now();
    let overdue = open.iter().filter(|f| f.follow_up.due_at < now).count();
    ok(
        StatusCode::OK,
        json!({"open": open.len(), "overdue": overdue, "follow_ups": open}),
    )
}

/// The alerts raised on overdue stages, with their counts by level, for supervisors.
/// The agency watchdog: per agency, open, overdue and unacknowledged dispatches, and the one
/// due first.
async fn watchdog(State(s): S, _: Supervisor) -> ApiResult {
    let (at, agencies) = s.desk.watchdog().await?;
    ok(
        StatusCode::OK,
        serde_json::json!({"at": at, "agencies": agencies}),
    )
}

async fn alerts(State(s): S, _: Supervisor) -> ApiResult {
    let alerts = s.desk.alerts().await?;
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

/// The efficiency report of a period (`?period=2026-12`, `2026-Q4` or
/// `2026-12-01..2026-12-15`; the current month by default), per agency or for `?agency=…`,
/// as JSON or, with `?format=csv`, CSV; for supervisors.
async fn report(State(s): S, _: Supervisor, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    let period = match q.get("period") {
        Some(p) => newborn_service::report::Period::parse(p)
            .map_err(|e| Problem::from(ServiceError::bad("period", e)))?,
        None => newborn_service::report::Period::month_of(s.desk.core().now()),
    };
    let agency = q
        .get("agency")
        .map(|a| newborn_service::report::agency(a))
        .transpose()
        .map_err(|e| Problem::from(ServiceError::bad("agency", e)))?;
    let format = q.get("format").map(String::as_str);
    if !matches!(format, None | Some("json") | Some("csv")) {
        return Err(problem(
            StatusCode::BAD_REQUEST,
            "unknown_format",
            "format 只能是 json 或 csv",
            "format is json or csv",
        ));
    }
    let report = s.desk.report(period, agency).await?;
    if format == Some("csv") {
        return Ok((
            [
                ("content-type", "text/csv; charset=utf-8".to_owned()),
                (
                    "content-disposition",
                    format!(
                        "attachment; filename=\"report-{}.csv\"",
                        report.period.label
                    ),
                ),
            ],
            report.csv(),
        )
            .into_response());
    }
    ok(StatusCode::OK, json!(report))
}
