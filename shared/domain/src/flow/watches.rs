//! The clocks supervision watches on one application: each stage's, each service's with a
//! promised time of its own inside its stage (永福县 附件2 六(二)5), and the whole matter's
//! (六(一)). The stage's clock runs while the agency has the case; a service's clock runs with
//! it until the agency reports the service done; the matter's runs from acceptance to the end of
//! the flow and pauses while any stage waits for the family.

use super::{Application, FlowError, Outcome, PartClock};
use crate::kinds::{Service, Stage, Watch};
use crate::policy::Policy;
use crate::sla::{ClockState, SlaClock};
use crate::stage::StageStatus;
use chrono::{DateTime, Utc};

impl Application {
    /// The clock `watch` reads, once started.
    pub fn watched_clock(&self, watch: Watch) -> Option<&SlaClock> {
        match watch {
            Watch::Stage(stage) => self.supervised_clock(stage),
            Watch::Service(service) => self
                .stage(service.stage())?
                .parts
                .iter()
                .find(|p| p.service == service)
                .map(|p| &p.clock),
            Watch::Matter => self.matter_clock.as_ref(),
            Watch::RatingWindow(_) | Watch::Delivery(_) => None,
        }
    }

    /// Every watch with a clock on this application.
    pub fn watches(&self) -> impl Iterator<Item = Watch> + '_ {
        Stage::ALL
            .into_iter()
            .map(Watch::Stage)
            .chain(
                self.stages
                    .iter()
                    .flat_map(|s| s.parts.iter().map(|p| Watch::Service(p.service))),
            )
            .chain(self.matter_clock.iter().map(|_| Watch::Matter))
            .filter(|w| self.watched_clock(*w).is_some())
    }

    /// The agency reports `service` done inside its running stage: the service's own clock
    /// stops. `Ok(false)` when it was reported before.
    pub fn finish_service(
        &mut self,
        service: Service,
        now: DateTime<Utc>,
    ) -> Result<bool, FlowError> {
        let stage = service.stage();
        let state = self
            .stages
            .iter_mut()
            .find(|s| s.stage == stage)
            .ok_or(FlowError::NotOnRoute(stage))?;
        let Some(part) = state.parts.iter_mut().find(|p| p.service == service) else {
            return Err(FlowError::NoOwnClock(service));
        };
        if part.clock.state() == ClockState::Stopped {
            return Ok(false);
        }
        part.clock.stop(now)?;
        Ok(true)
    }

    /// Keeps stage `index`'s clock and its services' clocks in step with its status, which
    /// just changed from `from`: they start when the agency first has the case, pause while the
    /// family is asked, and stop when the stage ends.
    pub(super) fn keep_stage_clocks(
        &mut self,
        index: usize,
        from: &StageStatus,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<(), FlowError> {
        let stage = self.stages[index].stage;
        if self.stages[index].clock.is_none() {
            if matches!(
                self.stages[index].status,
                StageStatus::AwaitingAgency { .. }
            ) && let Some(budget) = policy.budget(stage)
            {
                let warn = policy.supervision.warning_percent;
                let parts = policy
                    .part_budgets(stage)
                    .filter(|(service, _)| self.form.services.contains(service))
                    .map(|(service, budget)| PartClock {
                        service,
                        clock: SlaClock::start(budget, warn, now),
                    })
                    .collect();
                let state = &mut self.stages[index];
                state.clock = Some(SlaClock::start(budget, warn, now));
                state.parts = parts;
            }
            return Ok(());
        }
        let state = &mut self.stages[index];
        let to = &state.status;
        let parts = state
            .parts
            .iter_mut()
            .map(|p| &mut p.clock)
            .filter(|c| c.state() != ClockState::Stopped);
        for clock in state.clock.iter_mut().chain(parts) {
            if to.is_final() {
                clock.stop(now)?;
            } else if from.clock_runs() && !to.clock_runs() {
                clock.pause(now)?;
            } else if !from.clock_runs() && to.clock_runs() {
                clock.resume(now)?;
            }
        }
        Ok(())
    }

    /// Keeps the matter's clock in step with the flow: it starts at acceptance (pre-review
    /// done) where the policy promises a time for the whole matter, pauses while any stage waits
    /// for the family, and stops when the flow ends.
    pub(super) fn keep_matter_clock(
        &mut self,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<(), FlowError> {
        let accepted = matches!(
            self.stage(Stage::PreReview).map(|s| &s.status),
            Some(StageStatus::Completed { .. })
        );
        let ended = self.outcome() != Outcome::InProgress;
        let waiting = self
            .stages
            .iter()
            .any(|s| matches!(s.status, StageStatus::AwaitingApplicant { .. }));
        match self.matter_clock.as_mut() {
            None => {
                if accepted
                    && !ended
                    && let Some(budget) = policy.matter_budget()
                {
                    let mut clock =
                        SlaClock::start(budget, policy.supervision.warning_percent, now);
                    if waiting {
                        clock.pause(now)?;
                    }
                    self.matter_clock = Some(clock);
                }
            }
            Some(clock) => match clock.state() {
                ClockState::Stopped => {}
                _ if ended => clock.stop(now)?,
                ClockState::Running if waiting => clock.pause(now)?,
                ClockState::Paused if !waiting => clock.resume(now)?,
                _ => {}
            },
        }
        Ok(())
    }
}
