//! [`DraftStore`] on DynamoDB: one item per draft (`DRAFT#<id>`), found by the mother through
//! the `by-owner` index (`MOTHER#<identity number>`) and by expiry through the sparse
//! `open-clocks` index (partition `DRAFTS`, never mixed with the SLA clocks' `CLOCK`). The
//! drafts of a delivery are written in one transaction; the first carries, in `m`, the notices
//! that tell the mother, which the stream relay sends like any write's. Deleting the item
//! removes its index entries with it; the stream's copy of the insert is gone after 24 hours.

use crate::dynamo::{Item, from_json, iso, query_all, s, text, to_json, transact, unavailable};
use crate::store::{Handed, Queued, due_in, pack};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use newborn_domain::draft::Draft;
use newborn_domain::flow::ApplicationId;
use newborn_domain::ids::IdNumber;
use newborn_service::ports::{Delivery, DraftStore, NOTIFICATIONS_QUEUE, StoreError};
use std::collections::HashMap;

/// The partition of drafts in the sparse `open-clocks` index, by expiry.
const EXPIRY_PK: &str = "DRAFTS";

/// The drafts on one DynamoDB table.
#[derive(Clone, Debug)]
pub struct DynamoDrafts {
    client: Client,
    table: String,
}

fn draft_pk(id: &ApplicationId) -> String {
    format!("DRAFT#{id}")
}

fn mother_pk(id_number: &IdNumber) -> String {
    format!("MOTHER#{}", id_number.as_str())
}

impl DynamoDrafts {
    /// The drafts on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn item(d: &Draft) -> Result<Item, StoreError> {
        Ok(HashMap::from([
            ("pk".into(), s(draft_pk(&d.id))),
            ("sk".into(), s("DRAFT")),
            ("owner_pk".into(), s(mother_pk(&d.mother.id_number))),
            ("submitted_at".into(), s(iso(d.created_at))),
            ("clock_pk".into(), s(EXPIRY_PK)),
            ("clock_due".into(), s(iso(d.expires_at))),
            ("body".into(), s(to_json(d)?)),
        ]))
    }
}

#[async_trait]
impl DraftStore for DynamoDrafts {
    async fn create(&self, drafts: &[Draft], deliveries: &[Delivery]) -> Result<bool, StoreError> {
        let mut puts = vec![];
        for (i, d) in drafts.iter().enumerate() {
            let mut item = Self::item(d)?;
            if i == 0 && !deliveries.is_empty() {
                let handed = Handed {
                    origin: format!("{}#draft", d.id),
                    messages: deliveries
                        .iter()
                        .map(|n| {
                            Ok(Queued {
                                queue: NOTIFICATIONS_QUEUE.to_owned(),
                                body: to_json(n)?,
                            })
                        })
                        .collect::<Result<_, StoreError>>()?,
                    facts: vec![],
                    response: None,
                };
                item.insert("m".into(), AttributeValue::B(Blob::new(pack(&handed)?)));
            }
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(unavailable)?;
            puts.push(TransactWriteItem::builder().put(put).build());
        }
        if puts.is_empty() {
            return Ok(true);
        }
        transact(&self.client, puts).await
    }

    async fn get(&self, id: &ApplicationId) -> Result<Option<Draft>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(draft_pk(id)))
            .key("sk", s("DRAFT"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        out.item()
            .and_then(|i| text(i, "body"))
            .map(|b| from_json(&b))
            .transpose()
    }

    async fn of_mother(&self, id_number: &IdNumber) -> Result<Vec<Draft>, StoreError> {
        let keys = query_all(
            self.client
                .query()
                .table_name(&self.table)
                .index_name("by-owner")
                .key_condition_expression("owner_pk = :o")
                .expression_attribute_values(":o", s(mother_pk(id_number))),
        )
        .await?;
        let mut out = vec![];
        for key in &keys {
            let id = text(key, "pk")
                .and_then(|pk| pk.strip_prefix("DRAFT#").map(str::to_owned))
                .and_then(|id| id.parse::<ApplicationId>().ok())
                .ok_or_else(|| {
                    StoreError::Unavailable("a mother's entry without a draft".into())
                })?;
            // The index is eventually consistent: a draft deleted meanwhile is simply gone.
            if let Some(d) = self.get(&id).await? {
                out.push(d);
            }
        }
        Ok(out)
    }

    async fn expiring(&self, until: DateTime<Utc>) -> Result<Vec<ApplicationId>, StoreError> {
        let items = due_in(&self.client, &self.table, EXPIRY_PK, until).await?;
        items
            .iter()
            .map(|i| {
                text(i, "pk")
                    .and_then(|pk| pk.strip_prefix("DRAFT#").map(str::to_owned))
                    .and_then(|id| id.parse().ok())
                    .ok_or_else(|| {
                        StoreError::Unavailable("an expiry entry without a draft".into())
                    })
            })
            .collect()
    }

    async fn delete(&self, id: &ApplicationId) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(draft_pk(id)))
            .key("sk", s("DRAFT"))
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(())
    }
}
