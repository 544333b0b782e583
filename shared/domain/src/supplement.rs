//! 补件: the family's answer to a supplement request, and the form it makes. The answer may add
//! scans, electronic licences and corrections (a JSON merge patch, RFC 7396); the corrected form
//! is checked again as a whole, and the case and the applicant cannot change (that would be a
//! new application).

use crate::application::{ApplicationForm, DocumentRef, FieldIssue, parse_form};
use crate::licence::{LicenceCheck, LicenceRef};
use crate::policy::Policy;
use crate::text::Invalid;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The applicant's answer to a supplement request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplementAnswer {
    /// Newly uploaded documents (each replaces a licence of its kind).
    #[serde(default)]
    pub documents: Vec<DocumentRef>,
    /// Electronic licences (each replaces a scan or licence of its kind).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licences: Vec<LicenceRef>,
    /// Corrections as a JSON merge patch (RFC 7396) of the form.
    #[serde(default)]
    pub form_patch: Option<serde_json::Value>,
}

impl SupplementAnswer {
    /// The form after this answer: the patch applied, new documents added (each replacing a
    /// licence of its kind), new licences added (each replacing a scan or licence of its kind),
    /// everything checked again at `now`. Errors name the answer's fields.
    pub fn corrected(
        &self,
        form: &ApplicationForm,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<ApplicationForm, Vec<FieldIssue>> {
        let mut value = serde_json::to_value(form).map_err(|e| {
            vec![FieldIssue {
                field: "form_patch".into(),
                error: Invalid::new("unreadable_form", "申请表无法读取", e.to_string()),
            }]
        })?;
        if let Some(patch) = &self.form_patch {
            merge_patch(&mut value, patch);
        }
        let mut next = parse_form(value.to_string().as_bytes()).map_err(|mut issue| {
            issue.field = format!("form_patch.{}", issue.field);
            vec![issue]
        })?;
        for d in &self.documents {
            next.licences.retain(|l| l.kind != d.kind);
            if !next.documents.contains(d) {
                next.documents.push(d.clone());
            }
        }
        for l in &self.licences {
            next.documents.retain(|d| d.kind != l.kind);
            next.licences.retain(|o| o.kind != l.kind);
            next.licences.push(l.clone());
        }
        if next.case != form.case || next.applicant != form.applicant {
            return Err(vec![FieldIssue {
                field: "form_patch".into(),
                error: Invalid::new(
                    "immutable_field",
                    "补件不能更改办理情形或申请人，请撤回后重新申请",
                    "a supplement cannot change the case or the applicant; withdraw and apply again",
                ),
            }]);
        }
        let issues = next.check(policy, now);
        if !issues.is_empty() {
            return Err(issues);
        }
        Ok(next)
    }
}

/// RFC 7396 JSON merge patch.
fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    use serde_json::Value;
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Default::default());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// The materials a supplement answer adds to a form: the scans and licences of the corrected
/// form that the stored one lacks or that the answer names, each with the field that gave it.
/// `L` is a licence with its field before it is looked up, a [`LicenceCheck`] after.
#[derive(Debug, Clone, PartialEq)]
pub struct Additions<L> {
    /// Scans the corrected form gains, with the answer's field that gave each.
    pub scans: Vec<(String, DocumentRef)>,
    /// Licences the corrected form gains.
    pub licences: Vec<L>,
}

impl Additions<(String, LicenceRef)> {
    /// What `next` (the corrected form) adds to `old` through `answer`. A material the answer
    /// names again is counted as added (a licence given again after its holder authorised it is
    /// looked up again).
    pub fn between(
        old: &ApplicationForm,
        next: &ApplicationForm,
        answer: &SupplementAnswer,
    ) -> Self {
        let patched = |list: &str, item: serde_json::Value| {
            answer
                .form_patch
                .as_ref()
                .and_then(|p| p.get(list))
                .and_then(serde_json::Value::as_array)
                .and_then(|a| a.iter().position(|v| *v == item))
                .map_or_else(
                    || format!("form_patch.{list}"),
                    |j| format!("form_patch.{list}[{j}]"),
                )
        };
        let scans = next
            .documents
            .iter()
            .filter(|d| !old.documents.contains(d) || answer.documents.contains(d))
            .map(|d| {
                let field = answer.documents.iter().position(|a| a == d).map_or_else(
                    || patched("documents", serde_json::to_value(d).unwrap_or_default()),
                    |i| format!("documents[{i}]"),
                );
                (field, d.clone())
            })
            .collect();
        let licences = next
            .licences
            .iter()
            .filter(|l| !old.licences.contains(l) || answer.licences.contains(l))
            .map(|l| {
                let field = answer.licences.iter().position(|a| a == l).map_or_else(
                    || patched("licences", serde_json::to_value(l).unwrap_or_default()),
                    |i| format!("licences[{i}]"),
                );
                (field, l.clone())
            })
            .collect();
        Self { scans, licences }
    }

    /// The licences' references, in order.
    pub fn references(&self) -> Vec<LicenceRef> {
        self.licences.iter().map(|(_, l)| l.clone()).collect()
    }
}

impl Additions<LicenceCheck> {
    /// Whether every material of `added` is one of these checked ones.
    pub fn covers(&self, added: &Additions<(String, LicenceRef)>) -> bool {
        added
            .scans
            .iter()
            .all(|(_, d)| self.scans.iter().any(|(_, c)| c == d))
            && added
                .licences
                .iter()
                .all(|(_, l)| self.licences.iter().any(|c| c.reference == *l))
    }
}
