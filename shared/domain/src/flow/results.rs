//! What an agency's result must agree with before it is applied (ours: the documents have each
//! agency hand its result to the next one, 闽卫政法〔2024〕40号 附件1 三(一)2–4, so a result that
//! cannot be true would travel on to insurance and the card). A police result carries a newborn's
//! identity number (GB 11643: check digit, checked when it is parsed) with the newborn's birth
//! date and sex, registered in the registering parent's city; an insurance result decides only
//! what was applied for; a card is made at the partner bank the family chose, not before the
//! birth. The messages name the field and the rule, never the personal values.

use super::{Application, FlowError};
use crate::application::FieldIssue;
use crate::ids::IdNumber;
use crate::kinds::Service;
use crate::stage::{CertificateVersion, StageResult};
use crate::text::Bilingual;

impl Application {
    /// Checks `result` against the application; `Err` names each field that cannot be true.
    pub(super) fn check_result(
        &self,
        result: &StageResult,
        policy: &crate::policy::Policy,
    ) -> Result<(), FlowError> {
        let issues = match result {
            StageResult::HealthCheck {
                parenting_guidance_registered: true,
                ..
            } if !self.form.services.contains(&Service::ParentingGuidance)
                || !policy.agency_delivers(Service::ParentingGuidance) =>
            {
                vec![FieldIssue::new(
                    "result.parenting_guidance_registered",
                    "result_not_applied_for",
                    "科学育儿指导服务登记不由助产机构办理（申请人未选择，或由申请人阅读知识库登记）",
                    "parenting guidance is not the hospital's to register here (not chosen, or the parent registers it in the app)",
                )]
            }
            StageResult::Police { newborn_id_number } => self.check_newborn_id(newborn_id_number),
            StageResult::Insurance {
                enrolled,
                maternity_benefit_approved,
            } => {
                let mut issues = vec![];
                let chose = |s| self.form.services.contains(&s);
                if *enrolled && !chose(Service::MedicalInsuranceEnrolment) {
                    issues.push(FieldIssue::new(
                        "result.enrolled",
                        "result_not_applied_for",
                        "申请人未申请参保登记，不能报告已参保",
                        "the family did not apply for insurance enrolment",
                    ));
                }
                if maternity_benefit_approved.is_some() && !chose(Service::MaternityBenefit) {
                    issues.push(FieldIssue::new(
                        "result.maternity_benefit_approved",
                        "result_not_applied_for",
                        "申请人未申请生育保险待遇，不能报告核准结果",
                        "the family did not apply for the maternity benefit",
                    ));
                }
                issues
            }
            StageResult::SocialSecurityCard {
                partner_bank,
                ready_on,
            } => {
                let mut issues = vec![];
                if let Some(card) = &self.form.card
                    && card.partner_bank != *partner_bank
                {
                    issues.push(FieldIssue::new(
                        "result.partner_bank",
                        "result_partner_bank",
                        format!(
                            "制卡银行“{}”不是申请人选择的合作银行“{}”",
                            partner_bank.as_str(),
                            card.partner_bank.as_str()
                        ),
                        "the card was not made at the partner bank the family chose",
                    ));
                }
                if *ready_on < self.form.birth_date() {
                    issues.push(FieldIssue::new(
                        "result.ready_on",
                        "result_date",
                        "领卡日期早于新生儿出生日期",
                        "the card cannot be ready before the baby was born",
                    ));
                }
                issues
            }
            StageResult::CertificateRelease { version } => {
                let due = self.certificate_to_release();
                if due == Some(*version) {
                    vec![]
                } else {
                    let due = due.map_or_else(
                        || Bilingual::new("（户籍登记尚无结果）", "(no registration result yet)"),
                        CertificateVersion::label,
                    );
                    vec![FieldIssue::new(
                        "result.version",
                        "result_certificate_version",
                        format!("户籍登记结果要求给付{}，不是{}", due.zh, version.label().zh),
                        format!(
                            "the registration result calls for {}, not {}",
                            due.en,
                            version.label().en
                        ),
                    )]
                }
            }
            StageResult::PreReview { .. } | StageResult::HealthCheck { .. } => vec![],
        };
        if issues.is_empty() {
            Ok(())
        } else {
            Err(FlowError::ImplausibleResult(issues))
        }
    }

    /// The newborn's identity number from the police against the newborn and the household.
    fn check_newborn_id(&self, id: &IdNumber) -> Vec<FieldIssue> {
        let form = &self.form;
        let mut issues = form.check_newborn_id(id, "result.newborn_id_number");
        let home = form
            .household
            .as_ref()
            .and_then(|h| form.parent(h.registering_parent));
        if let Some(home) = home.map(|p| &p.household_region)
            && !id.region().starts_with(home.city())
        {
            issues.push(FieldIssue::new(
                "result.newborn_id_number",
                "newborn_id_number_region",
                "公民身份号码的地区码不在落户方户籍所在地",
                "the identity number's region is not where the registering parent's household is",
            ));
        }
        if form.parents().any(|(_, p)| &p.id_number == id) {
            issues.push(FieldIssue::new(
                "result.newborn_id_number",
                "newborn_id_number_parent",
                "报告的公民身份号码是父母一方的号码",
                "the identity number reported is a parent's",
            ));
        }
        issues
    }
}
