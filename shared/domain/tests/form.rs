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
