//! 补件: the family's answer to a supplement request, and the form it makes. The answer may add
//! scans, electronic licences and corrections (a JSON merge patch, RFC 7396); the corrected form
//! is checked again as a whole, and the case and the applicant cannot change (that would be a
//! new application).
//!
//! An answer answers its request (ours, from 闽卫政法〔2024〕40号 附件1 三(一)1 "材料缺失→补件"
//! and 四(五), which pause the clock only for the items asked for): it supplies every requested
//! item (a new scan or licence of each requested kind, each requested field named in the patch),
//! changes nothing else (so a field the hospital certified, such as the newborn's name, sex or
//! birth time, changes only when an agency asked for it), and a re-uploaded scan replaces the one
//! it answers rather than travelling beside it.

use crate::application::{ApplicationForm, DocumentRef, FieldIssue, parse_form};
use crate::kinds::{DocumentKind, LicenceProblem};
use crate::licence::{LicenceCheck, LicenceRef};
use crate::policy::Policy;
use crate::stage::SupplementItem;
use crate::text::Invalid;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    /// The form after this answer to `request`: the patch applied, new documents added (each
    /// replacing the scan or licence of its kind), new licences added (each replacing a scan or
    /// licence of its kind), the answer held against the request ([`Self::against`]), everything
    /// checked again at `now`. Errors name the answer's fields.
    pub fn corrected(
        &self,
        form: &ApplicationForm,
        request: &[SupplementItem],
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
            next.documents.retain(|o| o.kind != d.kind);
            next.documents.push(d.clone());
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
        let issues = self.against(request, form, &next);
        if !issues.is_empty() {
            return Err(issues);
        }
        let issues = next.check(policy, now);
        if !issues.is_empty() {
            return Err(issues);
        }
        Ok(next)
    }

    /// What is wrong with this answer as an answer to `request`, `old` becoming `next`: each
    /// requested item it leaves unanswered, and each material or field it changes that the
    /// request did not ask for. Empty when it answers exactly the request.
    pub fn against(
        &self,
        request: &[SupplementItem],
        old: &ApplicationForm,
        next: &ApplicationForm,
    ) -> Vec<FieldIssue> {
        let mut issues = vec![];
        let kinds: Vec<DocumentKind> = request
            .iter()
            .filter_map(|i| match i {
                SupplementItem::Document { kind } | SupplementItem::Licence { kind, .. } => {
                    Some(*kind)
                }
                SupplementItem::Field { .. } => None,
            })
            .collect();
        let fields: Vec<&str> = request
            .iter()
            .filter_map(|i| match i {
                SupplementItem::Field { field } => Some(field.as_str()),
                _ => None,
            })
            .collect();
        // What a requested field brings with it: a new registering parent means that parent's
        // booklet and household section; a corrected certificate number may need its scan.
        let (may_change, may_replace): (Vec<&str>, Vec<DocumentKind>) =
            fields.iter().map(|f| follows(f)).fold(
                (fields.clone(), kinds.clone()),
                |(mut fs, mut ks), (f, k)| {
                    fs.extend(f);
                    ks.extend(k);
                    (fs, ks)
                },
            );
        for kind in DocumentKind::ALL {
            if !may_replace.contains(&kind) && self.changes_material(kind, old, next) {
                let label = kind.label();
                issues.push(FieldIssue {
                    field: self.material_field(kind),
                    error: Invalid::new(
                        "not_requested",
                        format!("补件未要求提供“{}”，此项不能更改", label.zh),
                        format!(
                            "the supplement request does not ask for the {}; it cannot change",
                            label.en
                        ),
                    ),
                });
            }
        }
        let mentioned = self.form_patch.as_ref().map(leaf_paths).unwrap_or_default();
        for item in request {
            let answered = match item {
                SupplementItem::Document { kind } => self.supplies(*kind, old, next),
                SupplementItem::Licence { kind, problem } => {
                    self.supplies(*kind, old, next)
                        || self.licences.iter().any(|l| l.kind == *kind)
                        || (*problem == LicenceProblem::NotAuthorised
                            && next.licences.iter().any(|l| l.kind == *kind))
                        // The photo on file counts once its registration is approved (the
                        // caller checks the approval): the family is not asked for it twice.
                        || (*problem == LicenceProblem::RegistrationRequired
                            && next.has_document(*kind))
                }
                SupplementItem::Field { field } => mentioned
                    .iter()
                    .any(|m| within(m, field) || within(field, m)),
            };
            if answered {
                continue;
            }
            let (field, zh, en) = match item {
                SupplementItem::Document { kind } | SupplementItem::Licence { kind, .. } => {
                    let label = kind.label();
                    (
                        "documents".to_owned(),
                        format!(
                            "补件要求的“{}”未提供（须上传新的扫描件或提供电子证照）",
                            label.zh
                        ),
                        format!(
                            "the requested {} is not supplied (upload a new scan or give its electronic licence)",
                            label.en
                        ),
                    )
                }
                SupplementItem::Field { field } => {
                    let label = crate::fields::label(field);
                    (
                        format!("form_patch.{field}"),
                        format!("补件要求更正的“{}”未填写", label.zh),
                        format!(
                            "{} which the request asks to correct is not in the answer",
                            label.en
                        ),
                    )
                }
            };
            issues.push(FieldIssue {
                field,
                error: Invalid::new("unanswered", zh, en),
            });
        }
        let (before, after) = (form_fields(old), form_fields(next));
        let mut changed = vec![];
        changed_paths(&before, &after, String::new(), &mut changed);
        for path in changed {
            if !may_change.iter().any(|f| within(&path, f)) {
                let label = crate::fields::label(&path);
                issues.push(FieldIssue {
                    field: format!("form_patch.{path}"),
                    error: Invalid::new(
                        "not_requested",
                        format!("补件未要求更改“{}”；已核实的信息不能在补件中修改，如确有错误请撤回后重新申请或到线下窗口办理", label.zh),
                        format!("the supplement request does not ask to change {}; certified facts cannot change in a supplement (withdraw and apply again, or go to a counter)", label.en),
                    ),
                });
            }
        }
        issues
    }

    /// The licences of `next` that `request` refused as not authorised and that the answer keeps
    /// as they were: the holder's authorisation is given in the directory, not in the answer, so
    /// the platform looks each of them up again before it accepts the answer.
    pub fn reauthorised(
        &self,
        request: &[SupplementItem],
        next: &ApplicationForm,
    ) -> Vec<(String, LicenceRef)> {
        next.licences
            .iter()
            .filter(|l| {
                request.iter().any(|i| {
                    matches!(i, SupplementItem::Licence { kind, problem: LicenceProblem::NotAuthorised } if *kind == l.kind)
                }) && !self.licences.contains(l)
            })
            .map(|l| (format!("licences.{}", l.kind.as_str()), l.clone()))
            .collect()
    }

    /// Whether `next` holds a scan or licence of `kind` that `old` did not: a new material of
    /// that kind (the same rejected scan sent again is not one).
    fn supplies(&self, kind: DocumentKind, old: &ApplicationForm, next: &ApplicationForm) -> bool {
        next.documents
            .iter()
            .any(|d| d.kind == kind && !old.documents.contains(d))
            || next
                .licences
                .iter()
                .any(|l| l.kind == kind && !old.licences.contains(l))
    }

    /// Whether the answer touches the scans or licences of `kind`.
    fn changes_material(
        &self,
        kind: DocumentKind,
        old: &ApplicationForm,
        next: &ApplicationForm,
    ) -> bool {
        fn of(f: &ApplicationForm, kind: DocumentKind) -> (Vec<&DocumentRef>, Vec<&LicenceRef>) {
            let docs = f.documents.iter().filter(|d| d.kind == kind).collect();
            let lics = f.licences.iter().filter(|l| l.kind == kind).collect();
            (docs, lics)
        }
        of(old, kind) != of(next, kind)
            || self.documents.iter().any(|d| d.kind == kind)
            || self.licences.iter().any(|l| l.kind == kind)
    }

    /// The answer's field that touches `kind`.
    fn material_field(&self, kind: DocumentKind) -> String {
        if let Some(i) = self.documents.iter().position(|d| d.kind == kind) {
            format!("documents[{i}]")
        } else if let Some(i) = self.licences.iter().position(|l| l.kind == kind) {
            format!("licences[{i}]")
        } else {
            "form_patch.documents".to_owned()
        }
    }
}

/// The fields and materials that may change with a requested `field` (without being required):
/// choosing the other parent to register with (附件2 一(二)(四)) brings that parent's household
/// section and booklet pages; a corrected marriage certificate number may bring a new scan.
fn follows(field: &str) -> (Vec<&'static str>, Vec<DocumentKind>) {
    match field {
        "household" | "household.registering_parent" => (
            vec!["household"],
            vec![
                DocumentKind::HouseholdBookletFront,
                DocumentKind::HouseholdBookletHead,
                DocumentKind::HouseholdBookletRegisteringParent,
            ],
        ),
        "mother.marriage_certificate" | "father.marriage_certificate" => {
            (vec![], vec![DocumentKind::MarriageCertificate])
        }
        _ => (vec![], vec![]),
    }
}

/// Whether dotted `path` is `field` or inside it.
fn within(path: &str, field: &str) -> bool {
    path == field
        || path
            .strip_prefix(field)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// The form as JSON without its materials (compared per kind instead).
fn form_fields(form: &ApplicationForm) -> Value {
    let mut v = serde_json::to_value(form).unwrap_or_default();
    if let Value::Object(o) = &mut v {
        o.remove("documents");
        o.remove("licences");
    }
    v
}

/// The dotted paths of the leaves where `a` and `b` differ (objects compared key by key, other
/// values whole).
fn changed_paths(a: &Value, b: &Value, at: String, out: &mut Vec<String>) {
    if a == b {
        return;
    }
    let empty = serde_json::Map::new();
    let (x, y) = match (a.as_object(), b.as_object()) {
        (None, None) => return out.push(at),
        (x, y) => (x.unwrap_or(&empty), y.unwrap_or(&empty)),
    };
    for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
        let path = if at.is_empty() {
            k.clone()
        } else {
            format!("{at}.{k}")
        };
        let (l, r) = (
            x.get(k).unwrap_or(&Value::Null),
            y.get(k).unwrap_or(&Value::Null),
        );
        changed_paths(l, r, path, out);
    }
}

/// The dotted paths of a merge patch's leaves, without its materials.
fn leaf_paths(patch: &Value) -> Vec<String> {
    fn walk(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(o) if !o.is_empty() => {
                for (k, v) in o {
                    if at.is_empty() && (k == "documents" || k == "licences") {
                        continue;
                    }
                    let path = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    walk(v, path, out);
                }
            }
            _ if !at.is_empty() => out.push(at),
            _ => {}
        }
    }
    let mut out = vec![];
    walk(patch, String::new(), &mut out);
    out
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
