//! Parsing and cross-field checks of the one application form.

mod common;
use common::*;
use newborn_domain::application::parse_form;
use serde_json::json;

#[test]
fn the_sample_form_parses_and_passes_every_check() {
    let f = form(&sample());
    assert_eq!(f.newborn.name.as_str(), "林𠈌");
    assert_eq!(
        f.father.as_ref().map(|p| p.phone.as_str()),
        Some("13900001234")
    );
    assert!(f.check(&policy("fujian-2.0"), now()).is_empty());
}

#[test]
fn a_malformed_field_is_named_with_a_bilingual_reason() {
    let cases = [
        (
            "/mother/id_number",
            json!("35010219940315002Y"),
            "mother.id_number",
            "id_number_format",
        ),
        (
            "/mother/id_number",
            json!("350102199403150021"),
            "mother.id_number",
            "id_number_check_digit",
        ),
        (
            "/father/phone",
            json!("0591-87629565"),
            "father.phone",
            "mobile_number",
        ),
        (
            "/newborn/name",
            json!("林\u{0000}"),
            "newborn.name",
            "invisible_character",
        ),
        (
            "/newborn/hospital/credit_code",
            json!("12350100488099123Y"),
            "newborn.hospital.credit_code",
            "credit_code_check",
        ),
        (
            "/father/marriage_certificate",
            json!("L350102-2020-000123"),
            "father.marriage_certificate",
            "marriage_certificate_is_divorce",
        ),
        (
            "/newborn/birth_time",
            json!("2025-02-30T08:00:00+08:00"),
            "newborn.birth_time",
            "malformed",
        ),
        (
            "/newborn/weight_grams",
            json!("3350"),
            "newborn.weight_grams",
            "malformed",
        ),
        ("/case", json!("half"), "case", "malformed"),
    ];
    for (pointer, value, field, code) in cases {
        let mut v = sample();
        set(&mut v, pointer, value);
        let e = parse_form(v.to_string().as_bytes())
            .err()
            .unwrap_or_else(|| panic!("{pointer} accepted"));
        assert_eq!(
            (e.field.as_str(), e.error.code.as_str()),
            (field, code),
            "{pointer}"
        );
        assert!(!e.error.message.zh.is_empty() && !e.error.message.en.is_empty());
    }
}

/// Issue 19 row 15 (OURS-FIELD-WORDS): what a family reads names the field in words, not as a
/// JSON path — a missing member, a malformed value, and a supplement answer that leaves a
/// requested field out or changes one nobody asked about.
/// Rules: OURS-FIELD-WORDS.
#[test]
fn messages_name_fields_in_words_not_json_paths() {
    let mut v = sample();
    remove(&mut v, "/mother/ethnicity");
    let e = parse_form(v.to_string().as_bytes())
        .err()
        .unwrap_or_else(|| panic!("accepted without the mother's ethnicity"));
    assert_eq!(e.field, "mother.ethnicity");
    assert_eq!(e.error.code, "missing");
    assert_eq!(e.error.message.zh, "请填写母亲的民族");
    assert_eq!(e.error.message.en, "the mother's ethnicity is missing");
    let mut v = sample();
    set(&mut v, "/newborn/weight_grams", json!("3350"));
    let e = parse_form(v.to_string().as_bytes())
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(
        e.error.message.zh.starts_with("新生儿的出生体重"),
        "{}",
        e.error.message.zh
    );
    for text in [&e.error.message.zh, &e.error.message.en] {
        assert!(!text.contains("newborn.weight_grams"), "{text}");
    }
}

#[test]
fn unknown_fields_and_truncated_json_are_refused() {
    let mut v = sample();
    set(&mut v, "/newborn/nickname", json!("宝宝"));
    assert!(parse_form(v.to_string().as_bytes()).is_err());
    let text = sample().to_string();
    assert!(parse_form(&text.as_bytes()[..text.len() / 2]).is_err());
    assert!(parse_form(b"[]").is_err());
}

#[test]
fn every_cross_field_problem_is_reported_at_once() {
    let mut v = sample();
    set(
        &mut v,
        "/newborn/birth_time",
        json!("2025-11-18T08:30:00+08:00"),
    ); // after now()
    set(&mut v, "/newborn/weight_grams", json!(3)); // kilograms by mistake
    set(&mut v, "/mother/id_number", json!("350203199207080011")); // the father's number
    remove(&mut v, "/insurance");
    let issues = form(&v).check(&policy("fujian-2.0"), now());
    let codes: Vec<&str> = issues.iter().map(|i| i.error.code.as_str()).collect();
    for expected in [
        "birth_in_future",
        "implausible_weight",
        "id_number_sex",
        "id_number_same",
        "section_missing",
    ] {
        assert!(
            codes.contains(&expected),
            "{expected} missing from {codes:?}"
        );
    }
}

/// 闽卫政法〔2024〕40号 附件1 三(一)2: without household registration the flow ends after the
/// hospital, so a card chosen after it could never be reached.
/// Rules: FJ2-NO-POLICE-ENDS.
#[test]
fn services_that_cannot_be_reached_or_do_not_fit_the_case_are_refused() {
    let mut v = sample();
    set(
        &mut v,
        "/services",
        json!(["birth_certificate", "social_security_card"]),
    );
    let codes: Vec<String> = form(&v)
        .check(&policy("fujian-2.0"), now())
        .into_iter()
        .map(|i| i.error.code)
        .collect();
    assert!(
        codes.contains(&"service_unreachable".to_owned()),
        "{codes:?}"
    );

    let mut v = sample();
    set(&mut v, "/case", json!("has_household_booklet"));
    set(
        &mut v,
        "/existing",
        json!({"newborn_id_number": "350102202511100032"}),
    );
    let codes: Vec<String> = form(&v)
        .check(&policy("fujian-2.0"), now())
        .into_iter()
        .map(|i| i.error.code)
        .collect();
    assert!(
        codes.contains(&"service_not_in_case".to_owned()),
        "{codes:?}"
    );

    let mut v = sample();
    set(&mut v, "/case", json!("has_birth_certificate"));
    let codes: Vec<String> = form(&v)
        .check(&policy("xiamen"), now())
        .into_iter()
        .map(|i| i.error.code)
        .collect();
    assert_eq!(codes[0], "case_not_offered", "{codes:?}");
}

#[test]
fn the_half_flows_need_the_records_already_held() {
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
    let codes: Vec<String> = form(&v)
        .check(&policy("fujian-2.0"), now())
        .into_iter()
        .map(|i| i.error.code)
        .collect();
    assert_eq!(codes, ["newborn_id_number_missing"]);
    // The newborn's number must carry the birth date and sex of the form (GB 11643 §5).
    set(
        &mut v,
        "/existing",
        json!({"newborn_id_number": "350102202511100040"}),
    ); // even: a girl
    let codes: Vec<String> = form(&v)
        .check(&policy("fujian-2.0"), now())
        .into_iter()
        .map(|i| i.error.code)
        .collect();
    assert_eq!(codes, ["newborn_id_number_sex"]);
    set(
        &mut v,
        "/existing",
        json!({"newborn_id_number": "350102202511100032"}),
    );
    assert!(form(&v).check(&policy("fujian-2.0"), now()).is_empty());
}

/// 闽卫政法〔2024〕40号 附件1 三(一)1, 附件2 一(三): the father's letter is a material, not a
/// condition of the form: the form goes in without it (pre-review asks for it), but a father
/// applying must fill in his own section.
/// Rules: FJ2-FATHER-LETTER-SUPPLEMENT.
#[test]
fn a_father_without_the_letter_is_not_refused_by_the_form() {
    let mut v = sample();
    set(&mut v, "/applicant", json!("father"));
    assert!(form(&v).check(&policy("fujian-2.0"), now()).is_empty());
    set(&mut v, "/father", json!(null));
    as_scans(&mut v);
    let codes: Vec<(String, String)> = form(&v)
        .check(&policy("fujian-2.0"), now())
        .into_iter()
        .map(|i| (i.field, i.error.code))
        .collect();
    assert_eq!(codes, [("father".to_owned(), "section_missing".to_owned())]);
}

#[test]
fn personal_data_is_masked_in_debug_output() {
    let f = form(&sample());
    let debug = format!("{f:?}");
    for secret in [
        "35010219940315002X",
        "13812345678",
        "6217001234567890123",
        "陈晓梅",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked into Debug output");
    }
}

mod supplement_answers {
    //! 补件 answers answer their request (docs/rules.md OURS-SUPPLEMENT-ANSWERS; 闽卫政法〔2024〕40号
    //! 附件1 三(一)1): every requested item supplied, nothing else changed beyond what a requested
    //! field brings with it, a new scan replacing the one it answers.
    use super::common::*;
    use newborn_domain::application::{ApplicationForm, FieldIssue};
    use newborn_domain::kinds::DocumentKind;
    use newborn_domain::stage::SupplementItem;
    use newborn_domain::supplement::SupplementAnswer;
    use serde_json::{Value, json};

    /// The sample form after `answer` to `request`, under Fujian 2.0.
    fn correct(
        answer: Value,
        request: &[SupplementItem],
    ) -> Result<ApplicationForm, Vec<FieldIssue>> {
        let answer: SupplementAnswer =
            serde_json::from_value(answer).unwrap_or_else(|e| panic!("{e}"));
        answer.corrected(&form(&sample()), request, &policy("fujian-2.0"), now())
    }

    fn booklet() -> Vec<SupplementItem> {
        vec![SupplementItem::Document {
            kind: DocumentKind::HouseholdBookletRegisteringParent,
        }]
    }

    /// A new photo of the registering parent's page.
    fn new_page() -> Value {
        json!({"kind": "household_booklet_registering_parent", "sha256": "cd".repeat(32)})
    }

    fn codes(r: Result<ApplicationForm, Vec<FieldIssue>>) -> Vec<(String, String)> {
        r.err()
            .unwrap_or_default()
            .into_iter()
            .map(|i| (i.field, i.error.code))
            .collect()
    }

    #[test]
    fn an_empty_answer_to_a_request_for_a_page_is_refused_naming_the_page() {
        let got = correct(json!({}), &booklet());
        assert_eq!(codes(got), vec![("documents".into(), "unanswered".into())]);
    }

    #[test]
    fn the_same_rejected_page_sent_again_is_not_an_answer() {
        let same = form(&sample())
            .documents
            .into_iter()
            .find(|d| d.kind == DocumentKind::HouseholdBookletRegisteringParent)
            .unwrap_or_else(|| panic!("the sample has the page"));
        let got = correct(json!({"documents": [same]}), &booklet());
        assert_eq!(codes(got), vec![("documents".into(), "unanswered".into())]);
    }

    #[test]
    fn a_new_page_replaces_the_rejected_one_instead_of_travelling_beside_it() {
        let next = correct(json!({"documents": [new_page()]}), &booklet())
            .unwrap_or_else(|e| panic!("{e:?}"));
        let pages: Vec<_> = next
            .documents
            .iter()
            .filter(|d| d.kind == DocumentKind::HouseholdBookletRegisteringParent)
            .collect();
        assert_eq!(pages.len(), 1, "one page, the new one: {pages:?}");
        assert_eq!(pages[0].sha256.as_str(), "cd".repeat(32));
        assert_eq!(next.documents.len(), form(&sample()).documents.len());
    }

    #[test]
    fn a_patch_cannot_rewrite_the_newborns_name_sex_or_birth_time_unless_asked() {
        for (patch, field) in [
            (
                json!({"newborn": {"name": "王小明"}}),
                "form_patch.newborn.name",
            ),
            (
                json!({"newborn": {"sex": "female"}}),
                "form_patch.newborn.sex",
            ),
            (
                json!({"newborn": {"birth_time": "2025-11-09T08:00:00+08:00"}}),
                "form_patch.newborn.birth_time",
            ),
            (
                json!({"mother": {"name": "李四"}}),
                "form_patch.mother.name",
            ),
        ] {
            let got = correct(
                json!({"documents": [new_page()], "form_patch": patch}),
                &booklet(),
            );
            assert_eq!(
                codes(got),
                vec![(field.to_owned(), "not_requested".to_owned())],
                "{patch}"
            );
        }
    }

    #[test]
    fn a_requested_field_may_change_and_must_be_named() {
        let request = vec![SupplementItem::Field {
            field: "newborn.name".into(),
        }];
        assert_eq!(
            codes(correct(json!({}), &request)),
            vec![("form_patch.newborn.name".into(), "unanswered".into())]
        );
        let next = correct(
            json!({"form_patch": {"newborn": {"name": "林小𠈌"}}}),
            &request,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(next.newborn.name.as_str(), "林小𠈌");
    }

    #[test]
    fn a_scan_the_request_does_not_ask_for_cannot_be_swapped_in() {
        let other = json!({"kind": "marriage_certificate", "sha256": "ef".repeat(32)});
        let got = correct(json!({"documents": [new_page(), other]}), &booklet());
        assert_eq!(
            codes(got),
            vec![("documents[1]".into(), "not_requested".into())]
        );
    }

    /// A requested field brings what depends on it: registering with the other parent may change
    /// the household section and replace the booklet pages, and nothing else.
    #[test]
    fn registering_with_the_other_parent_may_bring_that_parents_booklet() {
        let request = vec![SupplementItem::Field {
            field: "household.registering_parent".into(),
        }];
        let next = correct(
            json!({
                "documents": [
                    new_page(),
                    {"kind": "household_booklet_head", "sha256": "ce".repeat(32)},
                ],
                "form_patch": {"household": {"registering_parent": "father", "relation_to_head": "孙子"}},
            }),
            &request,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            next.household.as_ref().map(|h| h.relation_to_head.as_str()),
            Some("孙子")
        );
        assert!(
            next.documents
                .iter()
                .any(|d| d.kind == DocumentKind::HouseholdBookletHead
                    && d.sha256.as_str() == "ce".repeat(32))
        );
        // Still nothing else: the mother's name is not part of it.
        let refused = correct(
            json!({"form_patch": {"household": {"registering_parent": "father"}, "mother": {"name": "李四"}}}),
            &request,
        )
        .err()
        .unwrap_or_default();
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].field, "form_patch.mother.name");
    }
}

/// 闽卫政法〔2024〕40号 附件2 一(八), 二(八), 三(七): the applicant promises the form and materials
/// are true; a form without the pledge is refused naming it, in words.
/// Rules: FJ2-PROMISE.
#[test]
fn the_applicant_affirms_the_pledge_of_truthfulness() {
    let mut v = sample();
    set(&mut v, "/pledge", json!({"truthful": false}));
    let issues = form(&v).check(&policy("fujian-2.0"), now());
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].error.code, "pledge_not_given");
    assert!(issues[0].error.message.zh.contains("真实"));
    remove(&mut v, "/pledge");
    let e = parse_form(v.to_string().as_bytes())
        .err()
        .unwrap_or_else(|| panic!("accepted without the pledge"));
    assert_eq!(
        (e.field.as_str(), e.error.code.as_str()),
        ("pledge", "missing")
    );
    assert!(
        e.error.message.zh.contains("申请人承诺"),
        "{}",
        e.error.message.zh
    );
}

/// Each region's ways to collect the results: Yongfu's certificate may be collected by the father
/// on the mother's letter (四(六), 七(一)1) and its card only in person (七(一)4); Putian's booklet
/// may be reprinted and mailed back (二(二)3); Fujian 2.0 offers neither.
/// Rules: YF-COLLECTION, PT22-REPRINT.
#[test]
fn each_region_offers_its_own_ways_to_collect_the_results() {
    let address =
        json!({"recipient": "陈晓梅", "phone": "13812345678", "address": "莆田市城厢区示例路1号"});
    let codes = |v: &serde_json::Value, id: &str| -> Vec<(String, String)> {
        form(v)
            .check(&policy(id), now())
            .into_iter()
            .map(|i| (i.field, i.error.code))
            .collect()
    };
    let mut yongfu = sample();
    as_scans(&mut yongfu);
    set(&mut yongfu, "/newborn/birthplace", json!("450326"));
    set(
        &mut yongfu,
        "/delivery/birth_certificate",
        json!({"method": "pickup_by_father"}),
    );
    assert!(codes(&yongfu, "guangxi-yongfu").is_empty());
    set(
        &mut yongfu,
        "/delivery/social_security_card",
        json!({"method": "mail", "address": address}),
    );
    assert_eq!(
        codes(&yongfu, "guangxi-yongfu"),
        [(
            "delivery.social_security_card".to_owned(),
            "collection_not_offered".to_owned()
        )]
    );
    let mut putian = sample();
    as_scans(&mut putian);
    set(
        &mut putian,
        "/services",
        json!(["birth_certificate", "household_registration"]),
    );
    set(
        &mut putian,
        "/delivery/household_booklet",
        json!({"method": "reprint", "address": address}),
    );
    assert!(codes(&putian, "putian-2022").is_empty());
    let refused = codes(&putian, "fujian-2.0");
    assert_eq!(
        refused,
        [(
            "delivery.household_booklet".to_owned(),
            "collection_not_offered".to_owned()
        )]
    );
    let message = form(&putian)
        .check(&policy("fujian-2.0"), now())
        .remove(0)
        .error
        .message;
    assert!(message.zh.contains("重新打印"), "{}", message.zh);
}

/// 厦门办事指南 办理材料(四): the maternity allowance is registered to the mother's savings card
/// (number and branch); payment to her social-security card is not offered there.
/// Rules: XM-BANK-CARD.
#[test]
fn in_xiamen_the_maternity_allowance_goes_to_the_mothers_savings_card() {
    let mut v = sample();
    set(&mut v, "/newborn/birthplace", json!("350203"));
    set(
        &mut v,
        "/services",
        json!([
            "birth_certificate",
            "household_registration",
            "maternity_benefit"
        ]),
    );
    let issues = form(&v).check(&policy("xiamen"), now());
    assert!(issues.is_empty(), "{issues:?}");
    set(
        &mut v,
        "/maternity/payout",
        json!({"to": "social_security_card"}),
    );
    let codes: Vec<String> = form(&v)
        .check(&policy("xiamen"), now())
        .into_iter()
        .map(|i| i.error.code)
        .collect();
    assert_eq!(codes, ["payout_not_offered"]);
    assert!(form(&v).check(&policy("fujian-2.0"), now()).is_empty());
}
