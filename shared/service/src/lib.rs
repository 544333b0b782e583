//! The use cases of the newborn one-stop service, written once against ports.
//!
//! The use cases are [`desk`]s, one per actor, each holding only the [`ports`] it uses over the
//! shared unit of work of [`core`]. The AWS Lambdas and the local runtime build the same desks;
//! they differ only in the adapters they plug in, and each function builds only the desks it
//! serves.

pub mod attestation;
pub mod core;
pub mod desk;
pub mod drafts;
pub mod error;
mod evaluation;
pub mod forecast;
pub mod licences;
pub mod metric;
mod notices;
pub mod payload;
pub mod ports;
pub mod report;
pub mod scans;
pub mod signing;
pub mod view;
pub mod watchdog;

pub use core::{Core, Rules, UnknownPolicy};
pub use desk::*;
pub use drafts::Drafts;
pub use error::ServiceError;
pub use licences::Licences;
pub use metric::{Dim, Metric};
pub use newborn_domain::supplement::SupplementAnswer;
