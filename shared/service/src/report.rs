//! Efficiency reports (办件效能) from durable data: every change writes the [`Fact`]s it adds
//! (a stage completed on time or late, a supplement asked for, a rating, a follow-up opened or
//! closed, a clock gone overdue), and a report is computed from the facts of one agency and
//! period, read by an index query. Nothing comes from process counters, so a report reads the
//! same after a restart, on either runtime. The provincial efficiency office assesses the
//! service on time (闽卫政法〔2024〕40号 附件1 四(五)).

use crate::ports::{Fact, FactKind};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use newborn_domain::calendar::{CHINA, WorkingCalendar};
use newborn_domain::flow::{Application, Applied, RatingLevel, TimelineEvent};
use newborn_domain::sla::SlaLevel;
use newborn_domain::stage::{Agency, EventKind, StatusKind};
use newborn_domain::text::Invalid;
use serde::Serialize;
use std::collections::BTreeMap;

/// The facts a change of `app` adds.
pub(crate) fn facts(app: &Application, applied: &Applied, calendar: &WorkingCalendar) -> Vec<Fact> {
    let fact = |at, agency, kind| Fact {
        at,
        application_id: app.id.clone(),
        agency,
        kind,
    };
    let mut out = vec![];
    for t in &applied.transitions {
        let agency = t.stage.agency();
        let kind = match (t.event, t.to) {
            (TimelineEvent::Stage(_), StatusKind::Completed) if t.from != t.to => {
                // A stage without a deadline (pre-review, the platform's own check) took no
                // supervised time and cannot be late.
                let reading = app
                    .stage(t.stage)
                    .and_then(|s| s.clock.as_ref())
                    .map(|clock| clock.read(calendar, t.at));
                FactKind::Completed {
                    working_secs: reading.as_ref().map_or(0, |r| r.elapsed_secs),
                    on_time: reading.is_none_or(|r| r.level != SlaLevel::Overdue),
                    stage: Some(t.stage),
                }
            }
            (TimelineEvent::Stage(EventKind::RequestSupplement), _) => {
                FactKind::SupplementRequested
            }
            (TimelineEvent::Rated(level) | TimelineEvent::MatterRated(level), _) => {
                FactKind::Rated { level }
            }
            (TimelineEvent::NotRated, _) => FactKind::NotRated,
            (TimelineEvent::FollowUpOpened, _) => FactKind::FollowUpOpened,
            (TimelineEvent::FollowUpClosed, _) => FactKind::FollowUpClosed {
                on_time: app
                    .follow_ups
                    .iter()
                    .find(|f| f.stage == t.stage)
                    .and_then(|f| f.closed.as_ref())
                    .is_some_and(|c| !c.late),
            },
            _ => continue,
        };
        out.push(fact(t.at, agency, kind));
    }
    out
}

/// The agencies a report covers, in order: the platform (pre-review and the whole matter), the
/// four agencies, and the licence directory (missing-licence reviews).
pub const REPORTED: [Agency; 6] = [
    Agency::Platform,
    Agency::Hospital,
    Agency::PoliceStation,
    Agency::MedicalInsurance,
    Agency::SocialSecurity,
    Agency::LicenceDirectory,
];

/// The reported agency named `name` (`police_station`, …).
pub fn agency(name: &str) -> Result<Agency, Invalid> {
    REPORTED
        .into_iter()
        .find(|a| a.as_str() == name)
        .ok_or_else(|| {
            Invalid::new(
                "unknown_agency",
                format!(
                    "未知的承办单位，应为：{}",
                    REPORTED.map(|a| a.as_str()).join("、")
                ),
                format!(
                    "unknown agency (one of {})",
                    REPORTED.map(|a| a.as_str()).join(", ")
                ),
            )
        })
}

/// A reporting period: `[from, to)`, bounded at midnight in China.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// As asked: `2026-12`, `2026-Q4` or `2026-12-01..2026-12-15`.
    pub label: String,
    /// The first instant.
    pub from: DateTime<Utc>,
    /// The first instant after.
    pub to: DateTime<Utc>,
}

fn bad_period(given: &str) -> Invalid {
    Invalid::new(
        "invalid_period",
        format!(
            "统计期间“{given}”无效：应为月份（2026-12）、季度（2026-Q4）或日期范围（2026-12-01..2026-12-15）"
        ),
        format!(
            "period \"{given}\" is not a month (2026-12), a quarter (2026-Q4) or a date range (2026-12-01..2026-12-15)"
        ),
    )
}

fn midnight(d: NaiveDate) -> Option<DateTime<Utc>> {
    CHINA
        .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

impl Period {
    /// The days `first..=last` (dates in China).
    pub fn days(label: String, first: NaiveDate, last: NaiveDate) -> Option<Self> {
        if last < first || (last - first).num_days() > 366 * 5 {
            return None;
        }
        Some(Self {
            label,
            from: midnight(first)?,
            to: midnight(last.succ_opt()?)?,
        })
    }

    /// The month, quarter or date range `s` names.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        let date = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok();
        let parsed = if let Some((a, b)) = s.split_once("..") {
            date(a)
                .zip(date(b))
                .and_then(|(a, b)| Self::days(s.to_owned(), a, b))
        } else if let Some((y, q)) = s.split_once("-Q") {
            let (y, q) = (y.parse::<i32>().ok(), q.parse::<u32>().ok());
            y.zip(q.filter(|q| (1..=4).contains(q))).and_then(|(y, q)| {
                let first = NaiveDate::from_ymd_opt(y, 3 * q - 2, 1)?;
                let last = first
                    .checked_add_months(chrono::Months::new(3))?
                    .pred_opt()?;
                Self::days(s.to_owned(), first, last)
            })
        } else {
            date(&format!("{s}-01")).and_then(|first| {
                let last = first
                    .checked_add_months(chrono::Months::new(1))?
                    .pred_opt()?;
                Self::days(s.to_owned(), first, last)
            })
        };
        parsed.ok_or_else(|| bad_period(s))
    }

    /// The month (in China) `at` falls in.
    pub fn month_of(at: DateTime<Utc>) -> Self {
        let d = at.with_timezone(&CHINA).date_naive();
        let label = format!("{:04}-{:02}", d.year(), d.month());
        Self::parse(&label).unwrap_or(Self {
            label,
            from: at,
            to: at,
        })
    }
}

/// One agency's numbers for one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgencyReport {
    /// The agency.
    pub agency: Agency,
    /// Stages it completed.
    pub stages_completed: u64,
    /// Of those, completed within their deadline.
    pub completed_on_time: u64,
    /// `completed_on_time / stages_completed`, when it completed any.
    pub on_time_rate: Option<f64>,
    /// Median working hours on a completed stage's clock (nearest rank).
    pub median_working_hours: Option<f64>,
    /// 90th percentile of the same (nearest rank).
    pub p90_working_hours: Option<f64>,
    /// Clocks of its that went overdue.
    pub overdue: u64,
    /// Supplements it asked for.
    pub supplements_requested: u64,
    /// Ratings by level (every level listed, zeros included).
    pub ratings: BTreeMap<RatingLevel, u64>,
    /// Rating windows that closed unrated.
    pub not_rated: u64,
    /// Follow-ups of bad ratings opened.
    pub follow_ups_opened: u64,
    /// Follow-ups closed.
    pub follow_ups_closed: u64,
    /// Of those, closed by their due date.
    pub follow_ups_closed_on_time: u64,
}

/// Nearest-rank percentile (percent) of sorted working seconds, in hours.
fn percentile(sorted: &[i64], percent: usize) -> Option<f64> {
    newborn_domain::forecast::nearest_rank(sorted, percent).map(|s| s as f64 / 3600.0)
}

impl AgencyReport {
    /// The numbers of `facts`, all of `agency`.
    pub fn of(agency: Agency, facts: &[Fact]) -> Self {
        let mut r = AgencyReport {
            agency,
            stages_completed: 0,
            completed_on_time: 0,
            on_time_rate: None,
            median_working_hours: None,
            p90_working_hours: None,
            overdue: 0,
            supplements_requested: 0,
            ratings: newborn_domain::flow::RATING_LEVELS
                .into_iter()
                .map(|l| (l, 0))
                .collect(),
            not_rated: 0,
            follow_ups_opened: 0,
            follow_ups_closed: 0,
            follow_ups_closed_on_time: 0,
        };
        let mut working = vec![];
        for f in facts.iter().filter(|f| f.agency == agency) {
            match f.kind {
                FactKind::Completed {
                    working_secs,
                    on_time,
                    ..
                } => {
                    r.stages_completed += 1;
                    r.completed_on_time += u64::from(on_time);
                    working.push(working_secs);
                }
                FactKind::SupplementRequested => r.supplements_requested += 1,
                FactKind::Overdue => r.overdue += 1,
                FactKind::Rated { level } => *r.ratings.entry(level).or_default() += 1,
                FactKind::NotRated => r.not_rated += 1,
                FactKind::FollowUpOpened => r.follow_ups_opened += 1,
                FactKind::FollowUpClosed { on_time } => {
                    r.follow_ups_closed += 1;
                    r.follow_ups_closed_on_time += u64::from(on_time);
                }
            }
        }
        working.sort_unstable();
        r.median_working_hours = percentile(&working, 50);
        r.p90_working_hours = percentile(&working, 90);
        r.on_time_rate = (r.stages_completed > 0)
            .then(|| r.completed_on_time as f64 / r.stages_completed as f64);
        r
    }
}

/// The efficiency report of a period: one row per agency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EfficiencyReport {
    /// The period.
    pub period: Period,
    /// One row per agency.
    pub agencies: Vec<AgencyReport>,
}

/// The efficiency report of `period` from `store`: one row per agency (only `agency`'s when
/// given), each from one index query of its facts.
pub async fn build(
    store: &dyn crate::ports::ApplicationStore,
    period: Period,
    agency: Option<Agency>,
) -> Result<EfficiencyReport, crate::ports::StoreError> {
    let mut agencies = vec![];
    for a in REPORTED
        .into_iter()
        .filter(|a| agency.is_none_or(|x| x == *a))
    {
        let facts = store.facts(a, period.from, period.to).await?;
        agencies.push(AgencyReport::of(a, &facts));
    }
    Ok(EfficiencyReport { period, agencies })
}

fn opt(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.4}")).unwrap_or_default()
}

impl EfficiencyReport {
    /// As CSV (UTF-8, a header row, one row per agency).
    pub fn csv(&self) -> String {
        let levels = newborn_domain::flow::RATING_LEVELS;
        let mut out = String::from(
            "period,agency,stages_completed,completed_on_time,on_time_rate,median_working_hours,p90_working_hours,overdue,supplements_requested",
        );
        for l in levels {
            out.push_str(&format!(",rated_{}", l.as_str()));
        }
        out.push_str(",not_rated,follow_ups_opened,follow_ups_closed,follow_ups_closed_on_time\n");
        for r in &self.agencies {
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{}",
                self.period.label,
                r.agency.as_str(),
                r.stages_completed,
                r.completed_on_time,
                opt(r.on_time_rate),
                opt(r.median_working_hours),
                opt(r.p90_working_hours),
                r.overdue,
                r.supplements_requested,
            ));
            for l in levels {
                out.push_str(&format!(",{}", r.ratings.get(&l).copied().unwrap_or(0)));
            }
            out.push_str(&format!(
                ",{},{},{},{}\n",
                r.not_rated, r.follow_ups_opened, r.follow_ups_closed, r.follow_ups_closed_on_time
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_months_quarters_and_ranges_in_china_time() {
        let m = Period::parse("2026-12").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(m.from.to_rfc3339(), "2026-11-30T16:00:00+00:00");
        assert_eq!(m.to.to_rfc3339(), "2026-12-31T16:00:00+00:00");
        let q = Period::parse("2026-Q1").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(q.from.to_rfc3339(), "2025-12-31T16:00:00+00:00");
        assert_eq!(q.to.to_rfc3339(), "2026-03-31T16:00:00+00:00");
        let r = Period::parse("2026-12-01..2026-12-01").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((r.to - r.from).num_hours(), 24);
        for bad in [
            "2026-13",
            "2026-Q5",
            "2026-12-02..2026-12-01",
            "december",
            "",
        ] {
            assert_eq!(
                Period::parse(bad).map_err(|e| e.code),
                Err("invalid_period".to_owned()),
                "{bad}"
            );
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let hours: Vec<i64> = (1..=10).map(|h| h * 3600).collect();
        assert_eq!(percentile(&hours, 50), Some(5.0));
        assert_eq!(percentile(&hours, 90), Some(9.0));
        assert_eq!(percentile(&[7200], 90), Some(2.0));
        assert_eq!(percentile(&[], 50), None);
    }
}
