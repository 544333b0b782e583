//! [`ApplicationStore`] on DynamoDB: one conditional `PutItem` per state transition.
//!
//! The application item holds, compressed (zlib with a preset dictionary) in its binary
//! attribute `doc`, the application, the timeline entries and notifications not yet archived, the
//! signed messages it accepted and what this very write hands on (stage messages, evaluation
//! tasks, notification deliveries, report facts and the completed `Idempotency-Key` record),
//! with `m` marking a write that hands something on. Nothing is deleted afterwards: the table's
//! stream carries each such new image to the relay ([`crate::StreamRelay`]), which sends and
//! records it, at least once, in order per application. When the log the item holds passes
//! [`LOG_BUDGET`] (compressed), the write first archives it as one immutable item
//! (`LOG#<first version>`), so an item stays within a few write units whatever the
//! application's history. The running clocks are beside it, uncompressed, for the
//! `open-clocks` index to project.

use crate::dynamo::{
    Item, from_json, iso, number, query_all, s, text, to_json, transact, unavailable,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use newborn_domain::flow::{Application, ApplicationId};
use newborn_domain::stage::Agency;
use newborn_service::ports::{
    Alert, ApplicationStore, EVALUATION_QUEUE, Fact, KEEP_ACCEPTED_MS, NOTIFICATIONS_QUEUE,
    Notification, OpenClock, OpenFollowUp, StoreError, Stored, TimelineEntry, Write,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The partition of the sparse `open-clocks` index.
const CLOCK_PK: &str = "CLOCK";
/// The partition of the sparse `open-follow-ups` index.
const FOLLOW_UP_PK: &str = "FOLLOWUP";
/// The compressed size of the log an application item holds past which a write archives it
/// first, so the item stays a few write units whatever the application's history (an archive
/// holds the entries of about ten transitions).
pub const LOG_BUDGET: usize = 1024;

/// The application store on one DynamoDB table.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

/// The timeline entries and notifications of an application not yet archived, each with the
/// version of the write that added it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Log {
    timeline: Vec<(u64, TimelineEntry)>,
    notifications: Vec<(u64, Notification)>,
}

impl Log {
    fn first_version(&self) -> Option<u64> {
        let t = self.timeline.first().map(|(v, _)| *v);
        let n = self.notifications.first().map(|(v, _)| *v);
        t.into_iter().chain(n).min()
    }

    fn last_version(&self) -> u64 {
        let t = self.timeline.last().map_or(0, |(v, _)| *v);
        let n = self.notifications.last().map_or(0, |(v, _)| *v);
        t.max(n)
    }
}

/// What the application item's `doc` holds.
#[derive(Debug, Serialize, Deserialize)]
struct Doc {
    application: Application,
    log: Log,
    /// The signed messages it accepted within [`KEEP_ACCEPTED_MS`]: id and when (epoch ms).
    #[serde(default)]
    accepted: Vec<(String, i64)>,
    /// What this very write hands on, compressed with the rest: its deliveries repeat the
    /// notifications of the log, and its messages the application's facts. The item's `m` then
    /// holds only [`HANDED_IN_DOC`], for the stream's filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    handed: Option<Handed>,
}

/// The `m` of an application item whose write hands something on, which its `doc` holds
/// (items written before held the compressed [`Handed`] itself in `m`, as drafts still do).
pub(crate) const HANDED_IN_DOC: &[u8] = b"doc";

/// What the relay reads of an application item's `doc`.
#[derive(Debug, Deserialize)]
pub(crate) struct Carried {
    #[serde(default)]
    pub handed: Option<Handed>,
}

/// A running clock as the item's `clocks` attribute holds it (the index projects it): what it
/// watches, its warning and its deadline in nanoseconds since the epoch; the application is the
/// item's own.
#[derive(Debug, Serialize, Deserialize)]
struct HeldClock(
    newborn_domain::kinds::Watch,
    #[serde(with = "chrono::serde::ts_nanoseconds_option")] Option<DateTime<Utc>>,
    #[serde(with = "chrono::serde::ts_nanoseconds_option")] Option<DateTime<Utc>>,
);

/// The `clocks` attribute: held clocks, or whole [`OpenClock`]s as items written before hold.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StoredClocks {
    Held(Vec<HeldClock>),
    Whole(Vec<OpenClock>),
}

impl Doc {
    fn recent(&self, now_ms: i64) -> impl Iterator<Item = &(String, i64)> {
        self.accepted
            .iter()
            .filter(move |(_, at)| *at >= now_ms - KEEP_ACCEPTED_MS)
    }
}

/// One message a write hands on: the queue's name and the body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Queued {
    pub queue: String,
    pub body: String,
}

/// The completed record of an `Idempotency-Key`, as the relay writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Completed {
    pub scope: String,
    pub key: String,
    pub request_hash: String,
    pub status: u16,
    pub body: String,
    pub at: DateTime<Utc>,
}

/// What one write hands on (the item's `m`), in write order.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Handed {
    /// `<application>#<version>`: makes the keys of the facts unique and stable.
    pub origin: String,
    pub messages: Vec<Queued>,
    pub facts: Vec<Fact>,
    pub response: Option<Completed>,
}

impl Handed {
    fn of(w: &Write<'_>, version: u64) -> Result<Self, StoreError> {
        let mut messages = vec![];
        for m in &w.outbox {
            messages.push(Queued {
                queue: m.stage.queue().as_str().to_owned(),
                body: to_json(m)?,
            });
        }
        for t in &w.evaluations {
            messages.push(Queued {
                queue: EVALUATION_QUEUE.to_owned(),
                body: to_json(t)?,
            });
        }
        for d in &w.deliveries {
            messages.push(Queued {
                queue: NOTIFICATIONS_QUEUE.to_owned(),
                body: to_json(d)?,
            });
        }
        let response = w.response.as_ref().map(|r| Completed {
            scope: r.claim.scope.clone(),
            key: r.claim.key.clone(),
            request_hash: r.claim.request_hash.clone(),
            status: r.status,
            body: String::from_utf8_lossy(&r.body).into_owned(),
            at: Utc::now(),
        });
        Ok(Self {
            origin: format!("{}#{version:010}", w.application.id),
            messages,
            facts: w.facts.clone(),
            response,
        })
    }

    fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.facts.is_empty() && self.response.is_none()
    }
}

/// The preset dictionary items are compressed with now (zlib, RFC 1950 FDICT): the texts of
/// the notices one synthetic application (case 1, every stage, a supplement) is sent under
/// the Fujian policy, digits blanked to `0`, then [`DICTIONARY_V1`]. A log and the deliveries of
/// a write are mostly those texts; with them an item's `doc` is about a quarter smaller (2.1 KB
/// to 1.6 KB on the benchmark's applications, which the texts were not taken from). Frozen like
/// every dictionary: an item names its dictionary by Adler-32, so a new one is added beside it,
/// never edited ([`DICTIONARIES`] are checked by a test).
const DICTIONARY: &[u8] = include_bytes!("dictionary-v2.txt");
/// The Adler-32 of [`DICTIONARY`], as the zlib header of every item written now names it.
pub(crate) const DICTIONARY_ID: u32 = 0x8b99_f446;
/// The first dictionary, which items written before v2 name: the shape of an application
/// document, a log, a write's hand-ons and their messages, with every value that could be
/// personal or vary blanked, plus the pledge every declaration carries, taken from the demo's
/// synthetic application (4.5 KB of JSON: 2.0 KB compressed plain, 1.1 KB with it).
const DICTIONARY_V1: &[u8] = include_bytes!("dictionary-v1.json");
/// Every dictionary an item may name, by Adler-32.
const DICTIONARIES: [(u32, &[u8]); 2] = [(0x19cc_66b0, DICTIONARY_V1), (DICTIONARY_ID, DICTIONARY)];

fn packing(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("compressing an item: {e}"))
}

/// `value` as JSON compressed with the preset [`DICTIONARY`].
pub(crate) fn pack<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    use flate2::{Compress, Compression, FlushCompress, Status};
    let json = serde_json::to_vec(value).map_err(packing)?;
    let mut z = Compress::new(Compression::best(), true);
    z.set_dictionary(DICTIONARY).map_err(packing)?;
    // Deflate's worst case is a few bytes per 16 KB block over the input.
    let mut out = Vec::with_capacity(json.len() + json.len() / 1000 + 64);
    match z
        .compress_vec(&json, &mut out, FlushCompress::Finish)
        .map_err(packing)?
    {
        Status::StreamEnd => Ok(out),
        other => Err(packing(format!("stopped short ({other:?})"))),
    }
}

/// A value from JSON compressed by [`pack`].
pub(crate) fn unpack<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    use flate2::{Decompress, FlushDecompress, Status};
    let broken = |e: &dyn std::fmt::Display| {
        StoreError::Unavailable(format!("stored item does not inflate: {e}"))
    };
    let mut z = Decompress::new(true);
    let mut json = Vec::with_capacity(bytes.len() * 4);
    loop {
        let read = usize::try_from(z.total_in()).unwrap_or(usize::MAX);
        let rest = bytes.get(read..).unwrap_or_default();
        match z.decompress_vec(rest, &mut json, FlushDecompress::Finish) {
            Ok(Status::StreamEnd) => break,
            Ok(_) if json.len() == json.capacity() => json.reserve(json.capacity()),
            Ok(_) => return Err(broken(&"truncated")),
            Err(e) => match e.needs_dictionary() {
                Some(id) => {
                    let (_, dictionary) = DICTIONARIES
                        .iter()
                        .find(|(d, _)| *d == id)
                        .ok_or_else(|| broken(&format!("unknown dictionary {id:#x}")))?;
                    z.set_dictionary(dictionary)
                        .map(drop)
                        .map_err(|e| broken(&e))?;
                }
                None => return Err(broken(&e)),
            },
        }
    }
    serde_json::from_slice(&json).map_err(|e| StoreError::Unavailable(format!("stored item: {e}")))
}

fn binary(item: &Item, name: &str) -> Option<Vec<u8>> {
    item.get(name)
        .and_then(|v| v.as_b().ok())
        .map(|b| b.as_ref().to_vec())
}

pub(crate) fn app_pk(id: &str) -> String {
    format!("APP#{id}")
}

/// The partition of an agency's facts of one month (UTC): a report queries the months of its
/// period, never the whole table.
fn fact_pk(agency: Agency, at: DateTime<Utc>) -> String {
    format!("FACT#{}#{}", agency.as_str(), at.format("%Y-%m"))
}

/// The item of one fact; `key` makes its sort key unique (`<application>#<version>#<n>`).
pub(crate) fn fact_item(f: &Fact, key: &str) -> Result<Item, StoreError> {
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

/// The entries of partition `partition` of the sparse `open-clocks` index (`clock_pk`) due at
/// or before `until` (`clock_due`): the SLA clocks' (`CLOCK`) or the drafts' expiries (`DRAFTS`).
pub(crate) async fn due_in(
    client: &Client,
    table: &str,
    partition: &str,
    until: DateTime<Utc>,
) -> Result<Vec<Item>, StoreError> {
    query_all(
        client
            .query()
            .table_name(table)
            .index_name("open-clocks")
            .key_condition_expression("clock_pk = :c AND clock_due <= :u")
            .expression_attribute_values(":c", s(partition))
            .expression_attribute_values(":u", s(iso(until))),
    )
    .await
}

impl DynamoStore {
    /// A store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn put(
        &self,
        item: Item,
        condition: Option<&str>,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .build()
            .map_err(unavailable)?;
        Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .put(put)
            .build())
    }

    /// The application item of a write, its log and accepted messages already merged.
    fn item(
        w: &Write<'_>,
        version: u64,
        log: Log,
        accepted: Vec<(String, i64)>,
    ) -> Result<Item, StoreError> {
        let app = w.application;
        let handed = Some(Handed::of(w, version)?).filter(|h| !h.is_empty());
        let hands_on = handed.is_some();
        let doc = Doc {
            application: app.clone(),
            log,
            accepted,
            handed,
        };
        let mut item: Item = HashMap::from([
            ("pk".into(), s(app_pk(app.id.as_str()))),
            ("sk".into(), s("APP")),
            ("version".into(), AttributeValue::N(version.to_string())),
            ("owner".into(), s(w.owner)),
            ("owner_pk".into(), s(format!("OWNER#{}", w.owner))),
            ("submitted_at".into(), s(iso(app.submitted_at))),
            ("doc".into(), AttributeValue::B(Blob::new(pack(&doc)?))),
        ]);
        if hands_on {
            item.insert("m".into(), AttributeValue::B(Blob::new(HANDED_IN_DOC)));
        }
        // The running clocks live on the application item; its earliest warning or deadline is
        // the sort key of the sparse `open-clocks` index, so an item without one is not indexed.
        if let Some(due) = w
            .clocks
            .iter()
            .flat_map(|c| [c.warning_at, c.deadline])
            .flatten()
            .min()
        {
            let held: Vec<HeldClock> = w
                .clocks
                .iter()
                .map(|c| HeldClock(c.watch, c.warning_at, c.deadline))
                .collect();
            item.insert("clocks".into(), s(to_json(&held)?));
            item.insert("clock_pk".into(), s(CLOCK_PK));
            item.insert("clock_due".into(), s(iso(due)));
        }
        // Open follow-ups likewise, in the sparse `open-follow-ups` index by earliest due.
        if let Some(due) = w.follow_ups.iter().map(|f| f.follow_up.due_at).min() {
            item.insert("follow_ups".into(), s(to_json(&w.follow_ups)?));
            item.insert("follow_pk".into(), s(FOLLOW_UP_PK));
            item.insert("follow_due".into(), s(iso(due)));
        }
        Ok(item)
    }

    /// The log and accepted messages the application item holds now.
    async fn current(&self, id: &str) -> Result<(Log, Vec<(String, i64)>), StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(app_pk(id)))
            .key("sk", s("APP"))
            .projection_expression("doc")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(match out.item().and_then(|i| binary(i, "doc")) {
            Some(bytes) => {
                let doc = unpack::<Doc>(&bytes)?;
                let accepted = doc.recent(Utc::now().timestamp_millis()).cloned().collect();
                (doc.log, accepted)
            }
            None => (Log::default(), vec![]),
        })
    }

    /// Archives `log` as one immutable item. Written again after a crash or a lost race, the
    /// same first version names it, and its entries are a superset of the earlier copy.
    async fn archive(&self, id: &str, log: &Log) -> Result<(), StoreError> {
        let Some(first) = log.first_version() else {
            return Ok(());
        };
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(app_pk(id)))
            .item("sk", s(format!("LOG#{first:010}")))
            .item("log", AttributeValue::B(Blob::new(pack(log)?)))
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(())
    }

    async fn write(&self, w: &Write<'_>, expected: Option<u64>) -> Result<(), StoreError> {
        let id = w.application.id.as_str();
        let version = expected.map_or(1, |v| v + 1);
        let (held, mut accepted) = match expected {
            None => (Log::default(), vec![]),
            Some(_) => self.current(id).await?,
        };
        // The signed message this write applies is spent with it, once.
        if let Some(message) = &w.accepted {
            if accepted.iter().any(|(a, _)| a == message) {
                return Err(StoreError::Conflict);
            }
            accepted.push((message.clone(), Utc::now().timestamp_millis()));
        }
        let with_this = |mut log: Log| {
            log.timeline
                .extend(w.timeline.iter().cloned().map(|t| (version, t)));
            log.notifications
                .extend(w.notifications.iter().cloned().map(|n| (version, n)));
            log
        };
        // A long history would make every later write dearer: past the budget, archive what
        // the item holds and write it with this write's entries only.
        let kept = if held.first_version().is_some() && pack(&held)?.len() > LOG_BUDGET {
            self.archive(id, &held).await?;
            Log::default()
        } else {
            held
        };
        let item = Self::item(w, version, with_this(kept), accepted)?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(v) => put
                .condition_expression("version = :v")
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
        };
        match put.send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_conditional_check_failed_exception() {
                    // A concurrent write, or a duplicate id.
                    Err(StoreError::Conflict)
                } else {
                    Err(unavailable(e))
                }
            }
        }
    }

    /// The application partition's items: the application item and its archived logs.
    async fn partition(&self, id: &ApplicationId) -> Result<(Option<Doc>, Vec<Log>), StoreError> {
        let items = query_all(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(app_pk(id.as_str())))
                .consistent_read(true),
        )
        .await?;
        let mut doc = None;
        let mut archived = vec![];
        for item in &items {
            match text(item, "sk").as_deref() {
                Some("APP") => {
                    doc = binary(item, "doc").map(|b| unpack::<Doc>(&b)).transpose()?;
                }
                Some(sk) if sk.starts_with("LOG#") => {
                    let bytes = binary(item, "log").ok_or_else(|| {
                        StoreError::Unavailable(format!("archived log {sk} of {id} is empty"))
                    })?;
                    archived.push(unpack::<Log>(&bytes)?);
                }
                _ => {}
            }
        }
        Ok((doc, archived))
    }

    /// The whole log of an application: its archives in order, then what the item holds that
    /// no archive has (an archive written before a write that then lost its race repeats it).
    async fn full_log(&self, id: &ApplicationId) -> Result<Log, StoreError> {
        let (doc, archived) = self.partition(id).await?;
        let mut out = Log::default();
        let mut through = 0;
        for log in archived.into_iter().chain(doc.map(|d| d.log)) {
            let last = log.last_version();
            out.timeline
                .extend(log.timeline.into_iter().filter(|(v, _)| *v > through));
            out.notifications
                .extend(log.notifications.into_iter().filter(|(v, _)| *v > through));
            through = through.max(last);
        }
        Ok(out)
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
    let doc = binary(item, "doc").ok_or_else(|| {
        StoreError::Unavailable("an application item without its document".into())
    })?;
    let doc = unpack::<Doc>(&doc)?;
    let accepted = doc
        .recent(Utc::now().timestamp_millis())
        .map(|(id, _)| id.clone())
        .collect();
    Ok(Stored {
        application: doc.application,
        owner: text(item, "owner").unwrap_or_default(),
        version: number(item, "version").unwrap_or(0) as u64,
        accepted,
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
        Ok(self
            .full_log(id)
            .await?
            .timeline
            .into_iter()
            .map(|(_, t)| t)
            .collect())
    }

    async fn notifications(&self, id: &ApplicationId) -> Result<Vec<Notification>, StoreError> {
        Ok(self
            .full_log(id)
            .await?
            .notifications
            .into_iter()
            .map(|(_, n)| n)
            .collect())
    }

    async fn due_clocks(&self, until: DateTime<Utc>) -> Result<Vec<OpenClock>, StoreError> {
        let items = due_in(&self.client, &self.table, CLOCK_PK, until).await?;
        let mut out = vec![];
        for item in &items {
            let clocks = match from_json(&text(item, "clocks").unwrap_or_else(|| "[]".into()))? {
                StoredClocks::Whole(clocks) => clocks,
                StoredClocks::Held(held) => {
                    let id = text(item, "pk")
                        .and_then(|pk| pk.strip_prefix("APP#")?.parse::<ApplicationId>().ok())
                        .ok_or_else(|| {
                            StoreError::Unavailable(
                                "an open-clocks entry without an application key".into(),
                            )
                        })?;
                    held.into_iter()
                        .map(|HeldClock(watch, warning_at, deadline)| OpenClock {
                            application_id: id.clone(),
                            watch,
                            warning_at,
                            deadline,
                        })
                        .collect()
                }
            };
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
            self.put(marker, Some("attribute_not_exists(pk)"))?,
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

/// Creates `table` as `template.yaml` declares it (keys, the `open-clocks`, `by-owner` and
/// `open-follow-ups` indexes, on-demand billing, a stream of new images for the relay), for
/// emulator tests and local development.
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
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
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .map_err(unavailable)?,
        )
        .send()
        .await
        .map_err(|e| unavailable(e.into_service_error()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dictionaries_are_the_ones_items_name() {
        let adler = |bytes: &[u8]| {
            let (mut a, mut b) = (1u32, 0u32);
            for &byte in bytes {
                a = (a + u32::from(byte)) % 65521;
                b = (b + a) % 65521;
            }
            (b << 16) | a
        };
        for (id, dictionary) in DICTIONARIES {
            assert_eq!(
                adler(dictionary),
                id,
                "a dictionary changed: items written with it would no longer read back"
            );
        }
        assert!(DICTIONARIES.iter().any(|(id, _)| *id == DICTIONARY_ID));
    }

    #[test]
    fn an_item_packed_with_the_first_dictionary_still_reads_back() {
        use flate2::{Compress, Compression, FlushCompress};
        let value = serde_json::json!({"application": {"id": "NB20261206ACD98F35FB"}});
        let json = serde_json::to_vec(&value).unwrap_or_default();
        let mut z = Compress::new(Compression::best(), true);
        assert!(z.set_dictionary(DICTIONARY_V1).is_ok());
        let mut v1 = Vec::with_capacity(json.len() + 64);
        assert!(
            z.compress_vec(&json, &mut v1, FlushCompress::Finish)
                .is_ok()
        );
        assert_eq!(unpack::<serde_json::Value>(&v1).ok(), Some(value));
    }

    #[test]
    fn a_value_round_trips_and_a_broken_one_is_refused() {
        let value = serde_json::json!({"form": {"mother": {"name": "陈晓梅"}}, "n": 1});
        let packed = pack(&value).unwrap_or_default();
        assert_eq!(unpack::<serde_json::Value>(&packed).ok(), Some(value));
        let big: Vec<u64> = (0..20_000).collect();
        assert_eq!(
            unpack::<Vec<u64>>(&pack(&big).unwrap_or_default()).ok(),
            Some(big)
        );
        assert!(unpack::<serde_json::Value>(&packed[..packed.len() / 2]).is_err());
    }

    #[test]
    fn held_clocks_read_back_and_whole_clocks_written_before_still_read() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap_or_default();
        let held = vec![HeldClock(
            newborn_domain::kinds::Watch::Matter,
            Some(at("2026-12-20T01:02:03.123456789Z")),
            None,
        )];
        let written = to_json(&held).unwrap_or_default();
        assert_eq!(written, r#"[["matter",1797728523123456789,null]]"#);
        match from_json::<StoredClocks>(&written) {
            Ok(StoredClocks::Held(h)) => {
                assert_eq!(h[0].1, Some(at("2026-12-20T01:02:03.123456789Z")));
                assert_eq!(h[0].2, None);
            }
            other => panic!("held clocks read as {other:?}"),
        }
        let before = r#"[{"application_id":"NB20261206ACD98F35FB","watch":"police",
            "warning_at":null,"deadline":"2026-12-21T06:20:03.5Z"}]"#;
        match from_json::<StoredClocks>(before) {
            Ok(StoredClocks::Whole(w)) => {
                assert_eq!(w[0].application_id.as_str(), "NB20261206ACD98F35FB");
                assert_eq!(w[0].deadline, Some(at("2026-12-21T06:20:03.5Z")));
            }
            other => panic!("whole clocks read as {other:?}"),
        }
    }
}
