//! The monitor desk: the scheduled SLA sweep (办件监察). It reads the open-clock index, raises a
//! warning and a breach once per stage clock, and tells the agency's supervisor. Served by the
//! `sla-monitor` function and the local timer; it holds the store and the supervisors'
//! dispatcher.

use crate::core::{Core, marker, markers};
use crate::error::ServiceError;
use crate::metric::{Dim, Metric};
use crate::ports::{Actor, AgencyDispatcher, Alert, Dispatch};
use chrono::{DateTime, Days, Utc};
use newborn_domain::calendar::CHINA;
use newborn_domain::flow::{Application, TimelineEvent};
use newborn_domain::kinds::Watch;
use newborn_domain::licence::supervised;
use newborn_domain::sla::SlaLevel;
use newborn_domain::text::Bilingual;
use serde::Serialize;
use std::sync::Arc;

/// What one SLA sweep found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// When the sweep ran (service time).
    pub at: Option<DateTime<Utc>>,
    /// Clocks the index returned as due.
    pub due: usize,
    /// New warnings raised.
    pub warnings: usize,
    /// New breaches raised.
    pub breaches: usize,
    /// Rating windows that closed unrated, recorded as not rated.
    pub not_rated: usize,
    /// Dispatches escalated as not acknowledged by their agency.
    pub unacknowledged: usize,
    /// Per agency: open, overdue and unacknowledged dispatches, and the one due first.
    pub watchdog: Vec<crate::watchdog::AgencyWatch>,
    /// Drafts from birth records deleted unconfirmed, with their personal data.
    pub drafts_expired: usize,
    /// Years in the next 60 days the holiday calendar does not cover (deadlines provisional).
    pub uncovered_years: Vec<i32>,
}

/// The SLA monitor's use cases.
#[derive(Clone)]
pub struct MonitorDesk {
    core: Core,
    supervisors: Arc<dyn AgencyDispatcher>,
    drafts: Option<crate::drafts::Drafts>,
}

impl MonitorDesk {
    /// The desk over the core and the supervisors' dispatcher.
    pub fn new(core: Core, supervisors: Arc<dyn AgencyDispatcher>) -> Self {
        Self {
            core,
            supervisors,
            drafts: None,
        }
    }

    /// The desk also deleting the drafts whose confirmation window has ended.
    pub fn with_drafts(mut self, drafts: crate::drafts::Drafts) -> Self {
        self.drafts = Some(drafts);
        self
    }

    /// Deletes every draft whose window ended by `now`, with its personal data (PIPL art. 19
    /// and 47; docs/rules.md OURS-DRAFT). Returns how many.
    async fn expire_drafts(&self, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        let Some(drafts) = &self.drafts else {
            return Ok(0);
        };
        let expired = drafts.store.expiring(now).await?;
        for id in &expired {
            drafts.store.delete(id).await?;
        }
        if !expired.is_empty() {
            self.core
                .count(Metric::DraftsExpired, &[], expired.len() as f64);
            tracing::info!(
                count = expired.len(),
                "unconfirmed drafts deleted at the end of their window"
            );
        }
        Ok(expired.len())
    }

    /// Tells the agency's supervisor of a new alert (办件监察; the provincial efficiency office
    /// assesses agencies on overdue cases, 闽卫政法〔2024〕40号 附件1 四(五)). The body carries no
    /// personal data; the supervisor de-duplicates by the idempotency key
    /// `<application>:<stage>:<level>`. A failed delivery is logged and counted; the alert stays
    /// in the supervision list either way.
    async fn escalate(&self, app: &Application, alert: &Alert) {
        let (agency, label) = supervised(alert.watch);
        let level = match alert.level {
            SlaLevel::Overdue => "overdue",
            _ => "warning",
        };
        let (zh, en) = match (alert.watch, alert.level) {
            (Watch::Delivery(_), _) => (
                "已推送但承办单位系统未确认接收（未返回成功），办理时限尚未起算",
                "was handed to the agency, whose system has not acknowledged it (no 2xx): its deadline has not even started",
            ),
            (_, SlaLevel::Overdue) => ("已超过办理时限", "is past its deadline"),
            _ => ("即将超过办理时限", "is approaching its deadline"),
        };
        let level = match alert.watch {
            Watch::Delivery(_) => "unacknowledged",
            _ => level,
        };
        let what = match alert.watch {
            Watch::Stage(_) | Watch::Delivery(_) => Bilingual::new(
                format!("“{}”环节", label.zh),
                format!("the {} stage", label.en),
            ),
            _ => Bilingual::new(format!("“{}”", label.zh), label.en),
        };
        let dispatch = Dispatch {
            idempotency_key: format!("{}:{}:{level}", alert.application_id, alert.watch),
            body: serde_json::json!({
                "application_id": alert.application_id,
                "watch": alert.watch,
                "agency": agency,
                "region": app.policy.id,
                "level": level,
                "deadline": alert.deadline,
                "raised_at": alert.at,
                "message": Bilingual::new(
                    format!("申请{}的{}{zh}", alert.application_id, what.zh),
                    format!("{} of application {} {en}", what.en, alert.application_id),
                ),
            }),
        };
        let watch = alert.watch.name();
        let dims = [(Dim::Stage, watch.as_str()), (Dim::Agency, agency.as_str())];
        match self.supervisors.dispatch(agency, &dispatch).await {
            Ok(()) => self.core.count(Metric::EscalationSent, &dims, 1.0),
            Err(e) => {
                tracing::error!(application = %alert.application_id, watch = %alert.watch, error = %e, "escalation to the supervisor failed; the alert stays listed");
                self.core.count(Metric::EscalationFailed, &dims, 1.0);
            }
        }
    }

    /// Records `subject` of application `id` as not rated once its window has closed: no
    /// document gives a default rating, so none is assumed (docs/rules.md OURS-NOT-RATED).
    async fn close_window(
        &self,
        id: &newborn_domain::flow::ApplicationId,
        subject: newborn_domain::kinds::RatingSubject,
    ) -> Result<bool, ServiceError> {
        let closed = self
            .core
            .mutate(id, None, &Actor::Platform, |app, _, now| {
                if !app.close_unrated(subject, now) {
                    return Ok(None);
                }
                let stage = crate::evaluation::entry_stage(subject);
                let entry = marker(app, stage, TimelineEvent::NotRated, now);
                Ok(Some((markers(vec![entry]), vec![])))
            })
            .await;
        match closed {
            Ok(Some(_)) => {
                self.core.count(
                    Metric::NotRated,
                    &[(Dim::Agency, subject.agency().as_str())],
                    1.0,
                );
                Ok(true)
            }
            Ok(None) | Err(ServiceError::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The watchdog: a dispatch that has not reached its agency (no 2xx) for the policy's
    /// minutes is listed as an alert and escalated to the agency's supervisor, once. True if
    /// it was raised now.
    async fn unacknowledged(
        &self,
        app: &Application,
        stage: newborn_domain::stage::Stage,
        entry: &crate::ports::OpenClock,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        let undelivered = app
            .stage(stage)
            .is_some_and(|s| s.undelivered_since.is_some());
        if !undelivered || entry.deadline.is_none_or(|d| d > now) {
            return Ok(false);
        }
        let alert = Alert {
            application_id: entry.application_id.clone(),
            watch: entry.watch,
            level: SlaLevel::Warning,
            at: now,
            deadline: entry.deadline,
        };
        if !self.core.store.record_alert(&alert).await? {
            return Ok(false);
        }
        self.escalate(app, &alert).await;
        self.core.count(
            Metric::DispatchUnacknowledged,
            &[
                (Dim::Stage, stage.as_str()),
                (Dim::Agency, stage.agency().as_str()),
                (Dim::Region, &app.policy.id),
            ],
            1.0,
        );
        tracing::warn!(application = %entry.application_id, stage = %stage, "dispatch not acknowledged by the agency; escalated");
        Ok(true)
    }

    /// Records the watchdog's rows (per agency: open, overdue and unacknowledged dispatches and
    /// the one due first) as metrics.
    fn record_watchdog(
        &self,
        rows: Vec<crate::watchdog::AgencyWatch>,
    ) -> Vec<crate::watchdog::AgencyWatch> {
        for r in &rows {
            let dims = [(Dim::Agency, r.agency.as_str())];
            self.core.metrics.record(
                Metric::OpenBeyondSla,
                &dims,
                r.beyond_sla as f64,
                crate::ports::Unit::Count,
            );
            self.core.metrics.record(
                Metric::MostOverdueSeconds,
                &dims,
                r.due_first.as_ref().map_or(0, |d| d.overdue_secs) as f64,
                crate::ports::Unit::Seconds,
            );
        }
        rows
    }

    /// 办件监察: raises a warning and a breach once per stage clock, from the open-clock index.
    #[tracing::instrument(skip_all)]
    pub async fn sla_sweep(&self) -> Result<SweepReport, ServiceError> {
        let now = self.core.now();
        // One read of every open clock serves the due ones and the watchdog.
        let open = crate::watchdog::open_clocks(&self.core, now).await?;
        let due: Vec<_> = open
            .iter()
            .filter(|c| crate::watchdog::is_due(c, now))
            .cloned()
            .collect();
        let mut report = SweepReport {
            at: Some(now),
            due: due.len(),
            ..SweepReport::default()
        };
        for entry in &due {
            let id = &entry.application_id;
            // A rating window is no SLA: when it closes unrated, "not rated" is recorded.
            if let Watch::RatingWindow(subject) = entry.watch {
                if self.close_window(id, subject).await? {
                    report.not_rated += 1;
                }
                continue;
            }
            let Some(stored) = self.core.store.get(id).await? else {
                continue;
            };
            if let Watch::Delivery(stage) = entry.watch {
                if self
                    .unacknowledged(&stored.application, stage, entry, now)
                    .await?
                {
                    report.unacknowledged += 1;
                }
                continue;
            }
            let Some(reading) = stored
                .application
                .watched_clock(entry.watch)
                .map(|c| c.read(self.core.calendar_of(&stored.application), now))
            else {
                continue;
            };
            for level in [SlaLevel::Warning, SlaLevel::Overdue] {
                if reading.level < level {
                    continue;
                }
                let alert = Alert {
                    application_id: entry.application_id.clone(),
                    watch: entry.watch,
                    level,
                    at: now,
                    deadline: reading.deadline,
                };
                if self.core.store.record_alert(&alert).await? {
                    self.escalate(&stored.application, &alert).await;
                    let (name, counter) = if level == SlaLevel::Overdue {
                        (Metric::SlaBreach, &mut report.breaches)
                    } else {
                        (Metric::SlaWarning, &mut report.warnings)
                    };
                    *counter += 1;
                    self.core.count(
                        name,
                        &[
                            (Dim::Stage, entry.watch.name().as_str()),
                            (Dim::Agency, supervised(entry.watch).0.as_str()),
                            (Dim::Region, &stored.application.policy.id),
                        ],
                        1.0,
                    );
                    tracing::warn!(application = %entry.application_id, watch = %entry.watch, level = ?level, deadline = ?reading.deadline, "SLA {}", if level == SlaLevel::Overdue { "breach" } else { "warning" });
                }
            }
        }
        report.watchdog = self.record_watchdog(crate::watchdog::summarise(&open, now));
        report.drafts_expired = self.expire_drafts(now).await?;
        let today = now.with_timezone(&CHINA).date_naive();
        for d in [
            today,
            today.checked_add_days(Days::new(60)).unwrap_or(today),
        ] {
            if !self.core.calendar().covers(d)
                && !report.uncovered_years.contains(&chrono::Datelike::year(&d))
            {
                report.uncovered_years.push(chrono::Datelike::year(&d));
            }
        }
        if !report.uncovered_years.is_empty() {
            tracing::warn!(years = ?report.uncovered_years, "the holiday calendar does not cover these years: deadlines are provisional; add the State Council notice with NEWBORN_HOLIDAYS_FILE");
        }
        Ok(report)
    }
}
