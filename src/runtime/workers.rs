//! The local stand-ins for Lambda's event source mappings: a worker per stage queue that turns
//! received messages into a real `SqsEvent`, calls the stage handler, deletes what succeeded and
//! schedules what failed for redelivery with exponential backoff; and a timer that hands the SLA
//! monitor a real scheduled event.

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use newborn_domain::stage::Stage;
use newborn_embedded::{Received, SqliteQueue};
use newborn_service::ports::{EVALUATION_QUEUE, NOTIFICATIONS_QUEUE};
use newborn_service::{EvaluationDesk, MonitorDesk, NotifierDesk, StageDesk};
use std::collections::HashMap;
use std::time::Duration;

/// How the workers poll.
#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    /// Messages per batch (SQS: up to 10).
    pub batch_size: usize,
    /// How long a received message stays hidden.
    pub visibility_timeout: Duration,
    /// Receives before a message is dead-lettered.
    pub max_receives: u32,
    /// Pause when a queue is empty.
    pub idle_poll: Duration,
}

/// The SQS record Lambda would deliver for `m` from `queue`.
pub fn sqs_record(queue: &str, m: &Received) -> SqsMessage {
    let mut r = SqsMessage::default();
    r.message_id = Some(m.id.to_string());
    r.receipt_handle = Some(format!("{}:{}", m.id, m.receive_count));
    r.body = Some(m.body.clone());
    r.attributes = HashMap::from([
        (
            "ApproximateReceiveCount".to_owned(),
            m.receive_count.to_string(),
        ),
        ("SentTimestamp".to_owned(), m.sent_at_ms.to_string()),
    ]);
    r.event_source = Some("aws:sqs".to_owned());
    r.event_source_arn = Some(format!("arn:local:sqs:local:000000000000:{queue}"));
    r.aws_region = Some("local".to_owned());
    r
}

/// Backoff before the `receive_count`-th redelivery: 1 s, 2 s, 4 s … capped at 60 s.
pub fn backoff(receive_count: u32) -> Duration {
    Duration::from_secs(1u64 << receive_count.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

/// Adds up to 25 % random jitter, so retries of many failed messages do not arrive together.
pub fn with_jitter(d: Duration) -> Duration {
    d + d.mul_f64(rand::random::<f64>() * 0.25)
}

/// Runs the worker of one stage queue until the task is dropped.
pub async fn stage_worker(
    desk: StageDesk,
    queue: SqliteQueue,
    stage: Stage,
    settings: WorkerSettings,
) {
    queue_worker(queue, stage.as_str(), settings, move |event| {
        let desk = desk.clone();
        async move { newborn_handlers::handle_stage_batch(&desk, stage, event).await }
    })
    .await;
}

/// Runs the worker of the notification queue (the `notifier` Lambda's stand-in).
pub async fn notification_worker(desk: NotifierDesk, queue: SqliteQueue, settings: WorkerSettings) {
    queue_worker(queue, NOTIFICATIONS_QUEUE, settings, move |event| {
        let desk = desk.clone();
        async move { newborn_handlers::handle_notification_batch(&desk, event).await }
    })
    .await;
}

/// Runs the worker of the evaluation queue (the `evaluation` Lambda's stand-in).
pub async fn evaluation_worker(desk: EvaluationDesk, queue: SqliteQueue, settings: WorkerSettings) {
    queue_worker(queue, EVALUATION_QUEUE, settings, move |event| {
        let desk = desk.clone();
        async move { newborn_handlers::handle_evaluation_batch(&desk, event).await }
    })
    .await;
}

/// Feeds one queue's batches to `handler` as Lambda's event source mapping would.
async fn queue_worker<F, Fut>(queue: SqliteQueue, name: &str, settings: WorkerSettings, handler: F)
where
    F: Fn(SqsEvent) -> Fut,
    Fut: std::future::Future<Output = SqsBatchResponse>,
{
    let mut signal = queue.signal(name);
    loop {
        let batch = match queue
            .receive(
                name,
                settings.batch_size,
                settings.visibility_timeout,
                settings.max_receives,
            )
            .await
        {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(queue = name, error = %e, "receive failed");
                tokio::time::sleep(settings.idle_poll).await;
                continue;
            }
        };
        if batch.is_empty() {
            // Woken by the commit that queues the next message; polls anyway for delayed ones.
            SqliteQueue::wait(&mut signal, settings.idle_poll).await;
            continue;
        }
        let mut event = SqsEvent::default();
        event.records = batch.iter().map(|m| sqs_record(name, m)).collect();
        let response = handler(event).await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        let mut done = vec![];
        for m in &batch {
            if failed.contains(&m.id.to_string().as_str()) {
                if let Err(e) = queue
                    .retry_after(m.id, with_jitter(backoff(m.receive_count)))
                    .await
                {
                    tracing::error!(queue = name, error = %e, "could not schedule a retry; the visibility timeout will");
                }
            } else {
                done.push(m.id);
            }
        }
        if let Err(e) = queue.delete(done).await {
            tracing::error!(queue = name, error = %e, "delete failed; messages will be redelivered (handlers are idempotent)");
        }
    }
}

/// The scheduled event the SLA monitor receives (as from an EventBridge schedule rule).
pub fn scheduled_event(now: chrono::DateTime<chrono::Utc>) -> CloudWatchEvent {
    let mut e = CloudWatchEvent::default();
    e.version = Some("0".to_owned());
    e.id = Some(format!("local-{}", now.timestamp_millis()));
    e.detail_type = Some("Scheduled Event".to_owned());
    e.source = Some("aws.events".to_owned());
    e.account_id = Some("000000000000".to_owned());
    e.time = now;
    e.region = Some("local".to_owned());
    e.resources = vec!["arn:local:events:local:000000000000:rule/sla-monitor".to_owned()];
    e.detail = Some(serde_json::json!({}));
    e
}

/// Runs the SLA monitor every `every` until the task is dropped.
pub async fn sla_timer(desk: MonitorDesk, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match newborn_handlers::handle_schedule(&desk, scheduled_event(chrono::Utc::now())).await {
            Ok(r) if r.warnings + r.breaches > 0 => tracing::warn!(
                warnings = r.warnings,
                breaches = r.breaches,
                "SLA sweep raised alerts"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "SLA sweep failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let secs: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn jitter_adds_at_most_a_quarter() {
        for _ in 0..100 {
            let d = with_jitter(Duration::from_secs(8));
            assert!(
                d >= Duration::from_secs(8) && d <= Duration::from_secs(10),
                "{d:?}"
            );
        }
    }

    #[test]
    fn local_records_have_the_shape_lambda_delivers() {
        let m = Received {
            id: 7,
            body: "{}".into(),
            receive_count: 2,
            sent_at_ms: 1,
        };
        let json = serde_json::to_value(sqs_record("police", &m)).unwrap_or_default();
        assert_eq!(json["messageId"], "7");
        assert_eq!(json["eventSource"], "aws:sqs");
        assert_eq!(json["attributes"]["ApproximateReceiveCount"], "2");
    }
}
