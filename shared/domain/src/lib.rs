//! The pure domain core of the newborn one-stop service (新生儿出生一件事).
//!
//! No I/O, no async, no AWS or SQLite: data and functions only. Every rule cites the official
//! document and section it comes from; the documents are the spec of record.

pub mod application;
pub mod calendar;
pub mod draft;
pub mod fields;
pub mod flow;
pub mod forecast;
pub mod handover;
pub mod ids;
pub mod insurance;
pub mod kinds;
pub mod licence;
pub mod offer;
pub mod policy;
pub mod prereview;
pub mod region;
pub mod result_notice;
pub mod sla;
pub mod stage;
pub mod supplement;
pub mod text;
