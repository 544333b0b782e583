//! Counters of the local runtime, kept in memory and logged at debug level.

use newborn_service::ports::Metrics;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// In-memory counters keyed by name and dimensions.
#[derive(Debug, Default)]
pub struct Counters {
    values: Mutex<BTreeMap<String, f64>>,
}

impl Metrics for Counters {
    fn count(&self, name: &str, dimensions: &[(&str, &str)], value: f64) {
        let dims: Vec<String> = dimensions.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let key = if dims.is_empty() {
            name.to_owned()
        } else {
            format!("{name}{{{}}}", dims.join(","))
        };
        tracing::debug!(metric = %key, value, "metric");
        if let Ok(mut values) = self.values.lock() {
            *values.entry(key).or_default() += value;
        }
    }
}
