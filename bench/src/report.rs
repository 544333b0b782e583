//! The report: JSON for machines, a Markdown page (`docs/benchmarks.md`) for people, with the
//! goals of the benchmark issue checked against the numbers.

use crate::{aws, calibration, cold, embedded};
use serde::Serialize;
use std::fmt::Write;

/// Everything measured in one run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When (RFC 3339).
    pub at: String,
    /// The machine.
    pub machine: Machine,
    /// The command line.
    pub command: String,
    /// The embedded runtime.
    pub embedded: Option<embedded::Report>,
    /// AWS requests and cost.
    pub aws: Option<aws::Report>,
    /// Cold starts.
    pub cold_start: Option<Vec<cold::ColdStart>>,
    /// The predicted completion's calibration.
    pub calibration: Option<calibration::Calibration>,
    /// The goals, checked.
    pub goals: Vec<Goal>,
}

/// Facts about the machine.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPU model.
    pub cpu: String,
    /// Logical CPUs.
    pub cpus: usize,
    /// Kernel and architecture.
    pub os: String,
}

impl Machine {
    /// This machine.
    pub fn here() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            .unwrap_or_else(|| "unknown".into());
        let os = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|r| format!("Linux {} {}", r.trim(), std::env::consts::ARCH))
            .unwrap_or_else(|_| std::env::consts::OS.to_owned());
        Self {
            cpu,
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            os,
        }
    }
}

/// One goal of the benchmark issue.
#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    /// The goal.
    pub goal: String,
    /// What was measured.
    pub measured: String,
    /// Met?
    pub met: bool,
    /// By how much it was missed (or the margin).
    pub gap: String,
}

fn pct(measured: f64, target: f64) -> String {
    format!("{:+.0} %", (measured / target - 1.0) * 100.0)
}

/// Checks the goals against what was measured.
pub fn goals(
    e: Option<&embedded::Report>,
    a: Option<&aws::Report>,
    c: Option<&[cold::ColdStart]>,
    p: Option<&calibration::Calibration>,
) -> Vec<Goal> {
    let mut out = vec![];
    if let Some(p) = p {
        out.push(Goal {
            goal: "predicted completion: 90 % ± 5 of applications finished by their p90".into(),
            measured: format!(
                "{:.1} % by p90, {:.1} % by p50; p50 mean absolute error {:.1} working hours ({} simulated applications)",
                p.before_p90_percent, p.before_p50_percent, p.p50_mae_working_hours, p.applications
            ),
            met: (85.0..=95.0).contains(&p.before_p90_percent),
            gap: format!("{:+.1} points", p.before_p90_percent - 90.0),
        });
    }
    if let Some(e) = e {
        out.push(Goal {
            goal: "≥ 500 complete applications/s on this machine (aim 1,000)".into(),
            measured: format!(
                "{:.1} /s (durable-commit ceiling {:.1} /s, ratio {:.2})",
                e.applications_per_s, e.ceiling.applications_per_s, e.ratio_to_ceiling
            ),
            met: e.applications_per_s >= 500.0,
            gap: pct(e.applications_per_s, 500.0),
        });
        out.push(Goal {
            goal: "hand-off p99 < 5 ms".into(),
            measured: format!(
                "p99 {:.2} ms (p50 {:.2} ms); under the backlog p99 {:.0} ms",
                e.hand_off.p99_ms, e.hand_off.p50_ms, e.hand_off_under_backlog.p99_ms
            ),
            met: e.hand_off.p99_ms < 5.0,
            gap: pct(e.hand_off.p99_ms, 5.0),
        });
    }
    if let Some(a) = a {
        out.push(Goal {
            goal: "≤ 1.0 DynamoDB write request per state transition".into(),
            measured: format!(
                "{:.2} write requests of all kinds ({})",
                a.dynamodb_writes_per_transition,
                a.dynamodb_writes_per_transition_by_operation
                    .iter()
                    .map(|(o, n)| format!("{o} {n:.2}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            met: a.dynamodb_writes_per_transition <= 1.0,
            gap: pct(a.dynamodb_writes_per_transition, 1.0),
        });
        let units: f64 = a
            .requests_per_application
            .get("dynamodb")
            .map_or(0.0, |ops| ops.values().map(|c| c.write_units).sum());
        let per_transition = units / a.transitions_per_application.max(1.0);
        out.push(Goal {
            goal: "≤ 3 DynamoDB write units per state transition".into(),
            measured: format!(
                "{per_transition:.2} (estimated: 1 KB units of the larger of the item before and after, doubled in transactions, plus the index entries written)"
            ),
            met: per_transition <= 3.0,
            gap: pct(per_transition, 3.0),
        });
        let s3_puts: f64 = a.presigned_puts_per_application
            + a.requests_per_application.get("s3").map_or(0.0, |ops| {
                ops.iter()
                    .filter(|(o, _)| matches!(o.as_str(), "PutObject" | "CopyObject"))
                    .map(|(_, c)| c.requests)
                    .sum()
            });
        let per_scan = s3_puts / a.presigned_puts_per_application.max(1.0);
        out.push(Goal {
            goal: "≤ 1 S3 PUT per scan".into(),
            measured: format!("{per_scan:.2}"),
            met: per_scan <= 1.0,
            gap: pct(per_scan, 1.0),
        });
        let orchestration: f64 = a
            .cost
            .iter()
            .filter(|l| {
                ["Lambda", "SQS", "DynamoDB"]
                    .iter()
                    .any(|p| l.item.starts_with(p))
            })
            .map(|l| l.usd_per_million_applications)
            .sum();
        out.push(Goal {
            goal: "orchestration (DynamoDB, SQS, Lambda) ≤ $25 per million applications".into(),
            measured: format!(
                "${orchestration:.2} ({:.1}x below Step Functions Standard's ${:.2} for the transitions alone)",
                a.step_functions_usd_per_million_applications / orchestration.max(0.01),
                a.step_functions_usd_per_million_applications
            ),
            met: orchestration <= 25.0,
            gap: pct(orchestration, 25.0),
        });
        out.push(Goal {
            goal: "total ≤ $110 per million applications".into(),
            measured: format!("${:.2}", a.usd_per_million_applications),
            met: a.usd_per_million_applications <= 110.0,
            gap: pct(a.usd_per_million_applications, 110.0),
        });
    }
    if let Some(c) = c {
        let stages: Vec<&cold::ColdStart> = c
            .iter()
            .filter(|f| STAGE_FUNCTIONS.contains(&f.function.as_str()))
            .collect();
        let mb = |f: &cold::ColdStart| f.binary_bytes as f64 / 1e6;
        let largest = c.iter().map(mb).fold(0.0, f64::max);
        let stage = stages.iter().copied().map(mb).fold(0.0, f64::max);
        out.push(Goal {
            goal: "every stage function (预审, 卫健核对, 公安落户, 医保参保, 社保卡制卡, 评价) ≤ 8 MB stripped (the goal is for arm64)".into(),
            measured: format!(
                "largest stage function {stage:.1} MB, largest of all functions {largest:.1} MB (this machine's architecture)"
            ),
            met: stage > 0.0 && stage <= 8.0,
            gap: pct(stage, 8.0),
        });
        let slowest = c.iter().map(|f| f.ready.p50_ms).fold(0.0, f64::max);
        let stage = stages.iter().map(|f| f.ready.p50_ms).fold(0.0, f64::max);
        out.push(Goal {
            goal: "every stage function ready for its first event ≤ 15 ms (median)".into(),
            measured: format!(
                "slowest stage function {stage:.1} ms, slowest of all functions {slowest:.1} ms"
            ),
            met: stage > 0.0 && stage <= 15.0,
            gap: pct(stage, 15.0),
        });
    }
    out
}

/// The functions of the six stages, by binary name (the size and cold-start goals are
/// theirs).
const STAGE_FUNCTIONS: [&str; 6] = [
    "pre-review",
    "health-check",
    "police",
    "insurance",
    "social-security-card",
    "evaluation",
];

/// The Markdown page; `notes` (hand-written analysis) is appended.
pub fn markdown(r: &Report, notes: &str) -> Result<String, std::fmt::Error> {
    let mut m = String::new();
    writeln!(m, "# Benchmarks\n")?;
    writeln!(
        m,
        "Written by `./scripts/bench.sh` (`{}`) on {} — {} × {}, {}. Rerun it to replace this page; \
         the numbers are also in [`benchmarks.json`](benchmarks.json).\n",
        r.command, r.at, r.machine.cpus, r.machine.cpu, r.machine.os
    )?;
    writeln!(m, "## Goals\n")?;
    writeln!(m, "| goal | measured | met | vs. goal |\n|---|---|---|---|")?;
    for g in &r.goals {
        writeln!(
            m,
            "| {} | {} | {} | {} |",
            g.goal,
            g.measured,
            if g.met { "yes" } else { "**no**" },
            g.gap
        )?;
    }
    if let Some(e) = &r.embedded {
        writeln!(m, "\n## 1. End-to-end throughput, embedded runtime\n")?;
        writeln!(
            m,
            "{} applications of the demo's eleven scenarios (all three cases, supplements, the father \
             applying, a go-offline ending), scans uploaded beforehand ({:.1} s), then submitted at once \
             ({:.1} s to submit) and driven by their applicants acting on pushed notifications; the \
             simulated agencies answer at once over HTTP with signed callbacks.\n",
            e.applications, e.prepare_s, e.submit_s
        )?;
        writeln!(m, "| measure | value |\n|---|---|")?;
        let outcomes: Vec<String> = e.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        for (k, v) in [
            ("outcomes", outcomes.join(", ")),
            (
                "first submission → last final state",
                format!("{:.1} s", e.elapsed_s),
            ),
            (
                "**complete applications per second**",
                format!("**{:.1}**", e.applications_per_s),
            ),
            (
                "per application, submission → final state",
                format!(
                    "p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
                    e.per_application.p50_ms, e.per_application.p99_ms, e.per_application.max_ms
                ),
            ),
            (
                "applicant actions on notifications",
                e.applicant_actions.to_string(),
            ),
            (
                "agency dispatches per application",
                format!("{:.2}", e.dispatches_per_application),
            ),
            (
                "dispatches received twice (de-duplicated by key)",
                e.duplicate_dispatches.to_string(),
            ),
            (
                "durable commits per application (service database)",
                format!("{:.1}", e.commits_per_application),
            ),
            (
                "durable-commit ceiling of this disk",
                format!(
                    "{:.0} commits/s of {} bytes ({} commits, WAL, synchronous FULL)",
                    e.ceiling.commits_per_s, e.ceiling.commit_bytes, e.ceiling.commits
                ),
            ),
            (
                "ceiling in applications per second",
                format!("{:.1}", e.ceiling.applications_per_s),
            ),
            (
                "**throughput / ceiling**",
                format!("**{:.2}**", e.ratio_to_ceiling),
            ),
            (
                "final states found only by the fallback sweep",
                e.found_by_sweep.to_string(),
            ),
        ] {
            writeln!(m, "| {k} | {v} |")?;
        }
        writeln!(m, "\n## 2. Hand-off latency and the applicant API\n")?;
        writeln!(
            m,
            "Hand-off: an agency's callback accepted (the simulated agency has the platform's answer) → \
             the next agency's dispatch received, for dispatches caused directly by a callback (no \
             applicant action in between); timestamps in µs on one clock.\n"
        )?;
        writeln!(
            m,
            "| measure | n | p50 | p99 | max |\n|---|---|---|---|---|"
        )?;
        for (k, s) in [
            ("hand-off, one application every 20 ms", &e.hand_off),
            (
                "hand-off during the backlog above",
                &e.hand_off_under_backlog,
            ),
            (
                &*format!(
                    "`GET /applications/{{id}}`, {} concurrent applicants ({:.0} requests/s, {} errors)",
                    e.api.clients, e.api.per_s, e.api.errors
                ),
                &e.api.latency,
            ),
        ] {
            writeln!(
                m,
                "| {k} | {} | {:.2} ms | {:.2} ms | {:.2} ms |",
                s.n, s.p50_ms, s.p99_ms, s.max_ms
            )?;
        }
    }
    if let Some(a) = &r.aws {
        writeln!(m, "\n## 3. AWS requests and cost per application\n")?;
        writeln!(
            m,
            "{} case-1 applications (every stage: pre-review, hospital, police, insurance, card) through \
             the functions' handlers against moto, requests counted on the SDK's HTTP client; outcomes: {}. \
             {:.1} state transitions (timeline entries) per application. DynamoDB units are estimated from \
             the items on the wire and what the run wrote before: 1 KB write units of the larger of an item \
             before and after a write, doubled in transactions, plus 1 KB units of each index entry the \
             write puts or deletes (none when an index sees no change, two when its key moves); 4 KB \
             read units. Lambda memory {} MB (`template.yaml`); durations are measured here against the \
             emulator.\n",
            a.applications,
            a.outcomes
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
            a.transitions_per_application,
            a.lambda_memory_mb
        )?;
        writeln!(
            m,
            "| service | operation | requests / application | write units | read units |\n|---|---|---|---|---|"
        )?;
        for (service, ops) in &a.requests_per_application {
            for (op, c) in ops {
                writeln!(
                    m,
                    "| {service} | {op} | {:.2} | {:.2} | {:.2} |",
                    c.requests, c.write_units, c.read_units
                )?;
            }
        }
        writeln!(
            m,
            "\n| function | invocations / application (a stage batch holds up to 10 records) | seconds / application (measured against moto) |\n|---|---|---|"
        )?;
        for (f, i) in &a.invocations_per_application {
            writeln!(m, "| {f} | {:.2} | {:.3} |", i.count, i.seconds)?;
        }
        writeln!(
            m,
            "\nAPI Gateway requests per application: {:.1}; S3 PUTs to presigned URLs: {:.1}; DynamoDB write \
             requests per state transition: **{:.2}**. Per cold start of a signing function: {}.\n",
            a.api_requests_per_application,
            a.presigned_puts_per_application,
            a.dynamodb_writes_per_transition,
            a.per_cold_start
                .iter()
                .map(|(k, v)| format!("{v:.0} × {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        writeln!(
            m,
            "| DynamoDB write, by the items it writes (partition key prefix) | requests / transition | write units / transition |\n|---|---|---|"
        )?;
        for (what, c) in &a.dynamodb_writes_per_transition_by_item {
            writeln!(m, "| {what} | {:.3} | {:.2} |", c.requests, c.write_units)?;
        }
        writeln!(m)?;
        writeln!(
            m,
            "| billed item | per application | unit | USD per million applications |\n|---|---|---|---|"
        )?;
        for c in &a.cost {
            writeln!(
                m,
                "| {} | {:.3} | {} | {:.2} |",
                c.item, c.per_application, c.unit, c.usd_per_million_applications
            )?;
        }
        writeln!(
            m,
            "| **total** | | | **{:.2}** |\n| Step Functions Standard, {:.1} transitions × ${}/1k (transitions alone) | | | {:.2} |\n",
            a.usd_per_million_applications,
            a.transitions_per_application,
            a.prices.step_functions_transition_per_thousand,
            a.step_functions_usd_per_million_applications
        )?;
        writeln!(m, "Prices: {}.", a.prices.source)?;
    }
    if let Some(c) = &r.cold_start {
        writeln!(m, "\n## 4. Cold start\n")?;
        writeln!(
            m,
            "Each release binary started {} times against a local Lambda runtime API (this benchmark \
             serves it) with its environment over moto; medians.\n",
            c.first().map_or(0, |f| f.ready.n)
        )?;
        writeln!(
            m,
            "| function | binary | ready (p50) | handled (p50) | handled (max) | peak memory | answered |\n|---|---|---|---|---|---|---|"
        )?;
        for f in c {
            writeln!(
                m,
                "| {} | {:.2} MB | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} MiB | {} |",
                f.function,
                f.binary_bytes as f64 / 1e6,
                f.ready.p50_ms,
                f.handled.p50_ms,
                f.handled.max_ms,
                f.peak_rss_kib as f64 / 1024.0,
                if f.answered_ok { "ok" } else { "error" }
            )?;
        }
    }
    if let Some(p) = &r.calibration {
        writeln!(m, "\n## 5. Predicted completion\n")?;
        writeln!(
            m,
            "A simulation (`bench/src/calibration.rs`): {} days of applications under Fujian 2.0 over \
             the real working-day calendar, each agency's working time drawn at random (log-normal, one \
             case in eight running to and past its deadline); each application predicted at its \
             submission from the stages finished in the {}-day window before it, then run. The service's \
             own tests check that the view and notifications carry this prediction.\n",
            p.days, p.window_days
        )?;
        writeln!(m, "| measure | value |\n|---|---|")?;
        for (k, v) in [
            ("applications compared", p.applications.to_string()),
            (
                "finished by their p90",
                format!("{:.1} %", p.before_p90_percent),
            ),
            (
                "finished by their p50",
                format!("{:.1} %", p.before_p50_percent),
            ),
            (
                "p50 mean absolute error",
                format!("{:.1} working hours", p.p50_mae_working_hours),
            ),
            (
                "mean p90 − p50",
                format!("{:.1} working hours", p.p90_margin_working_hours),
            ),
            (
                "first window (short history, deadlines) finished by p90",
                format!("{:.1} %", p.warm_up_before_p90_percent),
            ),
        ] {
            writeln!(m, "| {k} | {v} |")?;
        }
    }
    writeln!(m, "\n{}", notes.trim())?;
    Ok(m)
}
