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

use crate::application::{ApplicationForm, DocumentKind};
use crate::ids::IdNumber;
pub use crate::kinds::{LicenceProblem, LicenceRef};
use crate::policy::{LicencePolicy, Policy};
use crate::sla::SlaClock;
use crate::text::{Bilingual, Invalid};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

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
        || form.check_licence_reference(reference, policy).is_err()
    {
        return Err(LicenceProblem::OtherHolder);
    }
    // The marriage certificate's number (结婚证字号) is also a field of the form.
    if reference.kind == DocumentKind::MarriageCertificate
        && form
            .mother
            .marriage_certificate
            .as_ref()
            .is_none_or(|n| record.number != n.as_str())
    {
        return Err(LicenceProblem::NumberMismatch);
    }
    if record.valid_until.is_some_and(|last| last < today) {
        return Err(LicenceProblem::Expired);
    }
    let applicant = &form.applicant_parent().id_number;
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

/// Whose work a supervised clock measures, and its name: a stage's agency, or for pre-review
/// (which has no deadline of its own) the licence directory reviewing a missing-licence
/// registration (闽卫政法〔2024〕40号 附件2 一(一): 一个工作日); a service's agency; for the whole
/// matter the platform, which answers for the promise to the family (永福县 附件2 六(一)).
pub fn supervised(watch: crate::kinds::Watch) -> (crate::kinds::Agency, Bilingual) {
    use crate::kinds::{Agency, Stage, Watch};
    match watch {
        Watch::Stage(Stage::PreReview) => (
            Agency::LicenceDirectory,
            Bilingual::new("授权缺失登记审核", "missing-licence registration review"),
        ),
        Watch::Stage(stage) => (stage.agency(), stage.label()),
        Watch::Service(service) => (service.stage().agency(), service.label()),
        Watch::Matter => (
            Agency::Platform,
            crate::kinds::RatingSubject::Matter.label(),
        ),
        Watch::RatingWindow(subject) => (subject.agency(), subject.label()),
        Watch::Delivery(stage) => (stage.agency(), stage.label()),
    }
}
