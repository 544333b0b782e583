//! The agency watchdog: per agency, its open dispatches from the open-clock index — how many,
//! how many past their deadline, how many it has not even acknowledged, and the one due first
//! (of one agency's stages, which share a budget, the one open longest). The SLA sweep records
//! it as metrics (`OpenBeyondSla`, `MostOverdueSeconds`, with alarms in `template.yaml`) and
//! escalates each unacknowledged dispatch; the operator page and `GET /supervision/watchdog`
//! show it.

use crate::ports::OpenClock;
use chrono::{DateTime, Utc};
use newborn_domain::flow::ApplicationId;
use newborn_domain::kinds::{Agency, Stage, Watch};
use serde::Serialize;

/// The open dispatch of an agency due first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DueFirst {
    /// The application.
    pub application_id: ApplicationId,
    /// Its stage.
    pub stage: Stage,
    /// Its deadline.
    pub deadline: DateTime<Utc>,
    /// Seconds past the deadline (0 before it).
    pub overdue_secs: i64,
}

/// One agency's open work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgencyWatch {
    /// The agency.
    pub agency: Agency,
    /// Dispatches it holds with a running clock.
    pub open: usize,
    /// Of them, past their deadline.
    pub beyond_sla: usize,
    /// Dispatches handed to it that it has not acknowledged yet.
    pub unacknowledged: usize,
    /// Of those, past the policy's minutes (escalated).
    pub unacknowledged_late: usize,
    /// The open dispatch due first.
    pub due_first: Option<DueFirst>,
}

/// Every open clock of the index (one index query): its due instant is at the latest its
/// deadline, within years.
pub(crate) async fn open_clocks(
    core: &crate::Core,
    now: DateTime<Utc>,
) -> Result<Vec<OpenClock>, crate::ServiceError> {
    Ok(core
        .store
        .due_clocks(now + chrono::TimeDelta::days(3660))
        .await?)
}

/// Whether `c` is due at `now` (its warning or its deadline reached): what
/// `ApplicationStore::due_clocks(now)` answers.
pub(crate) fn is_due(c: &OpenClock, now: DateTime<Utc>) -> bool {
    [c.warning_at, c.deadline]
        .into_iter()
        .flatten()
        .min()
        .is_some_and(|due| due <= now)
}

/// The watchdog's view now, from every open clock of the index.
pub(crate) async fn read(
    core: &crate::Core,
) -> Result<(DateTime<Utc>, Vec<AgencyWatch>), crate::ServiceError> {
    let now = core.now();
    let open = open_clocks(core, now).await?;
    Ok((now, summarise(&open, now)))
}

/// The watchdog's view of `clocks` (every open clock of the index) at `now`, one row per
/// agency that receives dispatches.
pub fn summarise(clocks: &[OpenClock], now: DateTime<Utc>) -> Vec<AgencyWatch> {
    Agency::DISPATCHED
        .into_iter()
        .map(|agency| {
            let mut row = AgencyWatch {
                agency,
                open: 0,
                beyond_sla: 0,
                unacknowledged: 0,
                unacknowledged_late: 0,
                due_first: None,
            };
            for c in clocks {
                match c.watch {
                    Watch::Stage(stage) if stage.agency() == agency => {
                        row.open += 1;
                        let Some(deadline) = c.deadline else {
                            continue;
                        };
                        row.beyond_sla += usize::from(deadline <= now);
                        if row.due_first.as_ref().is_none_or(|d| deadline < d.deadline) {
                            row.due_first = Some(DueFirst {
                                application_id: c.application_id.clone(),
                                stage,
                                deadline,
                                overdue_secs: (now - deadline).num_seconds().max(0),
                            });
                        }
                    }
                    Watch::Delivery(stage) if stage.agency() == agency => {
                        row.unacknowledged += 1;
                        row.unacknowledged_late +=
                            usize::from(c.deadline.is_some_and(|d| d <= now));
                    }
                    _ => {}
                }
            }
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn clock(id: &str, watch: Watch, deadline: DateTime<Utc>) -> OpenClock {
        OpenClock {
            application_id: id.parse().unwrap_or_else(|e| panic!("{e:?}")),
            watch,
            warning_at: None,
            deadline: Some(deadline),
        }
    }

    /// Each agency's open, overdue and unacknowledged dispatches, and the one due first.
    /// Rules: OURS-WATCHDOG.
    #[test]
    fn each_agency_gets_its_counts_and_its_dispatch_due_first() {
        let now: DateTime<Utc> = "2026-12-07T02:00:00Z".parse().unwrap_or_default();
        let h = TimeDelta::hours;
        let clocks = [
            clock(
                "NB20261207000000000A",
                Watch::Stage(Stage::Police),
                now - h(3),
            ),
            clock(
                "NB20261207000000000B",
                Watch::Stage(Stage::Police),
                now - h(1),
            ),
            clock(
                "NB20261207000000000C",
                Watch::Stage(Stage::Police),
                now + h(5),
            ),
            clock(
                "NB20261207000000000D",
                Watch::Delivery(Stage::Police),
                now - h(1),
            ),
            clock(
                "NB20261207000000000E",
                Watch::Delivery(Stage::Police),
                now + h(1),
            ),
            clock(
                "NB20261207000000000F",
                Watch::Stage(Stage::Insurance),
                now + h(2),
            ),
            clock("NB20261207000000000G", Watch::Matter, now - h(9)),
        ];
        let rows = summarise(&clocks, now);
        let police = rows.iter().find(|r| r.agency == Agency::PoliceStation);
        assert_eq!(
            police.map(|p| (
                p.open,
                p.beyond_sla,
                p.unacknowledged,
                p.unacknowledged_late
            )),
            Some((3, 2, 2, 1))
        );
        let first = police.and_then(|p| p.due_first.clone());
        assert_eq!(
            first.map(|f| (f.application_id.as_str().to_owned(), f.overdue_secs)),
            Some(("NB20261207000000000A".to_owned(), 3 * 3600))
        );
        let insurance = rows.iter().find(|r| r.agency == Agency::MedicalInsurance);
        assert_eq!(insurance.map(|i| (i.open, i.beyond_sla)), Some((1, 0)));
        assert_eq!(rows.len(), 4);
    }
}
