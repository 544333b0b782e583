//! AWS adapters of the ports, all on one DynamoDB table (the `Table` of `template.yaml`), the
//! stage queues and the scan bucket:
//!
//! - [`DynamoStore`] — the [`ApplicationStore`](newborn_service::ports::ApplicationStore), with
//!   the transactional outbox relayed to SQS ([`Relay`]);
//! - [`DynamoRequestLog`] — `Idempotency-Key` records and callback nonces, expired by TTL;
//! - [`DynamoUploads`] — upload slots and verified uploads;
//! - [`SqsQueues`] — sending hand-offs, and the operator's dead-letter redrive by hand (no
//!   managed redrive in the China regions);
//! - [`S3Documents`] — scans by SHA-256 and presigned uploads with type and length signed in;
//! - [`DynamoHandovers`] — the counterfoil handover register;
//! - [`EmfMetrics`] — metrics as CloudWatch Embedded Metric Format lines.
//!
//! Each passes the same contract suite as its SQLite twin, against moto's AWS API emulator.
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | application | `APP#<id>` | `APP` | `version` (optimistic lock), `body` (JSON), `clocks` (running clocks, JSON); `owner_pk` = `OWNER#<owner>` + `submitted_at` (GSI `by-owner`); `clock_pk` = `CLOCK` + `clock_due` = earliest warning or deadline of its running clocks (sparse GSI `open-clocks`) |
//! | timeline entry | `APP#<id>` | `TL#<version:010>#<n:03>` | in write order |
//! | notification | `APP#<id>` | `NT#<version:010>#<n:03>` | |
//! | outbox message | `APP#<id>` | `OUT#<version:010>#<n:03>` (hand-off), `DLV#…` (notification) | `queue`; `outbox_pk` = `OUTBOX` + `outbox_at` (sparse GSI `pending-outbox`); deleted once sent to SQS |
//! | alert marker | `APP#<id>` | `ALERT#<stage>#<level>` | created once (condition) |
//! | alert listing | `ALERTS` | `<at>#<id>#<stage>#<level>` | written with the marker |
//! | idempotency record | `IDEM#<scope>` | `<key>` | TTL 24 h |
//! | signature nonce | `NONCE#<signature>` | `NONCE` | TTL 10 min |
//! | upload slot | `UPLOAD#<id>` | `UPLOAD` | TTL a day after expiry |
//! | verified upload | `UPLOADED#<owner>` | `<kind>#<sha256>` | |
//! | counterfoil | `COUNTERFOIL#<county>` | `<certificate number>` | `batch` once handed over |
//! | handover batch | `HANDOVER#<number>` | `HANDOVER` | |
//!
//! Every write of a use case is one `TransactWriteItems`: the application item conditioned on its
//! version (or on not existing), and everything written with it.

mod dynamo;
mod emf;
mod handover;
mod relay;
mod requests;
mod s3;
mod sqs;
mod store;
mod uploads;

pub use emf::{EmfMetrics, NAMESPACE, document as emf_document};
pub use handover::{DynamoHandovers, MAX_BATCH};
pub use relay::{Relayed, StreamRelay, handed_of_event};
pub use requests::DynamoRequestLog;
pub use s3::{PresignedUpload, S3Documents};
pub use sqs::{SqsQueues, StageQueue};
pub use store::{DynamoStore, LOG_BUDGET, create_table};
pub use uploads::DynamoUploads;
