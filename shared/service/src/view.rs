//! What an applicant (or an operator) sees of an application: each stage with its status
//! (未办结 / 已办结), its clock reading and deadline.

use chrono::{DateTime, Utc};
use newborn_domain::calendar::WorkingCalendar;
use newborn_domain::flow::{Application, Outcome, Rating};
use newborn_domain::sla::ClockReading;
use newborn_domain::stage::{Stage, StageStatus};
use newborn_domain::text::Bilingual;
use serde::Serialize;

/// One stage as shown.
#[derive(Debug, Clone, Serialize)]
pub struct StageView {
    /// The stage.
    pub stage: Stage,
    /// Its name.
    pub name: Bilingual,
    /// 已办结 (finished one way or another) or 未办结.
    pub finished: bool,
    /// The status with its details (wait reason, result, go-offline reason).
    pub status: StageStatus,
    /// The SLA clock, once started.
    pub clock: Option<ClockReading>,
}

/// An application as shown.
#[derive(Debug, Clone, Serialize)]
pub struct ApplicationView {
    /// Its id.
    pub id: String,
    /// The policy version it runs under.
    pub policy: String,
    /// Overall.
    pub outcome: Outcome,
    /// When submitted.
    pub submitted_at: DateTime<Utc>,
    /// Optimistic-lock version (also the ETag).
    pub version: u64,
    /// The stages in flow order.
    pub stages: Vec<StageView>,
    /// Ratings given.
    pub ratings: Vec<Rating>,
}

impl ApplicationView {
    /// The view of `app` at `now`.
    pub fn of(
        app: &Application,
        version: u64,
        calendar: &WorkingCalendar,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: app.id.as_str().to_owned(),
            policy: app.policy.to_string(),
            outcome: app.outcome(),
            submitted_at: app.submitted_at,
            version,
            stages: app
                .stages
                .iter()
                .map(|s| StageView {
                    stage: s.stage,
                    name: s.stage.label(),
                    finished: s.status.is_final(),
                    status: s.status.clone(),
                    clock: s.clock.as_ref().map(|c| c.read(calendar, now)),
                })
                .collect(),
            ratings: app.ratings.clone(),
        }
    }
}
