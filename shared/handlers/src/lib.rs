//! The event handlers of the stage functions and the SLA monitor, as plain async functions of
//! real `aws_lambda_events` values. On AWS, `lambda_runtime` calls them; locally the worker loops
//! build the same events from the embedded queues and call them too.

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use newborn_domain::stage::Stage;
use newborn_service::ports::{Delivery, EvaluationTask, StageMessage};
use newborn_service::{
    EvaluationDesk, MonitorDesk, NotifierDesk, ServiceError, StageDesk, SweepReport,
};
use tracing::Instrument;

/// Why one record failed.
#[derive(Debug)]
pub enum RecordError {
    /// The body is not a stage message of this function's stage: it will never succeed.
    Poison(String),
    /// The use case failed.
    Service(ServiceError),
}

async fn handle_record(
    desk: &StageDesk,
    stage: Stage,
    record: &SqsMessage,
) -> Result<(), RecordError> {
    let body = record
        .body
        .as_deref()
        .ok_or_else(|| RecordError::Poison("empty body".into()))?;
    let msg: StageMessage = serde_json::from_str(body)
        .map_err(|e| RecordError::Poison(format!("not a stage message: {e}")))?;
    if msg.stage.queue() != stage {
        return Err(RecordError::Poison(format!(
            "message for stage {} on the {stage} queue",
            msg.stage
        )));
    }
    desk.handle_stage(&msg).await.map_err(RecordError::Service)
}

/// Handles a batch of one stage's queue. Each record is decoded and handled on its own, so one
/// bad message fails alone; failed records are reported by message id for redelivery
/// (ReportBatchItemFailures) and reach the dead-letter queue after the configured receives.
pub async fn handle_stage_batch(
    desk: &StageDesk,
    stage: Stage,
    event: SqsEvent,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in &event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let span = tracing::info_span!("record", message_id = %id, stage = %stage);
        let outcome = handle_record(desk, stage, record).instrument(span).await;
        if let Err(e) = outcome {
            match &e {
                RecordError::Poison(why) => {
                    tracing::error!(message_id = %id, %stage, %why, "poison message")
                }
                RecordError::Service(err) => {
                    tracing::warn!(message_id = %id, %stage, error = %err, "record failed; will be retried")
                }
            }
            response.add_failure(id);
        }
    }
    response
}

/// Handles each record of `event` on its own: its body decoded as `T` (what else is a poison
/// message, `what` naming what it should have been) and handed to `handle` in a span of
/// `application`'s; failed records are reported by message id, to be retried, then
/// dead-lettered.
async fn each_record<T, F, Fut>(
    event: SqsEvent,
    what: &str,
    application: impl Fn(&T) -> String,
    handle: F,
) -> SqsBatchResponse
where
    T: serde::de::DeserializeOwned,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<(), ServiceError>>,
{
    let mut response = SqsBatchResponse::default();
    for record in &event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str::<T>(b).ok());
        let Some(body) = body else {
            tracing::error!(message_id = %id, "poison message: not {what}");
            response.add_failure(id);
            continue;
        };
        let span =
            tracing::info_span!("record", message_id = %id, application = %application(&body));
        if let Err(e) = handle(body).instrument(span).await {
            tracing::warn!(message_id = %id, error = %e, "{what} failed; will be retried");
            response.add_failure(id);
        }
    }
    response
}

/// Handles a batch of the notification queue: each record is one [`Delivery`] to the applicant's
/// app, on its own; failures are reported by message id and retried, then dead-lettered.
pub async fn handle_notification_batch(desk: &NotifierDesk, event: SqsEvent) -> SqsBatchResponse {
    each_record(
        event,
        "a notification delivery",
        |d: &Delivery| d.application_id.to_string(),
        |delivery| async move { desk.deliver(&delivery).await },
    )
    .await
}

/// Handles a batch of the evaluation queue: each record is one [`EvaluationTask`] (a rating to
/// forward to the 好差评 platform, its follow-up opened first if bad), on its own; failures are
/// reported by message id and retried, then dead-lettered.
pub async fn handle_evaluation_batch(desk: &EvaluationDesk, event: SqsEvent) -> SqsBatchResponse {
    each_record(
        event,
        "an evaluation task",
        |t: &EvaluationTask| t.application_id().to_string(),
        |task| async move { desk.handle(&task).await },
    )
    .await
}

/// Handles the scheduled event of the SLA monitor (an EventBridge rule with a schedule
/// expression on AWS, a timer locally).
pub async fn handle_schedule(
    desk: &MonitorDesk,
    event: CloudWatchEvent,
) -> Result<SweepReport, ServiceError> {
    tracing::info!(id = ?event.id, time = %event.time, "SLA sweep");
    desk.sla_sweep().await
}
