//! The `newborn` command: operator tool and the local runtime of the whole service.

pub mod commands;
pub mod demo;
pub mod runtime;
