//! Pre-review rules, table-driven, each row citing the rule's document and section.

mod common;
use common::*;
use newborn_domain::application::DocumentKind;
use newborn_domain::prereview::{Decision, Remedy, pre_review};
use newborn_domain::stage::SupplementItem;
use serde_json::{Value, json};

type Edit = fn(&mut Value);

/// What pre-review should decide, by rule code.
enum Expect {
    Supplement(&'static str),
    Offline(&'static str),
}

fn check(
    policy_id: &str,
    edit: Edit,
    now: chrono::DateTime<chrono::Utc>,
    expect: Expect,
    why: &str,
) {
    let mut v = sample();
    if policy(policy_id).licences.is_none() {
        as_scans(&mut v);
    }
    edit(&mut v);
    let review = pre_review(&form(&v), &policy(policy_id), now, &[], &[]);
    let (rule, offline) = match expect {
        Expect::Supplement(r) => (r, false),
        Expect::Offline(r) => (r, true),
    };
    let finding = review
        .findings
        .iter()
        .find(|f| f.rule == rule)
        .unwrap_or_else(|| panic!("{why}: no finding {rule} in {:?}", review.findings));
    assert_eq!(
        finding.remedy == Remedy::GoOffline,
        offline,
        "{why}: remedy of {rule}"
    );
    assert!(!finding.source.is_empty(), "{why}: {rule} cites no source");
    match (&review.decision, offline) {
        (Decision::GoOffline { reason }, true) => {
            assert!(reason.zh.contains(&finding.message.zh), "{why}")
        }
        (Decision::Supplement { .. }, false) => {}
        (d, _) => panic!("{why}: unexpected decision {d:?}"),
    }
}

#[test]
fn the_sample_is_accepted_under_fujian_2_0() {
    let review = pre_review(&form(&sample()), &policy("fujian-2.0"), now(), &[], &[]);
    assert_eq!(
        review.decision,
        Decision::Accept { notes: vec![] },
        "{:?}",
        review.findings
    );
}

#[test]
fn pre_review_rules_of_fujian_2_0() {
    let rows: Vec<(&str, Edit, Expect)> = vec![
        // 附件1 三(一)1, 附件2 一(一): missing materials → supplement
        (
            "附件2 一(一) marriage certificate scan [FJ2-PRE-SUPPLEMENT]",
            |v| drop_document(v, "marriage_certificate"),
            Expect::Supplement("materials_complete"),
        ),
        // 附件2 一(三), 附件3: the father needs the authorisation letter
        (
            "附件2 一(三) father without letter",
            |v| {
                set(v, "/applicant", json!("father"));
                set(
                    v,
                    "/authorisation",
                    json!({"valid_from": "2025-11-12", "valid_until": "2026-02-12"}),
                );
            },
            Expect::Supplement("materials_complete"),
        ),
        // 附件1 二(一): under one year
        (
            "附件1 二(一) newborn over a year [FJ2-AGE]",
            |v| set(v, "/newborn/birth_time", json!("2024-11-17T08:00:00+08:00")),
            Expect::Offline("newborn_age"),
        ),
        // 附件1 二(一): born in a hospital in the province
        (
            "附件1 二(一) born outside Fujian [FJ2-BIRTHPLACE]",
            |v| set(v, "/newborn/birthplace", json!("440104")),
            Expect::Offline("birthplace"),
        ),
        (
            "birthplace typo inside Fujian",
            |v| set(v, "/newborn/birthplace", json!("350199")),
            Expect::Supplement("birthplace_code"),
        ),
        // 附件2 一(一)(二): Chinese nationals only
        (
            "附件2 一(一) HK resident father [FJ2-NATIONALITY]",
            |v| set(v, "/father/id_number", json!("810000199001010019")),
            Expect::Offline("nationality"),
        ),
        // 附件2 一(二): at least one parent registered in the province
        (
            "附件2 一(二) neither parent in Fujian [FJ2-RESIDENCY]",
            |v| {
                set(v, "/mother/household_region", json!("440104"));
                set(v, "/father/household_region", json!("440105"));
            },
            Expect::Offline("residency"),
        ),
        // 附件2 一(二): only one provincial parent → register with that parent
        (
            "附件2 一(二) register with the out-of-province parent [FJ2-SINGLE-PROVINCIAL]",
            |v| {
                set(v, "/mother/household_region", json!("440104"));
            },
            Expect::Supplement("single_provincial_parent"),
        ),
        // 附件2 一(二): marriage certificate issued in the province
        (
            "附件2 一(二) marriage certificate from Guangdong [FJ2-MARRIAGE-PROVINCE]",
            |v| {
                set(
                    v,
                    "/mother/marriage_certificate",
                    json!("J440104-2020-000123"),
                );
                set(
                    v,
                    "/father/marriage_certificate",
                    json!("J440104-2020-000123"),
                );
            },
            Expect::Offline("marriage_certificate_region"),
        ),
        (
            "both parents must give one certificate [FJ2-MARRIAGE-SAME]",
            |v| {
                set(
                    v,
                    "/father/marriage_certificate",
                    json!("J350102-2020-000999"),
                )
            },
            Expect::Supplement("marriage_certificate_same"),
        ),
        // 附件2 一(四), 附件4 一: collective only where the other parent has no family household in the area
        (
            "附件2 一(四) collective where the father has a family household in the same city districts [FJ2-HOUSEHOLD-KIND]",
            |v| {
                set(v, "/mother/household_kind", json!("collective"));
                set(v, "/father/household_region", json!("350103"));
            },
            Expect::Supplement("household_kind"),
        ),
    ];
    for (why, edit, expect) in rows {
        check("fujian-2.0", edit, now(), expect, why);
    }
}

/// 附件2 一(四): in different areas the family may choose either household.
/// Rules: FJ2-HOUSEHOLD-KIND.
#[test]
fn a_collective_household_is_allowed_when_the_parents_live_in_different_areas() {
    let mut v = sample();
    set(&mut v, "/mother/household_kind", json!("collective")); // 鼓楼区 (福州); father 思明区 (厦门)
    let review = pre_review(&form(&v), &policy("fujian-2.0"), now(), &[], &[]);
    assert!(
        matches!(review.decision, Decision::Accept { .. }),
        "{:?}",
        review.findings
    );
}

/// Each region's own conditions, including a foreigner's permanent-residence card going offline
/// (附件2 一(一)); born outside the Fuzhou districts or Yongfu county; neither parent in Putian or
/// Guangxi; a collective household in Xiamen and Putian (家庭户 only).
/// Rules: FJ2-NATIONALITY, FZ21-BIRTHPLACE, YF-BIRTHPLACE, PT22-RESIDENCY, YF-RESIDENCY,
/// XM-FAMILY-HOUSEHOLD, PT22-FAMILY-HOUSEHOLD.
#[test]
fn regional_variants_apply_their_own_conditions() {
    let rows: Vec<(&str, &str, Edit, Expect)> = vec![
        // 厦门办事指南 申请条件(一): under 6 months, both parents in Fujian, born in Xiamen, family household
        (
            "xiamen",
            "厦门 申请条件(一) 7 months old [XM-AGE]",
            |v| {
                set(v, "/newborn/birthplace", json!("350203"));
                set(v, "/newborn/birth_time", json!("2025-04-10T08:00:00+08:00"));
            },
            Expect::Offline("newborn_age"),
        ),
        (
            "xiamen",
            "厦门 申请条件(一) born in Fuzhou [XM-BIRTHPLACE]",
            |_| {},
            Expect::Offline("birthplace"),
        ),
        (
            "xiamen",
            "厦门 申请条件(一) father registered outside Fujian [XM-RESIDENCY]",
            |v| {
                set(v, "/newborn/birthplace", json!("350203"));
                set(v, "/father/household_region", json!("440104"));
            },
            Expect::Offline("residency"),
        ),
        (
            "xiamen",
            "厦门 办理流程(一) the father applies",
            |v| {
                set(v, "/newborn/birthplace", json!("350203"));
                set(v, "/applicant", json!("father"));
                set(
                    v,
                    "/authorisation",
                    json!({"valid_from": "2025-11-12", "valid_until": "2026-02-12"}),
                );
            },
            Expect::Offline("applicant"),
        ),
        // Without online supplements a missing scan ends online handling (厦门 办理流程(一)).
        (
            "xiamen",
            "厦门 办理流程(一) missing scan [XM-NO-SUPPLEMENT]",
            |v| {
                set(v, "/newborn/birthplace", json!("350203"));
                drop_document(v, "marriage_certificate");
            },
            Expect::Offline("materials_complete"),
        ),
        // 闽卫监督〔2021〕43号 办事指南 七: 市区内随父或随母落家庭户
        (
            "fuzhou-pilot-2021",
            "福州试点 七 registering with the Xiamen father [FZ21-CITY-FAMILY]",
            |v| {
                set(v, "/household/registering_parent", json!("father"));
                add_document(v, "mother_social_security_card");
                add_document(v, "mother_bank_card");
            },
            Expect::Offline("residency"),
        ),
        (
            "fuzhou-pilot-2021",
            "福州试点 七 collective household [FZ21-CITY-FAMILY]",
            |v| {
                set(v, "/mother/household_kind", json!("collective"));
                add_document(v, "mother_social_security_card");
                add_document(v, "mother_bank_card");
            },
            Expect::Offline("household_kind"),
        ),
        // 莆卫办〔2022〕44号 二(一): born in Putian
        (
            "putian-2022",
            "莆田 二(一) born in Fuzhou [PT22-BIRTHPLACE]",
            |_| {},
            Expect::Offline("birthplace"),
        ),
        // 永福县 附件2 三(六): within one month; 三(二) born in 永福县
        (
            "guangxi-yongfu",
            "永福 三(六) 40 days old [YF-AGE]",
            |v| {
                set(v, "/newborn/birthplace", json!("450326"));
                set(v, "/newborn/birth_time", json!("2025-10-08T08:00:00+08:00"));
                set(v, "/mother/household_region", json!("450326"));
                yongfu_papers(v);
            },
            Expect::Offline("newborn_age"),
        ),
        (
            "guangxi-yongfu",
            "永福 三(三) registering outside 永福县 [YF-REGISTRATION-PLACE]",
            |v| {
                set(v, "/newborn/birthplace", json!("450326"));
                set(v, "/mother/household_region", json!("450326"));
                set(v, "/household/registering_parent", json!("father"));
                yongfu_papers(v);
            },
            Expect::Supplement("registration_place"),
        ),
        // Fujian 2.0 offers supplements at pre-review; the same slip is fixable there.
        (
            "fujian-2.0",
            "附件2 一(二) the only provincial parent must be the registering one",
            |v| {
                set(v, "/father/household_region", json!("440104"));
                set(v, "/household/registering_parent", json!("father"));
            },
            Expect::Supplement("single_provincial_parent"),
        ),
        (
            "fujian-2.0",
            "附件2 一(一) foreigner's permanent residence card",
            |v| set(v, "/father/id_number", json!("933350199001010019")),
            Expect::Offline("nationality"),
        ),
        (
            "fuzhou-pilot-2021",
            "福州试点 方案 二(一) born in Xiamen",
            |v| {
                set(v, "/newborn/birthplace", json!("350203"));
                add_document(v, "mother_social_security_card");
                add_document(v, "mother_bank_card");
            },
            Expect::Offline("birthplace"),
        ),
        (
            "guangxi-yongfu",
            "永福 三(二) born in Guilin's city",
            |v| {
                set(v, "/newborn/birthplace", json!("450302"));
                set(v, "/mother/household_region", json!("450326"));
                yongfu_papers(v);
            },
            Expect::Offline("birthplace"),
        ),
        (
            "putian-2022",
            "莆田 二(一) neither parent in Putian",
            |v| set(v, "/newborn/birthplace", json!("350302")),
            Expect::Offline("residency"),
        ),
        (
            "guangxi-yongfu",
            "永福 三(三) neither parent in Guangxi",
            |v| {
                set(v, "/newborn/birthplace", json!("450326"));
                yongfu_papers(v);
            },
            Expect::Offline("residency"),
        ),
        (
            "xiamen",
            "厦门 申请条件(一) both parents collective",
            |v| {
                set(v, "/newborn/birthplace", json!("350203"));
                set(v, "/mother/household_kind", json!("collective"));
                set(v, "/father/household_kind", json!("collective"));
            },
            Expect::Offline("household_kind"),
        ),
        (
            "putian-2022",
            "莆田 二(一) both parents collective",
            |v| {
                set(v, "/newborn/birthplace", json!("350302"));
                set(v, "/mother/household_region", json!("350302"));
                set(v, "/mother/household_kind", json!("collective"));
                set(v, "/father/household_kind", json!("collective"));
            },
            Expect::Offline("household_kind"),
        ),
    ];
    for (id, why, edit, expect) in rows {
        check(id, edit, now(), expect, why);
    }
}

/// Guangxi 附件2 五(二): "一次性告知" — every missing item in one request.
/// Rules: YF-ONE-TIME-NOTICE, FJ2-MARRIAGE-SAME.
#[test]
fn every_missing_item_is_requested_at_once() {
    let mut v = sample();
    drop_document(&mut v, "marriage_certificate");
    drop_document(&mut v, "household_booklet_head");
    set(
        &mut v,
        "/father/marriage_certificate",
        json!("J350102-2020-000999"),
    );
    let review = pre_review(&form(&v), &policy("fujian-2.0"), now(), &[], &[]);
    let Decision::Supplement { items, reason } = review.decision else {
        panic!("{:?}", review.decision)
    };
    assert_eq!(
        items,
        vec![
            SupplementItem::Document {
                kind: DocumentKind::MarriageCertificate
            },
            SupplementItem::Document {
                kind: DocumentKind::HouseholdBookletHead
            },
            SupplementItem::Field {
                field: "mother.marriage_certificate".into()
            },
            SupplementItem::Field {
                field: "father.marriage_certificate".into()
            },
        ]
    );
    assert!(reason.zh.contains("结婚证") && reason.en.contains("household booklet"));
}

/// domain.md: pre-2004 marriage certificates may have free-text numbers — warn, do not reject.
#[test]
fn a_legacy_marriage_certificate_passes_with_a_note_for_reviewers() {
    let mut v = sample();
    set(
        &mut v,
        "/mother/marriage_certificate",
        json!("榕鼓婚字第1998-0231号"),
    );
    set(
        &mut v,
        "/father/marriage_certificate",
        json!("榕鼓婚字第1998-0231号"),
    );
    let review = pre_review(&form(&v), &policy("fujian-2.0"), now(), &[], &[]);
    let Decision::Accept { notes } = review.decision else {
        panic!("{:?}", review.decision)
    };
    assert_eq!(notes.len(), 1);
    assert!(notes[0].zh.contains("人工核对"));
}

#[test]
fn offline_wins_over_supplement_and_gives_every_reason() {
    let mut v = sample();
    drop_document(&mut v, "marriage_certificate");
    set(
        &mut v,
        "/newborn/birth_time",
        json!("2024-10-01T08:00:00+08:00"),
    );
    set(&mut v, "/father/id_number", json!("810000199001010019"));
    let review = pre_review(&form(&v), &policy("fujian-2.0"), now(), &[], &[]);
    let Decision::GoOffline { reason } = review.decision else {
        panic!("{:?}", review.decision)
    };
    assert!(
        reason.zh.contains("个月") && reason.zh.contains("港澳台"),
        "{}",
        reason.zh
    );
}

/// 闽卫政法〔2024〕40号 附件1 二(一) (婚生), 附件2 一(二) "暂不支持单亲母亲和未婚公民进行申请": a single
/// mother (no father on the form) and unmarried parents (no marriage certificate) are told to
/// apply offline, with the reason in both languages — not refused as a malformed form. A
/// certificate given by one parent only is a slip to correct.
/// Rules: FJ2-MARRIED.
#[test]
fn single_mothers_and_unmarried_parents_go_offline_with_the_reason() {
    let mut single = sample();
    set(&mut single, "/father", json!(null));
    remove(&mut single, "/mother/marriage_certificate");
    drop_document(&mut single, "father_id_card");
    drop_document(&mut single, "marriage_certificate");
    set(
        &mut single,
        "/household/registering_parent",
        json!("mother"),
    );
    let review = pre_review(&form(&single), &policy("fujian-2.0"), now(), &[], &[]);
    let Decision::GoOffline { reason } = &review.decision else {
        panic!("{:?}", review.decision)
    };
    assert!(reason.zh.contains("单亲母亲"), "{}", reason.zh);
    assert!(reason.en.contains("single mother"), "{}", reason.en);
    assert!(
        review
            .findings
            .iter()
            .any(|f| f.rule == "married_parents" && f.source.contains("附件2 一(二)"))
    );

    let mut unmarried = sample();
    remove(&mut unmarried, "/mother/marriage_certificate");
    remove(&mut unmarried, "/father/marriage_certificate");
    drop_document(&mut unmarried, "marriage_certificate");
    let review = pre_review(&form(&unmarried), &policy("fujian-2.0"), now(), &[], &[]);
    let Decision::GoOffline { reason } = &review.decision else {
        panic!("{:?}", review.decision)
    };
    assert!(reason.zh.contains("未婚"), "{}", reason.zh);

    // Under every policy: each requires a marriage (婚生), whatever else it lists.
    for id in ["xiamen", "putian-2022", "guangxi-yongfu"] {
        let review = pre_review(&form(&unmarried), &policy(id), now(), &[], &[]);
        assert!(
            review.findings.iter().any(|f| f.rule == "married_parents"),
            "{id}: {:?}",
            review.findings
        );
    }

    check(
        "fujian-2.0",
        |v| remove(v, "/father/marriage_certificate"),
        now(),
        Expect::Supplement("marriage_certificate_same"),
        "one parent left the number out [FJ2-MARRIAGE-SAME]",
    );
}

/// 闽卫政法〔2024〕40号 附件1 三(一)1 (材料缺失→补件), 附件2 一(三), 附件3: a father applying without
/// the mother's letter and its term is asked for both in one supplement, not refused; a term
/// that does not cover the day of application is asked for again, with a new letter.
/// Rules: FJ2-FATHER-LETTER-SUPPLEMENT, FJ2-APPLICANT.
#[test]
fn in_fujian_a_father_without_the_letter_is_asked_to_supplement_it() {
    let mut v = sample();
    set(&mut v, "/applicant", json!("father"));
    let review = pre_review(&form(&v), &policy("fujian-2.0"), now(), &[], &[]);
    let Decision::Supplement { items, reason } = &review.decision else {
        panic!("{:?}", review.decision)
    };
    assert_eq!(
        items,
        &vec![
            SupplementItem::Document {
                kind: DocumentKind::AuthorisationLetter
            },
            SupplementItem::Field {
                field: "authorisation".into()
            },
        ]
    );
    assert!(reason.zh.contains("授权委托书"), "{}", reason.zh);

    add_document(&mut v, "authorisation_letter");
    set(
        &mut v,
        "/authorisation",
        json!({"valid_from": "2025-11-01", "valid_until": "2025-11-10"}),
    );
    let review = pre_review(&form(&v), &policy("fujian-2.0"), now(), &[], &[]);
    let Decision::Supplement { items, .. } = &review.decision else {
        panic!("{:?}", review.decision)
    };
    assert_eq!(
        items,
        &vec![
            SupplementItem::Field {
                field: "authorisation".into()
            },
            SupplementItem::Document {
                kind: DocumentKind::AuthorisationLetter
            },
        ]
    );
    set(
        &mut v,
        "/authorisation",
        json!({"valid_from": "2025-11-12", "valid_until": "2026-02-12"}),
    );
    let review = pre_review(&form(&v), &policy("fujian-2.0"), now(), &[], &[]);
    assert!(
        matches!(review.decision, Decision::Accept { .. }),
        "{:?}",
        review.findings
    );
}

/// Where only the mother may apply (厦门 办理流程(一); 福州试点; 莆田 二(二)1; 永福县 三(一)), a father
/// applying goes offline at once with that reason — he is not first asked for a letter that could
/// never make his application valid.
/// Rules: XM-MOTHER-ONLY, PT22-MOTHER-ONLY, FZ21-MOTHER-ONLY, YF-MOTHER-ONLY.
#[test]
fn where_only_the_mother_may_apply_a_father_goes_offline_at_once() {
    for (id, birthplace, region) in [
        ("xiamen", "350203", "350203"),
        ("fuzhou-pilot-2021", "350102", "350102"),
        ("putian-2022", "350302", "350302"),
        ("guangxi-yongfu", "450326", "450326"),
    ] {
        let mut v = sample();
        set(&mut v, "/applicant", json!("father"));
        set(&mut v, "/newborn/birthplace", json!(birthplace));
        set(&mut v, "/mother/household_region", json!(region));
        set(&mut v, "/father/household_region", json!(region));
        let review = pre_review(&form(&v), &policy(id), now(), &[], &[]);
        let Decision::GoOffline { reason } = &review.decision else {
            panic!("{id}: {:?}", review.decision)
        };
        assert!(
            reason.zh.contains("须由新生儿母亲申请"),
            "{id}: {}",
            reason.zh
        );
        assert!(
            review
                .findings
                .iter()
                .all(|f| f.rule != "authorisation_term"),
            "{id}: not asked for a letter: {:?}",
            review.findings
        );
    }
}

/// 闽卫政法〔2024〕40号 附件2 二(一): case 2 confirms it holds the full certificate and gives its
/// number — no scan of it (the police read the electronic certificate) — and cases 2 and 3, which
/// involve no hospital, need no hospital record number; without the confirmation the form names
/// what to confirm.
/// Rules: FJ2-CASE2-CONFIRM.
#[test]
fn case_2_confirms_the_certificate_without_a_scan_and_half_flows_need_no_hospital_data() {
    let mut v = sample();
    set(&mut v, "/case", json!("has_birth_certificate"));
    set(
        &mut v,
        "/services",
        json!(["household_registration", "medical_insurance_enrolment"]),
    );
    set(
        &mut v,
        "/existing",
        json!({"birth_certificate_number": "Q350012345"}),
    );
    remove(&mut v, "/newborn/medical_record_number");
    let issues: Vec<(String, String)> = form(&v)
        .check(&policy("fujian-2.0"), now())
        .into_iter()
        .map(|i| (i.field, i.error.code))
        .collect();
    assert_eq!(
        issues,
        [(
            "existing.full_certificate_held".to_owned(),
            "full_certificate_not_confirmed".to_owned()
        )]
    );
    set(&mut v, "/existing/full_certificate_held", json!(true));
    assert!(form(&v).check(&policy("fujian-2.0"), now()).is_empty());
    let review = pre_review(&form(&v), &policy("fujian-2.0"), now(), &[], &[]);
    assert!(
        matches!(review.decision, Decision::Accept { .. }),
        "no certificate scan asked for: {:?}",
        review.findings
    );
    // Case 1 needs the record number: the hospital matches the delivery against it.
    let mut full = sample();
    remove(&mut full, "/newborn/medical_record_number");
    let codes: Vec<String> = form(&full)
        .check(&policy("fujian-2.0"), now())
        .into_iter()
        .map(|i| i.error.code)
        .collect();
    assert_eq!(codes, ["medical_record_number_missing"]);
}

/// 永福县 附件2 四(七) and its form, 厦门办事指南 新生儿户口办理 2: when the parents' ethnicities
/// differ, both sign the newborn's ethnicity — a material asked for where missing (Yongfu; in
/// Xiamen, without online supplements, the family goes offline); Fujian 2.0 states no such rule.
/// Rules: YF-ETHNICITY, XM-ETHNICITY.
#[test]
fn parents_of_different_ethnicities_both_confirm_the_newborns() {
    let differ = |v: &mut Value| set(v, "/father/ethnicity", json!("壮族"));
    let mut yongfu = sample();
    set(&mut yongfu, "/newborn/birthplace", json!("450326"));
    set(&mut yongfu, "/mother/household_region", json!("450326"));
    set(&mut yongfu, "/father/household_region", json!("450326"));
    yongfu_papers(&mut yongfu);
    let consent = SupplementItem::Document {
        kind: DocumentKind::EthnicityConsent,
    };
    let same = pre_review(&form(&yongfu), &policy("guangxi-yongfu"), now(), &[], &[]);
    assert!(
        matches!(same.decision, Decision::Accept { .. }),
        "{:?}",
        same.findings
    );
    differ(&mut yongfu);
    let review = pre_review(&form(&yongfu), &policy("guangxi-yongfu"), now(), &[], &[]);
    let Decision::Supplement { items, .. } = &review.decision else {
        panic!("{:?}", review.decision)
    };
    assert_eq!(items, &vec![consent]);
    add_document(&mut yongfu, "ethnicity_consent");
    let signed = pre_review(&form(&yongfu), &policy("guangxi-yongfu"), now(), &[], &[]);
    assert!(matches!(signed.decision, Decision::Accept { .. }));

    let mut xiamen = sample();
    set(&mut xiamen, "/newborn/birthplace", json!("350203"));
    set(&mut xiamen, "/father/household_region", json!("350203"));
    differ(&mut xiamen);
    let review = pre_review(&form(&xiamen), &policy("xiamen"), now(), &[], &[]);
    let Decision::GoOffline { reason } = &review.decision else {
        panic!("{:?}", review.decision)
    };
    assert_eq!(review.findings.len(), 1, "{:?}", review.findings);
    assert!(reason.zh.contains("民族"), "{}", reason.zh);

    let mut fujian = sample();
    differ(&mut fujian);
    let review = pre_review(&form(&fujian), &policy("fujian-2.0"), now(), &[], &[]);
    assert!(matches!(review.decision, Decision::Accept { .. }));
}

/// 永福县 附件2 三(三)(四)(五), 四(三): both parents' booklets are materials (the other parent's is
/// asked for when missing), and the conditions no register shows — insured in Guangxi, no card
/// applied for elsewhere, not overseas Chinese — are declared on the form; an application lacking
/// a declaration goes offline naming it.
/// Rules: YF-MATERIALS.
#[test]
fn yongfu_asks_for_both_booklets_and_the_declared_conditions() {
    let mut v = sample();
    set(&mut v, "/newborn/birthplace", json!("450326"));
    set(&mut v, "/mother/household_region", json!("450326"));
    yongfu_papers(&mut v);
    let yf = policy("guangxi-yongfu");
    assert!(matches!(
        pre_review(&form(&v), &yf, now(), &[], &[]).decision,
        Decision::Accept { .. }
    ));
    let mut no_booklet = v.clone();
    drop_document(&mut no_booklet, "household_booklet_other_parent");
    let Decision::Supplement { items, .. } =
        pre_review(&form(&no_booklet), &yf, now(), &[], &[]).decision
    else {
        panic!("the other parent's booklet is asked for")
    };
    assert_eq!(
        items,
        vec![SupplementItem::Document {
            kind: DocumentKind::HouseholdBookletOtherParent
        }]
    );
    set(
        &mut v,
        "/declarations",
        json!(["insured_in_guangxi", "not_overseas_chinese"]),
    );
    let Decision::GoOffline { reason } = pre_review(&form(&v), &yf, now(), &[], &[]).decision
    else {
        panic!("an undeclared condition goes offline")
    };
    assert!(reason.zh.contains("社会保障卡"), "{}", reason.zh);
    assert!(!reason.zh.contains("侨胞"), "{}", reason.zh);
}
