//! [`Metrics`] as CloudWatch Embedded Metric Format: one JSON line per value on standard output,
//! which Lambda sends to CloudWatch Logs, where the metrics are extracted — no `PutMetricData`
//! call, no extra latency or cost per invocation.
//!
//! Each value is published twice: with its dimensions (stage, agency, region, …) for the
//! dashboard, and without any, for alarms on the whole service.

use chrono::Utc;
use newborn_service::metric::{Dim, Metric};
use newborn_service::ports::{Metrics, Unit};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::sync::Mutex;

/// The CloudWatch namespace of the service's metrics.
pub const NAMESPACE: &str = "NewbornOneStop";

/// EMF lines to a writer (standard output on Lambda).
pub struct EmfMetrics {
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for EmfMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmfMetrics")
    }
}

impl EmfMetrics {
    /// Lines to standard output.
    pub fn stdout() -> Self {
        Self::to(Box::new(std::io::stdout()))
    }

    /// Lines to any writer.
    pub fn to(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }
}

/// One EMF document for one value.
pub fn document(name: &str, dimensions: &[(&str, &str)], value: f64, unit: Unit) -> Value {
    let mut root = Map::new();
    for (k, v) in dimensions {
        root.insert((*k).to_owned(), Value::from(*v));
    }
    let keys: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": Utc::now().timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [keys, []],
                "Metrics": [{"Name": name, "Unit": unit.as_str()}],
            }],
        }),
    );
    root.insert(name.to_owned(), Value::from(value));
    Value::Object(root)
}

impl Metrics for EmfMetrics {
    fn record(&self, metric: Metric, dimensions: &[(Dim, &str)], value: f64, unit: Unit) {
        let dimensions: Vec<(&str, &str)> =
            dimensions.iter().map(|(k, v)| (k.name(), *v)).collect();
        let line = document(metric.name(), &dimensions, value, unit).to_string();
        if let Ok(mut out) = self.out.lock() {
            // A metric that cannot be written must not fail the use case that produced it.
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}
