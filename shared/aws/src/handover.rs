//! [`HandoverRegister`] on the DynamoDB table.
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | counterfoil | `COUNTERFOIL#<county>` | `<certificate number>` | `body`, `issued_at`; `batch` once handed over |
//! | handover batch | `HANDOVER#<number>` | `HANDOVER` | `body` |
//!
//! A batch and the marking of its counterfoils are one transaction, so a batch holds at most
//! [`MAX_BATCH`] counterfoils (DynamoDB's 100 items per transaction, one for the batch).

use crate::dynamo::{from_json, iso, query_all, s, text, to_json, transact, unavailable};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use newborn_domain::handover::{Counterfoil, HandoverBatch};
use newborn_domain::region::RegionCode;
use newborn_service::ports::{HandoverRegister, StoreError};

/// The most counterfoils one batch can hold here.
pub const MAX_BATCH: usize = 99;

/// The register in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoHandovers {
    client: Client,
    table: String,
}

impl DynamoHandovers {
    /// The register in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn county_pk(county: &str) -> String {
    format!("COUNTERFOIL#{county}")
}

#[async_trait]
impl HandoverRegister for DynamoHandovers {
    async fn keep(&self, c: &Counterfoil) -> Result<(), StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(county_pk(c.county.as_str())))
            .item("sk", s(&c.certificate_number))
            .item("issued_at", s(iso(c.issued_at)))
            .item("body", s(to_json(c)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_conditional_check_failed_exception() {
                    Ok(()) // kept before
                } else {
                    Err(unavailable(e))
                }
            }
        }
    }

    async fn pending(&self, county: &RegionCode) -> Result<Vec<Counterfoil>, StoreError> {
        let items = query_all(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :p")
                .filter_expression("attribute_not_exists(#batch)")
                .expression_attribute_names("#batch", "batch")
                .expression_attribute_values(":p", s(county_pk(county.as_str())))
                .consistent_read(true),
        )
        .await?;
        let mut out: Vec<Counterfoil> = items
            .iter()
            .map(|item| from_json(&text(item, "body").unwrap_or_default()))
            .collect::<Result<_, _>>()?;
        out.sort_by(|a, b| {
            (a.issued_at, &a.certificate_number).cmp(&(b.issued_at, &b.certificate_number))
        });
        Ok(out)
    }

    async fn hand_over(&self, batch: &HandoverBatch) -> Result<bool, StoreError> {
        if batch.items.len() > MAX_BATCH {
            return Err(StoreError::Unavailable(format!(
                "a handover batch holds at most {MAX_BATCH} counterfoils here"
            )));
        }
        let mut items = vec![
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .item("pk", s(format!("HANDOVER#{}", batch.number)))
                        .item("sk", s("HANDOVER"))
                        .item("body", s(to_json(batch)?))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .map_err(unavailable)?,
                )
                .build(),
        ];
        for item in &batch.items {
            items.push(
                TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name(&self.table)
                            .key("pk", s(county_pk(batch.county.as_str())))
                            .key("sk", s(&item.certificate_number))
                            .update_expression("SET #batch = :n")
                            .condition_expression(
                                "attribute_exists(pk) AND attribute_not_exists(#batch)",
                            )
                            .expression_attribute_names("#batch", "batch")
                            .expression_attribute_values(":n", s(&batch.number))
                            .build()
                            .map_err(unavailable)?,
                    )
                    .build(),
            );
        }
        transact(&self.client, items).await
    }

    async fn batch(&self, number: &str) -> Result<Option<HandoverBatch>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("HANDOVER#{number}")))
            .key("sk", s("HANDOVER"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        out.item()
            .map(|i| from_json(&text(i, "body").unwrap_or_default()))
            .transpose()
    }
}
