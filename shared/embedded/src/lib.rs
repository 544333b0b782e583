//! Embedded adapters of the local runtime: one SQLite database (WAL, synchronous commits) holds
//! applications, timelines, notifications, the open-clock index, alerts and the stage queues
//! themselves; uploaded scans live in a folder, addressed by SHA-256. One data directory holds
//! everything, and a restart at any instant loses nothing: a hand-off is written in the same
//! transaction as the state change that caused it.

mod db;
mod documents;
mod drafts;
pub mod files;
mod handover;
mod queue;
mod requests;
mod store;
mod uploads;

pub use db::Database;
pub use documents::FileDocuments;
pub use drafts::SqliteDrafts;
pub use handover::SqliteHandovers;
pub use queue::{QueueStats, Received, SqliteQueue, dead_letter_queue};
pub use requests::SqliteRequestLog;
pub use store::SqliteStore;
pub use uploads::SqliteUploads;
