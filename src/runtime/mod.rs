//! The whole service on one machine: the HTTP API and agency callbacks, a worker per stage
//! queue, the SLA timer and (unless switched off) the simulated agencies, over one data
//! directory:
//!
//! ```text
//! <data-dir>/newborn.db     applications, timelines, notifications, clock index, alerts, queues (SQLite, WAL)
//! <data-dir>/documents/     uploaded scans by SHA-256
//! <data-dir>/agencies.db    the simulated agencies' own records
//! <data-dir>/keys.json      webhook keys (platform and agencies), created on first start
//! <data-dir>/dev-issuer.json  the development identity provider's secret
//! <data-dir>/clock.json     the controllable clock's origin, when --clock-start is used
//! <data-dir>/service.json   where this instance listens (read by `newborn demo`)
//! ```

pub mod clock;
pub mod keys;
pub mod metrics;
pub mod operations;
pub mod workers;

use anyhow::{Context, Result};
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, TimeDelta, Utc};
use newborn_agency_sim::{Mix, SimConfig, Simulator};
use newborn_domain::calendar::WorkingCalendar;
use newborn_domain::policy::PolicyRegistry;
use newborn_domain::stage::Stage;
use newborn_embedded::{
    Database, FileDocuments, SqliteDrafts, SqliteHandovers, SqliteQueue, SqliteRequestLog,
    SqliteStore, SqliteUploads,
};
use newborn_http::routes;
use newborn_http::{
    AgencyRoutes, ApplicantRoutes, Edge, HttpDispatcher, HttpLicenceDirectory, HttpNotifier,
    HttpRatingPlatform, ResultRoutes, SignedUploadUrls, SupervisionRoutes, UploadRoutes,
};
use newborn_service::ports::Clock;
use newborn_service::signing::KeyRing;
use newborn_service::{
    AgencyDesk, ApplicantDesk, Core, Drafts, EvaluationDesk, Licences, MonitorDesk, NotifierDesk,
    Rules, StageDesk, SupervisionDesk, UploadDesk,
};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use workers::WorkerSettings;

/// Where agency dispatches go.
#[derive(Debug, Clone)]
pub enum Agencies {
    /// The built-in simulated agencies, listening on `listen`.
    Simulated {
        /// Their address (port 0: any free port).
        listen: SocketAddr,
        /// Answer delay.
        delay: Duration,
        /// Outcome mix for unscripted applications.
        mix: Mix,
    },
    /// Real agency systems (or a person with curl) at these base URLs; each receives
    /// `POST <base>/dispatch/<hospital|police|insurance|social-security>`.
    External {
        /// One base URL for all four agencies.
        base_url: String,
    },
}

/// Configuration of `newborn serve`.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The API's address.
    pub listen: SocketAddr,
    /// The agencies.
    pub agencies: Agencies,
    /// Where SLA escalations go (`<url>/supervision/<agency>`); by default the agencies' base URL
    /// (the simulated agencies record them).
    pub supervisors_url: Option<String>,
    /// Where applicant notifications go (the app's push / SMS gateway); by default the simulated
    /// gateway at `<agencies>/notify`.
    pub notify_url: Option<String>,
    /// The licence directory's base URL (`<url>/licences/...`); by default the agencies' base
    /// URL (the simulated directory).
    pub licence_directory_url: Option<String>,
    /// Start service time here (controllable clock); `None` for the system clock.
    pub clock_start: Option<DateTime<Utc>>,
    /// Service-time seconds per real second.
    pub clock_speed: f64,
    /// Allow `POST /admin/clock` to advance service time.
    pub clock_control: bool,
    /// How often the SLA monitor runs.
    pub sla_interval: Duration,
    /// Queue settings.
    pub workers: WorkerSettings,
    /// The default policy id.
    pub default_policy: String,
    /// An extra holiday file.
    pub holidays_file: Option<PathBuf>,
    /// Test mode of the queues: every message delivered twice, out of order.
    pub duplicate_delivery: bool,
    /// What one applicant may upload in a day.
    pub upload_quota: newborn_service::ports::UploadQuota,
    /// The simulated directory starts with the sample family's licences on file (the demo's and
    /// the tests' family gives its identity cards as licences); off for tests that shape the
    /// directory themselves.
    pub sample_licences: bool,
}

impl ServeConfig {
    /// Defaults for `data_dir`: 127.0.0.1:8080, simulated agencies on 127.0.0.1:8081 answering
    /// after 500 ms, system clock, SLA sweep every 60 s, Fujian 2.0.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            agencies: Agencies::Simulated {
                listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
                delay: Duration::from_millis(500),
                mix: Mix::default(),
            },
            supervisors_url: None,
            notify_url: None,
            licence_directory_url: None,
            clock_start: None,
            clock_speed: 1.0,
            clock_control: false,
            sla_interval: Duration::from_secs(60),
            workers: WorkerSettings {
                batch_size: 10,
                visibility_timeout: Duration::from_secs(30),
                max_receives: 5,
                idle_poll: Duration::from_millis(100),
            },
            default_policy: newborn_domain::policy::DEFAULT_POLICY.to_owned(),
            holidays_file: None,
            duplicate_delivery: false,
            upload_quota: Default::default(),
            sample_licences: true,
        }
    }
}

/// Where a running instance listens; written to `service.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoints {
    /// The API base URL.
    pub api_url: String,
    /// The simulated agencies' base URL, if running.
    pub simulator_url: Option<String>,
}

/// A running instance.
pub struct Running {
    /// Where it listens.
    pub endpoints: Endpoints,
    /// Every desk (for in-process tests and the demo).
    pub desks: Desks,
    /// The simulator, if running.
    pub simulator: Option<Simulator>,
    /// The development identity provider (mints applicant tokens).
    pub issuer: newborn_http::DevIssuer,
    /// The service's database (its commit count, for the benchmark).
    pub database: Database,
    /// The operator token (`/admin/*`, `/operations`).
    pub operator_token: String,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops every task.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The desks of the local runtime: all of them, on one machine.
#[derive(Clone)]
pub struct Desks {
    /// Applicants.
    pub applicant: ApplicantDesk,
    /// Uploads.
    pub uploads: UploadDesk,
    /// Agencies' signed requests.
    pub agency: AgencyDesk,
    /// The stage workers.
    pub stages: StageDesk,
    /// Staff and supervisors.
    pub supervision: SupervisionDesk,
    /// The SLA timer.
    pub monitor: MonitorDesk,
    /// The notification worker.
    pub notifier: NotifierDesk,
    /// The evaluation worker (评价).
    pub evaluation: EvaluationDesk,
}

#[derive(Clone)]
struct AdminState {
    /// The operator token (`<data>/operator-token`).
    token: Arc<str>,
    desks: Desks,
    queue: SqliteQueue,
    metrics: Arc<metrics::Counters>,
    clock: Option<Arc<clock::ScaledClock>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: i64,
}

/// The cookie the operator page is kept signed in with (`SameSite=Strict`, `HttpOnly`).
const OPERATOR_COOKIE: &str = "newborn_operator";

fn admin_router(state: AdminState) -> Router {
    let metrics = Router::new()
        .route("/metrics", get(prometheus))
        .with_state(state.clone());
    Router::new()
        .route(
            "/admin/clock",
            post(advance_clock).get(|State(s): State<AdminState>| async move {
                Json(serde_json::json!({"now": s.desks.supervision.core().now()}))
            }),
        )
        .route("/admin/sla-sweep", post(sweep_now))
        .route("/admin/queues", get(queue_stats))
        .route("/admin/queues/{queue}/redrive", post(redrive))
        .route("/operations", get(operations_page))
        .route("/operations/redrive/{queue}", post(operations_redrive))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            operators_only,
        ))
        .with_state(state)
        .merge(metrics)
}

/// The operator routes need the operator token: as `Authorization: Bearer`, or in the page's
/// cookie, set by opening `/operations?token=…` once (the address start-up prints). A POST that
/// relies on the cookie must also come from this origin (`Origin` equal to the `Host`): the
/// cookie is `SameSite=Strict` and the Origin check stops cross-site forms in older browsers.
async fn operators_only(
    State(s): State<AdminState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let headers = req.headers();
    let bearer = newborn_http::bearer_token(headers);
    let cookie = headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(OPERATOR_COOKIE)?.strip_prefix('='))
        .next();
    let query = (req.method() == axum::http::Method::GET)
        .then(|| req.uri().query())
        .flatten()
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("token=")));
    let matches = |t: Option<&str>| {
        t.is_some_and(|t| {
            newborn_service::signing::constant_time_eq(t.as_bytes(), s.token.as_bytes())
        })
    };
    let refuse = |status: StatusCode, code: &str, zh: &str, en: &str| {
        newborn_http::Problem::new(status, &newborn_domain::text::Invalid::new(code, zh, en))
            .into_response()
    };
    if matches(bearer) {
        return next.run(req).await;
    }
    if matches(cookie) {
        let same_origin = headers
            .get("origin")
            .and_then(|o| o.to_str().ok())
            .zip(headers.get("host").and_then(|h| h.to_str().ok()))
            .is_some_and(|(origin, host)| origin == format!("http://{host}"));
        if req.method() != axum::http::Method::GET && !same_origin {
            return refuse(
                StatusCode::FORBIDDEN,
                "cross_site_request",
                "跨站请求被拒绝",
                "a cross-site request is refused",
            );
        }
        return next.run(req).await;
    }
    if matches(query) {
        let mut res = next.run(req).await;
        if let Ok(v) = format!(
            "{OPERATOR_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200",
            s.token
        )
        .parse()
        {
            res.headers_mut().insert("set-cookie", v);
        }
        return res;
    }
    refuse(
        StatusCode::UNAUTHORIZED,
        "operator_token_required",
        "需要运维令牌（见启动时打印的地址或数据目录中的 operator-token）",
        "the operator token is required (see the address printed at start-up, or operator-token in the data directory)",
    )
}

/// The counters, and each queue's depth: a dead-letter queue above zero is the alarm (the local
/// counterpart of the template's dead-letter alarms).
async fn prometheus(State(s): State<AdminState>) -> impl axum::response::IntoResponse {
    let mut text = s.metrics.prometheus();
    if let Ok(stats) = s.queue.stats().await {
        text.push_str("# HELP newborn_queue_messages Messages in a queue (visible, or received and not yet deleted or delayed).\n# TYPE newborn_queue_messages gauge\n");
        for q in &stats {
            for (state, n) in [("visible", q.visible), ("in_flight", q.in_flight)] {
                text.push_str(&format!(
                    "newborn_queue_messages{{queue=\"{}\",state=\"{state}\"}} {n}\n",
                    q.queue
                ));
            }
        }
        text.push_str("# HELP newborn_dead_letters Messages in a dead-letter queue, waiting for an operator to redrive them after a fix.\n# TYPE newborn_dead_letters gauge\n");
        for queue in newborn_service::ports::QueueName::ALL {
            let dlq = newborn_embedded::dead_letter_queue(queue.as_str());
            let n: u64 = stats
                .iter()
                .filter(|q| q.queue == dlq)
                .map(|q| q.visible + q.in_flight)
                .sum();
            text.push_str(&format!(
                "newborn_dead_letters{{queue=\"{}\"}} {n}\n",
                queue.as_str()
            ));
        }
    }
    ([("content-type", "text/plain; version=0.0.4")], text)
}

type AdminResult = Result<Json<serde_json::Value>, (StatusCode, Json<serde_json::Value>)>;

fn admin_error(
    status: StatusCode,
    e: impl std::fmt::Display,
) -> (StatusCode, Json<serde_json::Value>) {
    (status, Json(serde_json::json!({"error": e.to_string()})))
}

async fn advance_clock(State(s): State<AdminState>, Json(a): Json<Advance>) -> AdminResult {
    let clock = s.clock.as_ref().ok_or_else(|| {
        admin_error(
            StatusCode::FORBIDDEN,
            "start with --clock-start and --clock-control to move service time",
        )
    })?;
    let now = clock
        .advance(TimeDelta::seconds(a.seconds))
        .map_err(|e| admin_error(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    Ok(Json(serde_json::json!({"now": now})))
}

async fn sweep_now(State(s): State<AdminState>) -> AdminResult {
    let report =
        newborn_handlers::handle_schedule(&s.desks.monitor, workers::scheduled_event(Utc::now()))
            .await
            .map_err(|e| admin_error(StatusCode::SERVICE_UNAVAILABLE, e))?;
    Ok(Json(serde_json::to_value(report).unwrap_or_default()))
}

async fn queue_stats(State(s): State<AdminState>) -> AdminResult {
    let stats = s
        .queue
        .stats()
        .await
        .map_err(|e| admin_error(StatusCode::SERVICE_UNAVAILABLE, e))?;
    Ok(Json(serde_json::to_value(stats).unwrap_or_default()))
}

async fn redrive(State(s): State<AdminState>, UrlPath(queue): UrlPath<String>) -> AdminResult {
    // A stage's queue is its agency's (the hospital's carries the release too).
    let Ok(stage) = queue.parse::<Stage>() else {
        return Err(admin_error(
            StatusCode::NOT_FOUND,
            format!("no queue {queue}"),
        ));
    };
    let moved = s
        .queue
        .redrive(stage.queue().as_str())
        .await
        .map_err(|e| admin_error(StatusCode::SERVICE_UNAVAILABLE, e))?;
    Ok(Json(serde_json::json!({"moved": moved})))
}

async fn operations_page(
    State(s): State<AdminState>,
) -> Result<axum::response::Html<String>, (StatusCode, Json<serde_json::Value>)> {
    let snap = operations::snapshot(&s.desks.supervision, &s.queue)
        .await
        .map_err(|e| admin_error(StatusCode::SERVICE_UNAVAILABLE, e))?;
    Ok(axum::response::Html(operations::render(&snap, &s.metrics)))
}

/// The page's redrive button: moves a stage's dead letters back, then shows the page again.
async fn operations_redrive(
    State(s): State<AdminState>,
    UrlPath(queue): UrlPath<String>,
) -> Result<axum::response::Redirect, (StatusCode, Json<serde_json::Value>)> {
    let queue: newborn_service::ports::QueueName = queue
        .parse()
        .map_err(|e: String| admin_error(StatusCode::NOT_FOUND, e))?;
    let moved = s
        .queue
        .redrive(queue.as_str())
        .await
        .map_err(|e| admin_error(StatusCode::SERVICE_UNAVAILABLE, e))?;
    tracing::info!(%queue, moved, "redriven from the operations page");
    Ok(axum::response::Redirect::to("/operations"))
}

async fn bind(addr: SocketAddr, what: &str) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} for the {what}; is another instance running? choose another address"))
}

/// Starts everything; returns once listening.
pub async fn start(config: ServeConfig) -> Result<Running> {
    newborn_embedded::files::create_dir(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.data_dir.display()
        )
    })?;
    let mut calendar = WorkingCalendar::builtin();
    if let Some(file) = &config.holidays_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read holiday file {}", file.display()))?;
        calendar.extend(
            WorkingCalendar::from_json(&text)
                .with_context(|| format!("holiday file {}", file.display()))?,
        );
    }
    let keys = keys::load_or_create(&config.data_dir)?;
    let issuer = keys::dev_issuer(&config.data_dir)?;
    let operator_token = keys::token(&config.data_dir, "operator-token")?;
    let wall: Arc<dyn Clock> = Arc::new(clock::SystemClock);
    let scaled = match config.clock_start {
        Some(start) => Some(Arc::new(clock::ScaledClock::open(
            &config.data_dir,
            start,
            config.clock_speed,
        )?)),
        None => None,
    };
    let service_clock: Arc<dyn Clock> = match &scaled {
        Some(c) => c.clone(),
        None => wall.clone(),
    };

    let db = Database::open(&config.data_dir.join("newborn.db")).with_context(|| {
        format!(
            "cannot open {}",
            config.data_dir.join("newborn.db").display()
        )
    })?;
    let queue = if config.duplicate_delivery {
        tracing::warn!("test mode: every queue message is delivered twice, out of order");
        SqliteQueue::new(db.clone()).with_duplicate_delivery()
    } else {
        SqliteQueue::new(db.clone())
    };
    let api_listener = bind(config.listen, "API").await?;
    let api_addr = api_listener.local_addr()?;
    let api_url = format!("http://{api_addr}");

    let mut tasks = vec![];
    let (agency_base, simulator) = match &config.agencies {
        Agencies::Simulated { listen, delay, mix } => {
            let listener = bind(*listen, "simulated agencies").await?;
            let url = format!("http://{}", listener.local_addr()?);
            let sim = Simulator::open(
                &config.data_dir.join("agencies.db"),
                SimConfig {
                    platform_url: api_url.clone(),
                    delay: *delay,
                    mix: *mix,
                    received_token: keys::token(&config.data_dir, "simulator-token")?,
                },
                KeyRing::new(vec![keys.platform.clone()]),
                keys.agencies.clone(),
                service_clock.clone(),
            )
            .map_err(anyhow::Error::msg)?;
            // The simulated province directory holds the sample family's licences (the demo's
            // and the tests' family gives its identity cards as licences, 附件2 一(一)).
            if config.sample_licences {
                sim.file_sample_licences()
                    .await
                    .map_err(anyhow::Error::msg)?;
            }
            let router = sim.router();
            tasks.push(tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(error = %e, "simulated agencies stopped");
                }
            }));
            tasks.push(tokio::spawn(sim.clone().run()));
            (url, Some(sim))
        }
        Agencies::External { base_url } => (base_url.trim_end_matches('/').to_owned(), None),
    };
    let dispatcher = HttpDispatcher::to_gateway(&agency_base, keys.platform.clone(), wall.clone())
        .map_err(anyhow::Error::msg)?;
    let supervisors = HttpDispatcher::to_supervisors(
        config.supervisors_url.as_deref().unwrap_or(&agency_base),
        keys.platform.clone(),
        wall.clone(),
    )
    .map_err(anyhow::Error::msg)?;
    let counters = Arc::new(metrics::Counters::default());
    let notifier = HttpNotifier::new(
        config
            .notify_url
            .clone()
            .unwrap_or_else(|| format!("{agency_base}/notify")),
        keys.platform.clone(),
        wall.clone(),
    )
    .map_err(anyhow::Error::msg)?;
    // The provincial 好差评 platform: the simulator's, or the agencies' gateway's.
    let ratings = HttpRatingPlatform::new(&agency_base, keys.platform.clone(), wall.clone())
        .map_err(anyhow::Error::msg)?;
    let directory = HttpLicenceDirectory::new(
        config
            .licence_directory_url
            .as_deref()
            .unwrap_or(&agency_base),
        keys.platform.clone(),
        keys.agencies.clone(),
        wall.clone(),
    )
    .map_err(anyhow::Error::msg)?;
    let rules = Rules::new(PolicyRegistry::builtin(), calendar, &config.default_policy)?;
    let core = Core::new(
        Arc::new(SqliteStore::new(db.clone())),
        service_clock.clone(),
        counters.clone(),
        Arc::new(rules),
    );
    let licences = Licences::new(Arc::new(directory), service_clock.clone(), counters.clone());
    let register = Arc::new(SqliteUploads::new(db.clone()));
    let handovers = Arc::new(SqliteHandovers::new(db.clone()));
    let drafts = Drafts::new(Arc::new(SqliteDrafts::new(db.clone())));
    let desks = Desks {
        applicant: ApplicantDesk::new(core.clone(), register.clone(), licences.clone())
            .with_results(keys.results.clone())
            .with_drafts(drafts.clone()),
        uploads: UploadDesk::new(
            register,
            Arc::new(FileDocuments::new(&config.data_dir.join("documents"))?),
        )
        .with_quota(config.upload_quota),
        agency: AgencyDesk::new(core.clone()).with_drafts(drafts.clone()),
        stages: StageDesk::new(
            core.clone(),
            Arc::new(dispatcher),
            licences,
            handovers.clone(),
        ),
        supervision: SupervisionDesk::new(core.clone(), handovers),
        monitor: MonitorDesk::new(core.clone(), Arc::new(supervisors)).with_drafts(drafts),
        notifier: NotifierDesk::new(Arc::new(notifier), counters.clone()),
        evaluation: EvaluationDesk::new(core.clone(), Arc::new(ratings)),
    };

    let uploads = SignedUploadUrls::new(keys.platform.clone(), api_url.clone());
    let auth: Arc<dyn newborn_http::Authenticator> = Arc::new(issuer.clone());
    let requests = Arc::new(SqliteRequestLog::new(db.clone()));
    let edge = Edge {
        auth: auth.clone(),
        requests: requests.clone(),
        wall_clock: wall.clone(),
    };
    // One machine serves every route group.
    let api = newborn_http::api(
        edge,
        [
            routes::applicant::routes(ApplicantRoutes {
                desk: desks.applicant.clone(),
                auth: auth.clone(),
            }),
            routes::uploads::routes(UploadRoutes {
                desk: desks.uploads.clone(),
                auth: auth.clone(),
                target: Arc::new(uploads.clone()),
                signed: Some(uploads),
                wall_clock: wall.clone(),
            }),
            routes::agency::routes(AgencyRoutes {
                desk: desks.agency.clone(),
                keys: Arc::new(keys.agencies.clone()),
                wall_clock: wall.clone(),
            }),
            routes::supervision::routes(SupervisionRoutes {
                desk: desks.supervision.clone(),
                auth,
            }),
            routes::operator::routes(core),
            routes::results::routes(ResultRoutes {
                keys: desks.applicant.published_keys().map(Arc::new),
            }),
        ],
    )
    .merge(admin_router(AdminState {
        token: operator_token.clone().into(),
        desks: desks.clone(),
        queue: queue.clone(),
        metrics: counters,
        clock: if config.clock_control {
            scaled.clone()
        } else {
            None
        },
    }));
    tasks.push(tokio::spawn(async move {
        if let Err(e) = axum::serve(api_listener, api).await {
            tracing::error!(error = %e, "API server stopped");
        }
    }));
    tasks.push(tokio::spawn(workers::notification_worker(
        desks.notifier.clone(),
        queue.clone(),
        config.workers,
    )));
    tasks.push(tokio::spawn(workers::evaluation_worker(
        desks.evaluation.clone(),
        queue.clone(),
        config.workers,
    )));
    for stage in Stage::QUEUES {
        tasks.push(tokio::spawn(workers::stage_worker(
            desks.stages.clone(),
            queue.clone(),
            stage,
            config.workers,
        )));
    }
    tasks.push(tokio::spawn(workers::sla_timer(
        desks.monitor.clone(),
        config.sla_interval,
    )));

    let endpoints = Endpoints {
        api_url,
        simulator_url: simulator.as_ref().map(|_| agency_base.clone()),
    };
    let file = config.data_dir.join("service.json");
    newborn_embedded::files::write_atomically(&file, &serde_json::to_vec_pretty(&endpoints)?)
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(Running {
        endpoints,
        desks,
        simulator,
        issuer,
        database: db,
        operator_token,
        tasks,
    })
}

/// `newborn serve`: starts, prints where everything is, runs until Ctrl-C or SIGTERM.
pub fn serve(config: ServeConfig, log_json: bool) -> Result<()> {
    init_logging(log_json);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let running = start(config.clone()).await?;
        let e = &running.endpoints;
        println!("新生儿出生一件事 — the newborn one-stop service is running");
        println!("  API                {}", e.api_url);
        match (&config.agencies, &e.simulator_url) {
            (Agencies::Simulated { delay, mix, .. }, Some(url)) => println!("  agencies           simulated at {url} (answer after {} ms; mix approve={} supplement={} offline={})", delay.as_millis(), mix.approve, mix.supplement, mix.offline),
            (Agencies::External { base_url }, _) => println!("  agencies           external at {base_url}/dispatch/<agency>"),
            _ => {}
        }
        println!("  data directory     {}", config.data_dir.display());
        match config.clock_start {
            Some(s) => println!("  service clock      from {} at ×{}{}", s.with_timezone(&newborn_domain::calendar::CHINA).to_rfc3339(), config.clock_speed, if config.clock_control { " (POST /admin/clock to advance)" } else { "" }),
            None => println!("  service clock      system time"),
        }
        println!("  SLA monitor        every {} s", config.sla_interval.as_secs());
        println!("  operator page      {}/operations?token={} (the token is also in {}/operator-token)", e.api_url, running.operator_token, config.data_dir.display());
        println!();
        println!("Watch applications travel through every agency:  cargo run --release -- demo --data-dir {}", config.data_dir.display());
        println!("Or by hand:  TOKEN=$(cargo run -q -- token --data-dir {} --subject me)", config.data_dir.display());
        println!("             curl -s {}/applications -H \"authorization: Bearer $TOKEN\"", e.api_url);
        shutdown_signal().await;
        println!("stopping");
        running.stop();
        Ok(())
    })
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
