//! How well the predicted completion (`newborn_domain::forecast`) is calibrated: a simulation of
//! agencies with randomised working times, over the real working-day calendar (weekends, New
//! Year and the Spring Festival) and Fujian's route.
//!
//! Applications arrive every working and non-working day at random instants. Each agency's
//! working time on a stage is drawn from its own distribution (log-normal, with one case in
//! eight a slow one that runs to and past the deadline). At each submission the prediction is
//! made exactly as the service makes it: from the history of the stages finished in the
//! policy's window before that instant (refreshed each simulated hour, as the service's cache
//! is), never from the future. Then the application's real completion is simulated, and the
//! two compared: the share finished before their p90 (aim 90 % ± 5) and before their p50, and
//! the mean absolute error of the p50 in working hours.
//!
//! The simulation checks the method's statistics and the calendar arithmetic; it does not run
//! the service (the service's own tests check that the view and notifications carry what this
//! function predicts).

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use newborn_domain::calendar::WorkingCalendar;
use newborn_domain::forecast::{History, Planned, predict};
use newborn_domain::kinds::{Case, Stage};
use newborn_domain::policy::PolicyRegistry;
use newborn_domain::sla::{add_working_time, working_time};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng};
use serde::Serialize;

/// What the simulation measured.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    /// Applications compared (after the first window, so every one had a full history).
    pub applications: usize,
    /// Simulated days.
    pub days: u32,
    /// The policy's window, in days.
    pub window_days: u32,
    /// Share of applications finished by their p90, percent.
    pub before_p90_percent: f64,
    /// Share finished by their p50, percent.
    pub before_p50_percent: f64,
    /// Mean absolute error of the p50, in working hours.
    pub p50_mae_working_hours: f64,
    /// Mean width p90 − p50, in working hours.
    pub p90_margin_working_hours: f64,
    /// The same share for the applications of the first window (predicted from deadlines where
    /// the history was still short).
    pub warm_up_before_p90_percent: f64,
}

/// Uniform in (0, 1] and standard normal draws from a seeded generator.
trait Draws {
    fn unit(&mut self) -> f64;
    fn normal(&mut self) -> f64;
}

impl Draws for StdRng {
    fn unit(&mut self) -> f64 {
        1.0 - self.random::<f64>()
    }
    fn normal(&mut self) -> f64 {
        // Box–Muller.
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// An agency's working time on a stage: log-normal around `median_hours`, one case in eight a
/// slow one between 0.8 and 1.6 times the deadline.
fn working_secs(stage: Stage, deadline_hours: f64, rng: &mut StdRng) -> i64 {
    let (median_hours, spread) = match stage {
        Stage::PreReview => return 0,
        Stage::HealthCheck => (3.0, 0.9),
        Stage::Police => (6.0, 0.8),
        Stage::CertificateRelease => (2.0, 1.0),
        Stage::Insurance => (4.0, 0.7),
        Stage::SocialSecurityCard => (20.0, 0.6),
    };
    let hours = if rng.unit() < 0.125 {
        deadline_hours * (0.8 + 0.8 * rng.unit())
    } else {
        median_hours * (spread * rng.normal()).exp()
    };
    (hours * 3600.0) as i64
}

/// Runs the simulation: `per_day` applications a day for `days` days from 2026-12-14.
pub fn run(per_day: usize, days: u32) -> anyhow::Result<Calibration> {
    let registry = PolicyRegistry::builtin();
    let policy = registry
        .latest("fujian-2.0")
        .ok_or_else(|| anyhow::anyhow!("the fujian-2.0 policy is not built in"))?;
    let calendar = WorkingCalendar::builtin();
    let case = Case::Full;
    let route: Vec<Stage> = std::iter::once(Stage::PreReview)
        .chain(policy.route(case).unwrap_or_default().iter().copied())
        .collect();
    let deps: Vec<Vec<usize>> = route
        .iter()
        .map(|s| {
            policy
                .dependencies(case, *s)
                .iter()
                .filter_map(|d| route.iter().position(|r| *r == d.stage))
                .collect()
        })
        .collect();
    let window = TimeDelta::days(i64::from(policy.forecast.window_days));
    let start = Utc
        .with_ymd_and_hms(2026, 12, 13, 16, 0, 0)
        .single()
        .ok_or_else(|| anyhow::anyhow!("start instant"))?;
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut arrivals: Vec<DateTime<Utc>> = (0..days)
        .flat_map(|d| {
            let day = start + TimeDelta::days(i64::from(d));
            (0..per_day)
                .map(|_| day + TimeDelta::seconds((rng.unit() * 86_400.0) as i64))
                .collect::<Vec<_>>()
        })
        .collect();
    arrivals.sort_unstable();
    // Every finished stage: when, which, how long it took.
    let mut finished: Vec<(DateTime<Utc>, Stage, i64)> = vec![];
    let mut history = History::new();
    let mut history_at: Option<DateTime<Utc>> = None;
    let (mut compared, mut before_p90, mut before_p50) = (0usize, 0usize, 0usize);
    let (mut abs_error, mut margin) = (0f64, 0f64);
    let (mut warm, mut warm_before_p90) = (0usize, 0usize);
    for (i, submitted) in arrivals.iter().copied().enumerate() {
        if history_at.is_none_or(|t| submitted - t >= TimeDelta::hours(1)) {
            history = History::new();
            for (at, stage, secs) in &finished {
                if *at < submitted && *at >= submitted - window {
                    history.record(*stage, *secs);
                }
            }
            history_at = Some(submitted);
        }
        let planned: Vec<Planned> = route
            .iter()
            .map(|s| Planned {
                stage: *s,
                spent_secs: 0,
                runs: true,
            })
            .collect();
        let forecast = predict(
            &format!("sim-{i}"),
            &planned,
            case,
            policy,
            &history,
            &calendar,
            submitted,
        );
        // The real run: each stage after those it depends on.
        let mut finish = vec![0i64; route.len()];
        for (k, stage) in route.iter().enumerate() {
            let deadline_hours = policy.budget(*stage).map_or(0.0, |b| b.num_hours() as f64);
            let took = working_secs(*stage, deadline_hours, &mut rng);
            let begin = deps[k].iter().map(|d| finish[*d]).max().unwrap_or(0);
            finish[k] = begin + took;
            let (at, _) = add_working_time(&calendar, submitted, TimeDelta::seconds(finish[k]));
            finished.push((at, *stage, took));
        }
        let total = finish.iter().copied().max().unwrap_or(0);
        let (done, _) = add_working_time(&calendar, submitted, TimeDelta::seconds(total));
        if submitted < start + window {
            warm += 1;
            warm_before_p90 += usize::from(done <= forecast.p90);
            continue;
        }
        compared += 1;
        before_p90 += usize::from(done <= forecast.p90);
        before_p50 += usize::from(done <= forecast.p50);
        let (a, b) = (done.min(forecast.p50), done.max(forecast.p50));
        abs_error += working_time(&calendar, a, b).duration.num_seconds() as f64 / 3600.0;
        margin += working_time(&calendar, forecast.p50, forecast.p90)
            .duration
            .num_seconds() as f64
            / 3600.0;
    }
    let share = |n: usize, of: usize| 100.0 * n as f64 / of.max(1) as f64;
    Ok(Calibration {
        applications: compared,
        days,
        window_days: policy.forecast.window_days,
        before_p90_percent: share(before_p90, compared),
        before_p50_percent: share(before_p50, compared),
        p50_mae_working_hours: abs_error / compared.max(1) as f64,
        p90_margin_working_hours: margin / compared.max(1) as f64,
        warm_up_before_p90_percent: share(warm_before_p90, warm),
    })
}
