//! The stage queues on SQS: sending hand-offs, and the operator's dead-letter redrive.
//!
//! SQS's managed redrive (message-move tasks) is not available in the China regions, so the
//! redrive moves messages itself: receive from the dead-letter queue, send to the source queue,
//! delete from the dead-letter queue. A crash between send and delete redrives a message twice,
//! which the stage handlers absorb (every stage message is idempotent); none is lost.

use aws_sdk_sqs::Client;
use newborn_service::ports::{StageMessage, StoreError};

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("sqs: {e}"))
}

/// A stage queue and its dead-letter queue.
#[derive(Debug, Clone)]
pub struct StageQueue {
    /// The queue URL.
    pub url: String,
    /// The dead-letter queue URL.
    pub dead_letter_url: String,
}

/// The stage queues.
#[derive(Debug, Clone)]
pub struct SqsQueues {
    client: Client,
}

impl SqsQueues {
    /// Queues through `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Sends one hand-off.
    pub async fn send(&self, queue_url: &str, message: &StageMessage) -> Result<(), StoreError> {
        let body =
            serde_json::to_string(message).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        self.send_body(queue_url, &body).await
    }

    /// Sends one message body.
    pub async fn send_body(&self, queue_url: &str, body: &str) -> Result<(), StoreError> {
        self.client
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(())
    }

    /// Sends message bodies in batches of ten (one request each); fails if any entry failed,
    /// so the caller sends again (at least once).
    pub async fn send_bodies(&self, queue_url: &str, bodies: &[String]) -> Result<(), StoreError> {
        use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
        for chunk in bodies.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(n, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(n.to_string())
                        .message_body(body)
                        .build()
                        .map_err(unavailable)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| unavailable(e.into_service_error()))?;
            if let Some(failed) = out.failed().first() {
                return Err(unavailable(format!(
                    "{} of {} messages not sent ({}: {})",
                    out.failed().len(),
                    chunk.len(),
                    failed.code(),
                    failed.message().unwrap_or_default()
                )));
            }
        }
        Ok(())
    }

    /// The stage queue at `url` with its dead-letter queue, found through the queue's redrive
    /// policy (so an operator names only the queue).
    pub async fn with_dead_letter(&self, url: &str) -> Result<StageQueue, StoreError> {
        use aws_sdk_sqs::types::QueueAttributeName;
        let attributes = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        let policy = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
            .ok_or_else(|| StoreError::Unavailable(format!("{url} has no dead-letter queue")))?;
        let arn = serde_json::from_str::<serde_json::Value>(policy)
            .ok()
            .and_then(|p| p["deadLetterTargetArn"].as_str().map(str::to_owned))
            .ok_or_else(|| {
                StoreError::Unavailable(format!("unreadable redrive policy: {policy}"))
            })?;
        // arn:<partition>:sqs:<region>:<account>:<name>
        let parts: Vec<&str> = arn.split(':').collect();
        let [_, _, "sqs", _, account, name] = parts.as_slice() else {
            return Err(StoreError::Unavailable(format!("not a queue ARN: {arn}")));
        };
        let dead_letter_url = self
            .client
            .get_queue_url()
            .queue_name(*name)
            .queue_owner_aws_account_id(*account)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?
            .queue_url()
            .unwrap_or_default()
            .to_owned();
        Ok(StageQueue {
            url: url.to_owned(),
            dead_letter_url,
        })
    }

    /// Messages waiting (visible) and in flight (received, not yet deleted) in a queue.
    pub async fn depth(&self, url: &str) -> Result<(u64, u64), StoreError> {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        let n = |k: A| {
            out.attributes()
                .and_then(|a| a.get(&k))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok((
            n(A::ApproximateNumberOfMessages),
            n(A::ApproximateNumberOfMessagesNotVisible),
        ))
    }

    /// Moves every message of the dead-letter queue back to its source queue; returns how many.
    /// Bounded: stops after `max` messages or when the dead-letter queue answers empty.
    pub async fn redrive(&self, queue: &StageQueue, max: usize) -> Result<usize, StoreError> {
        let mut moved = 0;
        while moved < max {
            let batch = self
                .client
                .receive_message()
                .queue_url(&queue.dead_letter_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .visibility_timeout(60)
                .send()
                .await
                .map_err(|e| unavailable(e.into_service_error()))?;
            let messages = batch.messages();
            if messages.is_empty() {
                break;
            }
            for m in messages {
                let (Some(body), Some(receipt)) = (m.body(), m.receipt_handle()) else {
                    continue;
                };
                self.client
                    .send_message()
                    .queue_url(&queue.url)
                    .message_body(body)
                    .send()
                    .await
                    .map_err(|e| unavailable(e.into_service_error()))?;
                self.client
                    .delete_message()
                    .queue_url(&queue.dead_letter_url)
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .map_err(|e| unavailable(e.into_service_error()))?;
                moved += 1;
                tracing::info!(queue = %queue.url, "redriven one dead-lettered message");
            }
        }
        Ok(moved)
    }
}
