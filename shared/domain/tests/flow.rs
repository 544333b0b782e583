//! One application's flow through its stages under the Fujian 2.0 policy.

mod common;
use chrono::TimeDelta;
use common::*;
use newborn_domain::application::Text;
use newborn_domain::calendar::WorkingCalendar;
use newborn_domain::flow::{Application, Effect, FlowError, Outcome, RatingLevel};
use newborn_domain::policy::Policy;
use newborn_domain::sla::{ClockState, SlaLevel};
use newborn_domain::stage::{
    GeneratedForm, SkipReason, Stage, StageEvent, StageStatus, SupplementItem,
};
use newborn_domain::text::Bilingual;
use serde_json::{Value, json};

fn submit(v: &Value, p: &Policy) -> Application {
    let (app, applied) = Application::submit(
        "A-1".parse().unwrap_or_else(|e| panic!("{e}")),
        form(v),
        p,
        now(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        applied.effects,
        vec![Effect::Enqueue {
            stage: Stage::PreReview,
            round: 1
        }]
    );
    app
}

fn step(
    app: &mut Application,
    p: &Policy,
    stage: Stage,
    event: StageEvent,
    hours_after: i64,
) -> Vec<Effect> {
    app.apply(stage, event, p, now() + TimeDelta::hours(hours_after))
        .unwrap_or_else(|e| panic!("{stage}: {e}"))
        .effects
}

/// Dispatch and complete a stage at once; returns the effects of completion.
fn run(app: &mut Application, p: &Policy, stage: Stage, h: i64) -> Vec<Effect> {
    step(app, p, stage, StageEvent::Dispatch, h);
    step(
        app,
        p,
        stage,
        StageEvent::Complete {
            result: result(stage),
        },
        h + 1,
    )
}

/// The police ask the family to name the police station (a supplement of one field).
fn ask_for_the_police_station(app: &mut Application, p: &Policy, hours_after: i64) {
    let items = vec![SupplementItem::Field {
        field: "household.police_station".into(),
    }];
    let event = StageEvent::RequestSupplement {
        items,
        reason: reason(),
    };
    step(app, p, Stage::Police, event, hours_after);
}

/// Asserts that `stage`, with its agency, may not ask the family for `field` under `p`.
fn supplement_refused(
    app: &mut Application,
    p: &Policy,
    stage: Stage,
    field: &str,
    hours_after: i64,
) {
    use newborn_domain::stage::TransitionError;
    let asked = app.apply(
        stage,
        StageEvent::RequestSupplement {
            items: vec![SupplementItem::Field {
                field: field.into(),
            }],
            reason: reason(),
        },
        p,
        now() + TimeDelta::hours(hours_after),
    );
    assert_eq!(
        asked.err(),
        Some(FlowError::Transition(
            TransitionError::SupplementNotAllowed(stage)
        ))
    );
}

fn reason() -> Bilingual {
    Bilingual::new("材料有误", "wrong materials")
}

/// The sample as a case-2 family (holding the full birth certificate) choosing every later service.
fn case_2() -> Value {
    let mut v = sample();
    set(&mut v, "/case", json!("has_birth_certificate"));
    set(
        &mut v,
        "/services",
        json!([
            "household_registration",
            "maternity_benefit",
            "medical_insurance_enrolment",
            "social_security_card"
        ]),
    );
    set(
        &mut v,
        "/existing",
        json!({"birth_certificate_number": "Q350012345", "full_certificate_held": true}),
    );
    add_document(&mut v, "birth_certificate");
    v
}

/// 附件1 三(一): pre-review → hospital (forms confirmed) → police → {the hospital learns the result
/// and releases the main page (三(一)2), insurance → card}.
/// Rules: FJ2-CASES, FJ2-RELEASE.
#[test]
fn case_1_runs_every_stage_in_order_to_completion() {
    let p = policy("fujian-2.0");
    let mut app = submit(&sample(), &p);
    assert_eq!(
        run(&mut app, &p, Stage::PreReview, 0),
        vec![Effect::Enqueue {
            stage: Stage::HealthCheck,
            round: 1
        }]
    );
    step(&mut app, &p, Stage::HealthCheck, StageEvent::Dispatch, 1);
    let forms = vec![
        GeneratedForm::BirthCertificateRegistration,
        GeneratedForm::PermanentResidentRegistration,
    ];
    step(
        &mut app,
        &p,
        Stage::HealthCheck,
        StageEvent::RequestConfirmation { forms },
        2,
    );
    assert_eq!(
        step(&mut app, &p, Stage::HealthCheck, StageEvent::Confirmed, 3),
        vec![Effect::Enqueue {
            stage: Stage::HealthCheck,
            round: 2
        }]
    );
    assert_eq!(
        run(&mut app, &p, Stage::HealthCheck, 4),
        vec![Effect::Enqueue {
            stage: Stage::Police,
            round: 1
        }]
    );
    assert_eq!(
        run(&mut app, &p, Stage::Police, 6),
        vec![
            Effect::Enqueue {
                stage: Stage::CertificateRelease,
                round: 1
            },
            Effect::Enqueue {
                stage: Stage::Insurance,
                round: 1
            }
        ]
    );
    assert_eq!(
        app.certificate_to_release(),
        Some(newborn_domain::stage::CertificateVersion::MainPage)
    );
    assert_eq!(run(&mut app, &p, Stage::CertificateRelease, 7), vec![]);
    assert_eq!(
        run(&mut app, &p, Stage::Insurance, 8),
        vec![Effect::Enqueue {
            stage: Stage::SocialSecurityCard,
            round: 1
        }]
    );
    assert_eq!(
        run(&mut app, &p, Stage::SocialSecurityCard, 10),
        vec![Effect::FlowEnded {
            outcome: Outcome::Completed
        }]
    );
    assert_eq!(app.outcome(), Outcome::Completed);
    for s in &app.stages[1..] {
        assert!(
            matches!(s.status, StageStatus::Completed { .. }),
            "{}",
            s.stage
        );
        assert_eq!(
            s.clock.as_ref().map(|c| c.state()),
            Some(ClockState::Stopped),
            "{}",
            s.stage
        );
    }
    // The hospital's clock ran 1 h → 2 h and 3 h → 5 h, not while the applicant confirmed (2 h → 3 h).
    let cal = WorkingCalendar::builtin();
    let hc = app
        .stage(Stage::HealthCheck)
        .and_then(|s| s.clock.as_ref())
        .map(|c| c.read(&cal, now() + TimeDelta::days(30)));
    assert_eq!(
        hc.map(|r| r.elapsed_secs),
        Some(TimeDelta::hours(3).num_seconds())
    );
}

/// 附件1 三(二), 三(三): the half flows skip the stages already done.
#[test]
fn the_half_flows_start_where_the_family_already_is() {
    let p = policy("fujian-2.0");
    let mut v = sample();
    set(&mut v, "/case", json!("has_household_booklet"));
    set(
        &mut v,
        "/services",
        json!([
            "maternity_benefit",
            "medical_insurance_enrolment",
            "social_security_card"
        ]),
    );
    set(
        &mut v,
        "/existing",
        json!({"newborn_id_number": "350102202511100032"}),
    );
    let mut app = submit(&v, &p);
    let stages: Vec<Stage> = app.stages.iter().map(|s| s.stage).collect();
    assert_eq!(
        stages,
        [
            Stage::PreReview,
            Stage::Insurance,
            Stage::SocialSecurityCard
        ]
    );
    assert_eq!(
        run(&mut app, &p, Stage::PreReview, 0),
        vec![Effect::Enqueue {
            stage: Stage::Insurance,
            round: 1
        }]
    );
}

/// 附件1 三(一)2: "申请人未选择通过平台办理出生户口登记业务的，业务办理流程结束".
/// Rules: FJ2-NO-POLICE-ENDS.
#[test]
fn the_flow_ends_successfully_where_the_applicant_chose_no_more() {
    let p = policy("fujian-2.0");
    let mut v = sample();
    set(
        &mut v,
        "/services",
        json!([
            "birth_certificate",
            "vaccination_certificate",
            "parenting_guidance"
        ]),
    );
    let mut app = submit(&v, &p);
    run(&mut app, &p, Stage::PreReview, 0);
    assert_eq!(
        run(&mut app, &p, Stage::HealthCheck, 1),
        vec![Effect::FlowEnded {
            outcome: Outcome::Completed
        }]
    );
    for s in [Stage::Police, Stage::Insurance, Stage::SocialSecurityCard] {
        assert_eq!(
            app.stage(s).map(|x| &x.status),
            Some(&StageStatus::Skipped {
                reason: SkipReason::NotChosen
            })
        );
    }
    assert_eq!(app.outcome(), Outcome::Completed);
}

/// 附件1 三(一)3: information not meeting the conditions → the package ends, reason given.
/// 附件1 三(二)2: in case 2 a police failure "终止本环节服务" — only that stage ends; insurance
/// and the card go on, and the flow ends when they are done (docs/rules.md FJ2-CASE2-POLICE-FAIL).
#[test]
fn in_case_2_a_police_failure_ends_only_that_stage() {
    let p = policy("fujian-2.0");
    let mut app = submit(&case_2(), &p);
    run(&mut app, &p, Stage::PreReview, 0);
    step(&mut app, &p, Stage::Police, StageEvent::Dispatch, 1);
    let effects = step(
        &mut app,
        &p,
        Stage::Police,
        StageEvent::GoOffline { reason: reason() },
        2,
    );
    assert_eq!(
        effects,
        vec![Effect::Enqueue {
            stage: Stage::Insurance,
            round: 1
        }]
    );
    assert_eq!(app.outcome(), Outcome::InProgress);
    run(&mut app, &p, Stage::Insurance, 3);
    let effects = run(&mut app, &p, Stage::SocialSecurityCard, 4);
    assert_eq!(
        effects,
        vec![Effect::FlowEnded {
            outcome: Outcome::Terminated
        }],
        "the flow ends once, when the last stage is done"
    );
}

/// 附件1 三(一)3: in case 1 a police failure "终止套餐服务": insurance and the card are skipped,
/// and the result still goes to the hospital, which releases the full certificate with its
/// counterfoil (三(一)2); the flow ends when the hospital has released it.
/// Rules: FJ2-CASE1-POLICE-FAIL, FJ2-RELEASE, OURS-CHECKED-RESULTS.
#[test]
fn in_case_1_a_police_failure_ends_the_package_but_the_hospital_still_learns_it() {
    use newborn_domain::stage::{CertificateVersion, StageResult};
    let p = policy("fujian-2.0");
    let mut app = submit(&sample(), &p);
    run(&mut app, &p, Stage::PreReview, 0);
    run(&mut app, &p, Stage::HealthCheck, 1);
    step(&mut app, &p, Stage::Police, StageEvent::Dispatch, 2);
    let effects = step(
        &mut app,
        &p,
        Stage::Police,
        StageEvent::GoOffline { reason: reason() },
        3,
    );
    assert_eq!(
        effects,
        vec![Effect::Enqueue {
            stage: Stage::CertificateRelease,
            round: 1
        }]
    );
    for stage in [Stage::Insurance, Stage::SocialSecurityCard] {
        assert_eq!(
            app.stage(stage).map(|x| &x.status),
            Some(&StageStatus::Skipped {
                reason: SkipReason::FlowTerminated
            }),
            "{stage}"
        );
    }
    assert_eq!(app.certificate_to_release(), Some(CertificateVersion::Full));
    step(
        &mut app,
        &p,
        Stage::CertificateRelease,
        StageEvent::Dispatch,
        4,
    );
    // The main page alone cannot be right after a failed registration.
    let wrong = app.apply(
        Stage::CertificateRelease,
        StageEvent::Complete {
            result: StageResult::CertificateRelease {
                version: CertificateVersion::MainPage,
            },
        },
        &p,
        now() + TimeDelta::hours(5),
    );
    assert!(
        matches!(wrong, Err(FlowError::ImplausibleResult(_))),
        "{wrong:?}"
    );
    let effects = step(
        &mut app,
        &p,
        Stage::CertificateRelease,
        StageEvent::Complete {
            result: StageResult::CertificateRelease {
                version: CertificateVersion::Full,
            },
        },
        5,
    );
    assert_eq!(
        effects,
        vec![Effect::FlowEnded {
            outcome: Outcome::Terminated
        }]
    );
}

/// A failure before the certificate was issued leaves nothing to release.
#[test]
fn a_hospital_failure_skips_the_release_too() {
    let p = policy("fujian-2.0");
    let mut app = submit(&sample(), &p);
    run(&mut app, &p, Stage::PreReview, 0);
    step(&mut app, &p, Stage::HealthCheck, StageEvent::Dispatch, 1);
    let effects = step(
        &mut app,
        &p,
        Stage::HealthCheck,
        StageEvent::GoOffline { reason: reason() },
        2,
    );
    assert_eq!(
        effects,
        vec![Effect::FlowEnded {
            outcome: Outcome::Terminated
        }]
    );
    assert_eq!(
        app.stage(Stage::CertificateRelease).map(|x| &x.status),
        Some(&StageStatus::Skipped {
            reason: SkipReason::FlowTerminated
        })
    );
}

/// 附件1 四(五): supplement time is not counted — the deadline moves by the pause.
/// Rules: FJ2-CLOCK-PAUSE.
#[test]
fn a_supplement_at_the_police_pauses_its_clock_and_resumes_it() {
    let p = policy("fujian-2.0");
    let cal = WorkingCalendar::builtin();
    let mut app = submit(&sample(), &p);
    run(&mut app, &p, Stage::PreReview, 0);
    run(&mut app, &p, Stage::HealthCheck, 0);
    step(&mut app, &p, Stage::Police, StageEvent::Dispatch, 1); // Mon 10:00
    let deadline = |app: &Application, h: i64| {
        app.stage(Stage::Police)
            .and_then(|s| s.clock.as_ref())
            .map(|c| c.read(&cal, now() + TimeDelta::hours(h)))
    };
    assert_eq!(
        deadline(&app, 2).and_then(|r| r.deadline),
        Some(at("2025-11-18T10:00:00+08:00"))
    );
    ask_for_the_police_station(&mut app, &p, 3); // Mon 12:00
    let paused = deadline(&app, 30);
    assert_eq!(
        paused.map(|r| (r.state, r.deadline, r.remaining_secs)),
        Some((ClockState::Paused, None, TimeDelta::hours(22).num_seconds()))
    );
    assert_eq!(
        step(&mut app, &p, Stage::Police, StageEvent::Supplied, 51),
        vec![Effect::Enqueue {
            stage: Stage::Police,
            round: 2
        }]
    ); // Wed 12:00
    let resumed = deadline(&app, 52);
    assert_eq!(
        resumed.as_ref().and_then(|r| r.deadline),
        Some(at("2025-11-20T10:00:00+08:00"))
    );
    assert_eq!(resumed.map(|r| r.level), Some(SlaLevel::OnTrack));
    // Not answering by then is overdue.
    assert_eq!(deadline(&app, 74).map(|r| r.level), Some(SlaLevel::Overdue));
}

/// 附件1 四(四): the card's clock starts when the applicant picks the partner bank.
/// Rules: FJ2-CARD-BANK.
#[test]
fn the_card_waits_for_the_partner_bank_and_its_clock_starts_then() {
    let p = policy("fujian-2.0");
    let mut v = sample();
    set(&mut v, "/card", Value::Null);
    let mut app = submit(&v, &p);
    for (s, h) in [
        (Stage::PreReview, 0),
        (Stage::HealthCheck, 0),
        (Stage::Police, 0),
        (Stage::Insurance, 0),
    ] {
        run(&mut app, &p, s, h);
    }
    let e = app.apply(Stage::SocialSecurityCard, StageEvent::Dispatch, &p, now());
    assert_eq!(e.err(), Some(FlowError::PartnerBankMissing));
    step(
        &mut app,
        &p,
        Stage::SocialSecurityCard,
        StageEvent::AwaitBank,
        1,
    );
    let bank: Text = "中国工商银行".parse().unwrap_or_else(|e| panic!("{e}"));
    let applied = app
        .choose_partner_bank(bank, &p, now() + TimeDelta::hours(48))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        applied.effects,
        vec![Effect::Enqueue {
            stage: Stage::SocialSecurityCard,
            round: 1
        }]
    );
    step(
        &mut app,
        &p,
        Stage::SocialSecurityCard,
        StageEvent::Dispatch,
        48,
    );
    let clock = app
        .stage(Stage::SocialSecurityCard)
        .and_then(|s| s.clock.clone());
    assert_eq!(
        clock.map(|c| (c.runs[0].from, c.budget_secs)),
        Some((now() + TimeDelta::hours(48), 72 * 3600))
    );
}

/// 附件4 七: each finished stage is rated once, on five levels.
/// Rules: FJ2-RATING.
#[test]
fn finished_stages_are_rated_once_each() {
    let p = policy("fujian-2.0");
    let mut app = submit(&sample(), &p);
    run(&mut app, &p, Stage::PreReview, 0);
    run(&mut app, &p, Stage::HealthCheck, 1);
    assert_eq!(
        app.rate(Stage::Police, RatingLevel::Satisfied, None, now())
            .err(),
        Some(FlowError::NotRatable(Stage::Police))
    );
    assert_eq!(
        app.rate(Stage::PreReview, RatingLevel::Satisfied, None, now())
            .err(),
        Some(FlowError::NotRatable(Stage::PreReview))
    );
    let r = app
        .rate(Stage::HealthCheck, RatingLevel::Dissatisfied, None, now())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.level.is_bad());
    assert_eq!(
        app.rate(Stage::HealthCheck, RatingLevel::VerySatisfied, None, now())
            .err(),
        Some(FlowError::AlreadyRated(Stage::HealthCheck))
    );
}

/// 附件4 七 and 永福县 附件2 八(一): a finished step is invited once, for the policy's window; a
/// rating ends the invitation, a closed window refuses a late rating and is recorded as not
/// rated (never before it closes, never twice); the whole matter is invited only where the
/// policy says so, and only once the flow ended.
/// Rules: FJ2-RATING, OURS-RATING-WINDOW, OURS-NOT-RATED, YF-RATING.
#[test]
fn invitations_open_for_the_policy_window_and_close_rated_or_not_rated() {
    use newborn_domain::flow::InvitationEnd;
    use newborn_domain::kinds::RatingSubject;
    let p = policy("fujian-2.0");
    let mut app = submit(&sample(), &p);
    run(&mut app, &p, Stage::PreReview, 0);
    let police = RatingSubject::Step(Stage::Police);
    assert!(app.invite(police, &p, now()).is_none(), "not finished yet");
    run(&mut app, &p, Stage::HealthCheck, 1);
    let hc = RatingSubject::Step(Stage::HealthCheck);
    let invited = app
        .invite(hc, &p, now())
        .unwrap_or_else(|| panic!("the finished step is invited"));
    assert_eq!(invited.closes_at - invited.at, TimeDelta::days(15));
    assert!(app.invite(hc, &p, now()).is_none(), "once");
    assert!(
        app.invite(RatingSubject::Matter, &p, now()).is_none(),
        "Fujian invites no rating of the matter"
    );
    assert!(
        !app.close_unrated(hc, now() + TimeDelta::days(15) - TimeDelta::seconds(1)),
        "open until the window closes"
    );
    assert!(app.close_unrated(hc, now() + TimeDelta::days(15)));
    assert!(!app.close_unrated(hc, now() + TimeDelta::days(16)), "once");
    assert!(matches!(
        app.rate(Stage::HealthCheck, RatingLevel::Satisfied, None, now() + TimeDelta::days(16)),
        Err(FlowError::NotAllowed(i)) if i.code == "rating_window_closed"
    ));
    assert!(app.ratings.is_empty(), "no level is assumed");

    // Rated inside the window: the invitation ends rated, and cannot close unrated later.
    let y = policy("guangxi-yongfu");
    let mut v = sample();
    yongfu_papers(&mut v);
    let mut app = submit(&v, &y);
    run(&mut app, &y, Stage::PreReview, 0);
    run(&mut app, &y, Stage::HealthCheck, 1);
    app.invite(hc, &y, now())
        .unwrap_or_else(|| panic!("invited"));
    app.rate(
        Stage::HealthCheck,
        RatingLevel::VerySatisfied,
        None,
        now() + TimeDelta::days(1),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        app.invitation(hc).and_then(|i| i.ended),
        Some(InvitationEnd::Rated {
            at: now() + TimeDelta::days(1)
        })
    );
    assert!(!app.close_unrated(hc, now() + TimeDelta::days(30)));
    assert!(
        matches!(
            app.rate_matter(RatingLevel::Satisfied, None, &y, now()),
            Err(FlowError::NotAllowed(i)) if i.code == "matter_not_finished"
        ),
        "the matter is rated once it ended"
    );
    assert!(matches!(
        submit(&sample(), &p).rate_matter(RatingLevel::Satisfied, None, &p, now()),
        Err(FlowError::NotAllowed(i)) if i.code == "matter_rating_not_offered"
    ));
}

/// Withdrawn before the certificate was issued: every stage stops, the release too (there is
/// nothing to release), and the flow ends once.
#[test]
fn withdrawing_stops_every_unfinished_stage_once() {
    let p = policy("fujian-2.0");
    let mut app = submit(&sample(), &p);
    run(&mut app, &p, Stage::PreReview, 0);
    step(&mut app, &p, Stage::HealthCheck, StageEvent::Dispatch, 1);
    assert_eq!(
        step(&mut app, &p, Stage::HealthCheck, StageEvent::Withdraw, 2),
        vec![Effect::FlowEnded {
            outcome: Outcome::Withdrawn
        }]
    );
    assert_eq!(app.outcome(), Outcome::Withdrawn);
    assert_eq!(
        app.stage(Stage::CertificateRelease).map(|s| &s.status),
        Some(&StageStatus::Withdrawn)
    );
    assert!(app.withdraw(&p, now()).is_err());
    assert!(
        app.apply(Stage::HealthCheck, StageEvent::Dispatch, &p, now())
            .is_err()
    );
}

#[test]
fn an_invalid_form_creates_no_application() {
    let mut v = sample();
    set(&mut v, "/services", json!([]));
    let e = Application::submit(
        "A-2".parse().unwrap_or_else(|e| panic!("{e}")),
        form(&v),
        &policy("fujian-2.0"),
        now(),
    );
    assert!(
        matches!(e, Err(FlowError::InvalidForm(issues)) if issues[0].error.code == "no_service")
    );
}

#[test]
fn an_application_is_judged_by_the_policy_it_was_submitted_under() {
    let p = policy("fujian-2.0");
    let mut app = submit(&sample(), &p);
    let e = app.apply(
        Stage::PreReview,
        StageEvent::Dispatch,
        &policy("xiamen"),
        now(),
    );
    assert!(matches!(e, Err(FlowError::WrongPolicy { .. })));
    let json = serde_json::to_string(&app).unwrap_or_default();
    let back: Application = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, app);
}

/// An agency result that cannot be true is refused and changes nothing (docs/rules.md
/// OURS-CHECKED-RESULTS): a police approval with a woman's 1990 identity number for a boy born
/// days ago, a card made at another bank.
#[test]
fn a_result_that_cannot_be_true_is_refused_and_changes_nothing() {
    use newborn_domain::ids::IdNumber;
    use newborn_domain::stage::StageResult;
    let p = policy("fujian-2.0");
    let mut app = submit(&sample(), &p);
    run(&mut app, &p, Stage::PreReview, 0);
    step(&mut app, &p, Stage::HealthCheck, StageEvent::Dispatch, 1);
    step(
        &mut app,
        &p,
        Stage::HealthCheck,
        StageEvent::Complete {
            result: result(Stage::HealthCheck),
        },
        2,
    );
    step(&mut app, &p, Stage::Police, StageEvent::Dispatch, 3);
    let first17 = *b"35010219900315002";
    let woman: IdNumber = format!("35010219900315002{}", IdNumber::check_char(&first17))
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let before = app.clone();
    let got = app.apply(
        Stage::Police,
        StageEvent::Complete {
            result: StageResult::Police {
                newborn_id_number: woman,
            },
        },
        &p,
        now() + TimeDelta::hours(4),
    );
    let Err(FlowError::ImplausibleResult(issues)) = got else {
        panic!("{got:?}")
    };
    let codes: Vec<&str> = issues.iter().map(|i| i.error.code.as_str()).collect();
    assert_eq!(
        codes,
        ["newborn_id_number_birth_date", "newborn_id_number_sex"],
        "{issues:?}"
    );
    assert_eq!(app, before, "nothing changed");
    // The right number goes through.
    step(
        &mut app,
        &p,
        Stage::Police,
        StageEvent::Complete {
            result: result(Stage::Police),
        },
        5,
    );
    assert!(matches!(
        app.stage(Stage::Police).map(|s| &s.status),
        Some(StageStatus::Completed { .. })
    ));
}

mod invariants {
    //! The flow's invariants under any order of agency and applicant answers (issue 18, 2): no
    //! stage starts before what it depends on ended as it needs, a stage completes at most once
    //! per round, the flow ends exactly once, when every stage is final, and the matter's clock
    //! stops exactly then — withdrawals included.
    use super::*;
    use newborn_domain::policy::Needs;
    use newborn_domain::stage::{ApplicantWait, CertificateVersion, StageResult};
    use proptest::prelude::*;

    /// The events that could happen to `app` now, each as (stage, event): agencies' answers,
    /// the family's, and a withdrawal.
    fn possible(app: &Application, choice: u8) -> Vec<(Stage, StageEvent)> {
        let mut out = vec![];
        for s in &app.stages {
            let stage = s.stage;
            match &s.status {
                StageStatus::Queued { .. } => out.push((stage, StageEvent::Dispatch)),
                StageStatus::AwaitingAgency { .. } => {
                    let result = match result(stage) {
                        StageResult::CertificateRelease { .. } => StageResult::CertificateRelease {
                            version: app
                                .certificate_to_release()
                                .unwrap_or(CertificateVersion::Full),
                        },
                        other => other,
                    };
                    let event = match choice % 5 {
                        0 if stage != Stage::PreReview => {
                            StageEvent::GoOffline { reason: reason() }
                        }
                        1 if stage == Stage::HealthCheck || stage == Stage::Police => {
                            StageEvent::RequestSupplement {
                                items: vec![SupplementItem::Field {
                                    field: "newborn.name".into(),
                                }],
                                reason: reason(),
                            }
                        }
                        _ => StageEvent::Complete { result },
                    };
                    out.push((stage, event));
                }
                StageStatus::AwaitingApplicant { wait, .. } => out.push((
                    stage,
                    match wait {
                        ApplicantWait::ConfirmForms { .. } => StageEvent::Confirmed,
                        _ => StageEvent::Supplied,
                    },
                )),
                _ => {}
            }
        }
        // The family may withdraw at any point of a running flow, once.
        let withdrawn = app
            .stages
            .iter()
            .any(|s| s.status == StageStatus::Withdrawn);
        if choice % 11 == 10 && !withdrawn && app.outcome() == Outcome::InProgress {
            out.push((Stage::PreReview, StageEvent::Withdraw));
        }
        out
    }

    fn check_dependencies(app: &Application, p: &Policy) -> Result<(), TestCaseError> {
        for s in &app.stages {
            let started = !matches!(
                s.status,
                StageStatus::Pending | StageStatus::Skipped { .. } | StageStatus::Withdrawn
            );
            if !started {
                continue;
            }
            for dep in p.dependencies(app.form.case, s.stage) {
                let Some(d) = app.stage(dep.stage) else {
                    continue;
                };
                let ok = match dep.needs {
                    Needs::Completed => matches!(d.status, StageStatus::Completed { .. }),
                    Needs::Ended => matches!(
                        d.status,
                        StageStatus::Completed { .. }
                            | StageStatus::Terminated { .. }
                            | StageStatus::Withdrawn
                    ),
                };
                prop_assert!(
                    ok,
                    "{} started before {}: {:?}",
                    s.stage,
                    dep.stage,
                    d.status
                );
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn any_order_of_answers_keeps_the_flow_sound(
            case_two in any::<bool>(),
            choices in proptest::collection::vec(any::<u8>(), 1..60),
        ) {
            let mut p = policy("fujian-2.0");
            p.supervision.overall_deadline_working_days = Some(33);
            let mut app = submit(&if case_two { case_2() } else { sample() }, &p);
            let mut ended = 0;
            let mut completions: std::collections::BTreeSet<(Stage, u32)> = Default::default();
            let mut hour = 0;
            for choice in choices.iter().copied().chain(std::iter::repeat_n(2u8, 60)) {
                let options = possible(&app, choice);
                if options.is_empty() {
                    break;
                }
                let (stage, event) = options[choice as usize % options.len()].clone();
                let round = match &app.stage(stage).map(|s| s.status.clone()) {
                    Some(StageStatus::AwaitingAgency { round }) => *round,
                    _ => 0,
                };
                let completing = matches!(event, StageEvent::Complete { .. });
                hour += 1;
                let applied = app
                    .apply(stage, event, &p, now() + TimeDelta::hours(hour))
                    .map_err(|e| TestCaseError::fail(format!("{stage}: {e}")))?;
                if completing {
                    prop_assert!(completions.insert((stage, round)), "{stage} completed twice in round {round}");
                }
                ended += applied
                    .effects
                    .iter()
                    .filter(|e| matches!(e, Effect::FlowEnded { .. }))
                    .count();
                check_dependencies(&app, &p)?;
                prop_assert!(ended <= 1, "the flow ended twice");
                // The matter's clock stops exactly when the flow ends.
                if let Some(clock) = &app.matter_clock {
                    prop_assert_eq!(
                        clock.state() == ClockState::Stopped,
                        app.outcome() != Outcome::InProgress,
                        "the matter's clock is {:?} with the flow {:?}", clock.state(), app.outcome()
                    );
                }
            }
            prop_assert_eq!(ended, 1, "the flow ended once: {:?}", app.stages);
            prop_assert!(app.stages.iter().all(|s| s.status.is_final()));
            prop_assert_ne!(app.outcome(), Outcome::InProgress);
        }
    }
}

/// 附件1 三(二)3, 三(三)2: in cases 2 and 3 wrong insurance information ends the package ("信息有误的，
/// 终止套餐服务"); the insurance office cannot ask for a supplement there, as it can in case 1.
/// Rules: FJ2-CASE23-INSURANCE-FAIL.
#[test]
fn in_cases_2_and_3_insurance_cannot_ask_for_a_supplement() {
    let p = policy("fujian-2.0");
    let mut v = case_2();
    set(
        &mut v,
        "/services",
        json!(["medical_insurance_enrolment", "maternity_benefit"]),
    );
    let mut app = submit(&v, &p);
    run(&mut app, &p, Stage::PreReview, 0);
    // Police not chosen: insurance follows the ending of the stage it does not need.
    step(&mut app, &p, Stage::Insurance, StageEvent::Dispatch, 1);
    supplement_refused(&mut app, &p, Stage::Insurance, "insurance.community", 2);
    let effects = step(
        &mut app,
        &p,
        Stage::Insurance,
        StageEvent::GoOffline { reason: reason() },
        3,
    );
    assert_eq!(
        effects,
        vec![Effect::FlowEnded {
            outcome: Outcome::Terminated
        }]
    );
}

/// Withdrawn while the police had the case: the certificate exists, so the hospital still learns
/// that the registration did not happen and releases the full certificate (附件1 三(一)2–3); the
/// flow ends — withdrawn — once the release is done, and cannot be withdrawn twice.
/// Rules: FJ2-RELEASE, OURS-WITHDRAW-RELEASE.
#[test]
fn withdrawing_during_the_registration_still_tells_the_hospital() {
    use newborn_domain::stage::{CertificateVersion, StageResult};
    let p = policy("fujian-2.0");
    let mut app = submit(&sample(), &p);
    run(&mut app, &p, Stage::PreReview, 0);
    run(&mut app, &p, Stage::HealthCheck, 1);
    step(&mut app, &p, Stage::Police, StageEvent::Dispatch, 2);
    assert_eq!(
        step(&mut app, &p, Stage::Police, StageEvent::Withdraw, 3),
        vec![Effect::Enqueue {
            stage: Stage::CertificateRelease,
            round: 1
        }]
    );
    for stage in [Stage::Police, Stage::Insurance, Stage::SocialSecurityCard] {
        assert_eq!(
            app.stage(stage).map(|s| &s.status),
            Some(&StageStatus::Withdrawn),
            "{stage}"
        );
    }
    assert_eq!(app.certificate_to_release(), Some(CertificateVersion::Full));
    assert_eq!(app.outcome(), Outcome::InProgress, "the release still runs");
    assert!(app.withdraw(&p, now() + TimeDelta::hours(3)).is_err());
    step(
        &mut app,
        &p,
        Stage::CertificateRelease,
        StageEvent::Dispatch,
        4,
    );
    assert_eq!(
        step(
            &mut app,
            &p,
            Stage::CertificateRelease,
            StageEvent::Complete {
                result: StageResult::CertificateRelease {
                    version: CertificateVersion::Full
                }
            },
            5
        ),
        vec![Effect::FlowEnded {
            outcome: Outcome::Withdrawn
        }]
    );
    assert_eq!(app.outcome(), Outcome::Withdrawn);
}

/// A Yongfu family's form, born and registered in 永福县.
fn yongfu() -> Value {
    let mut v = sample();
    set(&mut v, "/newborn/birthplace", json!("450326"));
    set(&mut v, "/mother/household_region", json!("450326"));
    set(&mut v, "/father/household_region", json!("450326"));
    yongfu_papers(&mut v);
    v
}

/// 永福县 附件2 六(一): the whole matter is promised in 33 working days, from acceptance to the
/// end; 六(二)4–5: the enrolment (1 working day) runs its own clock inside the insurance stage's
/// 15 days, stopped when the insurance office reports it done.
/// Rules: YF-OVERALL-33, YF-DEADLINES.
#[test]
fn in_yongfu_the_matter_and_the_enrolment_run_clocks_of_their_own() {
    use newborn_domain::kinds::{Service, Watch};
    use newborn_domain::stage::StageResult;
    let p = policy("guangxi-yongfu");
    let cal = WorkingCalendar::builtin();
    let mut app = submit(&yongfu(), &p);
    let read = |app: &Application, watch: Watch, h: i64| {
        app.watched_clock(watch)
            .map(|c| c.read(&cal, now() + TimeDelta::hours(h)))
    };
    assert!(
        read(&app, Watch::Matter, 0).is_none(),
        "not before acceptance"
    );
    run(&mut app, &p, Stage::PreReview, 0); // accepted Mon 10:00
    let matter = read(&app, Watch::Matter, 1);
    assert_eq!(
        matter.as_ref().map(|r| (r.state, r.remaining_secs)),
        Some((ClockState::Running, TimeDelta::hours(33 * 24).num_seconds()))
    );
    run(&mut app, &p, Stage::HealthCheck, 1);
    step(&mut app, &p, Stage::Police, StageEvent::Dispatch, 2);
    step(
        &mut app,
        &p,
        Stage::Police,
        StageEvent::Complete {
            result: StageResult::Police {
                newborn_id_number: "450326202511100038"
                    .parse()
                    .unwrap_or_else(|e| panic!("{e}")),
            },
        },
        2,
    );
    step(&mut app, &p, Stage::Insurance, StageEvent::Dispatch, 3); // Mon 12:00
    let enrolment = Watch::Service(Service::MedicalInsuranceEnrolment);
    assert_eq!(
        app.watches().collect::<Vec<_>>(),
        [
            Watch::Stage(Stage::HealthCheck),
            Watch::Stage(Stage::Police),
            Watch::Stage(Stage::Insurance),
            enrolment,
            Watch::Matter
        ]
    );
    // A day and a half later the enrolment is late, the reimbursement and the matter are not.
    let level = |app: &Application, w: Watch, h: i64| read(app, w, h).map(|r| r.level);
    assert_eq!(level(&app, enrolment, 3 + 30), Some(SlaLevel::Overdue));
    assert_eq!(
        level(&app, Watch::Stage(Stage::Insurance), 3 + 30),
        Some(SlaLevel::OnTrack)
    );
    assert_eq!(level(&app, Watch::Matter, 3 + 30), Some(SlaLevel::OnTrack));
    // Reported done: its clock stops; a repeat changes nothing; a service without a clock of
    // its own is not reported apart.
    let at = now() + TimeDelta::hours(4);
    assert_eq!(
        app.finish_service(Service::MedicalInsuranceEnrolment, at),
        Ok(true)
    );
    assert_eq!(
        app.finish_service(Service::MedicalInsuranceEnrolment, at),
        Ok(false)
    );
    assert_eq!(
        app.finish_service(Service::MaternityBenefit, at),
        Err(FlowError::NoOwnClock(Service::MaternityBenefit))
    );
    assert_eq!(
        read(&app, enrolment, 40).map(|r| (r.state, r.level)),
        Some((ClockState::Stopped, SlaLevel::OnTrack))
    );
    step(
        &mut app,
        &p,
        Stage::Insurance,
        StageEvent::Complete {
            result: result(Stage::Insurance),
        },
        5,
    );
    run(&mut app, &p, Stage::SocialSecurityCard, 6);
    assert_eq!(app.outcome(), Outcome::Completed);
    assert_eq!(
        read(&app, Watch::Matter, 100).map(|r| r.state),
        Some(ClockState::Stopped),
        "the matter's clock stops with the flow"
    );
}

/// The matter's clock does not count the family's time: it pauses while any stage waits for a
/// supplement and resumes with the agency's next round.
/// Rules: OURS-MATTER-PAUSE.
#[test]
fn the_matter_clock_pauses_while_the_family_is_asked() {
    let mut p = policy("fujian-2.0");
    p.supervision.overall_deadline_working_days = Some(33);
    let mut app = submit(&sample(), &p);
    run(&mut app, &p, Stage::PreReview, 0);
    run(&mut app, &p, Stage::HealthCheck, 1);
    step(&mut app, &p, Stage::Police, StageEvent::Dispatch, 3);
    ask_for_the_police_station(&mut app, &p, 4);
    let state = |app: &Application| app.matter_clock.as_ref().map(|c| c.state());
    assert_eq!(state(&app), Some(ClockState::Paused));
    step(&mut app, &p, Stage::Police, StageEvent::Supplied, 30);
    assert_eq!(state(&app), Some(ClockState::Running));
    let cal = WorkingCalendar::builtin();
    let used = app
        .matter_clock
        .as_ref()
        .map(|c| c.read(&cal, now() + TimeDelta::hours(30)).elapsed_secs);
    assert_eq!(
        used,
        Some(TimeDelta::hours(3).num_seconds()),
        "accepted at 1 h, paused at 4 h"
    );
}

/// 闽卫政法〔2024〕40号 附件1 三(一)2, 附件4 四: under Fujian 2.0 the parent registers parenting
/// guidance by opening the knowledge base, in parallel with the certificates (not part of the
/// hospital's result); Xiamen's guide, like Fuzhou's and Putian's, lists six services without it;
/// in Yongfu the hospital registers it (五(三)6).
/// Rules: FJ2-PARENTING, XM-SERVICES, YF-PARENTING.
#[test]
fn parenting_guidance_is_registered_by_reading_the_knowledge_base_where_the_policy_says_so() {
    let p = policy("fujian-2.0");
    let mut app = submit(&sample(), &p);
    let not_yet = app.read_parenting_guidance(&p, now());
    assert!(
        matches!(not_yet, Err(FlowError::NotAllowed(_))),
        "{not_yet:?}"
    );
    run(&mut app, &p, Stage::PreReview, 0);
    step(&mut app, &p, Stage::HealthCheck, StageEvent::Dispatch, 1);
    // While the hospital works, the parent reads the knowledge base: registered once.
    let at = now() + TimeDelta::hours(2);
    assert!(matches!(app.read_parenting_guidance(&p, at), Ok(true)));
    assert!(matches!(app.read_parenting_guidance(&p, at), Ok(false)));
    assert_eq!(app.parenting_guidance_read_at, Some(at));
    // The hospital cannot report it here: the parent registered it in the app.
    let claims = newborn_domain::stage::StageResult::HealthCheck {
        birth_certificate_number: "Q350012345".parse().unwrap_or_else(|e| panic!("{e}")),
        vaccination_certificate_issued: true,
        parenting_guidance_registered: true,
    };
    let refused = app.apply(
        Stage::HealthCheck,
        StageEvent::Complete { result: claims },
        &p,
        at,
    );
    assert!(
        matches!(refused, Err(FlowError::ImplausibleResult(_))),
        "{refused:?}"
    );

    // Not chosen: nothing to register.
    let mut without = sample();
    set(
        &mut without,
        "/services",
        json!(["birth_certificate", "household_registration"]),
    );
    let mut other = submit(&without, &p);
    run(&mut other, &p, Stage::PreReview, 0);
    assert!(matches!(
        other.read_parenting_guidance(&p, now()),
        Err(FlowError::NotAllowed(_))
    ));

    // Xiamen does not offer it.
    let mut xiamen = sample();
    set(&mut xiamen, "/newborn/birthplace", json!("350203"));
    let codes: Vec<String> = form(&xiamen)
        .check(&policy("xiamen"), now())
        .into_iter()
        .map(|i| i.error.code)
        .collect();
    assert_eq!(codes, ["service_not_offered"]);

    // Yongfu: the hospital's business, not the app's.
    let yongfu = policy("guangxi-yongfu");
    assert!(yongfu.agency_delivers(newborn_domain::application::Service::ParentingGuidance));
    assert!(!p.agency_delivers(newborn_domain::application::Service::ParentingGuidance));
}

/// The case-dependent supplement permissions of 闽卫政法〔2024〕40号 附件1 三: the police may ask for
/// materials in case 2 (三(二)2 "补齐后继续线上申请"), the card office in case 3 (三(三)3).
/// Rules: FJ2-POLICE-SUPPLEMENT, FJ2-CARD.
#[test]
fn the_police_in_case_2_and_the_card_office_in_case_3_may_ask_for_a_supplement() {
    let p = policy("fujian-2.0");
    let rules = |stage, case| p.stage_rules(stage, case).supplement;
    use newborn_domain::application::Case;
    assert!(rules(Stage::Police, Case::HasBirthCertificate));
    assert!(rules(Stage::SocialSecurityCard, Case::HasHouseholdBooklet));
    assert!(!rules(Stage::Insurance, Case::HasHouseholdBooklet));
    let mut app = submit(&case_2(), &p);
    run(&mut app, &p, Stage::PreReview, 0);
    step(&mut app, &p, Stage::Police, StageEvent::Dispatch, 1);
    ask_for_the_police_station(&mut app, &p, 2);
    assert!(matches!(
        app.stage(Stage::Police).map(|s| &s.status),
        Some(StageStatus::AwaitingApplicant { .. })
    ));
}

/// 附件1 四(五) "用户补件时间和寄件时间不纳入计时范畴"; 附件2 一(四) (EMS two-way mail of the
/// booklet to the station): while the family's booklet is in the post the police's clock stands;
/// when it arrives the same round continues.
/// Rules: FJ2-CLOCK-PAUSE.
#[test]
fn the_booklet_in_the_post_pauses_the_police_clock() {
    let p = policy("fujian-2.0");
    let mut app = submit(&sample(), &p);
    run(&mut app, &p, Stage::PreReview, 0);
    run(&mut app, &p, Stage::HealthCheck, 1);
    step(&mut app, &p, Stage::Police, StageEvent::Dispatch, 3);
    let what = Bilingual::new(
        "户口簿（EMS双向邮寄）",
        "the household booklet (EMS both ways)",
    );
    step(
        &mut app,
        &p,
        Stage::Police,
        StageEvent::RequestMailing { what },
        4,
    );
    let cal = WorkingCalendar::builtin();
    let clock = |app: &Application| {
        app.stage(Stage::Police)
            .and_then(|s| s.clock.clone())
            .unwrap_or_else(|| panic!("no police clock"))
    };
    let paused = clock(&app);
    assert_eq!(paused.state(), ClockState::Paused);
    let used = paused.read(&cal, now() + TimeDelta::hours(4)).elapsed_secs;
    // Three days in the post: no working time used.
    assert_eq!(
        paused.read(&cal, now() + TimeDelta::hours(76)).elapsed_secs,
        used
    );
    step(&mut app, &p, Stage::Police, StageEvent::MailArrived, 76);
    assert_eq!(
        app.stage(Stage::Police).map(|s| s.status.round()),
        Some(Some(1)),
        "the same round continues"
    );
    assert_eq!(clock(&app).state(), ClockState::Running);
}

/// Each region's deadlines as its document gives them (working days from receipt; the card's from
/// the bank choice): Xiamen 办理流程 with 闽卫政法〔2024〕40号 附件1 四; Putian 二(二) with the
/// Fuzhou guide 十一; the Fuzhou pilot's 办事指南 十一(一)–(四).
/// Rules: XM-DEADLINES, PT22-DEADLINES, FZ21-DEADLINES.
#[test]
fn each_regions_deadlines_are_its_documents() {
    for (id, expected) in [
        ("xiamen", [1, 1, 1, 3]),
        ("putian-2022", [1, 1, 1, 3]),
        ("fuzhou-pilot-2021", [1, 1, 1, 3]),
        ("guangxi-yongfu", [1, 2, 15, 30]),
    ] {
        let p = policy(id);
        let days: Vec<u32> = [
            Stage::HealthCheck,
            Stage::Police,
            Stage::Insurance,
            Stage::SocialSecurityCard,
        ]
        .iter()
        .map(|s| {
            p.stages
                .get(s)
                .and_then(|r| r.deadline_working_days)
                .unwrap_or_else(|| panic!("{id}: {s} has no deadline"))
        })
        .collect();
        assert_eq!(days, expected, "{id}");
    }
}

/// 闽卫监督〔2021〕43号 办事指南 九(三): in the Fuzhou pilot the police generate the 常住人口登记表 and
/// the applicant confirms it at the police stage (in Fujian 2.0 the platform shows both forms at the
/// hospital stage, 附件1 三(一)2).
/// Rules: FZ21-POLICE-CONFIRM, FZ21-CERTIFICATE-PREVIEW.
#[test]
fn in_the_fuzhou_pilot_the_applicant_confirms_the_residence_form_at_the_police() {
    use newborn_domain::application::Case;
    use newborn_domain::stage::{GeneratedForm, TransitionError};
    let fz = policy("fuzhou-pilot-2021");
    assert_eq!(
        fz.stage_rules(Stage::Police, Case::Full).confirmation_forms,
        vec![GeneratedForm::PermanentResidentRegistration]
    );
    // 九(二): the hospital stage previews the certificate itself with its registration form.
    assert_eq!(
        fz.stage_rules(Stage::HealthCheck, Case::Full)
            .confirmation_forms,
        vec![
            GeneratedForm::BirthCertificatePreview,
            GeneratedForm::BirthCertificateRegistration
        ]
    );
    let fj = policy("fujian-2.0");
    let mut app = submit(&sample(), &fj);
    run(&mut app, &fj, Stage::PreReview, 0);
    run(&mut app, &fj, Stage::HealthCheck, 1);
    step(&mut app, &fj, Stage::Police, StageEvent::Dispatch, 3);
    let asked = app.apply(
        Stage::Police,
        StageEvent::RequestConfirmation {
            forms: vec![GeneratedForm::PermanentResidentRegistration],
        },
        &fj,
        now() + TimeDelta::hours(4),
    );
    assert_eq!(
        asked.err(),
        Some(FlowError::Transition(
            TransitionError::ConfirmationNotAllowed(Stage::Police)
        ))
    );
}

/// 莆卫办〔2022〕44号 二(二)2: the hospital may refuse to issue (拒绝签发) with its findings; Putian has
/// no online supplement at the hospital, so the refusal ends online handling.
/// Rules: PT22-REFUSAL.
#[test]
fn in_putian_the_hospitals_refusal_ends_online_handling() {
    let p = policy("putian-2022");
    let mut v = sample();
    as_scans(&mut v);
    set(&mut v, "/newborn/birthplace", json!("350302"));
    set(&mut v, "/mother/household_region", json!("350302"));
    set(
        &mut v,
        "/services",
        json!([
            "birth_certificate",
            "vaccination_certificate",
            "household_registration"
        ]),
    );
    let mut app = submit(&v, &p);
    run(&mut app, &p, Stage::PreReview, 0);
    step(&mut app, &p, Stage::HealthCheck, StageEvent::Dispatch, 1);
    supplement_refused(&mut app, &p, Stage::HealthCheck, "newborn.name", 2);
    let refusal = Bilingual::new("核对不一致，拒绝签发", "the records differ: issue refused");
    let effects = step(
        &mut app,
        &p,
        Stage::HealthCheck,
        StageEvent::GoOffline { reason: refusal },
        3,
    );
    assert!(effects.contains(&Effect::FlowEnded {
        outcome: Outcome::Terminated
    }));
    assert_eq!(app.outcome(), Outcome::Terminated);
}
