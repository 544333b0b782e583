//! The EMF lines validate against the structure the CloudWatch Embedded Metric Format
//! specification requires (docs.aws.amazon.com, "Specification: Embedded metric format"): a root
//! object with `_aws` holding an integer `Timestamp` (ms) and `CloudWatchMetrics` directives, each
//! with a `Namespace`, `Dimensions` (sets of at most 30 keys, each naming a string member of the
//! root) and `Metrics` (at most 100 definitions, each naming a numeric member, with a valid unit).

use newborn_aws::EmfMetrics;
use newborn_service::metric::{Dim, Metric};
use newborn_service::ports::{Metrics, Unit};
use serde_json::Value;
use std::io::Write;
use std::sync::{Arc, Mutex};

const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Every violation of the specification's required structure, as sentences.
fn violations(doc: &Value) -> Vec<String> {
    let mut v = vec![];
    let Some(root) = doc.as_object() else {
        return vec!["the root is not an object".into()];
    };
    let Some(aws) = root.get("_aws").and_then(Value::as_object) else {
        return vec!["no _aws object".into()];
    };
    if !aws.get("Timestamp").is_some_and(|t| t.is_u64()) {
        v.push("_aws.Timestamp is not a non-negative integer".into());
    }
    let Some(directives) = aws.get("CloudWatchMetrics").and_then(Value::as_array) else {
        v.push("_aws.CloudWatchMetrics is not an array".into());
        return v;
    };
    if directives.is_empty() {
        v.push("no metric directive".into());
    }
    for d in directives {
        let ns = d["Namespace"].as_str().unwrap_or_default();
        if ns.is_empty() || ns.len() > 255 || ns.starts_with(':') {
            v.push(format!("bad Namespace {:?}", d["Namespace"]));
        }
        let Some(sets) = d["Dimensions"].as_array() else {
            v.push("Dimensions is not an array".into());
            continue;
        };
        for set in sets {
            let Some(keys) = set.as_array() else {
                v.push("a dimension set is not an array".into());
                continue;
            };
            if keys.len() > 30 {
                v.push("more than 30 dimensions in a set".into());
            }
            for k in keys {
                let key = k.as_str().unwrap_or_default();
                match root.get(key).and_then(Value::as_str) {
                    Some(val)
                        if !key.is_empty()
                            && key.len() <= 250
                            && !val.is_empty()
                            && val.len() <= 1024 => {}
                    _ => v.push(format!("dimension {k} is not a string member of the root")),
                }
            }
        }
        let Some(metrics) = d["Metrics"].as_array() else {
            v.push("Metrics is not an array".into());
            continue;
        };
        if metrics.is_empty() || metrics.len() > 100 {
            v.push("Metrics must have 1 to 100 definitions".into());
        }
        for m in metrics {
            let name = m["Name"].as_str().unwrap_or_default();
            if name.is_empty() || name.len() > 1024 {
                v.push(format!("bad metric Name {:?}", m["Name"]));
            }
            if let Some(unit) = m.get("Unit")
                && !unit.as_str().is_some_and(|u| UNITS.contains(&u))
            {
                v.push(format!("bad Unit {unit}"));
            }
            match root.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(a)) if a.len() <= 100 && a.iter().all(Value::is_number) => {}
                _ => v.push(format!("metric {name} has no numeric member in the root")),
            }
        }
    }
    v
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn every_line_is_a_valid_emf_document_with_and_without_dimensions() {
    let buffer = Buffer::default();
    let metrics = EmfMetrics::to(Box::new(buffer.clone()));
    metrics.count(
        Metric::SlaBreach,
        &[
            (Dim::Stage, "police"),
            (Dim::Agency, "police_station"),
            (Dim::Region, "fujian-2.0"),
        ],
        1.0,
    );
    metrics.record(
        Metric::StageWorkingTime,
        &[
            (Dim::Stage, "health_check"),
            (Dim::Agency, "hospital"),
            (Dim::Region, "xiamen"),
        ],
        5400.0,
        Unit::Seconds,
    );
    metrics.count(Metric::ApplicationsSubmitted, &[], 1.0);
    let text = String::from_utf8(buffer.0.lock().map(|b| b.clone()).unwrap_or_default())
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "one line per value: {text}");
    for line in &lines {
        let doc: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(violations(&doc), Vec::<String>::new(), "{line}");
    }
    let breach: Value = serde_json::from_str(lines[0]).unwrap_or_default();
    assert_eq!(breach["SlaBreach"], 1.0);
    assert_eq!(
        breach["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([["Stage", "Agency", "Region"], []]),
        "per stage, agency and region for the dashboard; without dimensions for the alarm"
    );
    let duration: Value = serde_json::from_str(lines[1]).unwrap_or_default();
    assert_eq!(
        duration["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
        "Seconds"
    );
}

#[test]
fn the_validator_rejects_what_the_specification_forbids() {
    let bad: Value = serde_json::json!({
        "_aws": {"Timestamp": "now", "CloudWatchMetrics": [{
            "Namespace": "", "Dimensions": [["Stage"]],
            "Metrics": [{"Name": "X", "Unit": "Days"}]}]},
        "Stage": 3
    });
    let found = violations(&bad);
    assert_eq!(found.len(), 5, "{found:?}");
}
