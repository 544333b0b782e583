//! Proactive offers: when the flow ended because the applicant did not choose a follow-up service
//! (附件1 三(一)2–4 "申请人未选择…的，业务办理流程结束") but the family is eligible for it, the
//! service is offered; accepting continues the same application with the data already on file —
//! no new form. Which stages are offered, and to whom, is the policy's `offers`.

use crate::application::{
    ApplicationForm, DeliveryChoice, InsuranceEnrolment, ParentRole, Service, Text,
};
use crate::calendar::CHINA;
use crate::flow::{Application, Applied, FlowError, Outcome};
use crate::policy::Policy;
use crate::stage::{SkipReason, Stage, StageEvent, StageStatus};
use crate::text::Bilingual;
use chrono::{DateTime, Months, Utc};
use serde::{Deserialize, Serialize};

/// One offer of a declined stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The stage offered.
    pub stage: Stage,
    /// Its services offered.
    pub services: Vec<Service>,
    /// When it was made.
    pub offered_at: DateTime<Utc>,
    /// Set when the applicant accepted it.
    #[serde(default)]
    pub accepted_at: Option<DateTime<Utc>>,
}

impl Offer {
    /// The offer's text for the applicant.
    pub fn message(&self) -> Bilingual {
        let names: Vec<Bilingual> = self.services.iter().map(|s| s.label()).collect();
        let zh: Vec<&str> = names.iter().map(|n| n.zh.as_str()).collect();
        let en: Vec<&str> = names.iter().map(|n| n.en.as_str()).collect();
        Bilingual::new(
            format!(
                "您的孩子还可以办理：{}。如需办理，一键确认即可，无需重新填写申请表。",
                zh.join("、")
            ),
            format!(
                "Your child can also get: {}. Accept with one tap; nothing to fill in again.",
                en.join(", ")
            ),
        )
    }
}

/// The form with the sections the offered services need, derived from what is on file where the
/// form lacks them: the enrolment at the household registration's address and division (the
/// newborn enrols where registered, 附件1 三(一)4 "所在社区（村）、联系地址"), the card collected
/// in person (自取, 附件1 三(一)5), which asks nothing of the applicant.
fn with_derived_sections(form: &ApplicationForm, services: &[Service]) -> ApplicationForm {
    let mut next = form.clone();
    for service in services {
        next.services.insert(*service);
        match service {
            Service::MedicalInsuranceEnrolment if next.insurance.is_none() => {
                let role = next
                    .household
                    .as_ref()
                    .map(|h| h.registering_parent)
                    .unwrap_or(ParentRole::Mother);
                let parent = next.parent(role);
                let address: Text = next
                    .household
                    .as_ref()
                    .map(|h| h.address.clone())
                    .unwrap_or_else(|| parent.household_address.clone());
                next.insurance = Some(InsuranceEnrolment {
                    region: parent.household_region.clone(),
                    community: address.clone(),
                    address,
                });
            }
            Service::SocialSecurityCard if next.delivery.social_security_card.is_none() => {
                next.delivery.social_security_card = Some(DeliveryChoice::Pickup);
            }
            _ => {}
        }
    }
    next
}

impl Application {
    /// After the flow ended successfully: offers the first declined stage when the policy offers
    /// it and the family is eligible (the stages after it need it first). Returns the new offer.
    pub fn make_offer(&mut self, policy: &Policy, now: DateTime<Utc>) -> Option<Offer> {
        if self.outcome() != Outcome::Completed {
            return None;
        }
        let declined = self.stages.iter().find(|s| {
            s.status
                == StageStatus::Skipped {
                    reason: SkipReason::NotChosen,
                }
        })?;
        if self.offers.iter().any(|o| o.stage == declined.stage) {
            return None;
        }
        let rule = policy.offer_rule(declined.stage)?;
        let today = now.with_timezone(&CHINA).date_naive();
        if let Some(months) = rule.newborn_under_months {
            let limit = self
                .form
                .birth_date()
                .checked_add_months(Months::new(months));
            if limit.is_none_or(|l| today >= l) {
                return None;
            }
        }
        let services: Vec<Service> = rule
            .services
            .iter()
            .copied()
            .filter(|s| !self.form.services.contains(s))
            .collect();
        // Only what the form already holds or can derive is offered: the form must pass with it.
        let candidate = with_derived_sections(&self.form, &services);
        if services.is_empty() || !candidate.check(policy, now).is_empty() {
            return None;
        }
        let offer = Offer {
            stage: declined.stage,
            services,
            offered_at: now,
            accepted_at: None,
        };
        self.offers.push(offer.clone());
        Some(offer)
    }

    /// Accepts the open offer of `stage`: its services join the form (with the derived sections)
    /// and the declined stage is queued.
    pub fn accept_offer(
        &mut self,
        stage: Stage,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<Applied, FlowError> {
        let index = self
            .offers
            .iter()
            .position(|o| o.stage == stage && o.accepted_at.is_none())
            .ok_or(FlowError::NoOffer(stage))?;
        let form = with_derived_sections(&self.form, &self.offers[index].services);
        let issues = form.check(policy, now);
        if !issues.is_empty() {
            return Err(FlowError::InvalidForm(issues));
        }
        let before = std::mem::replace(&mut self.form, form);
        match self.apply(stage, StageEvent::AcceptOffer, policy, now) {
            Ok(applied) => {
                self.offers[index].accepted_at = Some(now);
                Ok(applied)
            }
            Err(e) => {
                self.form = before;
                Err(e)
            }
        }
    }
}
