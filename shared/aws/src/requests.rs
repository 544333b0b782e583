//! [`RequestLog`] on the DynamoDB table: `Idempotency-Key` records, removed by the table's TTL
//! (`expires_at`, epoch seconds) once they can no longer matter. (The callbacks' replay guard is
//! kept in each application's item: [`crate::DynamoStore`].)
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | idempotency record | `IDEM#<scope>` | `<key>` | `request_hash`, `status` + `response` once complete, `created_ms`; TTL 24 h |

use crate::dynamo::{number, s, text, unavailable};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use newborn_service::ports::{Claim, RequestLog, StoreError};

/// How long an idempotency record is kept (and a key may not be reused).
const KEEP_REQUESTS_MS: i64 = 24 * 3600 * 1000;
/// A claim older than this whose request never completed may be taken over (the first
/// attempt died).
const STALE_CLAIM_MS: i64 = 60 * 1000;

/// Idempotency records in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoRequestLog {
    client: Client,
    table: String,
}

impl DynamoRequestLog {
    /// The log in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn key(scope: &str, key: &str) -> (AttributeValue, AttributeValue) {
        (s(format!("IDEM#{scope}")), s(key))
    }

    /// The completed record of `response` as an item (the one [`RequestLog::claim`] reads), for
    /// the application store to write in the transaction of the change it answers.
    pub(crate) fn completed_item(
        response: &newborn_service::ports::IdempotentResponse,
        now: DateTime<Utc>,
    ) -> std::collections::HashMap<String, AttributeValue> {
        let now_ms = now.timestamp_millis();
        let (pk, sk) = Self::key(&response.claim.scope, &response.claim.key);
        std::collections::HashMap::from([
            ("pk".into(), pk),
            ("sk".into(), sk),
            ("request_hash".into(), s(&response.claim.request_hash)),
            ("created_ms".into(), n(now_ms)),
            ("expires_at".into(), n((now_ms + KEEP_REQUESTS_MS) / 1000)),
            ("status".into(), n(i64::from(response.status))),
            (
                "response".into(),
                AttributeValue::B(Blob::new(response.body.clone())),
            ),
        ])
    }
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

#[async_trait]
impl RequestLog for DynamoRequestLog {
    async fn claim(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let now_ms = now.timestamp_millis();
        let (pk, sk) = Self::key(scope, key);
        // Take the key if it is free, expired, or a stale claim of this very request.
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", pk.clone())
            .item("sk", sk.clone())
            .item("request_hash", s(request_hash))
            .item("created_ms", n(now_ms))
            .item("expires_at", n((now_ms + KEEP_REQUESTS_MS) / 1000))
            .condition_expression(
                "attribute_not_exists(pk) OR created_ms < :expired \
                 OR (request_hash = :h AND attribute_not_exists(#status) AND created_ms < :stale)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":expired", n(now_ms - KEEP_REQUESTS_MS))
            .expression_attribute_values(":stale", n(now_ms - STALE_CLAIM_MS))
            .expression_attribute_values(":h", s(request_hash))
            .send()
            .await;
        match put {
            Ok(_) => return Ok(Claim::New),
            Err(e) => {
                let e = e.into_service_error();
                if !e.is_conditional_check_failed_exception() {
                    return Err(unavailable(e));
                }
            }
        }
        let existing = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk)
            .key("sk", sk)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        let Some(item) = existing.item() else {
            // Deleted (released) between the two calls: the caller may simply retry.
            return Ok(Claim::InProgress);
        };
        if text(item, "request_hash").as_deref() != Some(request_hash) {
            return Ok(Claim::Mismatch);
        }
        Ok(match number(item, "status") {
            Some(status) => Claim::Replay {
                status: u16::try_from(status).unwrap_or(500),
                body: item
                    .get("response")
                    .and_then(|v| v.as_b().ok())
                    .map(|b| b.as_ref().to_vec())
                    .unwrap_or_default(),
            },
            None => Claim::InProgress,
        })
    }

    async fn complete(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let (pk, sk) = Self::key(scope, key);
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", pk)
            .key("sk", sk)
            .update_expression("SET #status = :s, #response = :b")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#response", "response")
            .expression_attribute_values(":s", n(i64::from(status)))
            .expression_attribute_values(":b", AttributeValue::B(Blob::new(body)))
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(())
    }

    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        let (pk, sk) = Self::key(scope, key);
        match self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", pk)
            .key("sk", sk)
            .condition_expression("attribute_not_exists(#status)")
            .expression_attribute_names("#status", "status")
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_conditional_check_failed_exception() {
                    Ok(()) // completed: its response is kept
                } else {
                    Err(unavailable(e))
                }
            }
        }
    }
}
