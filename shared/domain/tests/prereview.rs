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
    edit(&mut v);
    let review = pre_review(&form(&v), &policy(policy_id), now, &[]);
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
    let review = pre_review(&form(&sample()), &policy("fujian-2.0"), now(), &[]);
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
        // 附件2 二(一): case 2 must hold the complete birth certificate
        (
            "附件2 二(一) case 2 certificate scan",
            |v| {
                set(v, "/case", json!("has_birth_certificate"));
                set(v, "/services", json!(["household_registration"]));
                set(
                    v,
                    "/existing",
                    json!({"birth_certificate_number": "Q350012345"}),
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
    let review = pre_review(&form(&v), &policy("fujian-2.0"), now(), &[]);
    assert!(
        matches!(review.decision, Decision::Accept { .. }),
        "{:?}",
        review.findings
    );
}

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
                add_document(v, "delivery_record");
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
                add_document(v, "delivery_record");
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
    let review = pre_review(&form(&v), &policy("fujian-2.0"), now(), &[]);
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
    let review = pre_review(&form(&v), &policy("fujian-2.0"), now(), &[]);
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
    let review = pre_review(&form(&v), &policy("fujian-2.0"), now(), &[]);
    let Decision::GoOffline { reason } = review.decision else {
        panic!("{:?}", review.decision)
    };
    assert!(
        reason.zh.contains("个月") && reason.zh.contains("港澳台"),
        "{}",
        reason.zh
    );
}
