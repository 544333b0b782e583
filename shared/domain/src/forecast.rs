//! The predicted completion of an open application (预计办结时间): for each stage still to run
//! and for the whole, the date by which it finishes with even odds (p50) and nine times in ten
//! (p90).
//!
//! Each stage's working time is drawn from what its agency took on the applications it finished
//! in the policy's recent window ([`History`]); with fewer cases than the policy asks for, the
//! stage is assumed to use its whole deadline (闽卫政法〔2024〕40号 附件1 四(五): "1个工作日（24
//! 小时）" for the hospital, the police and medical insurance, "3个工作日（72小时）" for the
//! social-security card).
//! A stage already running is drawn from the cases that took longer than it has so far. Stages
//! follow the route's graph ([`Policy::dependencies`]): one starts when those it depends on
//! finish, and parallel branches end with the later one. The sums are working time, turned
//! into dates by the working-day calendar, so a weekend or a holiday moves the prediction; the
//! time the family takes to answer a supplement is not counted (the same 附件1 四(五): "用户补件
//! 时间和寄件时间不纳入计时范畴"), so while the case waits for the family the prediction runs
//! from the moment it answers, assumed now.
//!
//! The whole is computed by drawing every stage [`DRAWS`] times with a fixed seed per
//! application, so the same inputs always give the same prediction.

use crate::calendar::{CHINA, WorkingCalendar};
use crate::flow::{Application, Outcome};
use crate::kinds::Stage;
use crate::policy::Policy;
use crate::sla::add_working_time;
use crate::stage::StageStatus;
use crate::text::Bilingual;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// How many times each stage is drawn.
pub const DRAWS: usize = 512;

/// What the agencies took, in working seconds, on the stages they finished in the recent window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    by_stage: BTreeMap<Stage, Vec<i64>>,
}

impl History {
    /// An empty history: every stage is predicted from its deadline.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `stage` finished after `working_secs` of working time.
    pub fn record(&mut self, stage: Stage, working_secs: i64) {
        let samples = self.by_stage.entry(stage).or_default();
        let at = samples.partition_point(|s| *s <= working_secs);
        samples.insert(at, working_secs.max(0));
    }

    /// The recorded working times of `stage`, shortest first.
    pub fn samples(&self, stage: Stage) -> &[i64] {
        self.by_stage.get(&stage).map_or(&[], Vec::as_slice)
    }
}

/// Where a stage's prediction comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "basis", rename_all = "snake_case")]
pub enum Basis {
    /// The agency's finished cases in the window.
    Observed {
        /// How many.
        cases: usize,
    },
    /// Too few finished cases: the stage's deadline.
    Deadline,
}

/// One stage still to run, as predicted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageForecast {
    /// The stage.
    pub stage: Stage,
    /// Its name.
    pub name: Bilingual,
    /// Finished with even odds by then.
    pub p50: DateTime<Utc>,
    /// Finished nine times in ten by then.
    pub p90: DateTime<Utc>,
    /// The working time it is expected to take from now on (median), in seconds.
    pub remaining_secs: i64,
    /// Observed or deadline.
    #[serde(flatten)]
    pub basis: Basis,
}

/// The predicted completion of an open application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Forecast {
    /// The whole application finished with even odds by then.
    pub p50: DateTime<Utc>,
    /// The whole application finished nine times in ten by then.
    pub p90: DateTime<Utc>,
    /// The stages still to run, in route order.
    pub stages: Vec<StageForecast>,
    /// The stage expected to take longest from now on: what the date mostly depends on.
    pub dominant: Option<Stage>,
    /// True while a stage waits for the family: the dates count from its answer, assumed now.
    pub waits_for_applicant: bool,
    /// True when a day outside the calendar's covered years was involved.
    pub provisional: bool,
    /// The sentence shown to the family.
    pub message: Bilingual,
}

/// How a stage's remaining working time is drawn.
enum Draw<'a> {
    /// From the observed cases longer than the time already spent.
    Observed(&'a [i64], i64),
    /// A fixed amount.
    Fixed(i64),
}

impl Draw<'_> {
    fn sample(&self, rng: &mut SplitMix) -> i64 {
        match self {
            Draw::Observed(longer, spent) => {
                let pick = longer[rng.below(longer.len())];
                (pick - spent).max(0)
            }
            Draw::Fixed(secs) => *secs,
        }
    }
}

/// A small deterministic generator (SplitMix64), seeded per application.
struct SplitMix(u64);

impl SplitMix {
    fn seeded(text: &str) -> Self {
        // FNV-1a of the id: stable across runs and platforms.
        let seed = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        // n ≤ DRAWS-sized histories: the modulo bias is far below the sampling error.
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One stage still to run and how its time is drawn.
struct Open<'a> {
    index: usize,
    draw: Draw<'a>,
    basis: Basis,
}

/// The stage's remaining time: observed cases longer than `spent` when there are enough in the
/// window, otherwise what is left of its deadline.
fn draw_of<'a>(
    stage: Stage,
    spent: i64,
    policy: &Policy,
    history: &'a History,
) -> (Draw<'a>, Basis) {
    let samples = history.samples(stage);
    let deadline = policy.budget(stage).map_or(0, |b| b.num_seconds());
    if samples.len() >= policy.forecast.min_cases as usize {
        let longer = &samples[samples.partition_point(|s| *s <= spent)..];
        let basis = Basis::Observed {
            cases: samples.len(),
        };
        if longer.is_empty() {
            // Slower than every case seen: it is due now, or by its deadline if that is later.
            return (Draw::Fixed((deadline - spent).max(0)), basis);
        }
        return (Draw::Observed(longer, spent), basis);
    }
    (Draw::Fixed((deadline - spent).max(0)), Basis::Deadline)
}

/// The nearest-rank percentile `percent` of sorted `values`; `None` when there are none.
pub fn nearest_rank(values: &[i64], percent: usize) -> Option<i64> {
    let rank = (values.len() * percent)
        .div_ceil(100)
        .clamp(1, values.len().max(1));
    values.get(rank - 1).copied()
}

fn quantile(values: &[i64], percent: usize) -> i64 {
    nearest_rank(values, percent).unwrap_or(0)
}

/// One stage of a route as a prediction sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    /// The stage.
    pub stage: Stage,
    /// Working time already on its clock, in seconds.
    pub spent_secs: i64,
    /// Whether it is still to run (or running); an ended or unchosen stage is not.
    pub runs: bool,
}

/// The predicted completion of `app` at `now`, or `None` once it has ended.
pub fn forecast(
    app: &Application,
    policy: &Policy,
    history: &History,
    calendar: &WorkingCalendar,
    now: DateTime<Utc>,
) -> Option<Forecast> {
    if app.outcome() != Outcome::InProgress {
        return None;
    }
    let mut waits_for_applicant = false;
    let stages: Vec<Planned> = app
        .stages
        .iter()
        .map(|state| Planned {
            stage: state.stage,
            spent_secs: state
                .clock
                .as_ref()
                .map_or(0, |c| c.read(calendar, now).elapsed_secs),
            runs: match &state.status {
                StageStatus::Pending => app.form.chose_stage(state.stage),
                StageStatus::Queued { .. } | StageStatus::AwaitingAgency { .. } => true,
                StageStatus::AwaitingApplicant { .. } => {
                    waits_for_applicant = true;
                    true
                }
                _ => false,
            },
        })
        .collect();
    let mut f = predict(
        app.id.as_str(),
        &stages,
        app.form.case,
        policy,
        history,
        calendar,
        now,
    );
    f.waits_for_applicant = waits_for_applicant;
    f.message = message(f.p50, f.p90, f.dominant, waits_for_applicant);
    Some(f)
}

/// The prediction for `stages` (a case's route in dependency order) at `now`; `seed` (the
/// application's id) fixes the draws.
pub fn predict(
    seed: &str,
    stages: &[Planned],
    case: crate::kinds::Case,
    policy: &Policy,
    history: &History,
    calendar: &WorkingCalendar,
    now: DateTime<Utc>,
) -> Forecast {
    let open: Vec<Open> = stages
        .iter()
        .enumerate()
        .filter(|(_, p)| p.runs)
        .map(|(index, p)| {
            let (draw, basis) = draw_of(p.stage, p.spent_secs, policy, history);
            Open { index, draw, basis }
        })
        .collect();
    // Each stage's finish, in working seconds from now, per draw; stages already ended finish
    // at 0. The route is in dependency order, so one pass fills them.
    let n = stages.len();
    let mut finish = vec![vec![0_i64; DRAWS]; n];
    let mut own = vec![vec![0_i64; DRAWS]; n];
    let mut rng = SplitMix::seeded(seed);
    for o in &open {
        let deps: Vec<usize> = policy
            .dependencies(case, stages[o.index].stage)
            .iter()
            .filter_map(|d| stages.iter().position(|s| s.stage == d.stage))
            .collect();
        for k in 0..DRAWS {
            let start = deps.iter().map(|d| finish[*d][k]).max().unwrap_or(0);
            let took = o.draw.sample(&mut rng);
            own[o.index][k] = took;
            finish[o.index][k] = start + took;
        }
    }
    let mut provisional = false;
    let mut at = |secs: i64| {
        let (t, p) = add_working_time(calendar, now, TimeDelta::seconds(secs));
        provisional |= p;
        t
    };
    let predicted: Vec<StageForecast> = open
        .iter()
        .map(|o| {
            let mut f = finish[o.index].clone();
            f.sort_unstable();
            let mut d = own[o.index].clone();
            d.sort_unstable();
            let stage = stages[o.index].stage;
            StageForecast {
                stage,
                name: stage.label(),
                p50: at(quantile(&f, 50)),
                p90: at(quantile(&f, 90)),
                remaining_secs: quantile(&d, 50),
                basis: o.basis,
            }
        })
        .collect();
    let mut whole: Vec<i64> = (0..DRAWS)
        .map(|k| finish.iter().map(|f| f[k]).max().unwrap_or(0))
        .collect();
    whole.sort_unstable();
    let (p50, p90) = (at(quantile(&whole, 50)), at(quantile(&whole, 90)));
    let dominant = predicted
        .iter()
        .filter(|s| s.remaining_secs > 0)
        .max_by_key(|s| s.remaining_secs)
        .map(|s| s.stage);
    Forecast {
        p50,
        p90,
        stages: predicted,
        dominant,
        waits_for_applicant: false,
        provisional,
        message: message(p50, p90, dominant, false),
    }
}

/// "预计12月8日前全部办结（九成把握在12月9日前）…"
fn message(
    p50: DateTime<Utc>,
    p90: DateTime<Utc>,
    dominant: Option<Stage>,
    waits_for_applicant: bool,
) -> Bilingual {
    let (d50, d90) = (p50.with_timezone(&CHINA), p90.with_timezone(&CHINA));
    let mut zh = format!(
        "预计{}前全部办结（九成把握在{}前）",
        d50.format("%-m月%-d日%H:%M"),
        d90.format("%-m月%-d日%H:%M")
    );
    let mut en = format!(
        "Expected to be finished by {} (nine in ten by {})",
        d50.format("%-d %b %H:%M"),
        d90.format("%-d %b %H:%M")
    );
    if let Some(stage) = dominant {
        let label = stage.label();
        zh.push_str(&format!("，用时最长的环节是{}", label.zh));
        en.push_str(&format!("; the longest step is {}", label.en));
    }
    if waits_for_applicant {
        zh.push_str("；补正材料的时间不计入，按您今天补齐计算");
        en.push_str(
            "; the time you take to supplement is not counted: this assumes you answer today",
        );
    }
    zh.push('。');
    en.push('.');
    Bilingual::new(zh, en)
}
