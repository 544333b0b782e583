//! Parsing and cross-field checks of the one application form.

mod common;
use common::*;
use newborn_domain::application::parse_form;
use serde_json::json;

#[test]
fn the_sample_form_parses_and_passes_every_check() {
    let f = form(&sample());
    assert_eq!(f.newborn.name.as_str(), "林𠈌");
    assert_eq!(f.father.phone.as_str(), "13900001234");
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

/// 闽卫政法〔2024〕40号 附件2 一(三), 附件3: the father needs the letter, and its term (委托期限)
/// must cover the application.
/// Rules: FJ2-APPLICANT.
#[test]
fn a_father_applies_only_within_the_authorisation_term() {
    let mut v = sample();
    set(&mut v, "/applicant", json!("father"));
    let codes: Vec<String> = form(&v)
        .check(&policy("fujian-2.0"), now())
        .into_iter()
        .map(|i| i.error.code)
        .collect();
    assert_eq!(
        codes,
        ["authorisation_letter_missing", "authorisation_missing"]
    );
    add_document(&mut v, "authorisation_letter");
    set(
        &mut v,
        "/authorisation",
        json!({"valid_from": "2025-11-01", "valid_until": "2025-11-10"}),
    );
    let codes: Vec<String> = form(&v)
        .check(&policy("fujian-2.0"), now())
        .into_iter()
        .map(|i| i.error.code)
        .collect();
    assert_eq!(codes, ["authorisation_term"]);
    set(
        &mut v,
        "/authorisation",
        json!({"valid_from": "2025-11-12", "valid_until": "2026-02-12"}),
    );
    assert!(form(&v).check(&policy("fujian-2.0"), now()).is_empty());
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
