//! `newborn-bench`: measures the service and writes `docs/benchmarks.md` and
//! `docs/benchmarks.json`. Run it with `./scripts/bench.sh`, which installs the emulator and
//! builds the release functions first.

mod aws;
mod calibration;
mod cold;
mod embedded;
mod report;
mod stats;

use anyhow::{Context, Result};
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

/// Measures end-to-end throughput and hand-off latency of the embedded runtime, AWS requests and
/// cost per application against the emulator, and the functions' cold start.
#[derive(Parser, Debug)]
#[command(name = "newborn-bench")]
struct Args {
    /// Applications for the embedded run.
    #[arg(long, default_value_t = 10_000)]
    applications: usize,
    /// Requests in flight while preparing and submitting.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Concurrent applicants reading their application.
    #[arg(long, default_value_t = 64)]
    api_clients: usize,
    /// Reads in total.
    #[arg(long, default_value_t = 20_000)]
    api_requests: usize,
    /// Give up on the embedded run after this many seconds.
    #[arg(long, default_value_t = 1800)]
    timeout_secs: u64,
    /// Applications driven through the functions against the emulator.
    #[arg(long, default_value_t = 20)]
    aws_applications: usize,
    /// Cold starts per function.
    #[arg(long, default_value_t = 5)]
    cold_runs: usize,
    /// Where the functions' release binaries are.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// The prices.
    #[arg(long, default_value = "bench/prices.toml")]
    prices: PathBuf,
    /// Hand-written analysis appended to the page.
    #[arg(long, default_value = "bench/notes.md")]
    notes: PathBuf,
    /// Skip the embedded run.
    #[arg(long)]
    skip_embedded: bool,
    /// Skip the AWS run.
    #[arg(long)]
    skip_aws: bool,
    /// Skip the cold starts.
    #[arg(long)]
    skip_cold_start: bool,
    /// Days of simulated applications for the prediction's calibration (0 skips it).
    #[arg(long, default_value_t = 90)]
    calibration_days: u32,
    /// Simulated applications a day.
    #[arg(long, default_value_t = 100)]
    calibration_per_day: usize,
    /// The JSON report.
    #[arg(long, default_value = "docs/benchmarks.json")]
    json: PathBuf,
    /// The Markdown page.
    #[arg(long, default_value = "docs/benchmarks.md")]
    markdown: PathBuf,
}

fn main() -> Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let prices: aws::Prices = toml::from_str(
        &std::fs::read_to_string(&args.prices)
            .with_context(|| format!("reading {}", args.prices.display()))?,
    )
    .with_context(|| format!("{}", args.prices.display()))?;
    let notes = std::fs::read_to_string(&args.notes).unwrap_or_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    rt.block_on(async move {
        // Cold starts first, on a quiet machine: measured after the embedded section's
        // 10,000 applications, every function started some 7 ms slower (the relay 12.7 ms
        // against 3-6 ms when measured alone).
        let cold_start = if args.skip_cold_start {
            None
        } else {
            eprintln!("1/4  cold starts: {} per function", args.cold_runs);
            Some(cold::run(&args.bin_dir, args.cold_runs).await?)
        };
        let embedded = if args.skip_embedded {
            None
        } else {
            eprintln!("2/4  embedded runtime: {} applications", args.applications);
            let dir = tempfile::tempdir_in(std::env::current_dir()?)?;
            Some(
                embedded::run(
                    &embedded::Config {
                        applications: args.applications,
                        concurrency: args.concurrency,
                        api_clients: args.api_clients,
                        api_requests: args.api_requests,
                        timeout: Duration::from_secs(args.timeout_secs),
                    },
                    dir.path(),
                )
                .await?,
            )
        };
        let aws = if args.skip_aws {
            None
        } else {
            eprintln!(
                "3/4  AWS requests: {} applications against the emulator",
                args.aws_applications
            );
            Some(aws::run(args.aws_applications, prices).await?)
        };
        let calibration = if args.calibration_days == 0 {
            None
        } else {
            eprintln!(
                "4/4  predicted completion: {} days of {} simulated applications a day",
                args.calibration_days, args.calibration_per_day
            );
            Some(calibration::run(
                args.calibration_per_day,
                args.calibration_days,
            )?)
        };
        let report = report::Report {
            at: chrono::Utc::now().to_rfc3339(),
            machine: report::Machine::here(),
            command,
            goals: report::goals(
                embedded.as_ref(),
                aws.as_ref(),
                cold_start.as_deref(),
                calibration.as_ref(),
            ),
            embedded,
            aws,
            cold_start,
            calibration,
        };
        std::fs::write(&args.json, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", args.json.display()))?;
        let page = report::markdown(&report, &notes)?;
        std::fs::write(&args.markdown, &page)
            .with_context(|| format!("writing {}", args.markdown.display()))?;
        for g in &report.goals {
            println!(
                "{:<3} {}: {} ({})",
                if g.met { "ok" } else { "MISS" },
                g.goal,
                g.measured,
                g.gap
            );
        }
        println!(
            "wrote {} and {}",
            args.markdown.display(),
            args.json.display()
        );
        Ok(())
    })
}
