//! AWS adapters of the ports. [`SqsQueues`] sends hand-offs and redrives dead letters by hand
//! (no managed redrive in the China regions). [`DynamoStore`] is the [`ApplicationStore`] on one DynamoDB table
//! (the `Table` of `template.yaml`); it passes the same contract suite as the SQLite store.
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | application | `APP#<id>` | `APP` | `version` (optimistic lock), `body` (JSON), `owner_pk` = `OWNER#<owner>` + `submitted_at` (GSI `by-owner`) |
//! | timeline entry | `APP#<id>` | `TL#<version:010>#<n:03>` | in write order |
//! | notification | `APP#<id>` | `NT#<version:010>#<n:03>` | |
//! | outbox message | `APP#<id>` | `OUT#<version:010>#<n:03>` | relayed to SQS (relay pending) |
//! | running clock | `APP#<id>` | `CLOCK#<stage>` | `clock_pk` = `CLOCK`, `clock_due` = earliest of warning and deadline (sparse GSI `open-clocks`) |
//! | alert marker | `APP#<id>` | `ALERT#<stage>#<level>` | created once (condition) |
//! | alert listing | `ALERTS` | `<at>#<id>#<stage>#<level>` | written with the marker |
//!
//! Every write of a use case is one `TransactWriteItems`: the application item conditioned on its
//! version (or on not existing), and everything written with it.

mod s3;
mod sqs;
mod store;

pub use s3::{PresignedUpload, S3Documents};
pub use sqs::{SqsQueues, StageQueue};
pub use store::{DynamoStore, create_table};
