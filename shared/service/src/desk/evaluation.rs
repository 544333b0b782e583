//! The evaluation desk (评价): the `evaluation` function and the local evaluation worker. The
//! invitations to rate (一次一评, 一事一评: 闽卫政法〔2024〕40号 附件4 七; 永福县 附件2 八(一)) are
//! made in the write that finishes a step or ends the flow, and told in its notice; each rating
//! given is queued here in the write that records it. For each, the desk opens the follow-up
//! (整改) a bad step rating needs, then forwards the rating to the provincial 好差评 platform.
//! It holds the store and the platform's client.
//!
//! Every task is idempotent: a follow-up is opened once per stage, and the platform
//! de-duplicates a forwarded rating by its id.

use crate::core::{Core, marker, markers};
use crate::error::ServiceError;
use crate::metric::{Dim, Metric};
use crate::ports::{Actor, EvaluationTask, RatingPlatform, RatingRecord};
use newborn_domain::flow::{Application, TimelineEvent};
use newborn_domain::kinds::RatingSubject;
use std::sync::Arc;

/// The evaluation stage's use cases.
#[derive(Clone)]
pub struct EvaluationDesk {
    core: Core,
    platform: Arc<dyn RatingPlatform>,
}

impl EvaluationDesk {
    /// The desk over the core and the 好差评 platform.
    pub fn new(core: Core, platform: Arc<dyn RatingPlatform>) -> Self {
        Self { core, platform }
    }

    /// Handles one task of the evaluation queue.
    #[tracing::instrument(skip_all, fields(application = %task.application_id()))]
    pub async fn handle(&self, task: &EvaluationTask) -> Result<(), ServiceError> {
        match task {
            EvaluationTask::Forward {
                application_id,
                subject,
            } => self.forward(application_id, *subject).await,
        }
    }

    /// Opens the follow-up of a bad step rating (once), then hands the rating to the 好差评
    /// platform.
    async fn forward(
        &self,
        id: &newborn_domain::flow::ApplicationId,
        subject: RatingSubject,
    ) -> Result<(), ServiceError> {
        let opened = self
            .core
            .mutate(id, None, &Actor::Platform, |app, policy, now| {
                let RatingSubject::Step(stage) = subject else {
                    return Ok(None);
                };
                let Some(rating) = app.ratings.iter().find(|r| r.stage == stage).cloned() else {
                    return Ok(None);
                };
                // A bad rating's follow-up is the rated agency's (附件4 七).
                let calendar = self.core.policy_calendar(policy);
                if app.open_follow_up(&rating, policy, calendar).is_none() {
                    return Ok(None);
                }
                let entry = marker(app, stage, TimelineEvent::FollowUpOpened, now);
                Ok(Some((markers(vec![entry]), vec![])))
            })
            .await?;
        if opened.is_some() {
            self.core.count(
                Metric::FollowUpOpened,
                &[(Dim::Agency, subject.agency().as_str())],
                1.0,
            );
        }
        let stored = self.core.load(id, None).await?;
        let Some(record) = record(&stored.application, subject) else {
            // Nothing rated (a task for a rating that is not there): nothing to forward.
            tracing::warn!(%subject, "no rating to forward");
            return Ok(());
        };
        self.platform
            .forward(&record)
            .await
            .map_err(|e| ServiceError::Transient(e.to_string()))?;
        self.core.count(
            Metric::RatingForwarded,
            &[
                (Dim::Agency, subject.agency().as_str()),
                (Dim::Level, record.level.as_str()),
            ],
            1.0,
        );
        Ok(())
    }
}

/// The record of `subject`'s rating for the 好差评 platform.
fn record(app: &Application, subject: RatingSubject) -> Option<RatingRecord> {
    let rated = app.rating_of(subject)?;
    Some(RatingRecord {
        rating_id: format!("{}:{subject}", app.id),
        application_id: app.id.clone(),
        region: app.policy.id.clone(),
        subject,
        department: subject.agency(),
        level: rated.level,
        comment: rated.comment.map(|c| c.as_str().to_owned()),
        rated_at: rated.at,
        invited_at: app.invitation(subject).map(|i| i.at),
    })
}
