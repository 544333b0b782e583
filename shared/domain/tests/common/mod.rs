//! Shared helpers of the domain's integration tests: the sample form from `events/`, edited
//! with JSON pointers.

#![allow(dead_code)]

use chrono::{DateTime, NaiveDate, Utc};
use newborn_domain::application::{ApplicationForm, parse_form};
use newborn_domain::policy::{Policy, PolicyRegistry};
use newborn_domain::stage::{Stage, StageResult};
use serde_json::Value;

/// The sample application of `events/api/submit-application.json` (case 1, mother applies).
pub const SAMPLE: &str = include_str!("../../../../events/api/submit-application.json");

/// The sample as a JSON value to edit.
pub fn sample() -> Value {
    serde_json::from_str(SAMPLE).unwrap_or_else(|e| panic!("sample: {e}"))
}

/// Sets the value at a JSON pointer, creating nothing: the path must exist up to its parent.
pub fn set(v: &mut Value, pointer: &str, new: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    let target = if parent.is_empty() {
        Some(&mut *v)
    } else {
        v.pointer_mut(parent)
    };
    match target {
        Some(Value::Object(map)) => {
            map.insert(key.to_owned(), new);
        }
        Some(Value::Array(items)) => {
            let i: usize = key.parse().unwrap_or_else(|e| panic!("{pointer}: {e}"));
            items[i] = new;
        }
        _ => panic!("no parent for {pointer}"),
    }
}

/// Removes the member at a JSON pointer.
pub fn remove(v: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    if let Some(Value::Object(map)) = v.pointer_mut(parent) {
        map.remove(key);
    }
}

/// Parses an edited sample, failing the test if it is malformed.
pub fn form(v: &Value) -> ApplicationForm {
    parse_form(v.to_string().as_bytes()).unwrap_or_else(|e| panic!("{}: {}", e.field, e.error))
}

/// The newest version of a built-in policy.
pub fn policy(id: &str) -> Policy {
    PolicyRegistry::builtin()
        .latest(id)
        .cloned()
        .unwrap_or_else(|| panic!("no policy {id}"))
}

/// An RFC 3339 instant.
pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// A week after the sample's birth, a Monday morning.
pub fn now() -> DateTime<Utc> {
    at("2025-11-17T09:00:00+08:00")
}

/// Removes the document of `kind` from the form's list.
pub fn drop_document(v: &mut Value, kind: &str) {
    if let Some(Value::Array(docs)) = v.pointer_mut("/documents") {
        docs.retain(|d| d["kind"] != kind);
    }
}

/// Adds a document of `kind` with a made-up digest.
pub fn add_document(v: &mut Value, kind: &str) {
    if let Some(Value::Array(docs)) = v.pointer_mut("/documents") {
        docs.push(serde_json::json!({"kind": kind, "sha256": format!("{:0>64}", docs.len() + 1)}));
    }
}

/// A plausible result of each stage, as its agency would report it.
pub fn result(stage: Stage) -> StageResult {
    match stage {
        Stage::PreReview => StageResult::PreReview { notes: vec![] },
        Stage::HealthCheck => StageResult::HealthCheck {
            birth_certificate_number: "Q350012345".parse().unwrap_or_else(|e| panic!("{e}")),
            vaccination_certificate_issued: true,
            // The sample is under Fujian 2.0, where the parent registers it in the app.
            parenting_guidance_registered: false,
        },
        Stage::Police => StageResult::Police {
            newborn_id_number: "350102202511100032"
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
        },
        // The main page: the police registered the newborn (the plausible result after `Police`).
        Stage::CertificateRelease => StageResult::CertificateRelease {
            version: newborn_domain::stage::CertificateVersion::MainPage,
        },
        Stage::Insurance => StageResult::Insurance {
            enrolled: true,
            maternity_benefit_approved: Some(true),
        },
        Stage::SocialSecurityCard => StageResult::SocialSecurityCard {
            partner_bank: "中国建设银行".parse().unwrap_or_else(|e| panic!("{e}")),
            ready_on: NaiveDate::from_ymd_opt(2025, 11, 25).unwrap_or_default(),
        },
    }
}

/// The sample's identity cards as scans instead of electronic licences: for the policies that take
/// no licences (the 2021 Fuzhou pilot, Putian, Yongfu).
pub fn as_scans(v: &mut Value) {
    if v.pointer("/licences").is_none() {
        return;
    }
    remove(v, "/licences");
    add_document(v, "mother_id_card");
    add_document(v, "father_id_card");
}

/// What a Yongfu family adds to the sample (永福县 附件2 三(三)–(五), 四(三)(五)): its identity
/// cards as scans, the delivery record page, the other parent's booklet pages and the conditions it
/// declares.
pub fn yongfu_papers(v: &mut Value) {
    as_scans(v);
    add_document(v, "delivery_record");
    add_document(v, "household_booklet_other_parent");
    set(
        v,
        "/declarations",
        serde_json::json!([
            "insured_in_guangxi",
            "no_card_elsewhere",
            "not_overseas_chinese"
        ]),
    );
}
