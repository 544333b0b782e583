//! The stream relay: what each application write hands on, sent and recorded after it commits.
//!
//! Every write of an application is one `PutItem` whose new image carries that write's stage
//! messages, evaluation tasks and notification deliveries, its report facts and the completed
//! record of the `Idempotency-Key` it answers: inside its compressed `doc`, with `m` marking
//! that it does (a draft's item, and application items written before, carry them in `m`). The table's stream (new images) brings
//! each image to the relay function, which sends the messages to their queues (batches of ten)
//! and writes the facts and records (batches of 25). Lambda retries a failed batch from the
//! stream, in order, until it succeeds or the record is 24 h old, so a crash between the commit
//! and the send loses nothing; a retried batch sends its messages again, which every handler
//! absorbs (stage messages, tasks and deliveries are idempotent), and writes the same items
//! under the same keys.

use crate::dynamo::{Item, unavailable};
use crate::requests::DynamoRequestLog;
use crate::sqs::SqsQueues;
use crate::store::{Carried, HANDED_IN_DOC, Handed, fact_item, unpack};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use base64::Engine as _;
use newborn_service::ports::{IdempotencyClaim, IdempotentResponse, StoreError};
use std::collections::HashMap;
use std::time::Duration;

/// Sends and records what application writes hand on.
#[derive(Debug, Clone)]
pub struct StreamRelay {
    /// The table facts and idempotency records are written to.
    pub dynamodb: Client,
    /// Its name.
    pub table: String,
    /// The SQS client.
    pub queues: SqsQueues,
    /// The queue URL by queue name: each stage's name (`police`, …), `evaluation` and
    /// `notifications`.
    pub urls: HashMap<String, String>,
}

/// What one run of the relay did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Relayed {
    /// Stream records that handed something on.
    pub writes: usize,
    /// Messages sent.
    pub messages: usize,
    /// Items written (facts and idempotency records).
    pub items: usize,
}

/// What each record of a DynamoDB stream event (as Lambda delivers it) hands on, in stream
/// order: its new image's `m` (`Records[].dynamodb.NewImage.m.B`, base64), or, where `m` says
/// so, what its `doc` carries. Records without `m` (a write that hands nothing on, a removal)
/// are skipped.
fn handed_of_event(event: &serde_json::Value) -> Result<Vec<Handed>, StoreError> {
    let records = event["Records"]
        .as_array()
        .ok_or_else(|| StoreError::Unavailable("a stream event without Records".into()))?;
    let binary = |image: &serde_json::Value, name: &str| -> Result<Option<Vec<u8>>, StoreError> {
        image[name]["B"]
            .as_str()
            .map(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|e| StoreError::Unavailable(format!("a stream record's {name}: {e}")))
            })
            .transpose()
    };
    let mut out = vec![];
    for record in records {
        let image = &record["dynamodb"]["NewImage"];
        let Some(m) = binary(image, "m")? else {
            continue;
        };
        if m != HANDED_IN_DOC {
            out.push(unpack::<Handed>(&m)?);
            continue;
        }
        let doc = binary(image, "doc")?.ok_or_else(|| {
            StoreError::Unavailable("a stream record handing on from a doc it lacks".into())
        })?;
        if let Some(handed) = unpack::<Carried>(&doc)?.handed {
            out.push(handed);
        }
    }
    Ok(out)
}

impl StreamRelay {
    /// Sends and records what the writes of a DynamoDB stream `event` (as Lambda delivers it)
    /// hand on. Fails whole, so the stream hands the same records again.
    pub async fn relay_event(&self, event: &serde_json::Value) -> Result<Relayed, StoreError> {
        self.relay(handed_of_event(event)?).await
    }

    /// Sends and records what the writes `handed` hand on.
    async fn relay(&self, handed: Vec<Handed>) -> Result<Relayed, StoreError> {
        let mut out = Relayed::default();
        let mut by_queue: Vec<(String, Vec<String>)> = vec![];
        let mut items: Vec<Item> = vec![];
        for h in handed {
            out.writes += 1;
            for m in h.messages {
                match by_queue.iter_mut().find(|(q, _)| *q == m.queue) {
                    Some((_, bodies)) => bodies.push(m.body),
                    None => by_queue.push((m.queue, vec![m.body])),
                }
            }
            for (n, f) in h.facts.iter().enumerate() {
                items.push(fact_item(f, &format!("{}#{n:03}", h.origin))?);
            }
            if let Some(c) = h.response {
                let response = IdempotentResponse {
                    claim: IdempotencyClaim {
                        scope: c.scope,
                        key: c.key,
                        request_hash: c.request_hash,
                    },
                    status: c.status,
                    body: c.body.into_bytes(),
                };
                items.push(DynamoRequestLog::completed_item(&response, c.at));
            }
        }
        for (queue, bodies) in &by_queue {
            let url = self.urls.get(queue).ok_or_else(|| {
                StoreError::Unavailable(format!("no queue URL configured for {queue}"))
            })?;
            self.queues.send_bodies(url, bodies).await?;
            out.messages += bodies.len();
        }
        out.items = items.len();
        self.write_items(items).await?;
        Ok(out)
    }

    /// Writes items 25 to a request, again for what DynamoDB left unprocessed.
    async fn write_items(&self, items: Vec<Item>) -> Result<(), StoreError> {
        let mut requests = items
            .into_iter()
            .map(|item| {
                Ok(WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item))
                            .build()
                            .map_err(unavailable)?,
                    )
                    .build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut attempt = 0u32;
        while !requests.is_empty() {
            let rest = requests.split_off(requests.len().min(25));
            let out = self
                .dynamodb
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(|e| unavailable(e.into_service_error()))?;
            let mut left: Vec<WriteRequest> = out
                .unprocessed_items()
                .and_then(|u| u.get(&self.table))
                .cloned()
                .unwrap_or_default();
            if !left.is_empty() {
                attempt += 1;
                if attempt > 5 {
                    return Err(unavailable(format!(
                        "{} items left unprocessed after 5 retries",
                        left.len()
                    )));
                }
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
            left.extend(rest);
            requests = left;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::pack;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn hand_ons_are_read_from_the_doc_m_marks_and_from_m_itself_in_older_items() {
        let handed = |origin: &str| {
            serde_json::json!({"origin": origin, "facts": [], "response": null,
                "messages": [{"queue": "police", "body": "{}"}]})
        };
        let doc = pack(&serde_json::json!({"application": {}, "handed": handed("a#2")}))
            .unwrap_or_default();
        let old = pack(&handed("b#7")).unwrap_or_default();
        let quiet = pack(&serde_json::json!({"application": {}})).unwrap_or_default();
        let event = serde_json::json!({"Records": [
            {"dynamodb": {"NewImage": {"m": {"B": b64(HANDED_IN_DOC)}, "doc": {"B": b64(&doc)}}}},
            {"dynamodb": {"NewImage": {"doc": {"B": b64(&quiet)}}}},
            {"dynamodb": {"NewImage": {"m": {"B": b64(&old)}}}},
            {"eventName": "REMOVE", "dynamodb": {}}
        ]});
        let origins: Vec<String> = handed_of_event(&event)
            .unwrap_or_default()
            .into_iter()
            .map(|h| h.origin)
            .collect();
        assert_eq!(origins, ["a#2", "b#7"]);
        // A marked record without its doc is an error, not a silent skip: the stream retries it.
        let broken = serde_json::json!({"Records": [
            {"dynamodb": {"NewImage": {"m": {"B": b64(HANDED_IN_DOC)}}}}
        ]});
        assert!(handed_of_event(&broken).is_err());
    }
}
