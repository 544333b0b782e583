//! The subcommands and their plain-text renderings.

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use newborn_domain::application::{Case, parse_form};
use newborn_domain::calendar::{CHINA, WorkingCalendar};
use newborn_domain::policy::LicenceHolder;
use newborn_domain::policy::{ClockStart, Policy, PolicyRegistry, ResidencyRule};
use newborn_domain::prereview::{Decision, pre_review};
use newborn_domain::sla::add_working_time;
use newborn_domain::stage::Stage;
use std::io::Write;
use std::path::PathBuf;

/// Newborn one-stop service (新生儿出生一件事): operator tool.
#[derive(Debug, Parser)]
#[command(name = "newborn", version, about)]
pub struct Cli {
    /// A holiday file (format of data/cn-public-holidays.json) adding newly published years to
    /// the built-in 2024–2026 calendar.
    #[arg(
        long,
        global = true,
        env = "NEWBORN_HOLIDAYS_FILE",
        value_name = "FILE"
    )]
    holidays_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Starts the whole service on this machine: API, stage workers, SLA monitor, simulated agencies.
    Serve(ServeArgs),
    /// Submits a realistic batch to a running service and prints each application's timeline.
    Demo {
        /// The data directory of the running service (its service.json says where it listens).
        #[arg(long, default_value = "data", env = "NEWBORN_DATA_DIR")]
        data_dir: PathBuf,
        /// The API base URL, instead of reading the data directory.
        #[arg(long)]
        url: Option<String>,
        /// The simulated agencies' base URL, instead of reading the data directory.
        #[arg(long)]
        simulator_url: Option<String>,
        /// How many applications (the eleven scenarios repeat).
        #[arg(long, default_value_t = 11)]
        count: usize,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout_secs: u64,
    },
    /// Policies per region: materials, routes, deadlines.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Prints the deadline of a stage started at a given time.
    Deadline {
        /// Policy id, e.g. fujian-2.0.
        #[arg(long, default_value = newborn_domain::policy::DEFAULT_POLICY)]
        policy: String,
        /// Stage: health_check, police, insurance or social_security_card.
        #[arg(long)]
        stage: Stage,
        /// When the clock starts, RFC 3339 (e.g. 2025-09-30T12:00:00+08:00).
        #[arg(long)]
        start: String,
    },
    /// Mints a development sign-in token (JWT) for an applicant, counter staff or a supervisor.
    Token {
        /// The data directory holding dev-issuer.json.
        #[arg(long, default_value = "data", env = "NEWBORN_DATA_DIR")]
        data_dir: PathBuf,
        /// The account subject.
        #[arg(long)]
        subject: String,
        /// applicant, counter_staff or supervisor.
        #[arg(long, default_value = "applicant")]
        role: String,
        /// Validity in hours (1 to 12: the service refuses tokens living longer).
        #[arg(long, default_value_t = 12)]
        ttl_hours: i64,
        /// The real-name identity number the sign-in verified (a mother sees the drafts the
        /// hospitals' birth records made for her by it).
        #[arg(long)]
        id_number: Option<String>,
    },
    /// Prints the signature headers an agency sends with a callback body (for curl).
    Sign {
        /// The data directory holding keys.json.
        #[arg(long, default_value = "data", env = "NEWBORN_DATA_DIR")]
        data_dir: PathBuf,
        /// Which agency signs: hospital, police_station, medical_insurance, social_security.
        #[arg(long)]
        agency: String,
        /// The exact body to send.
        file: PathBuf,
    },
    /// Checks a signed result (办件结果通知) offline against the platform's published keys and
    /// prints what it certifies; exits 1 when it does not verify.
    Verify {
        /// The platform's published keys: a file saved from `GET /.well-known/jwks.json`.
        #[arg(long)]
        jwks: PathBuf,
        /// The result's code, or its verification address (`…/verify?token=…`); `-` reads it
        /// from standard input.
        token: String,
    },
    /// Depth of every local stage queue and dead-letter queue (the service may be running).
    Queues {
        /// The data directory of the local service.
        #[arg(long, default_value = "data", env = "NEWBORN_DATA_DIR")]
        data_dir: PathBuf,
    },
    /// Moves a queue's dead-lettered messages back to it, after the fault is fixed (the service
    /// may be running). On AWS: `newborn-aws redrive`.
    Redrive {
        /// The data directory of the local service.
        #[arg(long, default_value = "data", env = "NEWBORN_DATA_DIR")]
        data_dir: PathBuf,
        /// The queue: a stage (pre_review, health_check, police, insurance,
        /// social_security_card) or notifications.
        #[arg(long, visible_alias = "stage")]
        queue: newborn_service::ports::QueueName,
    },
    /// The efficiency report of a period from the local store (the service may be running):
    /// per agency, stages completed, on-time rate, working time, overdue, supplements, ratings
    /// and follow-ups. On AWS the same report is `GET /supervision/reports`.
    Report {
        /// The data directory of the local service.
        #[arg(long, default_value = "data", env = "NEWBORN_DATA_DIR")]
        data_dir: PathBuf,
        /// A month (2026-12), a quarter (2026-Q4) or a date range (2026-12-01..2026-12-15),
        /// in China time; the current month by default.
        #[arg(long)]
        period: Option<String>,
        /// Only this agency: platform, hospital, police_station, medical_insurance,
        /// social_security or licence_directory.
        #[arg(long)]
        agency: Option<String>,
        /// Print CSV instead of a table.
        #[arg(long, conflicts_with = "json")]
        csv: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Working-day calendar: which years are covered, and what a date is.
    Calendar {
        /// Dates to look up (YYYY-MM-DD); without any, lists the covered years.
        dates: Vec<chrono::NaiveDate>,
    },
    /// Checks and pre-reviews an application form (JSON) as the platform would.
    Review {
        /// The form file, e.g. events/api/submit-application.json.
        file: PathBuf,
        /// Policy id.
        #[arg(long, default_value = newborn_domain::policy::DEFAULT_POLICY)]
        policy: String,
        /// The review time, RFC 3339; defaults to now.
        #[arg(long)]
        at: Option<String>,
    },
}

/// Options of `newborn serve` (each also from the environment).
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Where everything is kept (SQLite database, scans, keys).
    #[arg(long, default_value = "data", env = "NEWBORN_DATA_DIR")]
    data_dir: PathBuf,
    /// The API's address (loopback by default).
    #[arg(long, default_value = "127.0.0.1:8080", env = "NEWBORN_LISTEN")]
    listen: std::net::SocketAddr,
    /// The simulated agencies' address.
    #[arg(
        long,
        default_value = "127.0.0.1:8081",
        env = "NEWBORN_SIMULATOR_LISTEN"
    )]
    simulator_listen: std::net::SocketAddr,
    /// Send dispatches to real agency systems at this base URL instead of simulating them.
    #[arg(long, env = "NEWBORN_AGENCIES_URL")]
    agencies_url: Option<String>,
    /// Send SLA escalations to supervisors at this base URL (`<url>/supervision/<agency>`);
    /// by default the agencies' base URL.
    #[arg(long, env = "NEWBORN_SUPERVISORS_URL")]
    supervisors_url: Option<String>,
    /// Send applicant notifications to this gateway URL (the app's push / SMS service); by
    /// default the simulated gateway.
    #[arg(long, env = "NEWBORN_NOTIFY_URL")]
    notify_url: Option<String>,
    /// Look licences up and send missing-licence registrations to the licence directory at this
    /// base URL (`<url>/licences/...`); by default the agencies' base URL (the simulated one).
    #[arg(long, env = "NEWBORN_LICENCE_DIRECTORY_URL")]
    licence_directory_url: Option<String>,
    /// How long the simulated agencies take to answer, in milliseconds.
    #[arg(long, default_value_t = 500, env = "NEWBORN_AGENCY_DELAY_MS")]
    agency_delay_ms: u64,
    /// Outcome mix of the simulated agencies, e.g. approve=90,supplement=5,offline=5.
    #[arg(long, default_value = "approve=100", env = "NEWBORN_AGENCY_MIX")]
    agency_mix: newborn_agency_sim::Mix,
    /// Start service time at this RFC 3339 instant (a controllable clock).
    #[arg(long, env = "NEWBORN_CLOCK_START")]
    clock_start: Option<String>,
    /// Service seconds per real second (with --clock-start).
    #[arg(long, default_value_t = 1.0, env = "NEWBORN_CLOCK_SPEED")]
    clock_speed: f64,
    /// Allow POST /admin/clock to advance service time (with --clock-start).
    #[arg(long, env = "NEWBORN_CLOCK_CONTROL")]
    clock_control: bool,
    /// Seconds between SLA sweeps.
    #[arg(long, default_value_t = 60, env = "NEWBORN_SLA_INTERVAL_SECS")]
    sla_interval_secs: u64,
    /// Seconds a received message stays hidden before redelivery.
    #[arg(long, default_value_t = 30, env = "NEWBORN_VISIBILITY_TIMEOUT_SECS")]
    visibility_timeout_secs: u64,
    /// Receives before a message goes to the dead-letter queue.
    #[arg(long, default_value_t = 5, env = "NEWBORN_MAX_RECEIVES")]
    max_receives: u32,
    /// The policy for births no policy covers (each application otherwise runs under the policy
    /// of its birthplace and birth date).
    #[arg(long, default_value = newborn_domain::policy::DEFAULT_POLICY, env = "NEWBORN_POLICY")]
    policy: String,
    /// Log as JSON lines.
    #[arg(long, env = "NEWBORN_LOG_JSON")]
    log_json: bool,
    /// Test mode (the reliability suite): deliver every queue message twice, out of order.
    #[arg(long, env = "NEWBORN_DUPLICATE_DELIVERY")]
    duplicate_delivery: bool,
}

impl ServeArgs {
    fn into_config(self, holidays_file: Option<PathBuf>) -> Result<crate::runtime::ServeConfig> {
        use crate::runtime::{Agencies, ServeConfig};
        let mut c = ServeConfig::new(self.data_dir);
        c.listen = self.listen;
        c.supervisors_url = self.supervisors_url;
        c.notify_url = self.notify_url;
        c.licence_directory_url = self.licence_directory_url;
        c.agencies = match self.agencies_url {
            Some(base_url) => Agencies::External { base_url },
            None => Agencies::Simulated {
                listen: self.simulator_listen,
                delay: std::time::Duration::from_millis(self.agency_delay_ms),
                mix: self.agency_mix,
            },
        };
        c.clock_start = self.clock_start.as_deref().map(parse_time).transpose()?;
        if !(self.clock_speed > 0.0 && self.clock_speed <= 100_000.0) {
            bail!("--clock-speed must be above 0 and at most 100000");
        }
        c.clock_speed = self.clock_speed;
        c.clock_control = self.clock_control;
        c.sla_interval = std::time::Duration::from_secs(self.sla_interval_secs.max(1));
        c.workers.visibility_timeout =
            std::time::Duration::from_secs(self.visibility_timeout_secs.max(1));
        c.workers.max_receives = self.max_receives.max(1);
        c.default_policy = self.policy;
        c.holidays_file = holidays_file;
        c.duplicate_delivery = self.duplicate_delivery;
        Ok(c)
    }
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Lists the built-in policies.
    List,
    /// Shows one policy in full.
    Show {
        /// Policy id, e.g. fujian-2.0, xiamen, fuzhou-pilot-2021, putian-2022, guangxi-yongfu.
        id: String,
    },
}

/// The queues of a local installation; refuses a directory the service never used.
/// The efficiency report as a table.
fn write_report(out: &mut dyn Write, r: &newborn_service::report::EfficiencyReport) -> Result<()> {
    let hours = |h: Option<f64>| h.map(|h| format!("{h:.1}")).unwrap_or_else(|| "-".into());
    writeln!(
        out,
        "效能报告 / efficiency report {} ({} .. {})",
        r.period.label,
        r.period
            .from
            .with_timezone(&newborn_domain::calendar::CHINA)
            .format("%Y-%m-%d %H:%M"),
        r.period
            .to
            .with_timezone(&newborn_domain::calendar::CHINA)
            .format("%Y-%m-%d %H:%M")
    )?;
    writeln!(
        out,
        "{:<18} {:>9} {:>8} {:>7} {:>8} {:>8} {:>7} {:>6} {:>15} {:>9} {:>11}",
        "agency",
        "completed",
        "on time",
        "rate",
        "p50 h",
        "p90 h",
        "overdue",
        "suppl",
        "ratings 5/4/3/2/1",
        "not rated",
        "follow-ups"
    )?;
    for a in &r.agencies {
        let ratings: Vec<String> = a.ratings.values().map(u64::to_string).collect();
        writeln!(
            out,
            "{:<18} {:>9} {:>8} {:>7} {:>8} {:>8} {:>7} {:>6} {:>15} {:>9} {:>11}",
            a.agency.as_str(),
            a.stages_completed,
            a.completed_on_time,
            a.on_time_rate
                .map(|r| format!("{:.0} %", r * 100.0))
                .unwrap_or_else(|| "-".into()),
            hours(a.median_working_hours),
            hours(a.p90_working_hours),
            a.overdue,
            a.supplements_requested,
            ratings.join("/"),
            a.not_rated,
            format!(
                "{}/{}/{}",
                a.follow_ups_opened, a.follow_ups_closed, a.follow_ups_closed_on_time
            ),
        )?;
    }
    writeln!(
        out,
        "ratings: very satisfied / satisfied / fairly satisfied / dissatisfied / very dissatisfied; follow-ups: opened / closed / closed on time"
    )?;
    Ok(())
}

fn local_database(data_dir: &std::path::Path) -> Result<newborn_embedded::Database> {
    let file = data_dir.join("newborn.db");
    if !file.exists() {
        bail!(
            "no local service data in {} (start it with `newborn serve --data-dir {}`)",
            data_dir.display(),
            data_dir.display()
        );
    }
    newborn_embedded::Database::open(&file)
        .with_context(|| format!("cannot open {}", file.display()))
}

fn local_queue(data_dir: &std::path::Path) -> Result<newborn_embedded::SqliteQueue> {
    Ok(newborn_embedded::SqliteQueue::new(local_database(
        data_dir,
    )?))
}

fn block_on<T>(f: impl std::future::Future<Output = Result<T, String>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
        .map_err(|e| anyhow!(e))
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let registry = PolicyRegistry::builtin();
    let calendar = || load_calendar(cli.holidays_file.as_ref());
    let out = &mut std::io::stdout().lock();
    match cli.command {
        Command::Serve(args) => {
            let log_json = args.log_json;
            let config = args.into_config(cli.holidays_file.clone())?;
            crate::runtime::serve(config, log_json)?;
        }
        Command::Demo {
            data_dir,
            url,
            simulator_url,
            count,
            timeout_secs,
        } => {
            let (api_url, simulator_url) = match url {
                Some(u) => (u, simulator_url),
                None => {
                    let file = data_dir.join("service.json");
                    let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}: start the service first (`newborn serve --data-dir {}`) or pass --url", file.display(), data_dir.display()))?;
                    let e: crate::runtime::Endpoints = serde_json::from_str(&text)
                        .with_context(|| format!("{} is not valid", file.display()))?;
                    (e.api_url, simulator_url.or(e.simulator_url))
                }
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let config = crate::demo::DemoConfig {
                api_url,
                simulator_url,
                count: count.max(1),
                timeout: std::time::Duration::from_secs(timeout_secs),
                issuer: crate::runtime::keys::dev_issuer(&data_dir)?,
            };
            rt.block_on(crate::demo::run(config, out))?;
        }
        Command::Policy {
            command: PolicyCommand::List,
        } => {
            for p in registry.all() {
                writeln!(
                    out,
                    "{:<20} {:<12} {} / {}",
                    p.id, p.version, p.name.zh, p.name.en
                )?;
            }
        }
        Command::Policy {
            command: PolicyCommand::Show { id },
        } => {
            let p = find(&registry, &id)?;
            write_policy(out, p)?;
        }
        Command::Deadline {
            policy,
            stage,
            start,
        } => {
            let p = find(&registry, &policy)?;
            let start = parse_time(&start)?;
            // The region's own holidays count too (Guangxi's 壮族三月三).
            let national = calendar()?;
            let cal = p.regional_calendar(&national).unwrap_or(national);
            write_deadline(out, &cal, p, stage, start)?;
        }
        Command::Token {
            data_dir,
            subject,
            role,
            ttl_hours,
            id_number,
        } => {
            if let Some(n) = &id_number {
                n.parse::<newborn_domain::ids::IdNumber>()
                    .map_err(|e| anyhow!("--id-number {n}: {}", e.message.en))?;
            }
            let role: newborn_http::Role =
                serde_json::from_value(serde_json::Value::String(role.clone())).map_err(|_| {
                    anyhow!("unknown role \"{role}\" (applicant, counter_staff, supervisor)")
                })?;
            let issuer = crate::runtime::keys::dev_issuer(&data_dir)?;
            let ttl = chrono::TimeDelta::hours(ttl_hours.clamp(1, 12));
            let token = issuer
                .mint_real_name(&subject, role, id_number.as_deref(), ttl, Utc::now())
                .map_err(anyhow::Error::msg)?;
            writeln!(out, "{token}")?;
        }
        Command::Verify { jwks, token } => {
            let keys: newborn_service::attestation::JwkSet = serde_json::from_slice(
                &std::fs::read(&jwks).with_context(|| format!("cannot read {}", jwks.display()))?,
            )
            .with_context(|| format!("{} is not a JWK set", jwks.display()))?;
            let token = if token == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                token
            };
            // A verification address carries the code after `token=`.
            let token = token
                .split_once("token=")
                .map_or(token.as_str(), |(_, t)| t)
                .trim()
                .to_owned();
            match newborn_service::attestation::verify(&token, &keys) {
                Ok(result) => {
                    writeln!(
                        out,
                        "核验通过 / verified: {} ({}), {}",
                        result.application, result.newborn, result.policy
                    )?;
                    writeln!(out, "{}", serde_json::to_string_pretty(&result)?)?;
                }
                Err(why) => {
                    return Err(anyhow!("核验未通过 / not verified: {why}"));
                }
            }
        }
        Command::Sign {
            data_dir,
            agency,
            file,
        } => {
            let keys = crate::runtime::keys::load_or_create(&data_dir)?;
            let owner: newborn_domain::stage::Agency = serde_json::from_value(serde_json::Value::String(agency.clone()))
                .map_err(|_| anyhow!("unknown agency \"{agency}\" (hospital, police_station, medical_insurance, social_security)"))?;
            let key = keys
                .agencies
                .key_of(owner)
                .ok_or_else(|| anyhow!("no key for {agency} in {}", data_dir.display()))?;
            let body =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let id = newborn_service::signing::new_message_id();
            for (name, value) in key.headers(&id, Utc::now(), &body) {
                write!(out, "-H '{name}: {value}' ")?;
            }
            writeln!(
                out,
                "-H 'content-type: application/json' --data-binary @{}",
                file.display()
            )?;
        }
        Command::Queues { data_dir } => {
            let stats = block_on(local_queue(&data_dir)?.stats())?;
            writeln!(out, "{:<26} {:>8} {:>9}", "queue", "waiting", "in flight")?;
            for s in stats {
                writeln!(out, "{:<26} {:>8} {:>9}", s.queue, s.visible, s.in_flight)?;
            }
        }
        Command::Redrive { data_dir, queue } => {
            let moved = block_on(local_queue(&data_dir)?.redrive(queue.as_str()))?;
            writeln!(
                out,
                "moved {moved} dead-lettered message(s) back to the {queue} queue"
            )?;
        }
        Command::Report {
            data_dir,
            period,
            agency,
            csv,
            json,
        } => {
            use newborn_service::report::Period;
            let period = match period {
                Some(p) => Period::parse(&p).map_err(|e| anyhow!("{}", e.message.en))?,
                None => Period::month_of(Utc::now()),
            };
            let agency = agency
                .map(|a| {
                    newborn_service::report::agency(&a)
                        .map_err(|e| anyhow!("\"{a}\": {}", e.message.en))
                })
                .transpose()?;
            let store = newborn_embedded::SqliteStore::new(local_database(&data_dir)?);
            let report = block_on(async {
                newborn_service::report::build(&store, period, agency)
                    .await
                    .map_err(|e| e.to_string())
            })?;
            if csv {
                write!(out, "{}", report.csv())?;
            } else if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
            } else {
                write_report(out, &report)?;
            }
        }
        Command::Calendar { dates } => {
            let cal = calendar()?;
            if dates.is_empty() {
                for y in cal.covered_years() {
                    writeln!(out, "{y}  {}", cal.source(y).unwrap_or(""))?;
                }
                writeln!(
                    out,
                    "Other years: Monday–Friday minus 1 Jan, 1–2 May, 1–3 Oct; provisional."
                )?;
            }
            for d in dates {
                let day = cal.day(d);
                let what = serde_json::to_value(&day.kind)?;
                writeln!(
                    out,
                    "{d} {}  {}{}{}",
                    d.format("%a"),
                    if day.is_working() {
                        "working day"
                    } else {
                        "rest day"
                    },
                    what.get("name")
                        .and_then(|n| n.as_str())
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default(),
                    if day.covered {
                        ""
                    } else {
                        "  [provisional: no notice for this year]"
                    }
                )?;
            }
        }
        Command::Review { file, policy, at } => {
            let p = find(&registry, &policy)?;
            let now = match at {
                Some(t) => parse_time(&t)?,
                None => Utc::now(),
            };
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            write_review(out, p, &bytes, now)?;
        }
    }
    Ok(())
}

/// The built-in calendar plus the operator's file, if one is configured. Reports on stderr
/// which years the file added, so stdout stays the command's answer.
fn load_calendar(file: Option<&PathBuf>) -> Result<WorkingCalendar> {
    let mut cal = WorkingCalendar::builtin();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read holiday file {} (NEWBORN_HOLIDAYS_FILE / --holidays-file)",
                path.display()
            )
        })?;
        let extra = WorkingCalendar::from_json(&text)
            .with_context(|| format!("holiday file {}", path.display()))?;
        let years = extra.covered_years();
        let replaced = cal.extend(extra);
        eprintln!(
            "{}",
            format_args!(
                "holiday file {}: years {years:?} loaded{}",
                path.display(),
                if replaced.is_empty() {
                    String::new()
                } else {
                    format!(", replacing built-in {replaced:?}")
                }
            )
        );
    }
    Ok(cal)
}

fn find<'a>(registry: &'a PolicyRegistry, id: &str) -> Result<&'a Policy> {
    registry.latest(id).ok_or_else(|| {
        let ids: Vec<&str> = registry.all().iter().map(|p| p.id.as_str()).collect();
        anyhow!("no policy \"{id}\"; known: {}", ids.join(", "))
    })
}

fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| {
            format!("\"{s}\" is not an RFC 3339 time such as 2025-09-30T12:00:00+08:00")
        })
}

fn china(t: DateTime<Utc>) -> String {
    t.with_timezone(&CHINA)
        .format("%Y-%m-%d %H:%M %a (UTC+8)")
        .to_string()
}

fn write_deadline(
    out: &mut impl Write,
    cal: &WorkingCalendar,
    p: &Policy,
    stage: Stage,
    start: DateTime<Utc>,
) -> Result<()> {
    let Some(budget) = p.budget(stage) else {
        bail!(
            "stage {stage} has no deadline under {} (pre-review is immediate)",
            p.id
        );
    };
    let (deadline, provisional) = add_working_time(cal, start, budget);
    let warn = budget * i32::from(p.supervision.warning_percent) / 100;
    let (warning, _) = add_working_time(cal, start, warn);
    let days = budget.num_hours() / 24;
    let label = stage.label();
    writeln!(out, "policy    {} ({})", p.reference(), p.name.en)?;
    writeln!(out, "stage     {stage}: {} / {}", label.zh, label.en)?;
    writeln!(
        out,
        "budget    {days} working day{} ({} h of working days)",
        if days == 1 { "" } else { "s" },
        budget.num_hours()
    )?;
    if p.clock_start(stage) == ClockStart::OnPartnerBankChoice {
        writeln!(
            out,
            "clock     starts when the applicant chooses the partner bank"
        )?;
    }
    writeln!(out, "start     {}", china(start))?;
    writeln!(
        out,
        "warning   {}  ({} %)",
        china(warning),
        p.supervision.warning_percent
    )?;
    writeln!(out, "deadline  {}", china(deadline))?;
    writeln!(
        out,
        "deadline  {}",
        deadline.with_timezone(&CHINA).to_rfc3339()
    )?;
    if provisional {
        writeln!(
            out,
            "PROVISIONAL: the calendar has no holiday notice (the State Council's or the region's) for part of this span; add the year with --holidays-file or to the policy's [calendar]."
        )?;
    }
    writeln!(
        out,
        "source    {}",
        p.stages
            .get(&stage)
            .map(|s| s.source.as_str())
            .unwrap_or("")
    )?;
    Ok(())
}

fn write_policy(out: &mut impl Write, p: &Policy) -> Result<()> {
    let el = &p.eligibility;
    writeln!(out, "{} / {}", p.name.zh, p.name.en)?;
    writeln!(
        out,
        "id {}  version {}  sources: {}",
        p.id,
        p.version,
        p.sources.join("; ")
    )?;
    writeln!(out, "\nServices (办理事项)")?;
    for s in &p.services.offered {
        let l = s.label();
        writeln!(out, "  - {} / {}", l.zh, l.en)?;
    }
    writeln!(out, "      [{}]", p.services.source)?;
    if let Some(r) = &p.services.parenting_guidance {
        let by = match r.registered_by {
            newborn_domain::policy::ParentingRegistrar::KnowledgeBase => {
                "the parent, by opening the knowledge base in the app"
            }
            newborn_domain::policy::ParentingRegistrar::Hospital => "the hospital, with its result",
        };
        writeln!(
            out,
            "  parenting guidance registered by {by}\n      [{}]",
            r.source
        )?;
    }
    writeln!(out, "\nCollection (送达方式)")?;
    for doc in newborn_domain::kinds::CollectedDocument::ALL {
        let ways: Vec<String> = p
            .collection
            .methods(doc)
            .iter()
            .map(|m| format!("{} / {}", m.label().zh, m.label().en))
            .collect();
        writeln!(out, "  - {}: {}", doc.label().zh, ways.join("; "))?;
    }
    writeln!(out, "      [{}]", p.collection.source)?;
    let c = &p.counterfoil;
    let keeper = match c.handling {
        newborn_domain::policy::CounterfoilHandling::Handover => {
            "the hospital keeps it and hands it over to the police with a signed register"
        }
        newborn_domain::policy::CounterfoilHandling::KeptAtHospital => {
            "it stays at the hospital (the family collects it there if the registration fails)"
        }
        newborn_domain::policy::CounterfoilHandling::Electronic => {
            "the platform sends the police an electronic counterfoil"
        }
    };
    let when = c
        .quarterly_by_day
        .map(|d| format!(", each quarter by day {d} of its last month"))
        .unwrap_or_default();
    writeln!(
        out,
        "\nCounterfoil (副页)\n  - {keeper}{when}\n      [{}]",
        c.source
    )?;
    if !p.notices.is_empty() {
        writeln!(out, "\nNotices (告知)")?;
        for n in &p.notices {
            writeln!(
                out,
                "  - on {:?}: {}\n      [{}]",
                n.on, n.text.zh, n.source
            )?;
        }
    }
    if let Some(c) = &p.calendar {
        writeln!(out, "\nRegional holidays (on top of the national calendar)")?;
        for d in &c.holidays {
            writeln!(out, "  - {} {}", d.date, d.name)?;
        }
        let years: Vec<String> = c.covered_years.iter().map(i32::to_string).collect();
        writeln!(
            out,
            "  covered years: {} (others provisional)\n      [{}]",
            years.join(", "),
            c.source
        )?;
    }
    writeln!(out, "\nEligibility (申请条件)")?;
    let rule = |out: &mut dyn Write, text: String, source: &str| {
        writeln!(out, "  - {text}\n      [{source}]")
    };
    rule(
        out,
        format!(
            "newborn younger than {} months",
            el.newborn_age.under_months
        ),
        &el.newborn_age.source,
    )?;
    rule(
        out,
        format!(
            "born in a hospital in region {}",
            el.birthplace.region_prefixes.join(", ")
        ),
        &el.birthplace.source,
    )?;
    let whose = match el.residency.rule {
        ResidencyRule::AtLeastOne => "at least one parent",
        ResidencyRule::Both => "both parents",
        ResidencyRule::RegisteringParent => "the registering parent",
    };
    rule(
        out,
        format!(
            "{whose} registered in {}",
            el.residency.region_prefixes.join(", ")
        ),
        &el.residency.source,
    )?;
    if let Some(r) = &el.registration_place {
        rule(
            out,
            format!("the newborn registers in {}", r.region_prefixes.join(", ")),
            &r.source,
        )?;
    }
    if let Some(r) = &el.marriage_certificate {
        rule(
            out,
            format!(
                "marriage certificate issued in {}",
                r.region_prefixes.join(", ")
            ),
            &r.source,
        )?;
    }
    rule(
        out,
        "both parents Chinese nationals (no HK/Macao/Taiwan or foreign residents online)".into(),
        &el.nationality.source,
    )?;
    rule(out, "married parents".into(), &el.marriage.source)?;
    let who = if el.applicant.father_with_authorisation {
        "the mother, or the father with her authorisation letter"
    } else {
        "the mother"
    };
    let counter = if el.applicant.counter_intake {
        "; counter staff may submit for them (一窗受理)"
    } else {
        ""
    };
    rule(
        out,
        format!("applicant: {who}{counter}"),
        &el.applicant.source,
    )?;
    rule(
        out,
        format!(
            "collective household: {}",
            name(&el.household_kind.collective)
        ),
        &el.household_kind.source,
    )?;
    if let Some(r) = &el.single_provincial_parent {
        rule(
            out,
            "with one provincial parent, the newborn registers with that parent".into(),
            &r.source,
        )?;
    }
    writeln!(out, "\nCases and routes (办理情形)")?;
    for (case, c) in &p.cases {
        writeln!(out, "  {} / {}", case.label().zh, case.label().en)?;
        // The graph: each stage after what it waits for, and what its failure ends.
        writeln!(out, "    pre_review")?;
        for stage in &c.route {
            let after: Vec<String> = p
                .dependencies(*case, *stage)
                .iter()
                .map(|d| match d.needs {
                    newborn_domain::policy::Needs::Completed => format!("{} completed", d.stage),
                    newborn_domain::policy::Needs::Ended => format!("{} ended", d.stage),
                })
                .collect();
            let ends = match p.failure_scope(*case, *stage) {
                newborn_domain::policy::FailureScope::Package => "the package (终止套餐服务)",
                newborn_domain::policy::FailureScope::Stage => "only this stage (终止本环节服务)",
            };
            writeln!(
                out,
                "    {:<22} after {:<30} failure ends {ends}",
                stage.as_str(),
                after.join(" + ")
            )?;
        }
        writeln!(out, "      [{}]", c.source)?;
    }
    writeln!(out, "\nStages (办理时限)")?;
    writeln!(
        out,
        "  {:<22} {:<16} {:<24} {:<40} confirms",
        "stage", "deadline", "clock starts", "supplement (补件) in"
    )?;
    for (stage, s) in &p.stages {
        let deadline = s
            .deadline_working_days
            .map(|d| format!("{d} working day{}", if d == 1 { "" } else { "s" }))
            .unwrap_or_else(|| "immediate".into());
        let clock = match s.clock_starts {
            ClockStart::OnReceipt => "on receipt",
            ClockStart::OnPartnerBankChoice => "on partner-bank choice",
        };
        let supplement: Vec<String> = s.supplement_in.iter().map(name).collect();
        let forms: Vec<String> = s.confirmation_forms.iter().map(|f| f.label().zh).collect();
        writeln!(
            out,
            "  {:<22} {:<16} {:<24} {:<40} {}",
            stage.as_str(),
            deadline,
            clock,
            if supplement.is_empty() {
                "none".into()
            } else {
                supplement.join(", ")
            },
            forms.join("、")
        )?;
        writeln!(out, "      [{}]", s.source)?;
    }
    writeln!(out, "\nMaterials (申报材料)")?;
    for case in Case::ALL.iter().filter(|c| p.cases.contains_key(c)) {
        writeln!(out, "  {}", case.label().zh)?;
        for stage in Stage::ALL {
            for m in p.materials_at(stage, *case) {
                let l = m.kind.label();
                let when = m
                    .when
                    .label()
                    .map(|w| format!(", {}", w.en))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "    - {} / {} (at {stage}{when})\n        [{}]",
                    l.zh, l.en, m.source
                )?;
            }
        }
    }
    writeln!(out, "\nSupervision (办件监察)")?;
    writeln!(
        out,
        "  warning at {} % of a stage's budget",
        p.supervision.warning_percent
    )?;
    if let Some(d) = p.supervision.overall_deadline_working_days {
        writeln!(out, "  whole flow promised within {d} working days")?;
    }
    writeln!(out, "      [{}]", p.supervision.source)?;
    match &p.licences {
        None => writeln!(
            out,
            "\nElectronic licences (电子证照): not taken; scans only"
        )?,
        Some(l) => {
            writeln!(out, "\nElectronic licences (电子证照) instead of scans")?;
            for rule in &l.kinds {
                let label = rule.kind.label();
                let holder = match rule.holder {
                    LicenceHolder::Mother => "the mother's",
                    LicenceHolder::Father => "the father's",
                    LicenceHolder::EitherParent => "either parent's",
                };
                let scan = if rule.registration_before_scan {
                    "a scan, but after the licence was refused only once a missing-licence registration is approved"
                } else {
                    "a scan at any time"
                };
                writeln!(
                    out,
                    "  - {} / {}: {holder} licence, or {scan}",
                    label.zh, label.en
                )?;
                writeln!(out, "      [{}]", rule.source)?;
            }
            writeln!(
                out,
                "  missing-licence registration (授权缺失登记) reviewed within {} working day(s)",
                l.registration_review_working_days
            )?;
            writeln!(out, "      [{}]", l.source)?;
        }
    }
    if !p.offers.is_empty() {
        writeln!(out, "\nOffers of declined follow-up services (主动服务)")?;
        for o in &p.offers {
            let services: Vec<String> = o.services.iter().map(|s| s.label().en).collect();
            let age = o
                .newborn_under_months
                .map(|m| format!(", while the newborn is under {m} months"))
                .unwrap_or_default();
            writeln!(out, "  - {}: {}{age}", o.stage, services.join(", "))?;
            writeln!(out, "      [{}]", o.source)?;
        }
    }
    Ok(())
}

/// The serde (snake_case) name of a unit enum value, as written in the policy files.
fn name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn write_review(out: &mut impl Write, p: &Policy, bytes: &[u8], now: DateTime<Utc>) -> Result<()> {
    let form = match parse_form(bytes) {
        Ok(f) => f,
        Err(issue) => {
            writeln!(
                out,
                "REJECTED  {}: {}\n          {}",
                issue.field, issue.error.message.zh, issue.error.message.en
            )?;
            bail!("the form is malformed");
        }
    };
    let issues = form.check(p, now);
    if !issues.is_empty() {
        for i in &issues {
            writeln!(
                out,
                "REJECTED  {}: {} / {}",
                i.field, i.error.message.zh, i.error.message.en
            )?;
        }
        bail!("{} problem(s) in the form", issues.len());
    }
    // No registration exists before an application: a photo where the licence is expected
    // would be asked for as the licence.
    let photos = form.photos_needing_registration(p);
    let review = pre_review(&form, p, now, &[], &photos);
    for f in &review.findings {
        writeln!(
            out,
            "finding   {}: {} / {}\n          [{}]",
            f.rule, f.message.zh, f.message.en, f.source
        )?;
    }
    match &review.decision {
        Decision::Accept { notes } => {
            writeln!(out, "ACCEPTED  自动受理 / accepted under {}", p.reference())?;
            for n in notes {
                writeln!(out, "note      {} / {}", n.zh, n.en)?;
            }
        }
        Decision::Supplement { items, .. } => {
            writeln!(out, "SUPPLEMENT 补件: {}", serde_json::to_string(items)?)?
        }
        Decision::GoOffline { reason } => {
            writeln!(out, "OFFLINE   转线下办理: {} / {}", reason.zh, reason.en)?
        }
    }
    Ok(())
}
