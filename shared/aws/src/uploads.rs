//! [`UploadStore`] on the DynamoDB table: one write to open a slot, one to complete it.
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | upload slot | `SLOTS#<owner>` | `<China date>#<n>` | `id`, `body` (JSON), `declared_bytes`; `sha256` and `verified` = `<kind>#<sha256>` once verified; TTL two days after the slot expires, removed once verified |
//! | verified upload, written before slots held it | `UPLOADED#<owner>` | `<kind>#<sha256>` | still honoured; no longer written |
//!
//! A slot's place is its owner's day and its number in that day, so the day's allowance is
//! counted by the slots themselves: opening reads the day's slots (a consistent query), and, if
//! the slots and bytes fit, puts slot number *n* (the count) on condition that no slot has it.
//! Of two concurrent opens one gets *n* and the other counts again, so the allowance is never
//! passed and nothing is counted for a slot that was not recorded. The slot's id names that
//! place (`<yyyymmdd>-<nnnn>-<random>`); the owner comes from the caller, never from the id.

use crate::dynamo::{Item, from_json, number, query_all, s, text, to_json, unavailable};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use newborn_domain::application::{DocumentKind, Sha256Hex};
use newborn_service::ports::{StoreError, UploadQuota, UploadSlot, UploadStore};

/// How many times an open counts again after losing a slot number to a concurrent open.
const OPEN_ATTEMPTS: usize = 8;

/// Upload slots and verified uploads in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoUploads {
    client: Client,
    table: String,
}

fn slots_pk(owner: &str) -> AttributeValue {
    s(format!("SLOTS#{owner}"))
}

/// The sort key a slot id names: `20251117-0003-<random>` → `2025-11-17#0003`.
fn slot_sk(id: &str) -> Option<String> {
    let mut parts = id.splitn(3, '-');
    let day = chrono::NaiveDate::parse_from_str(parts.next()?, "%Y%m%d").ok()?;
    let n = parts
        .next()
        .filter(|n| n.len() == 4 && n.bytes().all(|b| b.is_ascii_digit()))?;
    parts.next().filter(|r| !r.is_empty())?;
    Some(format!("{day}#{n}"))
}

fn verified_value(kind: DocumentKind, sha256: &Sha256Hex) -> AttributeValue {
    s(format!("{}#{}", kind.as_str(), sha256.as_str()))
}

impl DynamoUploads {
    /// Uploads in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The slots `owner` opened on `day`, their declared bytes only.
    async fn day(&self, owner: &str, day: chrono::NaiveDate) -> Result<Vec<Item>, StoreError> {
        query_all(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :day)")
                .expression_attribute_values(":pk", slots_pk(owner))
                .expression_attribute_values(":day", s(format!("{day}#")))
                .projection_expression("declared_bytes")
                .consistent_read(true),
        )
        .await
    }
}

#[async_trait]
impl UploadStore for DynamoUploads {
    async fn open(
        &self,
        mut slot: UploadSlot,
        day: chrono::NaiveDate,
        quota: UploadQuota,
    ) -> Result<Option<UploadSlot>, StoreError> {
        let random = slot.id.clone();
        let ttl = slot.expires_at.timestamp() + 2 * 24 * 3600;
        for _ in 0..OPEN_ATTEMPTS {
            let taken = self.day(&slot.owner, day).await?;
            let bytes: u64 = taken
                .iter()
                .map(|i| number(i, "declared_bytes").unwrap_or(0).max(0) as u64)
                .sum();
            if taken.len() >= quota.slots_per_day as usize
                || bytes.saturating_add(slot.size) > quota.bytes_per_day
            {
                return Ok(None);
            }
            let n = taken.len();
            slot.id = format!("{}-{n:04}-{random}", day.format("%Y%m%d"));
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", slots_pk(&slot.owner))
                .item("sk", s(format!("{day}#{n:04}")))
                .item("id", s(&slot.id))
                .item("body", s(to_json(&slot)?))
                .item("declared_bytes", AttributeValue::N(slot.size.to_string()))
                .item("expires_at", AttributeValue::N(ttl.to_string()))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            match put {
                Ok(_) => return Ok(Some(slot)),
                Err(e) => {
                    let e = e.into_service_error();
                    if !e.is_conditional_check_failed_exception() {
                        return Err(unavailable(e));
                    }
                    // A concurrent open took number n: count again.
                }
            }
        }
        Err(unavailable(format!(
            "the day's upload slots changed {OPEN_ATTEMPTS} times while one was opened"
        )))
    }

    async fn get(&self, owner: &str, id: &str) -> Result<Option<UploadSlot>, StoreError> {
        let Some(sk) = slot_sk(id) else {
            return Ok(None);
        };
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", slots_pk(owner))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        let Some(item) = out.item().filter(|i| text(i, "id").as_deref() == Some(id)) else {
            return Ok(None);
        };
        let mut slot: UploadSlot = from_json(&text(item, "body").unwrap_or_default())?;
        slot.sha256 = text(item, "sha256").and_then(|d| d.parse().ok());
        Ok(Some(slot))
    }

    async fn complete(
        &self,
        owner: &str,
        id: &str,
        sha256: &Sha256Hex,
    ) -> Result<bool, StoreError> {
        let Some(slot) = self.get(owner, id).await? else {
            return Ok(false);
        };
        let Some(sk) = slot_sk(id) else {
            return Ok(false);
        };
        // One conditional update claims the slot for this digest and makes it the owner's
        // verified upload, kept for good (its expiry removed).
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", slots_pk(owner))
            .key("sk", s(sk))
            .update_expression("SET sha256 = :d, #v = :v REMOVE expires_at")
            .condition_expression("#id = :id AND attribute_not_exists(sha256)")
            .expression_attribute_names("#id", "id")
            .expression_attribute_names("#v", "verified")
            .expression_attribute_values(":id", s(id))
            .expression_attribute_values(":d", s(sha256.as_str()))
            .expression_attribute_values(":v", verified_value(slot.kind, sha256))
            .send()
            .await;
        match update {
            Ok(_) => Ok(true),
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

    async fn verified(
        &self,
        owner: &str,
        kind: DocumentKind,
        sha256: &Sha256Hex,
    ) -> Result<bool, StoreError> {
        let found = query_all(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .filter_expression("#v = :v")
                .expression_attribute_names("#v", "verified")
                .expression_attribute_values(":pk", slots_pk(owner))
                .expression_attribute_values(":v", verified_value(kind, sha256))
                .projection_expression("sk")
                .consistent_read(true),
        )
        .await?;
        if !found.is_empty() {
            return Ok(true);
        }
        // Uploads verified before slots held them.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_id_names_its_day_and_number_and_nothing_else_does() {
        assert_eq!(
            slot_sk("20251117-0003-0f1e2d3c").as_deref(),
            Some("2025-11-17#0003")
        );
        for bad in [
            "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
            "20251117-0003-",
            "20251117-003-ab",
            "20251131-0003-ab",
            "20251117-00a3-ab",
            "../20251117-0003-ab",
        ] {
            assert_eq!(slot_sk(bad), None, "{bad}");
        }
    }
}
