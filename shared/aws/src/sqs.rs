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
        self.client
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(())
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
