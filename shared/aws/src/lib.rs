//! AWS adapters of the ports, all on one DynamoDB table (the `Table` of `template.yaml`), the
//! stage queues and the scan bucket:
//!
//! - [`DynamoStore`] — the [`ApplicationStore`](newborn_service::ports::ApplicationStore): one
//!   conditional `PutItem` per change, whose new image carries what the change hands on;
//! - [`StreamRelay`] — the relay function's work: from the table's stream, each write's messages
//!   to their queues, its report facts and idempotency record to the table;
//! - [`DynamoRequestLog`] — `Idempotency-Key` records, expired by TTL;
//! - [`DynamoUploads`] — upload slots and verified uploads;
//! - [`SqsQueues`] — sending messages, and the operator's dead-letter redrive by hand (no
//!   managed redrive in the China regions);
//! - [`S3Documents`] — scans by SHA-256 and presigned uploads with type and length signed in;
//! - [`DynamoHandovers`] — the counterfoil handover register;
//! - [`DynamoDrafts`] — drafts from the hospital's birth record, deleted on expiry;
//! - [`EmfMetrics`] — metrics as CloudWatch Embedded Metric Format lines.
//!
//! Each passes the same contract suite as its SQLite twin, against moto's AWS API emulator.
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | application | `APP#<id>` | `APP` | `version` (optimistic lock); `doc` (compressed: application, recent log, accepted message ids, what the write hands on); `m` = `doc` when the write hands something on (the stream filter's mark); `owner_pk` = `OWNER#<owner>` + `submitted_at` (GSI `by-owner`); `clock_pk` = `CLOCK` + `clock_due` with `clocks` (sparse GSI `open-clocks`); `follow_pk` + `follow_due` with `follow_ups` (sparse GSI `open-follow-ups`) |
//! | archived log | `APP#<id>` | `LOG#<first version:010>` | immutable, compressed timeline entries and notifications |
//! | alert marker | `APP#<id>` | `ALERT#<stage>#<level>` | created once (condition) |
//! | alert listing | `ALERTS` | `<at>#<id>#<stage>#<level>` | written with the marker |
//! | fact | `FACT#<agency>#<yyyy-mm>` | `<at>#<id>#<version>#<n>` | written by the relay |
//! | idempotency record | `IDEM#<scope>` | `<key>` | TTL 24 h |
//! | upload slot | `SLOTS#<owner>` | `<China date>#<n:04>` | the day's slots are its allowance; `verified` = `<kind>#<sha256>` once verified; TTL two days after expiry, removed once verified |
//! | verified upload (earlier layout) | `UPLOADED#<owner>` | `<kind>#<sha256>` | read, no longer written |
//! | counterfoil | `COUNTERFOIL#<county>` | `<certificate number>` | `batch` once handed over |
//! | handover batch | `HANDOVER#<number>` | `HANDOVER` | |
//! | draft | `DRAFT#<id>` | `DRAFT` | `owner_pk` = `MOTHER#<identity number>` + `submitted_at` (GSI `by-owner`); `clock_pk` = `DRAFTS` + `clock_due` = expiry (GSI `open-clocks`); `m` on the first of a delivery (the mother's notices) |

mod drafts;
mod dynamo;
mod emf;
mod handover;
mod relay;
mod requests;
mod s3;
mod sqs;
mod store;
mod uploads;

pub use drafts::DynamoDrafts;
pub use emf::{EmfMetrics, NAMESPACE, document as emf_document};
pub use handover::{DynamoHandovers, MAX_BATCH};
pub use relay::{Relayed, StreamRelay};
pub use requests::DynamoRequestLog;
pub use s3::{PresignedUpload, S3Documents};
pub use sqs::{SqsQueues, StageQueue};
pub use store::{DynamoStore, LOG_BUDGET, create_table};
pub use uploads::DynamoUploads;
