//! Electronic licences, the missing-licence registration and proactive offers, under the
//! Fujian 2.0 policy (闽卫政法〔2024〕40号 附件2 一(一), 一(五); Xiamen guide 办理材料(三)).

mod common;
use chrono::{NaiveDate, TimeDelta};
use common::*;
use newborn_domain::application::{DocumentKind, Service};
use newborn_domain::calendar::WorkingCalendar;
use newborn_domain::flow::{Application, Effect, FlowError, Outcome};
use newborn_domain::licence::{
    LicenceCheck, LicenceGrant, LicenceProblem, LicenceRecord, RegistrationReason,
    RegistrationStatus, judge,
};
use newborn_domain::prereview::{Decision, pre_review};
use newborn_domain::sla::{ClockState, SlaLevel};
use newborn_domain::stage::{
    SkipReason, Stage, StageEvent, StageResult, StageStatus, SupplementItem,
};
use serde_json::{Value, json};

const MOTHER: &str = "35010219940315002X";
const FATHER: &str = "350203199207080011";

/// The sample with the three licence materials given as licences instead of scans.
fn with_licences() -> Value {
    let mut v = sample();
    for kind in ["mother_id_card", "father_id_card", "marriage_certificate"] {
        drop_document(&mut v, kind);
    }
    set(
        &mut v,
        "/licences",
        json!([
            {"kind": "mother_id_card", "holder_id_number": MOTHER, "number": "ID-M-001", "issuer": "福州市公安局鼓楼分局"},
            {"kind": "father_id_card", "holder_id_number": FATHER, "number": "ID-F-002", "issuer": "厦门市公安局思明分局"},
            {"kind": "marriage_certificate", "holder_id_number": MOTHER, "number": "J350102-2020-000123", "issuer": "福州市鼓楼区民政局"},
        ]),
    );
    v
}

/// What a well-kept directory holds for the sample: the father authorised his card to the mother.
fn record(kind: DocumentKind) -> LicenceRecord {
    let (number, issuer, holder) = match kind {
        DocumentKind::MotherIdCard => ("ID-M-001", "福州市公安局鼓楼分局", MOTHER),
        DocumentKind::FatherIdCard => ("ID-F-002", "厦门市公安局思明分局", FATHER),
        _ => ("J350102-2020-000123", "福州市鼓楼区民政局", MOTHER),
    };
    LicenceRecord {
        kind,
        number: number.into(),
        issuer: issuer.into(),
        holder_id_number: holder.parse().unwrap_or_else(|e| panic!("{e}")),
        valid_until: NaiveDate::from_ymd_opt(2035, 1, 1),
        grants: if kind == DocumentKind::FatherIdCard {
            vec![LicenceGrant {
                grantee_id_number: MOTHER.parse().unwrap_or_else(|e| panic!("{e}")),
                granted_at: now(),
                valid_until: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap_or_default(),
            }]
        } else {
            vec![]
        },
    }
}

fn checks(app: &Application, edit: impl Fn(&mut LicenceRecord) -> Option<()>) -> Vec<LicenceCheck> {
    let p = policy("fujian-2.0");
    let today = now().date_naive();
    app.form
        .licences
        .iter()
        .map(|l| {
            let mut r = record(l.kind);
            let found = edit(&mut r).map(|_| r);
            let judged = judge(l, found.as_ref(), &app.form, &p, today);
            LicenceCheck {
                reference: l.clone(),
                checked_at: now(),
                problem: judged.err(),
                valid_until: None,
                authorised_at: judged.ok().flatten(),
            }
        })
        .collect()
}

fn submitted(v: &Value) -> Application {
    Application::submit(
        "L-1".parse().unwrap_or_else(|e| panic!("{e}")),
        form(v),
        &policy("fujian-2.0"),
        now(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .0
}

/// 附件2 一(一): identity cards and the marriage certificate may be licences instead of scans.
#[test]
fn verified_licences_stand_in_for_the_scans() {
    let app = submitted(&with_licences());
    let found = checks(&app, |_| Some(()));
    assert!(found.iter().all(LicenceCheck::verified), "{found:?}");
    let review = pre_review(&app.form, &policy("fujian-2.0"), now(), &found, &[]);
    assert!(
        matches!(review.decision, Decision::Accept { .. }),
        "{:?}",
        review.findings
    );
    // The father's card is not the applicant's: it counts because he authorised it to her.
    assert!(found[1].authorised_at.is_some());
}

/// Each way a licence can be wrong, judged on the directory's record (table-driven).
#[test]
fn a_licence_is_refused_for_what_is_wrong_with_it() {
    let app = submitted(&with_licences());
    let p = policy("fujian-2.0");
    let today = now().date_naive();
    let father = &app.form.licences[1];
    let marriage = &app.form.licences[2];
    let stranger: newborn_domain::ids::IdNumber = "11010519491231002X"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let table: Vec<(
        &newborn_domain::licence::LicenceRef,
        Option<LicenceRecord>,
        LicenceProblem,
    )> = vec![
        (father, None, LicenceProblem::NotFound),
        (
            father,
            Some(LicenceRecord {
                holder_id_number: stranger.clone(),
                ..record(DocumentKind::FatherIdCard)
            }),
            LicenceProblem::OtherHolder,
        ),
        (
            father,
            Some(LicenceRecord {
                valid_until: NaiveDate::from_ymd_opt(2025, 11, 16),
                ..record(DocumentKind::FatherIdCard)
            }),
            LicenceProblem::Expired,
        ),
        (
            father,
            Some(LicenceRecord {
                grants: vec![],
                ..record(DocumentKind::FatherIdCard)
            }),
            LicenceProblem::NotAuthorised,
        ),
        (
            marriage,
            Some(LicenceRecord {
                number: "J350102-2019-000999".into(),
                ..record(DocumentKind::MarriageCertificate)
            }),
            LicenceProblem::NotFound,
        ),
        (
            father,
            Some(LicenceRecord {
                issuer: "另一发证机关".into(),
                ..record(DocumentKind::FatherIdCard)
            }),
            LicenceProblem::NotFound,
        ),
    ];
    for (reference, found, problem) in table {
        assert_eq!(
            judge(reference, found.as_ref(), &app.form, &p, today),
            Err(problem),
            "{problem:?}"
        );
    }
    // An authorisation that lapsed yesterday no longer counts.
    let mut lapsed = record(DocumentKind::FatherIdCard);
    lapsed.grants[0].valid_until = NaiveDate::from_ymd_opt(2025, 11, 16).unwrap_or_default();
    assert_eq!(
        judge(father, Some(&lapsed), &app.form, &p, today),
        Err(LicenceProblem::NotAuthorised)
    );
}

/// A refused licence is named in the supplement request, with what was wrong.
#[test]
fn a_refused_licence_is_named_in_the_supplement_request() {
    let app = submitted(&with_licences());
    let found = checks(&app, |r| {
        r.grants.clear();
        Some(())
    });
    let review = pre_review(&app.form, &policy("fujian-2.0"), now(), &found, &[]);
    let Decision::Supplement { items, reason } = review.decision else {
        panic!("{:?}", review.decision)
    };
    assert_eq!(
        items,
        vec![SupplementItem::Licence {
            kind: DocumentKind::FatherIdCard,
            problem: LicenceProblem::NotAuthorised
        }]
    );
    assert!(
        reason.zh.contains("父亲居民身份证电子证照"),
        "{}",
        reason.zh
    );
    assert!(reason.zh.contains("授权"), "{}", reason.zh);
}

/// Submission refuses licences a policy does not take, of the wrong parent, or given twice.
#[test]
fn licence_references_are_checked_at_submission() {
    let p = policy("fujian-2.0");
    let mut v = with_licences();
    set(&mut v, "/licences/1/holder_id_number", json!(MOTHER));
    let issues = form(&v).check(&p, now());
    assert!(
        issues
            .iter()
            .any(|i| i.field == "licences[1]" && i.error.code == "licence_holder")
    );
    let mut v = with_licences();
    add_document(&mut v, "mother_id_card");
    let issues = form(&v).check(&p, now());
    assert!(
        issues
            .iter()
            .any(|i| i.error.code == "material_given_twice")
    );
    // Putian 2022 has no licence section: licences are refused there.
    let issues = form(&with_licences()).check(&policy("putian-2022"), now());
    assert!(
        issues
            .iter()
            .any(|i| i.error.code == "licence_not_accepted")
    );
}

/// 附件2 一(一): after the licence was found missing, the photo is taken only once the
/// registration was approved, within one working day on its own clock.
/// Rules: FJ2-LICENCES.
#[test]
fn a_photo_after_a_refused_licence_needs_an_approved_registration() {
    let p = policy("fujian-2.0");
    let mut app = submitted(&with_licences());
    let refused = checks(&app, |r| {
        (r.kind != DocumentKind::MotherIdCard).then_some(())
    });
    app.record_licence_checks(&refused);
    let err = app
        .scan_allowed(DocumentKind::MotherIdCard, &p)
        .err()
        .map(|e| e.code);
    assert_eq!(err.as_deref(), Some("registration_required"));
    // The marriage certificate asks for no registration; the booklet is no licence at all.
    assert!(
        app.scan_allowed(DocumentKind::MarriageCertificate, &p)
            .is_ok()
    );
    assert!(
        app.scan_allowed(DocumentKind::HouseholdBookletFront, &p)
            .is_ok()
    );

    let r = app
        .file_registration(
            &[DocumentKind::MotherIdCard],
            RegistrationReason::Missing,
            &p,
            now(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.number, 1);
    let cal = WorkingCalendar::builtin();
    let reading = r.clock.read(&cal, now());
    assert_eq!(
        reading.deadline,
        Some(now() + TimeDelta::hours(24)),
        "one working day, Monday to Tuesday"
    );
    assert!(
        app.supervised_clock(Stage::PreReview).is_some(),
        "indexed for supervision"
    );
    // One registration under review at a time.
    assert!(matches!(
        app.file_registration(
            &[DocumentKind::FatherIdCard],
            RegistrationReason::Wrong,
            &p,
            now()
        ),
        Err(FlowError::Licence(_))
    ));
    let decided = now() + TimeDelta::hours(3);
    assert_eq!(
        app.decide_registration(1, RegistrationStatus::Approved { at: decided }, decided),
        Ok(true)
    );
    assert_eq!(
        app.decide_registration(1, RegistrationStatus::Approved { at: decided }, decided),
        Ok(false),
        "a repeated decision changes nothing"
    );
    let clock = &app.registrations[0].clock;
    assert_eq!(clock.state(), ClockState::Stopped);
    assert_eq!(clock.read(&cal, decided).level, SlaLevel::OnTrack);
    assert!(app.scan_allowed(DocumentKind::MotherIdCard, &p).is_ok());
    assert!(app.supervised_clock(Stage::PreReview).is_none());
}

fn run(app: &mut Application, stage: Stage, h: i64) -> Vec<Effect> {
    let p = policy("fujian-2.0");
    let at = now() + TimeDelta::hours(h);
    app.apply(stage, StageEvent::Dispatch, &p, at)
        .unwrap_or_else(|e| panic!("{e}"));
    // An insurance result decides the maternity benefit only if the family applied for it.
    let result = match result(stage) {
        StageResult::Insurance { enrolled, .. } => StageResult::Insurance {
            enrolled,
            maternity_benefit_approved: app
                .form
                .services
                .contains(&Service::MaternityBenefit)
                .then_some(true),
        },
        other => other,
    };
    app.apply(stage, StageEvent::Complete { result }, &p, at)
        .unwrap_or_else(|e| panic!("{e}"))
        .effects
}

/// The sample choosing the certificates and the registration only, without the sections of
/// the services it declined.
fn declining_insurance_and_card() -> Value {
    let mut v = sample();
    set(
        &mut v,
        "/services",
        json!([
            "birth_certificate",
            "vaccination_certificate",
            "parenting_guidance",
            "household_registration"
        ]),
    );
    for p in [
        "/insurance",
        "/maternity",
        "/card",
        "/delivery/social_security_card",
    ] {
        remove(&mut v, p);
    }
    v
}

/// A declined enrolment is offered when the flow ends, and accepting it runs the insurance
/// stage on the data on file; then the card is offered in turn.
/// Rules: OURS-OFFERS.
#[test]
fn a_declined_follow_up_is_offered_and_continues_the_same_application() {
    let p = policy("fujian-2.0");
    let mut app = submitted(&declining_insurance_and_card());
    run(&mut app, Stage::PreReview, 0);
    run(&mut app, Stage::HealthCheck, 1);
    // After the registration the hospital learns the result and releases the main page; the
    // flow ends with that release.
    run(&mut app, Stage::Police, 2);
    let ended = run(&mut app, Stage::CertificateRelease, 2);
    assert!(ended.contains(&Effect::FlowEnded {
        outcome: Outcome::Completed
    }));
    let offer = app
        .make_offer(&p, now())
        .unwrap_or_else(|| panic!("no offer"));
    assert_eq!(offer.stage, Stage::Insurance);
    assert_eq!(offer.services, vec![Service::MedicalInsuranceEnrolment]);
    assert!(app.make_offer(&p, now()).is_none(), "offered once");
    assert!(matches!(
        app.accept_offer(Stage::SocialSecurityCard, &p, now()),
        Err(FlowError::NoOffer(Stage::SocialSecurityCard))
    ));

    let applied = app
        .accept_offer(Stage::Insurance, &p, now() + TimeDelta::hours(3))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        applied.effects,
        vec![Effect::Enqueue {
            stage: Stage::Insurance,
            round: 1
        }]
    );
    assert_eq!(app.outcome(), Outcome::InProgress);
    // The enrolment section was derived from the registration on file.
    let insurance = app
        .form
        .insurance
        .clone()
        .unwrap_or_else(|| panic!("no section"));
    assert_eq!(insurance.region.as_str(), "350102");
    assert_eq!(insurance.address.as_str(), "福州市鼓楼区东街街道示例路1号");
    assert!(
        app.form
            .services
            .contains(&Service::MedicalInsuranceEnrolment)
    );
    assert!(!app.form.services.contains(&Service::MaternityBenefit));

    let ended = run(&mut app, Stage::Insurance, 4);
    assert!(ended.contains(&Effect::FlowEnded {
        outcome: Outcome::Completed
    }));
    assert_eq!(
        app.stage(Stage::SocialSecurityCard)
            .map(|s| s.status.clone()),
        Some(StageStatus::Skipped {
            reason: SkipReason::NotChosen
        }),
        "the card stays declined until its own offer is accepted"
    );
    let card = app
        .make_offer(&p, now() + TimeDelta::hours(5))
        .unwrap_or_else(|| panic!("no card offer"));
    assert_eq!(card.stage, Stage::SocialSecurityCard);
    app.accept_offer(Stage::SocialSecurityCard, &p, now() + TimeDelta::hours(6))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        app.stage(Stage::SocialSecurityCard)
            .map(|s| s.status.clone()),
        Some(StageStatus::Queued { round: 1 })
    );
}

/// 附件2 一(五): the enrolment is offered only while the newborn is under one year; a police
/// stage (whose data the form lacks) is never offered.
/// Rules: FJ2-INSURANCE-AGE, OURS-OFFERS.
#[test]
fn offers_respect_eligibility_and_the_data_on_file() {
    let p = policy("fujian-2.0");
    let mut app = submitted(&declining_insurance_and_card());
    run(&mut app, Stage::PreReview, 0);
    run(&mut app, Stage::HealthCheck, 1);
    run(&mut app, Stage::Police, 2);
    assert!(
        app.make_offer(&p, at("2026-11-10T09:00:00+08:00"))
            .is_none(),
        "one year old"
    );

    let mut v = declining_insurance_and_card();
    set(
        &mut v,
        "/services",
        json!([
            "birth_certificate",
            "vaccination_certificate",
            "parenting_guidance"
        ]),
    );
    remove(&mut v, "/household");
    remove(&mut v, "/delivery/household_booklet");
    let mut app = submitted(&v);
    run(&mut app, Stage::PreReview, 0);
    run(&mut app, Stage::HealthCheck, 1);
    assert_eq!(app.outcome(), Outcome::Completed);
    assert!(
        app.make_offer(&p, now()).is_none(),
        "the police stage is not offered"
    );
}

/// 闽卫政法〔2024〕40号 附件2 一(一): a photo of an identity card issued in the province counts only
/// after an approved missing-licence registration — whether or not a licence was tried first —
/// and pre-review asks for the licence (or the registration) instead; a card issued outside the
/// province may simply be photographed ("省外身份证可通过拍照上传"). The photo on file counts once the
/// registration is approved: the family is not asked for it twice.
/// Rules: FJ2-OUT-OF-PROVINCE-ID, FJ2-PHOTO-NEEDS-REGISTRATION.
#[test]
fn a_photo_of_a_provincial_identity_card_needs_an_approved_registration() {
    use newborn_domain::licence::LicenceProblem;
    use newborn_domain::prereview::{Decision, pre_review};
    let p = policy("fujian-2.0");
    let mut v = sample();
    as_scans(&mut v); // both cards as photos, no licence tried
    // The father's card was issued in Guangdong: its photo needs no registration.
    set(&mut v, "/father/id_number", json!("440104199207080014"));
    let mut app = submitted(&v);
    let pending = app.photos_awaiting_registration(&p);
    assert_eq!(pending, [DocumentKind::MotherIdCard]);
    let review = pre_review(&app.form, &p, now(), &[], &pending);
    let Decision::Supplement { items, reason } = review.decision else {
        panic!("{:?}", review.decision)
    };
    assert_eq!(
        items,
        vec![newborn_domain::stage::SupplementItem::Licence {
            kind: DocumentKind::MotherIdCard,
            problem: LicenceProblem::RegistrationRequired,
        }]
    );
    assert!(reason.zh.contains("授权缺失登记"), "{}", reason.zh);
    app.file_registration(
        &[DocumentKind::MotherIdCard],
        RegistrationReason::Missing,
        &p,
        now(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let decided = now() + TimeDelta::hours(2);
    app.decide_registration(1, RegistrationStatus::Approved { at: decided }, decided)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(app.photos_awaiting_registration(&p).is_empty());
    // The same photo answers the request now (an empty answer): not asked for twice.
    let request = [newborn_domain::stage::SupplementItem::Licence {
        kind: DocumentKind::MotherIdCard,
        problem: LicenceProblem::RegistrationRequired,
    }];
    let answer: newborn_domain::supplement::SupplementAnswer =
        serde_json::from_value(json!({"documents": [], "form_patch": {}}))
            .unwrap_or_else(|e| panic!("{e}"));
    assert!(answer.corrected(&app.form, &request, &p, decided).is_ok());
}
