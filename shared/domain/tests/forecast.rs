//! The predicted completion of an application (预计办结时间): from the deadlines without history,
//! from the agencies' observed times with it; moved by a holiday and by a supplement's pause.

mod common;
use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use newborn_domain::calendar::WorkingCalendar;
use newborn_domain::flow::Application;
use newborn_domain::forecast::{Basis, Forecast, History, forecast};
use newborn_domain::policy::Policy;
use newborn_domain::sla::working_time;
use newborn_domain::stage::{Stage, StageEvent, SupplementItem};
use newborn_domain::text::Bilingual;

fn submit_at(p: &Policy, at: DateTime<Utc>) -> Application {
    Application::submit(
        "A-7".parse().unwrap_or_else(|e| panic!("{e}")),
        form(&sample()),
        p,
        at,
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .0
}

fn apply(app: &mut Application, p: &Policy, stage: Stage, event: StageEvent, at: DateTime<Utc>) {
    app.apply(stage, event, p, at)
        .unwrap_or_else(|e| panic!("{stage}: {e}"));
}

fn complete(app: &mut Application, p: &Policy, stage: Stage, at: DateTime<Utc>) {
    apply(app, p, stage, StageEvent::Dispatch, at);
    let result = result(stage);
    apply(app, p, stage, StageEvent::Complete { result }, at);
}

fn predict(app: &Application, p: &Policy, h: &History, at: DateTime<Utc>) -> Forecast {
    forecast(app, p, h, &WorkingCalendar::builtin(), at).unwrap_or_else(|| panic!("no forecast"))
}

/// Working hours between two instants.
fn hours(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    working_time(&WorkingCalendar::builtin(), from, to)
        .duration
        .num_hours()
}

/// Without history every stage counts its deadline (附件1 四(五)): one working day each for the
/// hospital, the police, the release and insurance, three for the card after the bank choice.
/// Rules: OURS-FORECAST.
#[test]
fn without_history_the_prediction_is_the_chain_of_deadlines() {
    let p = policy("fujian-2.0");
    let app = submit_at(&p, now());
    let f = predict(&app, &p, &History::new(), now());
    assert_eq!(f.p50, f.p90, "deadlines are certain: {f:?}");
    assert!(f.stages.iter().all(|s| s.basis == Basis::Deadline), "{f:?}");
    // The sample chooses every service: 1 + 1 + 1 + 3 working days on the critical path (the
    // release runs beside insurance and the card).
    assert_eq!(hours(now(), f.p50), 6 * 24, "{f:?}");
    assert_eq!(f.dominant, Some(Stage::SocialSecurityCard));
    assert!(f.message.zh.starts_with("预计"), "{}", f.message.zh);
    assert!(f.message.zh.contains("社会保障卡"), "{}", f.message.zh);
    assert!(!f.waits_for_applicant);
}

/// With enough finished cases in the window, each stage is drawn from them: far earlier than
/// the deadlines, p50 before p90, and the basis says how many cases.
/// Rules: OURS-FORECAST.
#[test]
fn an_agencys_observed_times_replace_its_deadline() {
    let p = policy("fujian-2.0");
    let app = submit_at(&p, now());
    let mut h = History::new();
    for n in 0..40 {
        // Each agency takes 1–5 working hours; the card office 10–20.
        for stage in [
            Stage::HealthCheck,
            Stage::Police,
            Stage::CertificateRelease,
            Stage::Insurance,
        ] {
            h.record(stage, 3600 * (1 + n % 5));
        }
        h.record(Stage::SocialSecurityCard, 3600 * (10 + n % 11));
    }
    let f = predict(&app, &p, &h, now());
    let total = hours(now(), f.p50);
    assert!((10..=40).contains(&total), "{total} working hours: {f:?}");
    assert!(f.p50 < f.p90, "{f:?}");
    assert!(hours(now(), f.p90) < 6 * 24);
    let police = f.stages.iter().find(|s| s.stage == Stage::Police);
    assert_eq!(police.map(|s| s.basis), Some(Basis::Observed { cases: 40 }));
    // Too few cases for a stage falls back to its deadline for that stage alone.
    let mut thin = History::new();
    for stage in [Stage::HealthCheck, Stage::Police, Stage::Insurance] {
        for s in h.samples(stage) {
            thin.record(stage, *s);
        }
    }
    let g = predict(&app, &p, &thin, now());
    let card = g
        .stages
        .iter()
        .find(|s| s.stage == Stage::SocialSecurityCard);
    assert_eq!(card.map(|s| s.basis), Some(Basis::Deadline));
    // The same inputs give the same prediction.
    assert_eq!(predict(&app, &p, &h, now()), f);
}

/// A holiday moves the date, not the working time: the same application submitted the day
/// before National Day finishes seven calendar days later than one submitted two weeks before.
/// Rules: OURS-FORECAST.
#[test]
fn a_holiday_moves_the_predicted_date() {
    let p = policy("fujian-2.0");
    let ordinary = at("2026-09-16T09:00:00+08:00");
    let before_holiday = at("2026-09-30T09:00:00+08:00");
    let a = predict(&submit_at(&p, ordinary), &p, &History::new(), ordinary);
    let b = predict(
        &submit_at(&p, before_holiday),
        &p,
        &History::new(),
        before_holiday,
    );
    assert_eq!(hours(ordinary, a.p50), hours(before_holiday, b.p50));
    let lead = |from: DateTime<Utc>, to: DateTime<Utc>| (to - from).num_days();
    assert!(
        lead(before_holiday, b.p50) >= lead(ordinary, a.p50) + 7,
        "{} vs {}",
        b.p50,
        a.p50
    );
}

/// While the police wait for the family the prediction counts from its answer, assumed now
/// (附件1 四(五): the supplement time is not counted), so it moves later with every day the
/// family takes, by exactly the working time that passed.
/// Rules: OURS-FORECAST.
#[test]
fn a_supplement_pause_moves_the_prediction_by_the_time_the_family_takes() {
    let p = policy("fujian-2.0");
    let mut app = submit_at(&p, now());
    complete(&mut app, &p, Stage::PreReview, now());
    complete(&mut app, &p, Stage::HealthCheck, now());
    apply(&mut app, &p, Stage::Police, StageEvent::Dispatch, now());
    let asked = now() + TimeDelta::hours(2);
    apply(
        &mut app,
        &p,
        Stage::Police,
        StageEvent::RequestSupplement {
            items: vec![SupplementItem::Field {
                field: "household.police_station".into(),
            }],
            reason: Bilingual::new("请补充派出所", "name the police station"),
        },
        asked,
    );
    let h = History::new();
    let soon = predict(&app, &p, &h, asked);
    let later_at = asked + TimeDelta::days(2); // Monday 11:00 to Wednesday 11:00
    let later = predict(&app, &p, &h, later_at);
    assert!(soon.waits_for_applicant && later.waits_for_applicant);
    assert!(
        later.message.zh.contains("补正材料的时间不计入"),
        "{}",
        later.message.zh
    );
    assert_eq!(
        hours(soon.p50, later.p50),
        hours(asked, later_at),
        "{} then {}",
        soon.p50,
        later.p50
    );
    // The police have 22 of their 24 working hours left: what the prediction counts for them.
    let police = later.stages.iter().find(|s| s.stage == Stage::Police);
    assert_eq!(police.map(|s| s.remaining_secs), Some(22 * 3600));
    // Once the family answers, the clock runs again and the prediction stops moving.
    apply(&mut app, &p, Stage::Police, StageEvent::Supplied, later_at);
    let answered = predict(&app, &p, &h, later_at);
    assert!(!answered.waits_for_applicant);
    assert_eq!(answered.p50, later.p50);
}

/// A finished application has no prediction.
/// Rules: OURS-FORECAST.
#[test]
fn an_ended_application_has_no_prediction() {
    let p = policy("fujian-2.0");
    let mut app = submit_at(&p, now());
    app.withdraw(&p, now()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        forecast(
            &app,
            &p,
            &History::new(),
            &WorkingCalendar::builtin(),
            now()
        )
        .is_none()
    );
}
