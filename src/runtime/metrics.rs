//! Metrics of the local runtime, kept in memory and served as Prometheus text at `/metrics`
//! (the same names and dimensions the Lambdas write as CloudWatch EMF).

use newborn_service::ports::{Metrics, Unit};
use newborn_service::{Dim, Metric};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// One series: a metric name and its labels, sorted.
type Series = (String, Vec<(String, String)>);

/// Sum and count of the values of one series.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Totals {
    /// The sum of the values.
    pub sum: f64,
    /// How many values.
    pub count: u64,
}

/// In-memory metrics keyed by name and dimensions.
#[derive(Debug, Default)]
pub struct Counters {
    series: Mutex<BTreeMap<Series, (Unit, Totals)>>,
}

fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Counters {
    /// The totals of `name` summed over every series whose labels include `filter`.
    pub fn total(&self, metric: Metric, filter: &[(Dim, &str)]) -> Totals {
        let name = metric.name();
        let Ok(series) = self.series.lock() else {
            return Totals::default();
        };
        series
            .iter()
            .filter(|((n, labels), _)| {
                n == name
                    && filter
                        .iter()
                        .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k.name() && lv == v))
            })
            .fold(Totals::default(), |acc, (_, (_, t))| Totals {
                sum: acc.sum + t.sum,
                count: acc.count + t.count,
            })
    }

    /// Prometheus text exposition (version 0.0.4): counters as `newborn_<name>_total`,
    /// durations as `newborn_<name>_seconds` summaries (sum and count).
    pub fn prometheus(&self) -> String {
        let Ok(series) = self.series.lock() else {
            return String::new();
        };
        let mut out = String::new();
        let mut typed = None;
        for ((name, labels), (unit, totals)) in series.iter() {
            let base = format!("newborn_{}", snake(name));
            let labels = labels
                .iter()
                .map(|(k, v)| format!("{}=\"{}\"", snake(k), escape(v)))
                .collect::<Vec<_>>()
                .join(",");
            match unit {
                Unit::Count => {
                    if typed.as_ref() != Some(name) {
                        let _ = writeln!(out, "# TYPE {base}_total counter");
                    }
                    let _ = writeln!(out, "{base}_total{{{labels}}} {}", totals.sum);
                }
                Unit::Seconds => {
                    if typed.as_ref() != Some(name) {
                        let _ = writeln!(out, "# TYPE {base}_seconds summary");
                    }
                    let _ = writeln!(out, "{base}_seconds_sum{{{labels}}} {}", totals.sum);
                    let _ = writeln!(out, "{base}_seconds_count{{{labels}}} {}", totals.count);
                }
            }
            typed = Some(name.clone());
        }
        out
    }
}

impl Metrics for Counters {
    fn record(&self, metric: Metric, dimensions: &[(Dim, &str)], value: f64, unit: Unit) {
        let name = metric.name();
        let mut labels: Vec<(String, String)> = dimensions
            .iter()
            .map(|(k, v)| (k.name().to_owned(), (*v).to_owned()))
            .collect();
        labels.sort();
        tracing::debug!(metric = name, ?labels, value, "metric");
        if let Ok(mut series) = self.series.lock() {
            let entry = series
                .entry((name.to_owned(), labels))
                .or_insert((unit, Totals::default()));
            entry.1.sum += value;
            entry.1.count += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_durations_are_exposed_as_prometheus_text() {
        let c = Counters::default();
        c.count(
            Metric::StageCompleted,
            &[(Dim::Stage, "police"), (Dim::Agency, "police_station")],
            1.0,
        );
        c.count(
            Metric::StageCompleted,
            &[(Dim::Agency, "police_station"), (Dim::Stage, "police")],
            1.0,
        );
        c.record(
            Metric::StageWorkingTime,
            &[(Dim::Stage, "police")],
            30.0,
            Unit::Seconds,
        );
        c.record(
            Metric::StageWorkingTime,
            &[(Dim::Stage, "police")],
            90.0,
            Unit::Seconds,
        );
        let text = c.prometheus();
        assert!(
            text.contains("# TYPE newborn_stage_completed_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "newborn_stage_completed_total{agency=\"police_station\",stage=\"police\"} 2\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("newborn_stage_working_time_seconds_sum{stage=\"police\"} 120\n"),
            "{text}"
        );
        assert!(
            text.contains("newborn_stage_working_time_seconds_count{stage=\"police\"} 2\n"),
            "{text}"
        );
        assert_eq!(
            c.total(Metric::StageCompleted, &[(Dim::Agency, "police_station")])
                .sum,
            2.0
        );
        assert_eq!(
            c.total(Metric::StageCompleted, &[(Dim::Agency, "hospital")])
                .sum,
            0.0
        );
    }
}
