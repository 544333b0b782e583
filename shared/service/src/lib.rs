//! The use cases of the newborn one-stop service, written once against ports.
//!
//! The AWS Lambdas and the local runtime call the same [`Service`]; they differ only in the
//! adapters they plug into the ports of [`ports`].

pub mod error;
pub mod payload;
pub mod ports;
pub mod scans;
pub mod service;
pub mod signing;
pub mod view;

pub use error::ServiceError;
pub use service::{Service, SweepReport};
