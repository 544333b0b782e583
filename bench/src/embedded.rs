//! The embedded runtime under load: the whole local service (API, stage workers, SQLite store and
//! queues, simulated agencies answering at once over real HTTP with real signatures) in this
//! process. N applications of the demo's scenarios are prepared (scans uploaded), then submitted
//! at once — a holiday backlog — and driven by their applicants, who act on the notifications the
//! service pushes to the app gateway (confirm forms, choose the bank, supply a scan). Measured:
//! applications per second from the first submission to the last final state; the durable-commit
//! ceiling of the same disk; the hand-off latency from an agency's callback accepted to the next
//! agency's dispatch received; the applicant API's latency at many concurrent clients.

use crate::stats::{Summary, summarise};
use anyhow::{Context, Result, bail};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{TimeDelta, Utc};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use newborn::demo::{ApplicantClient, scenarios};
use newborn::runtime::{Agencies, ServeConfig};
use newborn_agency_sim::Mix;
use newborn_domain::calendar::CHINA;
use newborn_domain::flow::Outcome;
use newborn_service::ports::Delivery;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Applications.
    pub applications: usize,
    /// Requests in flight while preparing and submitting.
    pub concurrency: usize,
    /// Concurrent clients reading their application.
    pub api_clients: usize,
    /// Reads in total.
    pub api_requests: usize,
    /// Give up after this long.
    pub timeout: Duration,
}

/// The durable-commit ceiling of the disk.
#[derive(Debug, Clone, Serialize)]
pub struct Ceiling {
    /// Bytes written per commit (an application document and a timeline entry).
    pub commit_bytes: usize,
    /// Commits measured.
    pub commits: u64,
    /// Durable commits per second (WAL, synchronous FULL, one connection, as the service).
    pub commits_per_s: f64,
    /// The same rate divided by the service's commits per application.
    pub applications_per_s: f64,
}

/// The applicant API under concurrent reads.
#[derive(Debug, Clone, Serialize)]
pub struct ApiLatency {
    /// Concurrent clients.
    pub clients: usize,
    /// Requests.
    pub requests: usize,
    /// Requests per second.
    pub per_s: f64,
    /// Latency.
    pub latency: Summary,
    /// Answers other than 200.
    pub errors: usize,
}

/// The measurements.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Applications submitted.
    pub applications: usize,
    /// Final outcomes.
    pub outcomes: BTreeMap<String, usize>,
    /// Seconds spent uploading scans before the clock started.
    pub prepare_s: f64,
    /// Seconds to submit them all.
    pub submit_s: f64,
    /// Seconds from the first submission to the last final state.
    pub elapsed_s: f64,
    /// Complete applications per second over that span.
    pub applications_per_s: f64,
    /// Per application, submission to final state.
    pub per_application: Summary,
    /// Applicant actions taken on notifications.
    pub applicant_actions: usize,
    /// Final states found by the fallback sweep rather than a notification.
    pub found_by_sweep: usize,
    /// Durable commits of the service's database per application.
    pub commits_per_application: f64,
    /// Agency dispatches received per application (rounds included).
    pub dispatches_per_application: f64,
    /// Dispatches the agencies received more than once (before de-duplication).
    pub duplicate_dispatches: usize,
    /// The disk's ceiling, measured in the same run.
    pub ceiling: Ceiling,
    /// Throughput divided by the ceiling in applications per second.
    pub ratio_to_ceiling: f64,
    /// Callback accepted → next agency's dispatch received, applications arriving one every
    /// 20 ms.
    pub hand_off: Summary,
    /// The same during the backlog (queue waits included).
    pub hand_off_under_backlog: Summary,
    /// The applicant API.
    pub api: ApiLatency,
}

#[derive(Clone)]
struct Gateway {
    tx: mpsc::UnboundedSender<Delivery>,
}

/// The app's push gateway: hands each notification to the applicants' driver.
async fn gateway(State(g): State<Gateway>, body: Bytes) -> StatusCode {
    match serde_json::from_slice::<Delivery>(&body) {
        Ok(d) => {
            let _ = g.tx.send(d);
            StatusCode::ACCEPTED
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

fn bar(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{elapsed:>4}} {{bar:40}} {{pos}}/{{len}} {what} ({{per_sec}}) {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn outcome_name(o: Outcome) -> String {
    serde_json::to_value(o)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

struct Tracked {
    owner: String,
    submitted: Instant,
}

type Shared<T> = Arc<Mutex<T>>;

fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| anyhow::anyhow!("a benchmark task panicked"))
}

/// One batch of applications driven to their final states.
#[derive(Default)]
struct Driven {
    /// Per application: when its final state was seen, and which.
    finished: HashMap<String, (Instant, String)>,
    /// Per application: when its applicant acted (µs since the epoch).
    actions: HashMap<String, Vec<i64>>,
    /// Final states found by the fallback sweep.
    found_by_sweep: usize,
}

/// The service under test and its applicants.
struct Bench {
    running: newborn::runtime::Running,
    client: Arc<ApplicantClient>,
    sim_url: Option<String>,
    scenarios: Arc<Vec<newborn::demo::Scenario>>,
    notifications: mpsc::UnboundedReceiver<Delivery>,
}

impl Bench {
    async fn start(dir: &Path) -> Result<Self> {
        let (tx, notifications) = mpsc::unbounded_channel();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let gateway_url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            let app = axum::Router::new()
                .route("/notify", axum::routing::post(gateway))
                .with_state(Gateway { tx });
            let _ = axum::serve(listener, app).await;
        });
        let mut config = ServeConfig::new(dir.to_path_buf());
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.agencies = Agencies::Simulated {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            delay: Duration::ZERO,
            mix: Mix::default(),
        };
        config.notify_url = Some(format!("{gateway_url}/notify"));
        config.sla_interval = Duration::from_secs(3600);
        let running = newborn::runtime::start(config).await?;
        let client = Arc::new(ApplicantClient::new(
            &running.endpoints.api_url,
            running.issuer.clone(),
        )?);
        Ok(Self {
            sim_url: running.endpoints.simulator_url.clone(),
            running,
            client,
            scenarios: Arc::new(scenarios()),
            notifications,
        })
    }

    /// Every applicant of `owners` uploads her scans; returns the forms, in order.
    async fn prepare(
        &self,
        owners: Vec<(usize, String)>,
        concurrency: usize,
    ) -> Result<Vec<(usize, String, serde_json::Value)>> {
        let now = Utc::now();
        let birth = now - TimeDelta::days(5);
        let today = now.with_timezone(&CHINA).date_naive();
        let progress = bar(owners.len(), "prepared (scans uploaded)");
        let mut prepared: Vec<(usize, String, serde_json::Value)> = futures::stream::iter(owners)
            .map(|(i, owner)| {
                let (client, all) = (self.client.clone(), self.scenarios.clone());
                async move {
                    let form = client
                        .prepare(&all[i % all.len()], &owner, birth, today)
                        .await?;
                    anyhow::Ok((i, owner, form))
                }
            })
            .buffer_unordered(concurrency)
            .inspect(|_| progress.inc(1))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_>>()?;
        progress.finish();
        prepared.sort_by_key(|(i, _, _)| *i);
        Ok(prepared)
    }

    /// Submits `prepared` (`concurrency` at a time, or one every `pace`) while driving every
    /// application to its final state: the applicants act on the notifications the service
    /// pushes, as the app would. Returns when all have ended; fails after `timeout`.
    async fn run_batch(
        &mut self,
        prepared: Vec<(usize, String, serde_json::Value)>,
        concurrency: usize,
        pace: Option<Duration>,
        timeout: Duration,
    ) -> Result<(HashMap<String, Tracked>, Driven, f64)> {
        let expected = prepared.len();
        let tracked: Shared<HashMap<String, Tracked>> = Arc::default();
        let t0 = Instant::now();
        let submitting = {
            let (client, all, tracked, sim_url) = (
                self.client.clone(),
                self.scenarios.clone(),
                tracked.clone(),
                self.sim_url.clone(),
            );
            tokio::spawn(async move {
                let results: Vec<Result<()>> = futures::stream::iter(prepared)
                    .map(|(i, owner, form)| {
                        let (client, all, tracked, sim_url) = (
                            client.clone(),
                            all.clone(),
                            tracked.clone(),
                            sim_url.clone(),
                        );
                        async move {
                            if let Some(pace) = pace {
                                tokio::time::sleep(pace * i as u32).await;
                            }
                            let at = Instant::now();
                            let id = client
                                .submit_scenario(
                                    sim_url.as_deref(),
                                    &all[i % all.len()],
                                    &owner,
                                    &form,
                                )
                                .await?;
                            lock(&tracked)?.insert(
                                id,
                                Tracked {
                                    owner,
                                    submitted: at,
                                },
                            );
                            Ok(())
                        }
                    })
                    .buffer_unordered(if pace.is_some() {
                        expected.max(1)
                    } else {
                        concurrency
                    })
                    .collect()
                    .await;
                let submitted = results.into_iter().collect::<Result<Vec<()>>>()?;
                anyhow::Ok((submitted.len(), t0.elapsed().as_secs_f64()))
            })
        };

        let driven: Shared<Driven> = Arc::default();
        let progress = bar(expected, "applications at their final state");
        let service = self.running.desks.applicant.clone();
        let mut last_sweep = Instant::now();
        let mut acting = tokio::task::JoinSet::new();
        let mut offline = std::collections::HashSet::new();
        loop {
            let done = lock(&driven)?.finished.len();
            progress.set_position(done as u64);
            if done == expected {
                break;
            }
            if t0.elapsed() > timeout {
                progress.abandon_with_message("timed out");
                bail!(
                    "{} of {expected} applications did not end within {} s",
                    expected - done,
                    timeout.as_secs()
                );
            }
            let delivery =
                tokio::time::timeout(Duration::from_millis(500), self.notifications.recv()).await;
            while acting.try_join_next().is_some() {}
            match delivery {
                Ok(Some(d)) => {
                    let (client, service, driven) =
                        (self.client.clone(), service.clone(), driven.clone());
                    match d.notification.kind.as_str() {
                        "forms_to_confirm"
                        | "choose_partner_bank"
                        | "supplement_needed"
                        | "licence_registration_approved" => {
                            acting.spawn(async move {
                                if let Ok(mut d2) = lock(&driven) {
                                    d2.actions
                                        .entry(d.application_id.to_string())
                                        .or_default()
                                        .push(Utc::now().timestamp_micros());
                                }
                                // A conflict with a concurrent change is retried, as the app would.
                                for _ in 0..5 {
                                    if client
                                        .act(&d.owner, d.application_id.as_str())
                                        .await
                                        .is_ok()
                                    {
                                        break;
                                    }
                                    tokio::time::sleep(Duration::from_millis(50)).await;
                                }
                            });
                        }
                        "all_done" => {
                            // Sent with the commit that completed the flow.
                            if let Ok(mut d2) = lock(&driven) {
                                d2.finished
                                    .entry(d.application_id.to_string())
                                    .or_insert((Instant::now(), outcome_name(Outcome::Completed)));
                            }
                        }
                        // A flow with a stage gone offline ends when its other stages have: look
                        // at it then (a completed flow says so with "all_done").
                        "stage_done" | "gone_offline"
                            if d.notification.kind == "gone_offline"
                                || offline.contains(d.application_id.as_str()) =>
                        {
                            offline.insert(d.application_id.to_string());
                            acting.spawn(async move {
                                if let Ok(s) = service.get(&d.owner, &d.application_id).await {
                                    let outcome = s.application.outcome();
                                    if outcome != Outcome::InProgress
                                        && let Ok(mut d2) = lock(&driven)
                                    {
                                        d2.finished
                                            .entry(d.application_id.to_string())
                                            .or_insert((Instant::now(), outcome_name(outcome)));
                                    }
                                }
                            });
                        }
                        _ => {}
                    }
                }
                Ok(None) => bail!("the notification gateway stopped"),
                Err(_) => {}
            }
            // A fallback, should a final notification be lost: look at the last few open ones.
            if last_sweep.elapsed() > Duration::from_secs(10) {
                last_sweep = Instant::now();
                let open: Vec<(String, String)> = {
                    let (t, d) = (lock(&tracked)?, lock(&driven)?);
                    t.iter()
                        .filter(|(id, _)| !d.finished.contains_key(*id))
                        .map(|(id, t)| (id.clone(), t.owner.clone()))
                        .collect()
                };
                if open.len() < 100 {
                    for (id, owner) in open {
                        let app_id = id
                            .parse()
                            .map_err(|e: newborn_domain::text::Invalid| anyhow::anyhow!("{e}"))?;
                        let outcome = service.get(&owner, &app_id).await?.application.outcome();
                        if outcome != Outcome::InProgress {
                            let mut d = lock(&driven)?;
                            if let std::collections::hash_map::Entry::Vacant(e) =
                                d.finished.entry(id)
                            {
                                e.insert((Instant::now(), outcome_name(outcome)));
                                d.found_by_sweep += 1;
                            }
                        }
                    }
                }
            }
        }
        progress.finish();
        while acting.join_next().await.is_some() {}
        let (submitted, submit_s) = submitting.await??;
        anyhow::ensure!(
            submitted == expected,
            "only {submitted} of {expected} were submitted"
        );
        let tracked = std::mem::take(&mut *lock(&tracked)?);
        let driven = std::mem::take(&mut *lock(&driven)?);
        Ok((tracked, driven, submit_s))
    }

    /// Hand-offs of `apps`: a dispatch whose latest preceding event of its application (other
    /// dispatches aside) is an answered callback, with no applicant action in between, was
    /// caused by that callback; the time between is the hand-off (returned in ms).
    async fn hand_offs(
        &self,
        apps: &HashMap<String, Tracked>,
        actions: &HashMap<String, Vec<i64>>,
    ) -> Result<Vec<f64>> {
        let simulator = self
            .running
            .simulator
            .as_ref()
            .context("the simulated agencies are not running")?;
        let received = simulator.received().await.map_err(anyhow::Error::msg)?;
        let mut by_app: HashMap<&str, Vec<(i64, bool)>> = HashMap::new();
        for r in &received {
            let app = r.key.split(':').next().unwrap_or_default();
            if !apps.contains_key(app) {
                continue;
            }
            by_app.entry(app).or_default().push((r.received_us, false));
            if let Some(a) = r.answered_us {
                by_app.entry(app).or_default().push((a, true));
            }
        }
        let mut hand_offs = vec![];
        for (app, mut events) in by_app {
            let acted = actions.get(app).map(Vec::as_slice).unwrap_or_default();
            events.sort();
            for (i, (at, answer)) in events.iter().enumerate() {
                if *answer {
                    continue;
                }
                let cause = events[..i].iter().rev().find(|(_, answer)| *answer);
                if let Some((answered, _)) = cause
                    && !acted.iter().any(|a| a >= answered && a <= at)
                {
                    hand_offs.push((at - answered) as f64 / 1000.0);
                }
            }
        }
        Ok(hand_offs)
    }
}

/// Runs the embedded benchmark in `dir`.
pub async fn run(cfg: &Config, dir: &Path) -> Result<Report> {
    let mut bench = Bench::start(dir).await?;
    let simulator = bench
        .running
        .simulator
        .clone()
        .context("the simulated agencies are not running")?;

    // The backlog: prepared (not timed), then submitted all at once and driven to the end.
    let started = Instant::now();
    let owners = (0..cfg.applications)
        .map(|i| (i, format!("bench-{i}")))
        .collect();
    let prepared = bench.prepare(owners, cfg.concurrency).await?;
    let prepare_s = started.elapsed().as_secs_f64();
    let commits_before = bench.running.database.commits();
    let received_before = simulator
        .received()
        .await
        .map_err(anyhow::Error::msg)?
        .len();
    let t0 = Instant::now();
    let (tracked, driven, submit_s) = bench
        .run_batch(prepared, cfg.concurrency, None, cfg.timeout)
        .await?;
    let commits = bench.running.database.commits() - commits_before;
    let last = driven
        .finished
        .values()
        .map(|(at, _)| *at)
        .max()
        .unwrap_or_else(Instant::now);
    let elapsed_s = (last - t0).as_secs_f64();
    let mut outcomes = BTreeMap::new();
    let mut per_application = vec![];
    for (id, (at, outcome)) in &driven.finished {
        *outcomes.entry(outcome.clone()).or_insert(0) += 1;
        if let Some(t) = tracked.get(id) {
            per_application.push((*at - t.submitted).as_secs_f64() * 1000.0);
        }
    }
    let received = simulator.received().await.map_err(anyhow::Error::msg)?;
    let duplicate_dispatches = received.iter().filter(|r| r.deliveries > 1).count();
    let dispatches = received.len() - received_before;
    let loaded = bench.hand_offs(&tracked, &driven.actions).await?;

    // Hand-offs without a backlog: a trickle of applications, one every 20 ms.
    let quiet = cfg.applications.clamp(1, 200);
    let owners = (0..quiet).map(|i| (i, format!("quiet-{i}"))).collect();
    let prepared = bench.prepare(owners, cfg.concurrency).await?;
    let (quiet_apps, quiet_driven, _) = bench
        .run_batch(prepared, 1, Some(Duration::from_millis(20)), cfg.timeout)
        .await?;
    let unloaded = bench.hand_offs(&quiet_apps, &quiet_driven.actions).await?;

    let ceiling = ceiling(dir, commits as f64 / cfg.applications as f64).await?;
    let applications_per_s = cfg.applications as f64 / elapsed_s;
    let ids: Vec<(String, String)> = tracked
        .iter()
        .map(|(id, t)| (id.clone(), t.owner.clone()))
        .collect();
    let api = api_latency(&bench.client, &ids, cfg.api_clients, cfg.api_requests).await?;
    bench.running.stop();
    Ok(Report {
        applications: cfg.applications,
        outcomes,
        prepare_s,
        submit_s,
        elapsed_s,
        applications_per_s,
        per_application: summarise(per_application),
        applicant_actions: driven.actions.values().map(Vec::len).sum(),
        found_by_sweep: driven.found_by_sweep,
        commits_per_application: commits as f64 / cfg.applications as f64,
        dispatches_per_application: dispatches as f64 / cfg.applications as f64,
        duplicate_dispatches,
        ratio_to_ceiling: applications_per_s / ceiling.applications_per_s,
        ceiling,
        hand_off: summarise(unloaded),
        hand_off_under_backlog: summarise(loaded),
        api,
    })
}

/// The rate of durable SQLite commits on the same disk, each the size of a typical transition
/// (the average application document and timeline entry of this run), in a fresh database with
/// the service's settings.
async fn ceiling(dir: &Path, commits_per_application: f64) -> Result<Ceiling> {
    let data = rusqlite::Connection::open(dir.join("newborn.db"))?;
    let size = |sql: &str| -> Result<usize> {
        Ok(data
            .query_row(sql, [], |r| r.get::<_, Option<f64>>(0))?
            .unwrap_or(0.0) as usize)
    };
    let commit_bytes = size("SELECT avg(length(body)) FROM applications")?
        + size("SELECT avg(length(body)) FROM timeline")?;
    drop(data);
    let path = dir.join("ceiling.db");
    tokio::task::spawn_blocking(move || -> Result<Ceiling> {
        let conn = rusqlite::Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE docs (id INTEGER PRIMARY KEY, version INTEGER, body TEXT);
             CREATE TABLE log (seq INTEGER PRIMARY KEY AUTOINCREMENT, id INTEGER, body TEXT);",
        )?;
        let body = "x".repeat(commit_bytes.saturating_sub(200));
        let entry = "y".repeat(200.min(commit_bytes));
        let started = Instant::now();
        let mut commits = 0u64;
        while commits < 2000 || started.elapsed() < Duration::from_secs(3) {
            let tx = conn.unchecked_transaction()?;
            tx.execute(
                "INSERT INTO docs (id, version, body) VALUES (?1, 1, ?2) ON CONFLICT(id) DO UPDATE SET version = version + 1, body = excluded.body",
                rusqlite::params![(commits % 1000) as i64, body],
            )?;
            tx.execute(
                "INSERT INTO log (id, body) VALUES (?1, ?2)",
                rusqlite::params![(commits % 1000) as i64, entry],
            )?;
            tx.commit()?;
            commits += 1;
        }
        let commits_per_s = commits as f64 / started.elapsed().as_secs_f64();
        Ok(Ceiling {
            commit_bytes,
            commits,
            commits_per_s,
            applications_per_s: commits_per_s / commits_per_application.max(1.0),
        })
    })
    .await?
}

/// `requests` reads of own applications by `clients` concurrent applicants over HTTP.
async fn api_latency(
    client: &Arc<ApplicantClient>,
    ids: &[(String, String)],
    clients: usize,
    requests: usize,
) -> Result<ApiLatency> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let ids = Arc::new(ids.to_vec());
    let progress = bar(requests, "applicant reads");
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (client, ids, next, progress) =
            (client.clone(), ids.clone(), next.clone(), progress.clone());
        tasks.spawn(async move {
            let (mut samples, mut errors) = (vec![], 0usize);
            loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if k >= requests || ids.is_empty() {
                    break;
                }
                let (id, owner) = &ids[k % ids.len()];
                let req = client.get(owner, &format!("/applications/{id}"));
                let at = Instant::now();
                let ok = match req.send().await {
                    Ok(res) => res.status() == reqwest::StatusCode::OK && res.bytes().await.is_ok(),
                    Err(_) => false,
                };
                samples.push(at.elapsed().as_secs_f64() * 1000.0);
                errors += usize::from(!ok);
                progress.inc(1);
            }
            (samples, errors)
        });
    }
    let (mut samples, mut errors) = (vec![], 0);
    while let Some(done) = tasks.join_next().await {
        let (s, e) = done?;
        samples.extend(s);
        errors += e;
    }
    progress.finish();
    let elapsed = started.elapsed().as_secs_f64();
    Ok(ApiLatency {
        clients,
        requests: samples.len(),
        per_s: samples.len() as f64 / elapsed,
        latency: summarise(samples),
        errors,
    })
}
