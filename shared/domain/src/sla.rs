//! The SLA clock of a stage: working time only, paused while the applicant acts.
//!
//! 闽卫政法〔2024〕40号 附件1 四(五): the hospital, police and medical-insurance offices must act
//! "within 1 working day (24 hours)", the social-security office "within 3 working days (72
//! hours)"; "the applicant's supplement time and mailing time are not counted". So a working day
//! contributes its full 24 hours, any other day none, and the clock stops running while the case
//! waits for the applicant. Day boundaries are China time; instants are stored in UTC.

use crate::calendar::{CHINA, WorkingCalendar};
use chrono::{DateTime, Days, NaiveTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// An amount of working time and whether any uncovered (provisional) day contributed to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingTime {
    /// The working time.
    pub duration: TimeDelta,
    /// True when a day outside the calendar's covered years was involved.
    pub provisional: bool,
}

/// The longest span the clock arithmetic walks, in days (ten years).
const MAX_DAYS: u64 = 3660;

fn day_start(date: chrono::NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN)
        .and_local_timezone(CHINA)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Working time in `[from, to)`: the parts of working days (China time) inside the interval.
pub fn working_time(cal: &WorkingCalendar, from: DateTime<Utc>, to: DateTime<Utc>) -> WorkingTime {
    let mut total = TimeDelta::zero();
    let mut provisional = false;
    if to <= from {
        return WorkingTime {
            duration: total,
            provisional,
        };
    }
    let mut date = from.with_timezone(&CHINA).date_naive();
    for _ in 0..MAX_DAYS * 4 {
        let start = day_start(date);
        if start >= to {
            break;
        }
        let next = date + Days::new(1);
        let end = day_start(next);
        let day = cal.day(date);
        let overlap = to.min(end) - from.max(start);
        if overlap > TimeDelta::zero() {
            provisional |= !day.covered;
            if day.is_working() {
                total += overlap;
            }
        }
        date = next;
    }
    WorkingTime {
        duration: total,
        provisional,
    }
}

/// The instant at which `amount` of working time has passed since `from`.
pub fn add_working_time(
    cal: &WorkingCalendar,
    from: DateTime<Utc>,
    amount: TimeDelta,
) -> (DateTime<Utc>, bool) {
    let mut cursor = from;
    let mut left = amount;
    let mut provisional = false;
    if left <= TimeDelta::zero() {
        return (from, false);
    }
    let mut date = from.with_timezone(&CHINA).date_naive();
    for _ in 0..MAX_DAYS {
        let next = date + Days::new(1);
        let end = day_start(next);
        let day = cal.day(date);
        provisional |= !day.covered;
        if day.is_working() {
            let available = end - cursor;
            if left <= available {
                return (cursor + left, provisional);
            }
            left -= available;
        }
        cursor = end;
        date = next;
    }
    // Unreachable with a valid calendar (every covered year has ≥ 200 working days).
    (cursor + left, true)
}

/// One stretch of time during which the clock ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// When it started or resumed.
    pub from: DateTime<Utc>,
    /// When it paused or stopped; `None` while running.
    pub to: Option<DateTime<Utc>>,
}

/// A misuse of the clock; the caller's state machine prevents these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// Pausing or stopping a clock that is not running.
    #[error("the clock is not running")]
    NotRunning,
    /// Resuming a clock that runs or has stopped.
    #[error("the clock is running or stopped")]
    NotPaused,
    /// An instant before the clock's last change.
    #[error("time may not go backwards on a clock")]
    Backwards,
}

/// The SLA clock of one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaClock {
    /// The working time the agency has, in seconds.
    pub budget_secs: i64,
    /// At what share of the budget, in percent, a warning is raised.
    pub warning_percent: u8,
    /// The stretches during which the clock ran.
    pub runs: Vec<Run>,
    /// Set when the stage finished: the clock runs no more.
    pub stopped: bool,
}

/// Where a clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    /// Counting.
    Running,
    /// Waiting for the applicant; not counting.
    Paused,
    /// The stage finished.
    Stopped,
}

/// How close a clock is to its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaLevel {
    /// Below the warning threshold.
    OnTrack,
    /// At or past the warning threshold.
    Warning,
    /// At or past the deadline.
    Overdue,
}

/// A clock's reading at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClockReading {
    /// Running, paused or stopped.
    pub state: ClockState,
    /// Working time used, seconds.
    pub elapsed_secs: i64,
    /// Working time left, seconds; negative when overdue.
    pub remaining_secs: i64,
    /// When the budget runs out: known while running, or once it has run out.
    pub deadline: Option<DateTime<Utc>>,
    /// When the warning threshold is reached, under the same conditions.
    pub warning_at: Option<DateTime<Utc>>,
    /// On track, warning or overdue.
    pub level: SlaLevel,
    /// True when a day outside the calendar's covered years was involved.
    pub provisional: bool,
}

impl SlaClock {
    /// Starts a clock with `budget` of working time at `at`.
    pub fn start(budget: TimeDelta, warning_percent: u8, at: DateTime<Utc>) -> Self {
        Self {
            budget_secs: budget.num_seconds(),
            warning_percent: warning_percent.min(100),
            runs: vec![Run { from: at, to: None }],
            stopped: false,
        }
    }

    /// Whether the clock is counting.
    pub fn state(&self) -> ClockState {
        match self.runs.last() {
            _ if self.stopped => ClockState::Stopped,
            Some(Run { to: None, .. }) => ClockState::Running,
            _ => ClockState::Paused,
        }
    }

    fn last_change(&self) -> Option<DateTime<Utc>> {
        self.runs.last().map(|r| r.to.unwrap_or(r.from))
    }

    fn close(&mut self, at: DateTime<Utc>) -> Result<(), ClockError> {
        if self.state() != ClockState::Running {
            return Err(ClockError::NotRunning);
        }
        if self.last_change().is_some_and(|t| at < t) {
            return Err(ClockError::Backwards);
        }
        if let Some(run) = self.runs.last_mut() {
            run.to = Some(at);
        }
        Ok(())
    }

    /// Pauses the clock (the case now waits for the applicant).
    pub fn pause(&mut self, at: DateTime<Utc>) -> Result<(), ClockError> {
        self.close(at)
    }

    /// Resumes a paused clock (the applicant has acted).
    pub fn resume(&mut self, at: DateTime<Utc>) -> Result<(), ClockError> {
        if self.state() != ClockState::Paused {
            return Err(ClockError::NotPaused);
        }
        if self.last_change().is_some_and(|t| at < t) {
            return Err(ClockError::Backwards);
        }
        self.runs.push(Run { from: at, to: None });
        Ok(())
    }

    /// Stops the clock for good (the stage finished). A paused clock stops where it paused.
    pub fn stop(&mut self, at: DateTime<Utc>) -> Result<(), ClockError> {
        if self.state() == ClockState::Running {
            self.close(at)?;
        }
        self.stopped = true;
        Ok(())
    }

    /// The clock's reading at `now`.
    pub fn read(&self, cal: &WorkingCalendar, now: DateTime<Utc>) -> ClockReading {
        let budget = TimeDelta::seconds(self.budget_secs);
        let warn = TimeDelta::seconds(self.budget_secs * i64::from(self.warning_percent) / 100);
        let mut elapsed = TimeDelta::zero();
        let mut provisional = false;
        let mut deadline = None;
        let mut warning_at = None;
        for run in &self.runs {
            let end = run.to.unwrap_or(now).max(run.from);
            let before = elapsed;
            let span = working_time(cal, run.from, end);
            provisional |= span.provisional;
            elapsed += span.duration;
            // The instant a threshold falls in this run (or, for the open run, will fall).
            let open = run.to.is_none() && !self.stopped;
            let mut locate = |threshold: TimeDelta, slot: &mut Option<DateTime<Utc>>| {
                if slot.is_none() && (elapsed >= threshold || open) {
                    let (at, prov) = add_working_time(cal, run.from, threshold - before);
                    provisional |= prov;
                    *slot = Some(at.max(run.from));
                }
            };
            locate(budget, &mut deadline);
            locate(warn, &mut warning_at);
        }
        let level = if elapsed >= budget {
            SlaLevel::Overdue
        } else if elapsed >= warn {
            SlaLevel::Warning
        } else {
            SlaLevel::OnTrack
        };
        ClockReading {
            state: self.state(),
            elapsed_secs: elapsed.num_seconds(),
            remaining_secs: (budget - elapsed).num_seconds(),
            deadline,
            warning_at,
            level,
            provisional,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }
    fn hours(h: i64) -> TimeDelta {
        TimeDelta::hours(h)
    }

    /// 闽卫政法〔2024〕40号 附件1 四(五): one working day = 24 hours of a working day.
    #[test]
    fn one_working_day_from_a_friday_afternoon_ends_on_monday_afternoon() {
        let cal = WorkingCalendar::builtin();
        let (deadline, provisional) =
            add_working_time(&cal, t("2025-11-14T15:00:00+08:00"), hours(24));
        assert_eq!(deadline, t("2025-11-17T15:00:00+08:00"));
        assert!(!provisional);
    }

    /// 国办发明电〔2024〕12号: 2025-09-28 (Sunday) is worked, 10-01..08 are not.
    #[test]
    fn a_deadline_crosses_the_2025_national_day_break_using_the_makeup_sunday() {
        let cal = WorkingCalendar::builtin();
        // Saturday 09-27 10:00: Saturday does not count, Sunday 09-28 does.
        let (d, _) = add_working_time(&cal, t("2025-09-27T10:00:00+08:00"), hours(24));
        assert_eq!(d, t("2025-09-29T00:00:00+08:00"));
        // Tuesday 09-30 12:00 + 24h: 12 h on 09-30, holiday until 10-08, 12 h on Thursday 10-09.
        let (d, _) = add_working_time(&cal, t("2025-09-30T12:00:00+08:00"), hours(24));
        assert_eq!(d, t("2025-10-09T12:00:00+08:00"));
        // Three working days (social-security card) from Thursday 10-09 09:00: 15 h + Friday
        // 10-10 + the make-up Saturday 10-11 = 63 h; Sunday 10-12 rests; 9 h more on Monday.
        let (d, _) = add_working_time(&cal, t("2025-10-09T09:00:00+08:00"), hours(72));
        assert_eq!(d, t("2025-10-13T09:00:00+08:00"));
    }

    /// The 2026 notice: 2026-02-15..23 off, Saturday 02-14 worked.
    #[test]
    fn a_deadline_crosses_the_2026_spring_festival() {
        let cal = WorkingCalendar::builtin();
        let (d, _) = add_working_time(&cal, t("2026-02-13T18:00:00+08:00"), hours(24));
        // 6 h on Friday 02-13, then the make-up Saturday 02-14 gives 18 h.
        assert_eq!(d, t("2026-02-14T18:00:00+08:00"));
        let (d, _) = add_working_time(&cal, t("2026-02-14T18:00:00+08:00"), hours(24));
        assert_eq!(d, t("2026-02-24T18:00:00+08:00"));
    }

    #[test]
    fn day_boundaries_are_china_time_not_utc() {
        let cal = WorkingCalendar::builtin();
        // Friday 23:00 China time is 15:00 UTC Friday; one hour of Friday is left.
        let w = working_time(
            &cal,
            t("2025-11-14T23:00:00+08:00"),
            t("2025-11-15T01:00:00+08:00"),
        );
        assert_eq!(w.duration, hours(1));
    }

    #[test]
    fn deadlines_in_uncovered_years_are_provisional() {
        let cal = WorkingCalendar::builtin();
        let (d, provisional) = add_working_time(&cal, t("2026-12-31T12:00:00+08:00"), hours(24));
        // 2027-01-01 is the statutory New Year's Day even without a notice.
        assert_eq!(d, t("2027-01-04T12:00:00+08:00"));
        assert!(provisional);
    }

    /// 附件1 四(五): "用户补件时间和寄件时间不纳入计时范畴".
    #[test]
    fn a_supplement_pause_moves_the_deadline_by_the_working_time_paused() {
        let cal = WorkingCalendar::builtin();
        let mut clock = SlaClock::start(hours(24), 75, t("2025-11-17T09:00:00+08:00"));
        let r = clock.read(&cal, t("2025-11-17T12:00:00+08:00"));
        assert_eq!(r.deadline, Some(t("2025-11-18T09:00:00+08:00")));
        assert_eq!(r.warning_at, Some(t("2025-11-18T03:00:00+08:00")));
        assert_eq!(r.level, SlaLevel::OnTrack);
        clock
            .pause(t("2025-11-17T12:00:00+08:00"))
            .unwrap_or_else(|e| panic!("{e}"));
        let paused = clock.read(&cal, t("2025-11-19T12:00:00+08:00"));
        assert_eq!(paused.state, ClockState::Paused);
        assert_eq!(paused.deadline, None);
        assert_eq!(paused.remaining_secs, hours(21).num_seconds());
        clock
            .resume(t("2025-11-19T12:00:00+08:00"))
            .unwrap_or_else(|e| panic!("{e}"));
        let r = clock.read(&cal, t("2025-11-19T13:00:00+08:00"));
        assert_eq!(r.deadline, Some(t("2025-11-20T09:00:00+08:00")));
        let late = clock.read(&cal, t("2025-11-20T10:00:00+08:00"));
        assert_eq!(late.level, SlaLevel::Overdue);
        assert_eq!(late.remaining_secs, -3600);
        clock
            .stop(t("2025-11-20T10:00:00+08:00"))
            .unwrap_or_else(|e| panic!("{e}"));
        let after = clock.read(&cal, t("2025-12-01T00:00:00+08:00"));
        assert_eq!(after.state, ClockState::Stopped);
        assert_eq!(after.remaining_secs, -3600);
        assert_eq!(after.deadline, Some(t("2025-11-20T09:00:00+08:00")));
    }

    #[test]
    fn misuse_of_the_clock_is_refused() {
        let mut clock = SlaClock::start(hours(24), 75, t("2025-11-17T09:00:00+08:00"));
        assert_eq!(
            clock.resume(t("2025-11-17T10:00:00+08:00")),
            Err(ClockError::NotPaused)
        );
        assert_eq!(
            clock.pause(t("2025-11-17T08:00:00+08:00")),
            Err(ClockError::Backwards)
        );
        assert!(clock.pause(t("2025-11-17T10:00:00+08:00")).is_ok());
        assert_eq!(
            clock.pause(t("2025-11-17T11:00:00+08:00")),
            Err(ClockError::NotRunning)
        );
    }

    /// Instants from 2024 into the uncovered 2027, at minute resolution.
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        (0i64..(4 * 366 * 24 * 60))
            .prop_map(|m| t("2024-01-01T00:00:00+08:00") + TimeDelta::minutes(m))
    }

    proptest! {
        #[test]
        fn working_time_never_exceeds_wall_time(a in instant(), len in 0i64..(40 * 24 * 60)) {
            let cal = WorkingCalendar::builtin();
            let b = a + TimeDelta::minutes(len);
            prop_assert!(working_time(&cal, a, b).duration <= b - a);
        }

        #[test]
        fn the_deadline_is_exactly_the_budget_of_working_time_away(a in instant(), h in 1i64..200) {
            let cal = WorkingCalendar::builtin();
            let (d, _) = add_working_time(&cal, a, hours(h));
            prop_assert_eq!(working_time(&cal, a, d).duration, hours(h));
            prop_assert!(d - a >= hours(h));
        }

        #[test]
        fn pausing_never_shortens_the_remaining_time(
            start in instant(),
            offsets in (0i64..(20 * 24 * 60), 0i64..(20 * 24 * 60), 0i64..(20 * 24 * 60)),
            budget_h in prop::sample::select(vec![24i64, 72, 48, 360]),
        ) {
            let cal = WorkingCalendar::builtin();
            let mut o = [offsets.0, offsets.1, offsets.2];
            o.sort_unstable();
            let pause_at = start + TimeDelta::minutes(o[0]);
            let resume_at = start + TimeDelta::minutes(o[1]);
            let now = start + TimeDelta::minutes(o[2]);
            let plain = SlaClock::start(hours(budget_h), 75, start);
            let mut paused = plain.clone();
            prop_assert!(paused.pause(pause_at).is_ok());
            prop_assert!(paused.resume(resume_at).is_ok());
            let a = plain.read(&cal, now);
            let b = paused.read(&cal, now);
            prop_assert!(b.remaining_secs >= a.remaining_secs);
            prop_assert!(b.elapsed_secs <= (now - start).num_seconds());
            if let (Some(da), Some(db)) = (a.deadline, b.deadline) {
                prop_assert!(db >= da);
            }
            prop_assert!(b.level <= a.level);
        }
    }
}
