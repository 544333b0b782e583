//! [`UploadStore`] on the DynamoDB table.
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | upload slot | `UPLOAD#<id>` | `UPLOAD` | `body` (JSON), `sha256` once verified; TTL a day after the slot expires |
//! | verified upload | `UPLOADED#<owner>` | `<kind>#<sha256>` | what the owner may reference in a form |
//! | upload allowance | `QUOTA#<owner>` | `<day>` | `slots`, `bytes` opened that day (China date); TTL two days |

use crate::dynamo::{from_json, s, text, to_json, transact, unavailable};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use newborn_domain::application::{DocumentKind, Sha256Hex};
use newborn_service::ports::{StoreError, UploadQuota, UploadSlot, UploadStore};

/// Upload slots and verified uploads in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoUploads {
    client: Client,
    table: String,
}

fn slot_pk(id: &str) -> AttributeValue {
    s(format!("UPLOAD#{id}"))
}

impl DynamoUploads {
    /// Uploads in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl UploadStore for DynamoUploads {
    async fn reserve(
        &self,
        owner: &str,
        day: chrono::NaiveDate,
        size: u64,
        quota: UploadQuota,
    ) -> Result<bool, StoreError> {
        let Some(room) = quota.bytes_per_day.checked_sub(size) else {
            return Ok(false);
        };
        let n = |v: u64| AttributeValue::N(v.to_string());
        let expires = day
            .and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp() + 3 * 24 * 3600);
        // One conditional update: counted only while both the slots and the bytes fit.
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("QUOTA#{owner}")))
            .key("sk", s(day.to_string()))
            .update_expression("ADD #slots :one, #bytes :size SET expires_at = :ttl")
            .condition_expression(
                "attribute_not_exists(#slots) OR (#slots < :max_slots AND #bytes <= :room)",
            )
            .expression_attribute_names("#slots", "slots")
            .expression_attribute_names("#bytes", "bytes")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":size", n(size))
            .expression_attribute_values(":ttl", AttributeValue::N(expires.to_string()))
            .expression_attribute_values(":max_slots", n(u64::from(quota.slots_per_day)))
            .expression_attribute_values(":room", n(room))
            .send()
            .await;
        match update {
            Ok(_) => Ok(quota.slots_per_day > 0),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_conditional_check_failed_exception() {
                    Ok(false)
                } else {
                    Err(unavailable(e))
                }
            }
        }
    }

    async fn create(&self, slot: &UploadSlot) -> Result<(), StoreError> {
        let expires = slot.expires_at.timestamp() + 24 * 3600;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", slot_pk(&slot.id))
            .item("sk", s("UPLOAD"))
            .item("body", s(to_json(slot)?))
            .item("expires_at", AttributeValue::N(expires.to_string()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<UploadSlot>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", slot_pk(id))
            .key("sk", s("UPLOAD"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let mut slot: UploadSlot = from_json(&text(item, "body").unwrap_or_default())?;
        slot.sha256 = text(item, "sha256").and_then(|d| d.parse().ok());
        Ok(Some(slot))
    }

    async fn complete(&self, id: &str, sha256: &Sha256Hex) -> Result<bool, StoreError> {
        let Some(slot) = self.get(id).await? else {
            return Ok(false);
        };
        // The slot is marked and the owner's verified upload recorded in one transaction.
        let mark = Update::builder()
            .table_name(&self.table)
            .key("pk", slot_pk(id))
            .key("sk", s("UPLOAD"))
            .update_expression("SET sha256 = :d")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(sha256)")
            .expression_attribute_values(":d", s(sha256.as_str()))
            .build()
            .map_err(unavailable)?;
        let verified = Put::builder()
            .table_name(&self.table)
            .item("pk", s(format!("UPLOADED#{}", slot.owner)))
            .item(
                "sk",
                s(format!("{}#{}", slot.kind.as_str(), sha256.as_str())),
            )
            .item("upload_id", s(id))
            .build()
            .map_err(unavailable)?;
        transact(
            &self.client,
            vec![
                TransactWriteItem::builder().update(mark).build(),
                TransactWriteItem::builder().put(verified).build(),
            ],
        )
        .await
    }

    async fn verified(
        &self,
        owner: &str,
        kind: DocumentKind,
        sha256: &Sha256Hex,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("UPLOADED#{owner}")))
            .key("sk", s(format!("{}#{}", kind.as_str(), sha256.as_str())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(out.item().is_some())
    }
}
