//! The stage worker desk: one stage message at a time (the stage functions `pre-review`,
//! `health-check`, `police`, `insurance`, `social-security-card`, and the local workers).
//! Pre-review runs here against the licence directory; an agency stage is dispatched, signed,
//! to its agency, again on redelivery (agencies de-duplicate by the idempotency key). It holds
//! the store, the agencies' dispatcher, the licence directory and the counterfoil register.

use crate::core::{Core, merge};
use crate::error::ServiceError;
use crate::licences::Licences;
use crate::metric::{Dim, Metric};
use crate::payload::dispatch_body;
use crate::ports::{
    Actor, AgencyDispatcher, Dispatch, HandoverRegister, RegisteredLicence, RegistrationRequest,
    StageMessage,
};
use newborn_domain::flow::{Application, ApplicationId};
use newborn_domain::handover::Counterfoil;
use newborn_domain::licence::LicenceCheck;
use newborn_domain::policy::ClockStart;
use newborn_domain::prereview::{Decision, pre_review, stage_supplement};
use newborn_domain::stage::{Stage, StageEvent, StageResult, StageStatus};
use std::sync::Arc;

/// The stage worker's use cases.
#[derive(Clone)]
pub struct StageDesk {
    core: Core,
    agencies: Arc<dyn AgencyDispatcher>,
    licences: Licences,
    handovers: Arc<dyn HandoverRegister>,
}

impl StageDesk {
    /// The desk over the core, the agencies' dispatcher, the licence directory and the
    /// counterfoil register.
    pub fn new(
        core: Core,
        agencies: Arc<dyn AgencyDispatcher>,
        licences: Licences,
        handovers: Arc<dyn HandoverRegister>,
    ) -> Self {
        Self {
            core,
            agencies,
            licences,
            handovers,
        }
    }

    /// Handles one stage message: pre-review runs here; agency stages are dispatched (again, on
    /// redelivery — agencies de-duplicate by the idempotency key). Stale messages are no-ops.
    #[tracing::instrument(skip_all, fields(application = %msg.application_id, stage = %msg.stage, round = msg.round))]
    pub async fn handle_stage(&self, msg: &StageMessage) -> Result<(), ServiceError> {
        let id = msg.application_id.clone();
        let (stage, round) = (msg.stage, msg.round);
        let checks = if stage == Stage::PreReview {
            self.look_up_licences(&id, round).await?
        } else {
            vec![]
        };
        let stored = self
            .core
            .mutate(&id, None, &Actor::Platform, |app, policy, now| {
                let Some(state) = app.stage(stage) else {
                    return Ok(None);
                };
                if state.status != (StageStatus::Queued { round }) {
                    return Ok(None);
                }
                let mut applied = app
                    .apply(stage, StageEvent::Dispatch, policy, now)
                    .or_else(|e| {
                        // The card's clock starts with the bank choice: ask for it first (附件1 四(四)).
                        if policy.clock_start(stage) == ClockStart::OnPartnerBankChoice
                            && app.form.card.is_none()
                        {
                            app.apply(stage, StageEvent::AwaitBank, policy, now)
                        } else {
                            Err(e)
                        }
                    })?;
                if stage == Stage::PreReview {
                    if checks.len() != app.form.licences.len()
                        || checks
                            .iter()
                            .zip(&app.form.licences)
                            .any(|(c, l)| &c.reference != l)
                    {
                        return Err(ServiceError::Transient(
                            "the form's licences changed while they were looked up; retry".into(),
                        ));
                    }
                    app.record_licence_checks(&checks);
                    let photos = app.photos_awaiting_registration(policy);
                    let review = pre_review(&app.form, policy, app.submitted_at, &checks, &photos);
                    let event = match review.decision {
                        Decision::Accept { notes } => StageEvent::Complete {
                            result: StageResult::PreReview { notes },
                        },
                        Decision::Supplement { items, reason } => {
                            StageEvent::RequestSupplement { items, reason }
                        }
                        Decision::GoOffline { reason } => StageEvent::GoOffline { reason },
                    };
                    merge(&mut applied, app.apply(stage, event, policy, now)?);
                } else if matches!(
                    app.stage(stage).map(|s| &s.status),
                    Some(StageStatus::AwaitingAgency { .. })
                ) {
                    // Materials this stage needs that the form lacks: ask once, before the agency
                    // sees an incomplete case (e.g. the newborn's booklet page for the card).
                    if let Some((items, reason)) = stage_supplement(&app.form, policy, stage) {
                        merge(
                            &mut applied,
                            app.apply(
                                stage,
                                StageEvent::RequestSupplement { items, reason },
                                policy,
                                now,
                            )?,
                        );
                    }
                }
                Ok(Some((applied, vec![])))
            });
        let stored = match stored.await? {
            Some(s) => s,
            None => self
                .core
                .store
                .get(&id)
                .await?
                .ok_or(ServiceError::NotFound)?,
        };
        // Send (or re-send) the dispatch while the agency holds this round.
        let app = &stored.application;
        if stage == Stage::PreReview {
            self.send_registration(app).await?;
        }
        if stage == Stage::Police {
            self.keep_counterfoil(app).await?;
        }
        if stage != Stage::PreReview
            && app.stage(stage).map(|s| &s.status) == Some(&StageStatus::AwaitingAgency { round })
        {
            let policy = self.core.policy_of(app)?;
            let dispatch = Dispatch {
                idempotency_key: format!("{}:{}:{}", app.id.as_str(), stage, round),
                body: dispatch_body(app, policy, stage, round),
            };
            let sent = self.agencies.dispatch(stage.agency(), &dispatch).await;
            // Only a change of delivery is written: the first failure of the round (what the
            // watchdog escalates) and the first success after failures.
            let failed = sent.is_err();
            let known = app
                .stage(stage)
                .is_some_and(|s| s.undelivered_since.is_some());
            if failed != known {
                self.core
                    .mutate(&id, None, &Actor::Platform, |app, _, now| {
                        let changed = if failed {
                            app.dispatch_failed(stage, round, now)
                        } else {
                            app.dispatch_delivered(stage)
                        };
                        Ok(changed.then(|| (Default::default(), vec![])))
                    })
                    .await?;
            }
            sent.map_err(|e| ServiceError::Transient(e.to_string()))?;
            self.core.count(
                Metric::DispatchSent,
                &[
                    (Dim::Stage, stage.as_str()),
                    (Dim::Agency, stage.agency().as_str()),
                ],
                1.0,
            );
        }
        Ok(())
    }

    /// Looks up the form's licences in the directory for pre-review round `round` (nothing when
    /// the pre-review is not queued in that round) and judges each at the service's time.
    async fn look_up_licences(
        &self,
        id: &ApplicationId,
        round: u32,
    ) -> Result<Vec<LicenceCheck>, ServiceError> {
        let Some(stored) = self.core.store.get(id).await? else {
            return Ok(vec![]);
        };
        let app = &stored.application;
        if app.stage(Stage::PreReview).map(|s| &s.status) != Some(&StageStatus::Queued { round }) {
            return Ok(vec![]);
        }
        self.licences
            .check(&app.form.licences, &app.form, self.core.policy_of(app)?)
            .await
    }

    /// Sends (or re-sends, on redelivery) the registration under review to the directory.
    async fn send_registration(&self, app: &Application) -> Result<(), ServiceError> {
        let Some(r) = app.registration_under_review() else {
            return Ok(());
        };
        let request = RegistrationRequest {
            id: format!("{}:{}", app.id.as_str(), r.number),
            application_id: app.id.clone(),
            number: r.number,
            licences: r
                .kinds
                .iter()
                .map(|kind| RegisteredLicence {
                    kind: *kind,
                    holder_id_number: app
                        .form
                        .licence(*kind)
                        .map(|l| l.holder_id_number.clone())
                        .unwrap_or_else(|| app.form.default_holder(*kind)),
                })
                .collect(),
            reason: r.reason,
            filed_at: r.filed_at,
            due_at: r
                .clock
                .read(self.core.calendar_of(app), self.core.now())
                .deadline,
        };
        self.licences
            .directory
            .register(&request)
            .await
            .map_err(|e| ServiceError::Transient(e.to_string()))
    }

    /// Registering the birth online means the hospital keeps the certificate's counterfoil for
    /// handover (闽卫政法〔2024〕40号 附件1 三(一)2): recorded when the police stage is
    /// dispatched, idempotently, so a redelivered message cannot lose or double it.
    async fn keep_counterfoil(&self, app: &Application) -> Result<(), ServiceError> {
        let Some((certificate, issued_at)) = app.issued_certificate() else {
            return Ok(()); // the parent brought the certificate (情形二/三): nothing was cut off
        };
        let rule = &self.core.policy_of(app)?.counterfoil;
        if rule.handling != newborn_domain::policy::CounterfoilHandling::Handover {
            return Ok(()); // kept at the hospital for the family, or sent electronically
        }
        let issued_on = issued_at
            .with_timezone(&newborn_domain::calendar::CHINA)
            .date_naive();
        let counterfoil = Counterfoil {
            certificate_number: certificate.as_str().to_owned(),
            application_id: app.id.clone(),
            institution: app.form.newborn.hospital.name.as_str().to_owned(),
            county: app.form.newborn.birthplace.clone(),
            issued_at,
            hand_over_by: rule.hand_over_by(issued_on),
        };
        Ok(self.handovers.keep(&counterfoil).await?)
    }
}
