//! The supervision desk: the staff's and supervisors' routes — the counterfoils ready for
//! handover and their handover batches (移交记录表), the alerts raised on overdue stages, the open
//! follow-ups of bad ratings. Served by the `api` function and the local server; it holds the
//! store and the counterfoil register. (The SLA sweep that raises the alerts is the monitor
//! desk's, served by the schedule.)

use crate::core::Core;
use crate::error::ServiceError;
use crate::metric::{Dim, Metric};
use crate::ports::{Alert, HandoverRegister, OpenClock, OpenFollowUp};
use chrono::{DateTime, Utc};
use newborn_domain::calendar::CHINA;
use newborn_domain::handover::{Counterfoil, HandoverBatch, HandoverParties};
use newborn_domain::region::RegionCode;
use newborn_domain::stage::{Stage, StageStatus};
use std::sync::Arc;

const MAX_CONFLICT_RETRIES: usize = 16;

/// The supervisors' and staff's use cases.
#[derive(Clone)]
pub struct SupervisionDesk {
    core: Core,
    handovers: Arc<dyn HandoverRegister>,
}

impl SupervisionDesk {
    /// The desk over the core and the counterfoil register.
    pub fn new(core: Core, handovers: Arc<dyn HandoverRegister>) -> Self {
        Self { core, handovers }
    }

    /// The core (time, rules) this desk runs on.
    pub fn core(&self) -> &Core {
        &self.core
    }

    /// The agency watchdog now: per agency, open, overdue and unacknowledged dispatches and the
    /// one due first.
    pub async fn watchdog(
        &self,
    ) -> Result<(DateTime<Utc>, Vec<crate::watchdog::AgencyWatch>), ServiceError> {
        crate::watchdog::read(&self.core).await
    }

    /// Every alert raised, for supervisors.
    pub async fn alerts(&self) -> Result<Vec<Alert>, ServiceError> {
        Ok(self.core.store.alerts().await?)
    }

    /// The running supervised clocks whose warning or deadline falls at or before `until`.
    pub async fn due_clocks(
        &self,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<OpenClock>, ServiceError> {
        // A rating window is not a supervised deadline: the monitor closes it as not rated.
        Ok(self
            .core
            .store
            .due_clocks(until)
            .await?
            .into_iter()
            .filter(|c| !matches!(c.watch, newborn_domain::kinds::Watch::RatingWindow(_)))
            .collect())
    }

    /// The efficiency report of `period`: one row per agency (only `agency`'s when given),
    /// from the facts written with each change (an index query per agency).
    pub async fn report(
        &self,
        period: crate::report::Period,
        agency: Option<newborn_domain::stage::Agency>,
    ) -> Result<crate::report::EfficiencyReport, ServiceError> {
        Ok(crate::report::build(self.core.store.as_ref(), period, agency).await?)
    }

    /// The open follow-ups of bad ratings, soonest due first, for supervisors.
    pub async fn open_follow_ups(&self) -> Result<Vec<OpenFollowUp>, ServiceError> {
        Ok(self.core.store.open_follow_ups().await?)
    }

    /// The counterfoils of a county ready for handover: kept, not handed over, and the online
    /// registration succeeded (otherwise the hospital gave the full certificate back, 附件1
    /// 三(一)2). Oldest first.
    pub async fn counterfoils_ready(
        &self,
        county: &RegionCode,
    ) -> Result<Vec<Counterfoil>, ServiceError> {
        let mut ready = vec![];
        for c in self.handovers.pending(county).await? {
            let id = &c.application_id;
            let registered = self.core.store.get(id).await?.is_some_and(|s| {
                matches!(
                    s.application.stage(Stage::Police).map(|p| &p.status),
                    Some(StageStatus::Completed { .. })
                )
            });
            if registered {
                ready.push(c);
            }
        }
        Ok(ready)
    }

    /// Hands the ready counterfoils of a county over in one batch (移交记录表) with the next free
    /// number of the day, `<county>-<YYYYMMDD>-<n>`; at most `max` counterfoils.
    pub async fn hand_over(
        &self,
        county: &RegionCode,
        parties: HandoverParties,
        max: usize,
    ) -> Result<HandoverBatch, ServiceError> {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let mut ready = self.counterfoils_ready(county).await?;
            if ready.is_empty() {
                return Err(ServiceError::conflict(
                    "nothing_to_hand_over",
                    "该县（市、区）没有待移交的副页",
                    "this county has no counterfoil waiting for handover",
                ));
            }
            ready.truncate(max);
            let now = self.core.now();
            let day = now.with_timezone(&CHINA).format("%Y%m%d");
            let mut n = 1;
            while self
                .handovers
                .batch(&format!("{}-{day}-{n}", county.as_str()))
                .await?
                .is_some()
            {
                n += 1;
            }
            let batch = HandoverBatch::new(
                format!("{}-{day}-{n}", county.as_str()),
                county.clone(),
                now,
                parties.clone(),
                &ready,
            );
            if self.handovers.hand_over(&batch).await? {
                self.core.count(
                    Metric::CounterfoilsHandedOver,
                    &[(Dim::County, county.as_str())],
                    batch.items.len() as f64,
                );
                return Ok(batch);
            }
            // Another batch took some of them, or the number, meanwhile: look again.
        }
        Err(ServiceError::Transient(
            "handover batches are being created concurrently; retry".into(),
        ))
    }

    /// A handover batch by number.
    pub async fn handover(&self, number: &str) -> Result<HandoverBatch, ServiceError> {
        self.handovers
            .batch(number)
            .await?
            .ok_or(ServiceError::NotFound)
    }
}
