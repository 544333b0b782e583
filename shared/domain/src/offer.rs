//! Proactive offers: when the flow ended because the applicant did not choose a follow-up service
//! (附件1 三(一)2–4 "申请人未选择…的，业务办理流程结束") but the family is eligible for it, the
//! service is offered; accepting continues the same application with the data already on file —
//! no new form. Which stages are offered, and to whom, is the policy's `offers`.

use crate::application::{
    ApplicationForm, DeliveryChoice, InsuranceEnrolment, ParentRole, Service, Text,
};
use crate::stage::Stage;
use crate::text::Bilingual;
use chrono::{DateTime, Utc};
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
pub(crate) fn with_derived_sections(
    form: &ApplicationForm,
    services: &[Service],
) -> ApplicationForm {
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
                let parent = next.parent(role).unwrap_or(&next.mother);
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
