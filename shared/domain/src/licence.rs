//! Electronic licences (电子证照) as a source of materials beside scans, and the missing-licence
//! registration (授权缺失登记).
//!
//! 闽卫政法〔2024〕40号 附件2 一(一)、二(一)、三(一): "申请时需提供身份证、结婚证电子证照或扫描件，如用户
//! 未找到以供授权的或错误的身份证电子证照，需要先进行授权缺失登记，待缺失登记审核通过后（一个工作日）允许用户
//! 进行身份证照片上传与申报。" The Xiamen guide (办理材料 (二)(三)) has the mother give her own licences
//! and the father authorise his identity-card licence to her in the app ("通过‘我的-电子证照-出生
//! 一件事’，来授权给母亲"). A form may therefore reference a licence ([`LicenceRef`]) instead of
//! uploading a scan; the pre-review looks it up in the province's licence directory and
//! [`judge`]s what it finds; which kinds may be licences, whose they must be and whether a scan
//! needs an approved registration first is policy data ([`LicencePolicy`]).

use crate::application::{ApplicationForm, DocumentKind, ParentRole, Text};
use crate::ids::IdNumber;
use crate::policy::{LicenceHolder, LicencePolicy, Policy};
use crate::sla::SlaClock;
use crate::text::{Bilingual, Invalid};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A reference to an electronic licence in the form, given instead of a scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenceRef {
    /// Which material it stands for (e.g. `mother_id_card`).
    pub kind: DocumentKind,
    /// The holder's 公民身份号码.
    pub holder_id_number: IdNumber,
    /// The licence number (证照编号).
    pub number: Text,
    /// The issuing authority (发证机关).
    pub issuer: Text,
}

/// One holder's authorisation of a licence to another person for this service (授权), as the
/// directory records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceGrant {
    /// Whom the holder authorised.
    pub grantee_id_number: IdNumber,
    /// When.
    pub granted_at: DateTime<Utc>,
    /// The last day it may be used.
    pub valid_until: NaiveDate,
}

/// What the licence directory holds of one licence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceRecord {
    /// Which material.
    pub kind: DocumentKind,
    /// The licence number.
    pub number: String,
    /// The issuing authority.
    pub issuer: String,
    /// The holder.
    pub holder_id_number: IdNumber,
    /// The last day of validity; `None` for a licence without end (长期).
    #[serde(default)]
    pub valid_until: Option<NaiveDate>,
    /// The holder's authorisations of it to others for this service.
    #[serde(default)]
    pub grants: Vec<LicenceGrant>,
}

/// Why a licence reference was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenceProblem {
    /// The directory has no such licence.
    NotFound,
    /// The licence belongs to someone other than the parent it stands for.
    OtherHolder,
    /// The licence number differs from the number given on the form.
    NumberMismatch,
    /// The licence is no longer valid.
    Expired,
    /// Another person's licence, not authorised to the applicant (or the authorisation lapsed).
    NotAuthorised,
}

impl LicenceProblem {
    /// What is wrong with the licence of `kind`, for the applicant.
    pub fn message(self, kind: DocumentKind) -> Bilingual {
        let k = kind.label();
        let (zh, en) = match self {
            LicenceProblem::NotFound => (
                "电子证照库中未找到该证照",
                "the licence directory has no such licence",
            ),
            LicenceProblem::OtherHolder => (
                "该电子证照不属于对应的父母一方",
                "the licence belongs to someone else",
            ),
            LicenceProblem::NumberMismatch => (
                "电子证照编号与申请表填写的不一致",
                "the licence number differs from the one on the form",
            ),
            LicenceProblem::Expired => ("该电子证照已过有效期", "the licence has expired"),
            LicenceProblem::NotAuthorised => (
                "证照持有人尚未将该电子证照授权给申请人（请在闽政通“我的-电子证照-出生一件事”中授权）",
                "its holder has not authorised the licence to the applicant (authorise it in the Minzhengtong app)",
            ),
        };
        Bilingual::new(
            format!("{}电子证照：{zh}", k.zh),
            format!("electronic licence of the {}: {en}", k.en),
        )
    }
}

/// How one licence reference was found, kept on the application and told to the agencies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceCheck {
    /// The reference checked.
    pub reference: LicenceRef,
    /// When the directory was asked.
    pub checked_at: DateTime<Utc>,
    /// `None`: verified; otherwise why it was refused.
    pub problem: Option<LicenceProblem>,
    /// The licence's last day of validity, when verified and limited.
    #[serde(default)]
    pub valid_until: Option<NaiveDate>,
    /// When the holder authorised it to the applicant, for another person's licence.
    #[serde(default)]
    pub authorised_at: Option<DateTime<Utc>>,
}

impl LicenceCheck {
    /// Whether the licence was verified.
    pub fn verified(&self) -> bool {
        self.problem.is_none()
    }
}

/// The parent whose material `kind` is, when it is one parent's (identity cards).
fn owner_of(holder: LicenceHolder) -> Option<ParentRole> {
    match holder {
        LicenceHolder::Mother => Some(ParentRole::Mother),
        LicenceHolder::Father => Some(ParentRole::Father),
        LicenceHolder::EitherParent => None,
    }
}

/// Checks of a reference that need no directory, at submission: the policy accepts the kind as
/// a licence and the holder is the parent the material stands for. `Err` names what is wrong.
pub fn check_reference(
    reference: &LicenceRef,
    form: &ApplicationForm,
    policy: &Policy,
) -> Result<(), Invalid> {
    let label = reference.kind.label();
    let Some(rule) = policy.licence_rule(reference.kind) else {
        return Err(Invalid::new(
            "licence_not_accepted",
            format!("本地区不接受以电子证照提供{}，请上传扫描件", label.zh),
            format!(
                "this region does not take the {} as an electronic licence; upload a scan",
                label.en
            ),
        ));
    };
    let holder_ok = match owner_of(rule.holder) {
        Some(role) => form.parent(role).id_number == reference.holder_id_number,
        None => [&form.mother, &form.father]
            .iter()
            .any(|p| p.id_number == reference.holder_id_number),
    };
    if holder_ok {
        Ok(())
    } else {
        Err(Invalid::new(
            "licence_holder",
            format!("{}电子证照的持有人与申请表填写的父母不符", label.zh),
            format!(
                "the holder of the {} licence is not the parent on the form",
                label.en
            ),
        ))
    }
}

/// Judges what the directory returned for `reference` (`None`: nothing) on `today`: the licence
/// exists, belongs to the parent it stands for, carries the form's number where the form has
/// one, is valid, and — when it is not the applicant's own — its holder authorised it to the
/// applicant (Xiamen guide 办理材料(三); 闽卫政法〔2024〕40号 附件2 一(一) "以供授权的…电子证照").
pub fn judge(
    reference: &LicenceRef,
    record: Option<&LicenceRecord>,
    form: &ApplicationForm,
    policy: &Policy,
    today: NaiveDate,
) -> Result<Option<DateTime<Utc>>, LicenceProblem> {
    // A licence is named by its kind, number and issuing authority together.
    let record = record
        .filter(|r| {
            r.kind == reference.kind
                && r.number == reference.number.as_str()
                && r.issuer == reference.issuer.as_str()
        })
        .ok_or(LicenceProblem::NotFound)?;
    if record.holder_id_number != reference.holder_id_number
        || check_reference(reference, form, policy).is_err()
    {
        return Err(LicenceProblem::OtherHolder);
    }
    // The marriage certificate's number (结婚证字号) is also a field of the form.
    if reference.kind == DocumentKind::MarriageCertificate
        && record.number != form.mother.marriage_certificate.as_str()
    {
        return Err(LicenceProblem::NumberMismatch);
    }
    if record.valid_until.is_some_and(|last| last < today) {
        return Err(LicenceProblem::Expired);
    }
    let applicant = &form.parent(form.applicant).id_number;
    if &record.holder_id_number == applicant {
        return Ok(None);
    }
    record
        .grants
        .iter()
        .find(|g| &g.grantee_id_number == applicant && g.valid_until >= today)
        .map(|g| Some(g.granted_at))
        .ok_or(LicenceProblem::NotAuthorised)
}

/// Why a missing-licence registration is filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationReason {
    /// 未找到以供授权的电子证照: the directory has none.
    Missing,
    /// 错误的电子证照: the licence there is wrong.
    Wrong,
}

/// Where a registration stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RegistrationStatus {
    /// With the directory for review.
    UnderReview,
    /// Approved: the parent may upload photos of these materials instead.
    Approved {
        /// When.
        at: DateTime<Utc>,
    },
    /// Refused, with the reviewer's reason (`rejection`: the registration's own `reason` says
    /// why it was filed, and both share one JSON object).
    Rejected {
        /// When.
        at: DateTime<Utc>,
        /// Why it was refused.
        rejection: Bilingual,
    },
}

/// A missing-licence registration (授权缺失登记), reviewed by the licence directory within the
/// policy's working days (闽卫政法〔2024〕40号 附件2 一(一): 一个工作日) on its own SLA clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceRegistration {
    /// 1, 2, … within the application.
    pub number: u32,
    /// The materials whose licences are missing or wrong.
    pub kinds: Vec<DocumentKind>,
    /// Missing or wrong.
    pub reason: RegistrationReason,
    /// When it was filed.
    pub filed_at: DateTime<Utc>,
    /// Where it stands.
    #[serde(flatten)]
    pub status: RegistrationStatus,
    /// The review clock: runs from filing to the decision.
    pub clock: SlaClock,
}

impl LicenceRegistration {
    /// Whether it is still with the directory.
    pub fn under_review(&self) -> bool {
        self.status == RegistrationStatus::UnderReview
    }

    /// Whether it was approved for `kind`.
    pub fn approves(&self, kind: DocumentKind) -> bool {
        matches!(self.status, RegistrationStatus::Approved { .. }) && self.kinds.contains(&kind)
    }
}

/// The policy's licence section, or why licences cannot be used under it.
pub fn licences_of(policy: &Policy) -> Result<&LicencePolicy, Invalid> {
    policy.licences.as_ref().ok_or_else(|| {
        Invalid::new(
            "licences_not_offered",
            "本地区暂不支持电子证照",
            "this region does not take electronic licences",
        )
    })
}

/// Whose work the supervision index's clock of `stage` measures, and its name: the stage's agency,
/// or for pre-review (which has no deadline of its own) the licence directory reviewing a
/// missing-licence registration (闽卫政法〔2024〕40号 附件2 一(一): 一个工作日).
pub fn supervised(stage: crate::stage::Stage) -> (crate::stage::Agency, Bilingual) {
    match stage {
        crate::stage::Stage::PreReview => (
            crate::stage::Agency::LicenceDirectory,
            Bilingual::new("授权缺失登记审核", "missing-licence registration review"),
        ),
        other => (other.agency(), other.label()),
    }
}

impl crate::flow::Application {
    /// Records the directory's findings, replacing earlier ones for the same materials.
    pub fn record_licence_checks(&mut self, checks: &[LicenceCheck]) {
        self.licence_checks.retain(|old| {
            !checks
                .iter()
                .any(|c| c.reference.kind == old.reference.kind)
        });
        self.licence_checks.extend(checks.iter().cloned());
    }

    /// The latest finding on the licence of `kind`.
    pub fn licence_check(&self, kind: DocumentKind) -> Option<&LicenceCheck> {
        self.licence_checks
            .iter()
            .find(|c| c.reference.kind == kind)
    }

    /// The finding on exactly `reference` (none once the form gives another licence of its kind).
    pub fn check_of(&self, reference: &LicenceRef) -> Option<&LicenceCheck> {
        self.licence_check(reference.kind)
            .filter(|c| c.reference == *reference)
    }

    /// The clock the supervision index holds for `stage`: the stage's own, or for pre-review
    /// (which has no deadline of its own) the review clock of the registration under review.
    pub fn supervised_clock(&self, stage: crate::stage::Stage) -> Option<&SlaClock> {
        let own = self.stage(stage).and_then(|s| s.clock.as_ref());
        match (own, stage) {
            (None, crate::stage::Stage::PreReview) => {
                self.registration_under_review().map(|r| &r.clock)
            }
            (own, _) => own,
        }
    }

    /// The registration under review, if any (one at a time).
    pub fn registration_under_review(&self) -> Option<&LicenceRegistration> {
        self.registrations.iter().find(|r| r.under_review())
    }

    /// Files a missing-licence registration for `kinds` at `now`; its review clock starts at
    /// once with the policy's budget (附件2 一(一): 一个工作日).
    pub fn file_registration(
        &mut self,
        kinds: &[DocumentKind],
        reason: RegistrationReason,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<&LicenceRegistration, crate::flow::FlowError> {
        use crate::flow::FlowError;
        let refuse = |code: &str, zh: String, en: String| {
            Err(FlowError::Licence(Invalid::new(code, zh, en)))
        };
        let budget = policy.registration_budget().ok_or_else(|| {
            FlowError::Licence(licences_of(policy).err().unwrap_or_else(|| {
                Invalid::new(
                    "licences_not_offered",
                    "本地区暂不支持电子证照",
                    "no licences",
                )
            }))
        })?;
        if self.outcome() != crate::flow::Outcome::InProgress {
            return refuse(
                "application_finished",
                "办件已结束，不能再进行授权缺失登记".into(),
                "the application has ended; no registration can be filed".into(),
            );
        }
        if kinds.is_empty() {
            return refuse(
                "no_kind",
                "请选择缺失或错误的电子证照".into(),
                "name at least one missing or wrong licence".into(),
            );
        }
        if let Some(kind) = kinds.iter().find(|k| policy.licence_rule(**k).is_none()) {
            let l = kind.label();
            return refuse(
                "licence_not_accepted",
                format!("{}不属于电子证照材料", l.zh),
                format!("the {} is not a licence material here", l.en),
            );
        }
        if self.registration_under_review().is_some() {
            return refuse(
                "registration_under_review",
                "已有一份授权缺失登记正在审核，请等待审核结果".into(),
                "a registration is under review already; wait for its result".into(),
            );
        }
        let mut kinds = kinds.to_vec();
        kinds.sort();
        kinds.dedup();
        let number = self.registrations.len() as u32 + 1;
        self.registrations.push(LicenceRegistration {
            number,
            kinds,
            reason,
            filed_at: now,
            status: RegistrationStatus::UnderReview,
            clock: SlaClock::start(budget, policy.supervision.warning_percent, now),
        });
        Ok(&self.registrations[self.registrations.len() - 1])
    }

    /// Records the directory's decision on registration `number`; `false` when the same decision
    /// was recorded before (a repeated callback).
    pub fn decide_registration(
        &mut self,
        number: u32,
        decision: RegistrationStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, crate::flow::FlowError> {
        use crate::flow::FlowError;
        let r = self
            .registrations
            .iter_mut()
            .find(|r| r.number == number)
            .ok_or_else(|| {
                FlowError::Licence(Invalid::new(
                    "no_registration",
                    "没有这份授权缺失登记",
                    "no such registration",
                ))
            })?;
        let same = |a: &RegistrationStatus, b: &RegistrationStatus| {
            std::mem::discriminant(a) == std::mem::discriminant(b)
        };
        if !r.under_review() {
            return if same(&r.status, &decision) {
                Ok(false)
            } else {
                Err(FlowError::Licence(Invalid::new(
                    "registration_decided",
                    "该登记已有审核结果",
                    "the registration was decided otherwise before",
                )))
            };
        }
        if decision == RegistrationStatus::UnderReview {
            return Ok(false);
        }
        r.clock.stop(now)?;
        r.status = decision;
        Ok(true)
    }

    /// Whether a scan of `kind` may be given now. After its licence was refused, a material
    /// whose rule asks for a registration first is taken as a scan only once a missing-licence
    /// registration for it was approved (闽卫政法〔2024〕40号 附件2 一(一)).
    pub fn scan_allowed(&self, kind: DocumentKind, policy: &Policy) -> Result<(), Invalid> {
        let gated = policy
            .licence_rule(kind)
            .is_some_and(|r| r.registration_before_scan);
        let refused = self.licence_check(kind).is_some_and(|c| !c.verified());
        if !gated || !refused || self.registrations.iter().any(|r| r.approves(kind)) {
            return Ok(());
        }
        let l = kind.label();
        Err(Invalid::new(
            "registration_required",
            format!(
                "{}电子证照缺失或错误：请先进行授权缺失登记，审核通过后（一个工作日内）再上传照片",
                l.zh
            ),
            format!(
                "the {} licence is missing or wrong: file a missing-licence registration first and upload a photo once it is approved (within one working day)",
                l.en
            ),
        ))
    }
}
