//! The aggregate's proactive offers: made when the flow ended without a follow-up service the
//! family is eligible for, and accepted on the data on file (see [`crate::offer`]).

use super::{Application, Applied, FlowError, Outcome};
use crate::calendar::CHINA;
use crate::kinds::Service;
use crate::offer::{Offer, with_derived_sections};
use crate::policy::Policy;
use crate::stage::{SkipReason, Stage, StageEvent, StageStatus};
use chrono::{DateTime, Months, Utc};

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
