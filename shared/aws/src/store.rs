//! [`ApplicationStore`] on DynamoDB.

use crate::dynamo::{
    Item, from_json, iso, number, query_all, s, text, to_json, transact, unavailable,
};
use crate::sqs::SqsQueues;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use newborn_domain::flow::{Application, ApplicationId};
use newborn_domain::stage::Agency;
use newborn_service::ports::{
    Alert, ApplicationStore, EVALUATION_QUEUE, Fact, NOTIFICATIONS_QUEUE, Notification, OpenClock,
    OpenFollowUp, StoreError, Stored, TimelineEntry, Write,
};
use std::collections::HashMap;

/// The partition of the sparse `open-clocks` index.
const CLOCK_PK: &str = "CLOCK";
/// The partition of the sparse `open-follow-ups` index.
const FOLLOW_UP_PK: &str = "FOLLOWUP";
/// The partition of the sparse `pending-outbox` index.
const OUTBOX_PK: &str = "OUTBOX";

/// The application store on one DynamoDB table; with a [`Relay`], the hand-offs written with a
/// change are sent to the stage queues once it commits (the transactional outbox).
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    relay: Option<Relay>,
}

/// Where queued messages go: the stage queues and the notification queue.
#[derive(Clone, Debug)]
pub struct Relay {
    /// The SQS client.
    pub queues: SqsQueues,
    /// The queue URL by queue name: each stage's name (`police`, …) and `notifications`.
    pub urls: HashMap<String, String>,
}

/// One queued message item of a write.
struct Queued {
    sk: String,
    queue: String,
    body: String,
}

/// The queued message items of a write: its hand-offs (`OUT#…`, to the stage's queue) and its
/// notification deliveries (`DLV#…`, to the notification queue).
fn queued(w: &Write<'_>, version: u64) -> Result<Vec<Queued>, StoreError> {
    let mut out = vec![];
    for (n, m) in w.outbox.iter().enumerate() {
        out.push(Queued {
            sk: format!("OUT#{version:010}#{n:03}"),
            queue: m.stage.queue().as_str().to_owned(),
            body: to_json(m)?,
        });
    }
    for (n, t) in w.evaluations.iter().enumerate() {
        out.push(Queued {
            sk: format!("EVL#{version:010}#{n:03}"),
            queue: EVALUATION_QUEUE.to_owned(),
            body: to_json(t)?,
        });
    }
    for (n, d) in w.deliveries.iter().enumerate() {
        out.push(Queued {
            sk: format!("DLV#{version:010}#{n:03}"),
            queue: NOTIFICATIONS_QUEUE.to_owned(),
            body: to_json(d)?,
        });
    }
    Ok(out)
}

fn app_pk(id: &str) -> String {
    format!("APP#{id}")
}

/// The partition of an agency's facts of one month (UTC): a report queries the months of its
/// period, never the whole table.
fn fact_pk(agency: Agency, at: DateTime<Utc>) -> String {
    format!("FACT#{}#{}", agency.as_str(), at.format("%Y-%m"))
}

/// The item of one fact; `key` makes its sort key unique (`<application>#<version>#<n>`).
fn fact_item(f: &Fact, key: &str) -> Result<Item, StoreError> {
    Ok(HashMap::from([
        ("pk".into(), s(fact_pk(f.agency, f.at))),
        ("sk".into(), s(format!("{}#{key}", iso(f.at)))),
        ("body".into(), s(to_json(f)?)),
    ]))
}

/// The first instant of each UTC month that `[from, to)` touches.
fn months(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    use chrono::{Datelike, TimeZone};
    let mut out = vec![];
    let mut m = Utc
        .with_ymd_and_hms(from.year(), from.month(), 1, 0, 0, 0)
        .single();
    while let Some(start) = m.filter(|start| *start < to) {
        out.push(start);
        m = start.checked_add_months(chrono::Months::new(1));
    }
    out
}

impl DynamoStore {
    /// A store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            relay: None,
        }
    }

    /// The same store, relaying hand-offs to the stage queues.
    pub fn with_relay(self, relay: Relay) -> Self {
        Self {
            relay: Some(relay),
            ..self
        }
    }

    fn put(
        &self,
        item: Item,
        condition: Option<(&str, Option<Item>)>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut b = Put::builder().table_name(&self.table).set_item(Some(item));
        if let Some((expr, values)) = condition {
            b = b
                .condition_expression(expr)
                .set_expression_attribute_values(values);
        }
        Ok(TransactWriteItem::builder()
            .put(b.build().map_err(unavailable)?)
            .build())
    }

    /// The transaction of one write: the application item (conditioned) and everything with it.
    fn transaction(
        &self,
        w: &Write<'_>,
        expected: Option<u64>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let app = w.application;
        let id = app.id.as_str();
        let pk = app_pk(id);
        let version = expected.map_or(1, |v| v + 1);
        let mut item: Item = HashMap::from([
            ("pk".into(), s(&pk)),
            ("sk".into(), s("APP")),
            ("version".into(), AttributeValue::N(version.to_string())),
            ("owner".into(), s(w.owner)),
            ("owner_pk".into(), s(format!("OWNER#{}", w.owner))),
            ("submitted_at".into(), s(iso(app.submitted_at))),
            ("outcome".into(), s(to_json(&app.outcome())?)),
            ("body".into(), s(to_json(app)?)),
        ]);
        // The running clocks live on the application item; its earliest warning or deadline is
        // the sort key of the sparse `open-clocks` index, so an item without one is not indexed.
        item.insert("clocks".into(), s(to_json(&w.clocks)?));
        if let Some(due) = w
            .clocks
            .iter()
            .flat_map(|c| [c.warning_at, c.deadline])
            .flatten()
            .min()
        {
            item.insert("clock_pk".into(), s(CLOCK_PK));
            item.insert("clock_due".into(), s(iso(due)));
        }
        // Open follow-ups likewise, in the sparse `open-follow-ups` index by earliest due.
        item.insert("follow_ups".into(), s(to_json(&w.follow_ups)?));
        if let Some(due) = w.follow_ups.iter().map(|f| f.follow_up.due_at).min() {
            item.insert("follow_pk".into(), s(FOLLOW_UP_PK));
            item.insert("follow_due".into(), s(iso(due)));
        }
        item.retain(|_, v| v.as_s().map(|t| !t.is_empty()).unwrap_or(true));
        let mut items = vec![match expected {
            None => self.put(item, Some(("attribute_not_exists(pk)", None)))?,
            Some(v) => self.put(
                item,
                Some((
                    "version = :v",
                    Some(HashMap::from([(
                        ":v".into(),
                        AttributeValue::N(v.to_string()),
                    )])),
                )),
            )?,
        }];
        // Timeline entries and notifications: one item each, in write order.
        let bodies = [
            (
                "TL",
                w.timeline
                    .iter()
                    .map(to_json)
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            (
                "NT",
                w.notifications
                    .iter()
                    .map(to_json)
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        ];
        for (prefix, list) in bodies {
            for (n, body) in list.into_iter().enumerate() {
                items.push(self.put(
                    HashMap::from([
                        ("pk".into(), s(&pk)),
                        ("sk".into(), s(format!("{prefix}#{version:010}#{n:03}"))),
                        ("body".into(), s(body)),
                    ]),
                    None,
                )?);
            }
        }
        // The facts the change adds to the efficiency reports.
        for (n, f) in w.facts.iter().enumerate() {
            items.push(self.put(fact_item(f, &format!("{id}#{version:010}#{n:03}"))?, None)?);
        }
        // The idempotency record this change answers, completed in the same transaction.
        if let Some(response) = &w.response {
            items.push(self.put(
                crate::requests::DynamoRequestLog::completed_item(response, Utc::now()),
                None,
            )?);
        }
        // Queued messages (hand-offs and notification deliveries), pending until relayed: the
        // sparse `pending-outbox` index finds what a crash between the commit and the send left.
        for q in queued(w, version)? {
            items.push(self.put(
                HashMap::from([
                    ("pk".into(), s(&pk)),
                    ("sk".into(), s(q.sk)),
                    ("queue".into(), s(q.queue)),
                    ("body".into(), s(q.body)),
                    ("outbox_pk".into(), s(OUTBOX_PK)),
                    ("outbox_at".into(), s(iso(Utc::now()))),
                ]),
                None,
            )?);
        }
        Ok(items)
    }

    async fn write(&self, w: &Write<'_>, expected: Option<u64>) -> Result<(), StoreError> {
        let items = self.transaction(w, expected)?;
        if !transact(&self.client, items).await? {
            // The application item's condition failed: a concurrent write or a duplicate id.
            return Err(StoreError::Conflict);
        }
        // Committed. Hand the queued messages to SQS now; what fails here stays pending in the
        // table and the next relay sweep sends it (at least once; the handlers are idempotent).
        if let Some(relay) = &self.relay {
            let version = expected.map_or(1, |v| v + 1);
            let pk = app_pk(w.application.id.as_str());
            let pending = queued(w, version)?
                .into_iter()
                .map(|q| (pk.clone(), q))
                .collect();
            if let Err(e) = self.relay_items(relay, pending).await {
                tracing::warn!(error = %e, "queued messages left pending for the relay sweep");
            }
        }
        Ok(())
    }

    /// Sends queued messages to their queues, then deletes their items. A crash between the two
    /// re-sends a message later, which its handler absorbs.
    async fn relay_items(
        &self,
        relay: &Relay,
        pending: Vec<(String, Queued)>,
    ) -> Result<usize, StoreError> {
        let mut sent = 0;
        for (pk, q) in pending {
            let url = relay.urls.get(&q.queue).ok_or_else(|| {
                StoreError::Unavailable(format!("no queue URL configured for {}", q.queue))
            })?;
            relay.queues.send_body(url, &q.body).await?;
            self.client
                .delete_item()
                .table_name(&self.table)
                .key("pk", s(pk))
                .key("sk", s(q.sk))
                .send()
                .await
                .map_err(|e| unavailable(e.into_service_error()))?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Relays every hand-off still pending that was written before `older_than` (the sweep after
    /// a crash between a commit and its send); returns how many were sent. A query of the sparse
    /// `pending-outbox` index, never a scan.
    pub async fn relay_pending(&self, older_than: DateTime<Utc>) -> Result<usize, StoreError> {
        let Some(relay) = &self.relay else {
            return Ok(0);
        };
        let items = query_all(
            self.client
                .query()
                .table_name(&self.table)
                .index_name("pending-outbox")
                .key_condition_expression("outbox_pk = :o AND outbox_at < :t")
                .expression_attribute_values(":o", s(OUTBOX_PK))
                .expression_attribute_values(":t", s(iso(older_than))),
        )
        .await?;
        // A pending hand-off that does not read back is reported, never skipped (it would be a
        // stage message lost).
        let field = |item: &HashMap<String, AttributeValue>, name: &str| {
            text(item, name)
                .ok_or_else(|| StoreError::Unavailable(format!("a pending hand-off has no {name}")))
        };
        let pending = items
            .iter()
            .map(|item| {
                Ok((
                    field(item, "pk")?,
                    Queued {
                        sk: field(item, "sk")?,
                        queue: field(item, "queue")?,
                        body: field(item, "body")?,
                    },
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let sent = self.relay_items(relay, pending).await?;
        if sent > 0 {
            tracing::warn!(sent, "relayed hand-offs a failure had left pending");
        }
        Ok(sent)
    }

    /// Every item of a partition (whose sort key starts with `prefix`, if given), in order.
    async fn query_prefix(&self, pk: &str, prefix: Option<&str>) -> Result<Vec<Item>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(pk))
            .consistent_read(true);
        query_all(match prefix {
            Some(p) => q
                .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
                .expression_attribute_values(":p", s(p)),
            None => q.key_condition_expression("pk = :pk"),
        })
        .await
    }

    fn bodies<T: serde::de::DeserializeOwned>(items: &[Item]) -> Result<Vec<T>, StoreError> {
        items
            .iter()
            .map(|i| from_json(&text(i, "body").unwrap_or_default()))
            .collect()
    }
}

fn decode(item: &Item) -> Result<Stored, StoreError> {
    let application: Application = from_json(&text(item, "body").unwrap_or_default())?;
    let version = number(item, "version").unwrap_or(0) as u64;
    Ok(Stored {
        application,
        owner: text(item, "owner").unwrap_or_default(),
        version,
    })
}

#[async_trait]
impl ApplicationStore for DynamoStore {
    async fn insert(&self, write: &Write<'_>) -> Result<(), StoreError> {
        self.write(write, None).await
    }

    async fn update(&self, write: &Write<'_>, expected_version: u64) -> Result<(), StoreError> {
        self.write(write, Some(expected_version)).await
    }

    async fn get(&self, id: &ApplicationId) -> Result<Option<Stored>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(app_pk(id.as_str())))
            .key("sk", s("APP"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        out.item().map(decode).transpose()
    }

    async fn list_by_owner(&self, owner: &str) -> Result<Vec<Stored>, StoreError> {
        let keys = query_all(
            self.client
                .query()
                .table_name(&self.table)
                .index_name("by-owner")
                .key_condition_expression("owner_pk = :o")
                .expression_attribute_values(":o", s(format!("OWNER#{owner}")))
                .scan_index_forward(false),
        )
        .await?;
        let mut out = vec![];
        for key in &keys {
            // An index entry that does not name an application is reported, not skipped: the
            // family would not see one of her applications.
            let id = text(key, "pk")
                .and_then(|pk| pk.strip_prefix("APP#").map(str::to_owned))
                .ok_or_else(|| {
                    StoreError::Unavailable("by-owner entry without an application key".into())
                })?;
            let id = id
                .parse::<ApplicationId>()
                .map_err(|e| StoreError::Unavailable(format!("by-owner entry {id}: {e}")))?;
            if let Some(stored) = self.get(&id).await? {
                out.push(stored);
            }
        }
        Ok(out)
    }

    async fn timeline(&self, id: &ApplicationId) -> Result<Vec<TimelineEntry>, StoreError> {
        Self::bodies(&self.query_prefix(&app_pk(id.as_str()), Some("TL#")).await?)
    }

    async fn notifications(&self, id: &ApplicationId) -> Result<Vec<Notification>, StoreError> {
        Self::bodies(&self.query_prefix(&app_pk(id.as_str()), Some("NT#")).await?)
    }

    async fn due_clocks(&self, until: DateTime<Utc>) -> Result<Vec<OpenClock>, StoreError> {
        let items = query_all(
            self.client
                .query()
                .table_name(&self.table)
                .index_name("open-clocks")
                .key_condition_expression("clock_pk = :c AND clock_due <= :u")
                .expression_attribute_values(":c", s(CLOCK_PK))
                .expression_attribute_values(":u", s(iso(until))),
        )
        .await?;
        let mut out = vec![];
        for item in &items {
            let clocks: Vec<OpenClock> =
                from_json(&text(item, "clocks").unwrap_or_else(|| "[]".into()))?;
            out.extend(clocks.into_iter().filter(|c| {
                [c.warning_at, c.deadline]
                    .into_iter()
                    .flatten()
                    .min()
                    .is_some_and(|due| due <= until)
            }));
        }
        Ok(out)
    }

    async fn open_follow_ups(&self) -> Result<Vec<OpenFollowUp>, StoreError> {
        let items = query_all(
            self.client
                .query()
                .table_name(&self.table)
                .index_name("open-follow-ups")
                .key_condition_expression("follow_pk = :f")
                .expression_attribute_values(":f", s(FOLLOW_UP_PK)),
        )
        .await?;
        let mut out: Vec<OpenFollowUp> = vec![];
        for item in &items {
            out.extend(from_json::<Vec<OpenFollowUp>>(
                &text(item, "follow_ups").unwrap_or_else(|| "[]".into()),
            )?);
        }
        out.sort_by(|a, b| {
            (a.follow_up.due_at, &a.application_id).cmp(&(b.follow_up.due_at, &b.application_id))
        });
        Ok(out)
    }

    async fn record_alert(&self, alert: &Alert) -> Result<bool, StoreError> {
        let level = to_json(&alert.level)?;
        let body = to_json(alert)?;
        let marker = HashMap::from([
            ("pk".into(), s(app_pk(alert.application_id.as_str()))),
            ("sk".into(), s(format!("ALERT#{}#{level}", alert.watch))),
        ]);
        let listing = HashMap::from([
            ("pk".into(), s("ALERTS")),
            (
                "sk".into(),
                s(format!(
                    "{}#{}#{}#{level}",
                    iso(alert.at),
                    alert.application_id,
                    alert.watch
                )),
            ),
            ("body".into(), s(body)),
        ]);
        let mut items = vec![
            self.put(marker, Some(("attribute_not_exists(pk)", None)))?,
            self.put(listing, None)?,
        ];
        if let Some(fact) = alert.fact() {
            let key = format!("{}#alert#{}", alert.application_id, alert.watch);
            items.push(self.put(fact_item(&fact, &key)?, None)?);
        }
        transact(&self.client, items).await
    }

    async fn facts(
        &self,
        agency: Agency,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Fact>, StoreError> {
        let mut out = vec![];
        for month in months(from, to) {
            let items = query_all(
                self.client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("pk = :pk AND sk BETWEEN :a AND :b")
                    .expression_attribute_values(":pk", s(fact_pk(agency, month)))
                    .expression_attribute_values(":a", s(iso(from)))
                    // Every key of an instant before `to` sorts before `to` itself.
                    .expression_attribute_values(":b", s(iso(to)))
                    .consistent_read(true),
            )
            .await?;
            out.extend(
                Self::bodies::<Fact>(&items)?
                    .into_iter()
                    .filter(|f| f.at >= from && f.at < to),
            );
        }
        Ok(out)
    }

    async fn alerts(&self) -> Result<Vec<Alert>, StoreError> {
        let mut items = self.query_prefix("ALERTS", None).await?;
        items.reverse();
        Self::bodies(&items)
    }
}

/// Creates `table` as `template.yaml` declares it (keys, the `open-clocks`, `by-owner`,
/// `open-follow-ups` and `pending-outbox` indexes, on-demand billing), for emulator tests and local development.
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType,
    };
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(unavailable)
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .map_err(unavailable)
    };
    let index = |name: &str,
                 h: &str,
                 r: &str,
                 p: ProjectionType,
                 include: &[&str]|
     -> Result<GlobalSecondaryIndex, StoreError> {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(h, KeyType::Hash)?)
            .key_schema(key(r, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(p)
                    .set_non_key_attributes(
                        (!include.is_empty())
                            .then(|| include.iter().map(|a| (*a).to_owned()).collect()),
                    )
                    .build(),
            )
            .build()
            .map_err(unavailable)
    };
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(vec![
            attr("pk")?,
            attr("sk")?,
            attr("clock_pk")?,
            attr("clock_due")?,
            attr("owner_pk")?,
            attr("submitted_at")?,
            attr("outbox_pk")?,
            attr("outbox_at")?,
            attr("follow_pk")?,
            attr("follow_due")?,
        ]))
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .global_secondary_indexes(index(
            "open-clocks",
            "clock_pk",
            "clock_due",
            ProjectionType::Include,
            &["clocks"],
        )?)
        .global_secondary_indexes(index(
            "by-owner",
            "owner_pk",
            "submitted_at",
            ProjectionType::KeysOnly,
            &[],
        )?)
        .global_secondary_indexes(index(
            "open-follow-ups",
            "follow_pk",
            "follow_due",
            ProjectionType::Include,
            &["follow_ups"],
        )?)
        .global_secondary_indexes(index(
            "pending-outbox",
            "outbox_pk",
            "outbox_at",
            ProjectionType::Include,
            &["body", "queue"],
        )?)
        .send()
        .await
        .map_err(|e| unavailable(e.into_service_error()))?;
    Ok(())
}
