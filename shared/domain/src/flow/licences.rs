//! The aggregate's electronic licences and missing-licence registrations (授权缺失登记): the
//! directory's findings kept on the application, the registrations the family files and the
//! directory decides, and which clock supervises pre-review while one is under review.

use super::{Application, FlowError, Outcome};
use crate::application::DocumentKind;
use crate::kinds::LicenceRef;
use crate::licence::{
    LicenceCheck, LicenceRegistration, RegistrationReason, RegistrationStatus, licences_of,
};
use crate::policy::Policy;
use crate::sla::SlaClock;
use crate::text::Invalid;
use chrono::{DateTime, Utc};

impl Application {
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
    ) -> Result<&LicenceRegistration, FlowError> {
        use FlowError;
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
        if self.outcome() != Outcome::InProgress {
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
    ) -> Result<bool, FlowError> {
        use FlowError;
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

    /// The materials given as photos that count only once a missing-licence registration for
    /// them is approved, and none is yet (pre-review asks for their licences instead).
    pub fn photos_awaiting_registration(&self, policy: &Policy) -> Vec<DocumentKind> {
        self.form
            .photos_needing_registration(policy)
            .into_iter()
            .filter(|k| !self.registrations.iter().any(|r| r.approves(*k)))
            .collect()
    }

    /// Whether a scan of `kind` may be given now: a material whose policy expects its licence
    /// and asks for a registration before a photo is taken as a photo only once a missing-licence
    /// registration for it was approved, unless the holder's card was issued outside the
    /// province (闽卫政法〔2024〕40号 附件2 一(一)).
    pub fn scan_allowed(&self, kind: DocumentKind, policy: &Policy) -> Result<(), Invalid> {
        if !self.form.photo_needs_registration(kind, policy)
            || self.registrations.iter().any(|r| r.approves(kind))
        {
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
