//! What each agency receives: only the fields it needs for its stage (data minimisation,
//! PIPL art. 6). The table is published in `docs/agency-integration.md`.

use newborn_domain::application::{ApplicationForm, Service};
use newborn_domain::flow::Application;
use newborn_domain::policy::Policy;
use newborn_domain::stage::{Stage, StageResult, StageStatus};
use serde_json::{Value, json};

/// The newborn's identity number: from the police result, or held already (case 3).
pub fn newborn_id_number(app: &Application) -> Option<String> {
    app.stages
        .iter()
        .find_map(|s| match &s.status {
            StageStatus::Completed {
                result: StageResult::Police { newborn_id_number },
            } => Some(newborn_id_number.as_str().to_owned()),
            _ => None,
        })
        .or_else(|| {
            app.form
                .existing
                .newborn_id_number
                .as_ref()
                .map(|i| i.as_str().to_owned())
        })
}

/// The birth certificate number: from the hospital result, or held already (case 2).
pub fn birth_certificate_number(app: &Application) -> Option<String> {
    app.stages
        .iter()
        .find_map(|s| match &s.status {
            StageStatus::Completed {
                result:
                    StageResult::HealthCheck {
                        birth_certificate_number,
                        ..
                    },
            } => Some(birth_certificate_number.as_str().to_owned()),
            _ => None,
        })
        .or_else(|| {
            app.form
                .existing
                .birth_certificate_number
                .as_ref()
                .map(|n| n.as_str().to_owned())
        })
}

/// The chosen services `stage`'s agency delivers (not those the family registers itself, such as
/// parenting guidance read in the app under Fujian 2.0).
fn services_of(form: &ApplicationForm, policy: &Policy, stage: Stage) -> Vec<Service> {
    form.services
        .iter()
        .copied()
        .filter(|s| s.stage() == stage && policy.agency_delivers(*s))
        .collect()
}

/// The materials of `kinds`, each saying where it came from: a scan (`source: "scan"`, its
/// SHA-256) or an electronic licence the pre-review verified in the directory (`source:
/// "licence"`, number, issuer, holder, when verified).
fn documents(app: &Application, kinds: &[&str]) -> Vec<Value> {
    let wanted = |kind: &newborn_domain::application::DocumentKind| kinds.contains(&kind.as_str());
    let licences = app
        .form
        .licences
        .iter()
        .filter(|l| wanted(&l.kind))
        .map(|l| {
            let check = app.check_of(l);
            json!({
                "kind": l.kind,
                "source": "licence",
                "licence_number": l.number,
                "issuer": l.issuer,
                "holder_id_number": l.holder_id_number,
                "verified": check.is_some_and(|c| c.verified()),
                "verified_at": check.map(|c| c.checked_at),
                "valid_until": check.and_then(|c| c.valid_until),
                "authorised_at": check.and_then(|c| c.authorised_at),
            })
        });
    let scans = app
        .form
        .documents
        .iter()
        .filter(|d| wanted(&d.kind))
        .map(|d| json!({"kind": d.kind, "source": "scan", "sha256": d.sha256}));
    licences.chain(scans).collect()
}

/// The dispatch body for `stage` of `app` in `round`.
pub fn dispatch_body(app: &Application, policy: &Policy, stage: Stage, round: u32) -> Value {
    let f = &app.form;
    let mut body = json!({
        "application_id": app.id.as_str(),
        "stage": stage,
        "round": round,
        "policy": app.policy.to_string(),
        "case": f.case,
        "services": services_of(f, policy, stage),
        "supplement_allowed": policy.stage_rules(stage, f.case).supplement,
        "newborn": {
            "name": f.newborn.name,
            "sex": f.newborn.sex,
            "birth_time": f.newborn.birth_time,
        },
        // 含有电子签名的申请表: the digest of the form as signed, the signer and the pledge.
        "declaration": app.declaration,
    });
    let parent =
        |p: &newborn_domain::application::Parent| json!({"name": p.name, "id_number": p.id_number});
    let household_parent = |p: &newborn_domain::application::Parent| json!({"name": p.name, "id_number": p.id_number, "ethnicity": p.ethnicity, "household_region": p.household_region, "household_address": p.household_address, "household_kind": p.household_kind});
    let applicant = f.applicant_parent();
    let extra = match stage {
        Stage::PreReview => json!({}),
        Stage::HealthCheck => json!({
            "newborn": {
                "name": f.newborn.name, "sex": f.newborn.sex, "birth_time": f.newborn.birth_time,
                "gestational_weeks": f.newborn.gestational_weeks, "weight_grams": f.newborn.weight_grams,
                "length_cm": f.newborn.length_cm, "birthplace": f.newborn.birthplace,
                "hospital": f.newborn.hospital, "medical_record_number": f.newborn.medical_record_number,
                "birth_attendant": f.newborn.birth_attendant,
            },
            "mother": {"name": f.mother.name, "id_number": f.mother.id_number, "phone": f.mother.phone},
            "father": f.father.as_ref().map(parent),
            "marriage_certificate": f.mother.marriage_certificate,
            "confirmation_forms": policy.stage_rules(stage, f.case).confirmation_forms,
            "delivery": f.delivery.birth_certificate,
            "documents": documents(app, &["mother_id_card", "father_id_card", "marriage_certificate", "authorisation_letter", "ethnicity_consent"]),
        }),
        Stage::Police => json!({
            "newborn": {"name": f.newborn.name, "sex": f.newborn.sex, "birth_time": f.newborn.birth_time, "birthplace": f.newborn.birthplace},
            "birth_certificate_number": birth_certificate_number(app),
            "mother": household_parent(&f.mother),
            "father": f.father.as_ref().map(household_parent),
            "marriage_certificate": f.mother.marriage_certificate,
            // 闽卫监督〔2021〕43号 九(三): where the policy sends the counterfoil electronically, the
            // police receive it with the registration (出生一件事使用授权的电子证照加注件).
            "electronic_counterfoil": (policy.counterfoil.handling
                == newborn_domain::policy::CounterfoilHandling::Electronic)
                .then(|| app.issued_certificate().map(|(n, _)| json!({
                    "certificate_number": n,
                    "kind": "出生医学证明副页（带有出生“一件事”使用授权的电子证照加注件）",
                })))
                .flatten(),
            "household": f.household,
            "delivery": f.delivery.household_booklet,
            "documents": documents(app, &["household_booklet_front", "household_booklet_head", "household_booklet_registering_parent", "birth_certificate", "marriage_certificate", "ethnicity_consent"]),
        }),
        // 附件1 三(一)2–3: the registration result, and which certificate to release.
        Stage::CertificateRelease => {
            let police = app.stage(Stage::Police).map(|s| &s.status);
            let reason = match police {
                Some(newborn_domain::stage::StageStatus::Terminated { reason, .. }) => Some(reason),
                _ => None,
            };
            json!({
                "birth_certificate_number": birth_certificate_number(app),
                "registration": {
                    "registered": matches!(police, Some(newborn_domain::stage::StageStatus::Completed { .. })),
                    "newborn_id_number": newborn_id_number(app),
                    "reason": reason,
                },
                "release": {"version": app.certificate_to_release()},
                "mother": {"name": f.mother.name, "id_number": f.mother.id_number, "phone": f.mother.phone},
                "delivery": f.delivery.birth_certificate,
            })
        }
        Stage::Insurance => json!({
            "newborn": {"name": f.newborn.name, "sex": f.newborn.sex, "birth_time": f.newborn.birth_time, "id_number": newborn_id_number(app)},
            "mother": {"name": f.mother.name, "id_number": f.mother.id_number},
            "applicant_phone": applicant.phone,
            "insurance": f.insurance,
            "maternity": f.maternity,
        }),
        Stage::SocialSecurityCard => json!({
            "newborn": {"name": f.newborn.name, "sex": f.newborn.sex, "birth_time": f.newborn.birth_time, "id_number": newborn_id_number(app)},
            "guardian": {"name": applicant.name, "id_number": applicant.id_number, "phone": applicant.phone},
            "partner_bank": f.card.as_ref().map(|c| &c.partner_bank),
            "delivery": f.delivery.social_security_card,
            // The stage's materials under the policy: the newborn's page, and for a card by mail
            // the first and head pages too (闽卫政法〔2024〕40号 附件2 一(七)).
            "documents": documents(app, &policy
                .materials_needed(stage, f.material_facts())
                .map(|m| m.kind.as_str())
                .collect::<Vec<_>>()),
        }),
    };
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    // Services with a promised time of their own inside the stage (永福县 附件2 六(二)5): the
    // agency reports each done with a `service_done` callback before the stage's result.
    let own: Vec<_> = app
        .stage(stage)
        .into_iter()
        .flat_map(|s| s.parts.iter().map(|p| p.service))
        .collect();
    if let (Value::Object(b), false) = (&mut body, own.is_empty()) {
        b.insert("report_separately".into(), json!(own));
    }
    body
}
