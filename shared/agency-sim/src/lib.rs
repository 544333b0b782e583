//! Simulated agencies: the hospital (基卫系统), the police household system, the medical-insurance
//! and the social-security systems, as one HTTP server. Each dispatch is verified against the
//! platform's signature, recorded durably (de-duplicated by its idempotency key), and answered
//! after a delay by calling the platform's real callback endpoint with the agency's own key.
//! Outcomes follow a per-application script when one is registered (`POST /scripts`), else a
//! configured mix of approve / supplement / go-offline.

mod directory;
mod outcome;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use newborn_domain::stage::{Agency, Stage};
use newborn_service::ports::Clock;
use newborn_service::signing::{
    ID_HEADER, KeyRing, SIGNATURE_HEADER, TIMESTAMP_HEADER, new_message_id,
};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use std::path::Path as FsPath;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use directory::{Authorise, ReceivedRegistration, Review, ReviewScript, sample_licences};
pub use outcome::{Mix, Scripted};

/// How the simulated agencies behave.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Base URL of the platform (its `/agency/callbacks` receives the answers).
    pub platform_url: String,
    /// How long an agency takes to answer.
    pub delay: Duration,
    /// The mix of outcomes for unscripted applications.
    pub mix: Mix,
    /// The bearer token `GET /received` needs: the dispatches it lists carry full personal data.
    pub received_token: String,
}

/// The simulator: its state lives in its own SQLite file, so it survives a restart like a real
/// agency system would.
#[derive(Clone)]
pub struct Simulator {
    db: Arc<Mutex<Connection>>,
    config: SimConfig,
    /// Verifies the platform's dispatches.
    platform_keys: Arc<KeyRing>,
    /// Signs the callbacks (one key per agency).
    agency_keys: Arc<KeyRing>,
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
    /// Rung when a dispatch arrives, so an agency with no delay answers at once.
    arrived: Arc<tokio::sync::Notify>,
}

/// One recorded dispatch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Received {
    /// The idempotency key.
    pub key: String,
    /// The agency.
    pub agency: String,
    /// State: pending, answered, held, gave_up.
    pub state: String,
    /// How many times the platform sent it (duplicates included).
    pub deliveries: u32,
    /// When it first arrived, µs since the epoch (wall clock).
    pub received_us: i64,
    /// When the platform accepted the answer to it, µs since the epoch; `None` while unanswered.
    pub answered_us: Option<i64>,
    /// What the platform sent.
    pub body: serde_json::Value,
}

/// The channel of the supervisors' escalations.
const ESCALATIONS: &str = "escalation";
/// The channel of the applicant gateway's notifications.
const NOTIFICATIONS: &str = "notification";
/// The channel of the 好差评 platform's ratings.
const RATINGS: &str = "rating";

/// One delivery recorded by the supervisors (an SLA escalation) or by the applicant gateway.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Escalation {
    /// The idempotency key, `<application>:<stage>:<level>`.
    pub key: String,
    /// The agency whose supervisor it reached.
    pub agency: String,
    /// What the platform sent.
    pub body: serde_json::Value,
    /// How many times it came.
    pub deliveries: u32,
}

/// A script for one stage of one application.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Script {
    /// The application.
    pub application_id: String,
    /// The stage.
    pub stage: Stage,
    /// Outcome per round; the last repeats.
    pub outcomes: Vec<Scripted>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS received (key TEXT PRIMARY KEY, agency TEXT NOT NULL, body TEXT NOT NULL,
  due_at INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, deliveries INTEGER NOT NULL DEFAULT 1);
CREATE INDEX IF NOT EXISTS received_due ON received(state, due_at);
CREATE TABLE IF NOT EXISTS recorded (channel TEXT NOT NULL, key TEXT NOT NULL, agency TEXT NOT NULL,
  body TEXT NOT NULL, deliveries INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (channel, key));
CREATE TABLE IF NOT EXISTS scripts (application TEXT NOT NULL, stage TEXT NOT NULL, outcomes TEXT NOT NULL, PRIMARY KEY (application, stage));
CREATE TABLE IF NOT EXISTS outages (agency TEXT PRIMARY KEY);
";

/// Dispatches taken per round of answering.
const DUE_BATCH: usize = 256;
/// Callbacks in flight at once.
const ANSWERS_IN_FLIGHT: usize = 32;

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Simulator {
    /// Opens the simulator's database and prepares its HTTP client.
    pub fn open(
        path: &FsPath,
        config: SimConfig,
        platform_keys: KeyRing,
        agency_keys: KeyRing,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        newborn_embedded::files::touch(path).map_err(|e| e.to_string())?;
        let conn = Connection::open(path).map_err(|e| e.to_string())?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| e.to_string())?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| e.to_string())?;
        conn.execute_batch(SCHEMA).map_err(|e| e.to_string())?;
        conn.execute_batch(directory::SCHEMA)
            .map_err(|e| e.to_string())?;
        // Columns added after the first release; a database from before gains them here.
        for column in [
            "received_us INTEGER NOT NULL DEFAULT 0",
            "answered_us INTEGER",
        ] {
            match conn.execute(&format!("ALTER TABLE received ADD COLUMN {column}"), []) {
                Ok(_) => {}
                Err(e) if e.to_string().contains("duplicate column") => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        let client = newborn_http::client_builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            db: Arc::new(Mutex::new(conn)),
            config,
            platform_keys: Arc::new(platform_keys),
            agency_keys: Arc::new(agency_keys),
            clock,
            client,
            arrived: Arc::new(tokio::sync::Notify::new()),
        })
    }

    pub(crate) async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, String> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let conn = db
                .lock()
                .map_err(|_| "simulator lock poisoned".to_owned())?;
            f(&conn).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// The simulator's HTTP routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/dispatch/{agency}", post(receive))
            .route("/scripts", post(add_script))
            .route("/outages", post(set_outage))
            .route("/received", get(list_received))
            .route("/supervision/{agency}", post(supervise))
            .route(
                "/escalations",
                get(|State(sim): State<Simulator>| async move { sim.listing(ESCALATIONS).await }),
            )
            .route("/notify", post(notify))
            .route(
                "/ratings",
                post(rate)
                    .get(|State(sim): State<Simulator>| async move { sim.listing(RATINGS).await }),
            )
            .route("/licences", post(directory::add))
            .route("/licences/authorisations", post(directory::authorise))
            .route("/licences/lookup", post(directory::lookup))
            .route("/licences/held", post(directory::held))
            .route(
                "/licences/registrations",
                post(directory::register).get(directory::list),
            )
            .route("/licences/registration-scripts", post(directory::script))
            .route(
                "/notifications",
                get(|State(sim): State<Simulator>| async move { sim.listing(NOTIFICATIONS).await }),
            )
            .with_state(self.clone())
    }

    /// Registers a script.
    pub async fn script(&self, s: Script) -> Result<(), String> {
        let outcomes = serde_json::to_string(&s.outcomes).map_err(|e| e.to_string())?;
        self.call(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO scripts (application, stage, outcomes) VALUES (?1, ?2, ?3)",
                params![s.application_id, s.stage.as_str(), outcomes],
            )
            .map(|_| ())
        })
        .await
    }

    /// Every dispatch received.
    pub async fn received(&self) -> Result<Vec<Received>, String> {
        self.call(|c| {
            let mut stmt =
                c.prepare("SELECT key, agency, state, deliveries, received_us, answered_us, body FROM received ORDER BY rowid")?;
            let rows = stmt.query_map([], |r| {
                Ok(Received {
                    key: r.get(0)?,
                    agency: r.get(1)?,
                    state: r.get(2)?,
                    deliveries: r.get(3)?,
                    received_us: r.get(4)?,
                    answered_us: r.get(5)?,
                    body: serde_json::from_str(&r.get::<_, String>(6)?).unwrap_or_default(),
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// Everything recorded on `channel` (escalations or notifications), once per key, with how
    /// often it came.
    pub async fn recorded(&self, channel: &'static str) -> Result<Vec<Escalation>, String> {
        self.call(move |c| {
            let mut stmt = c.prepare(
                "SELECT key, agency, body, deliveries FROM recorded WHERE channel = ?1 ORDER BY rowid",
            )?;
            let rows = stmt.query_map(params![channel], |r| {
                Ok(Escalation {
                    key: r.get(0)?,
                    agency: r.get(1)?,
                    body: serde_json::from_str(&r.get::<_, String>(2)?).unwrap_or_default(),
                    deliveries: r.get(3)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// Every rating the 好差评 platform received, once per rating id.
    pub async fn ratings(&self) -> Result<Vec<Escalation>, String> {
        self.recorded(RATINGS).await
    }

    /// Every notification the applicant gateway received (the app's push and the SMS).
    pub async fn notifications(&self) -> Result<Vec<Escalation>, String> {
        self.recorded(NOTIFICATIONS).await
    }

    /// Every SLA escalation the supervisors received.
    pub async fn escalations(&self) -> Result<Vec<Escalation>, String> {
        self.recorded(ESCALATIONS).await
    }

    async fn listing(&self, channel: &'static str) -> Answer {
        match self.recorded(channel).await {
            Ok(r) => (StatusCode::OK, Json(serde_json::json!(r))),
            Err(e) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"error": e})),
            ),
        }
    }

    /// Records a signed delivery on `channel` once per idempotency key, counting repeats.
    async fn record(
        &self,
        channel: &'static str,
        agency: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Answer {
        // Escalations go to an agency's supervisor, or to the platform's for the whole matter's
        // clock (永福县 附件2 六(一)).
        if channel == ESCALATIONS
            && agency_by_path(agency).is_none()
            && agency != Agency::Platform.dispatch_path()
        {
            return (
                StatusCode::NOT_FOUND,
                Json(serde_json::json!({"error": "no such supervisor"})),
            );
        }
        let key = match self.verified(None, headers, body) {
            Ok(key) => key,
            Err(refusal) => return refusal,
        };
        let (agency, text) = (
            agency.to_owned(),
            String::from_utf8_lossy(body).into_owned(),
        );
        let result = self
            .call(move |c| {
                c.execute(
                    "INSERT INTO recorded (channel, key, agency, body) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT(channel, key) DO UPDATE SET deliveries = deliveries + 1",
                    params![channel, key, agency, text],
                )
            })
            .await;
        match result {
            Ok(_) => (
                StatusCode::ACCEPTED,
                Json(serde_json::json!({"status": "recorded"})),
            ),
            Err(e) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"error": e})),
            ),
        }
    }

    /// Answers due dispatches until the task is dropped: up to [`ANSWERS_IN_FLIGHT`] at once,
    /// as independent agency systems would; it pauses only when nothing is due.
    pub async fn run(self) {
        loop {
            if let Err(e) = self.review_due().await {
                tracing::warn!(error = %e, "simulated licence directory: reviewing failed");
            }
            match self.answer_due().await {
                Ok(n) if n == DUE_BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "simulated agencies: answering failed"),
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), self.arrived.notified()).await;
        }
    }

    /// Answers one batch of due dispatches concurrently; returns how many were due.
    async fn answer_due(&self) -> Result<usize, String> {
        let now = now_ms();
        let due: Vec<(String, String, u32)> = self
            .call(move |c| {
                let mut stmt = c.prepare("SELECT key, body, attempts FROM received WHERE state = 'pending' AND due_at <= ?1 ORDER BY due_at LIMIT ?2")?;
                let rows = stmt.query_map(params![now, DUE_BATCH as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                rows.collect()
            })
            .await?;
        let count = due.len();
        let mut answering = tokio::task::JoinSet::new();
        let mut outcomes = vec![];
        for (key, body, attempts) in due {
            if answering.len() >= ANSWERS_IN_FLIGHT
                && let Some(Ok(done)) = answering.join_next().await
            {
                outcomes.push(done);
            }
            let sim = self.clone();
            answering.spawn(async move {
                let (state, retry_ms) = after_answer(&key, sim.answer(&body).await, attempts);
                (key, state, now_us(), retry_ms)
            });
        }
        while let Some(done) = answering.join_next().await {
            outcomes.extend(done.ok());
        }
        // One commit for the whole batch.
        self.call(move |c| {
            let tx = c.unchecked_transaction()?;
            for (key, state, at_us, retry_ms) in outcomes {
                let answered = (state == "answered").then_some(at_us);
                tx.execute("UPDATE received SET state = ?2, attempts = attempts + 1, due_at = ?3, answered_us = ?4 WHERE key = ?1", params![key, state, at_us / 1000 + retry_ms, answered])?;
            }
            tx.commit()
        })
        .await?;
        Ok(count)
    }

    /// Decides and sends the callback for one dispatch; `None` when scripted to stay silent.
    async fn answer(&self, body: &str) -> Result<Option<()>, String> {
        let dispatch: serde_json::Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
        let stage: Stage = dispatch["stage"].as_str().unwrap_or_default().parse()?;
        let app = dispatch["application_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let round = dispatch["round"].as_u64().unwrap_or(1) as u32;
        let script: Option<String> = {
            let (app, stage) = (app.clone(), stage.as_str().to_owned());
            self.call(move |c| {
                c.query_row(
                    "SELECT outcomes FROM scripts WHERE application = ?1 AND stage = ?2",
                    params![app, stage],
                    |r| r.get(0),
                )
                .or_else(|e| {
                    if e == rusqlite::Error::QueryReturnedNoRows {
                        Ok(None)
                    } else {
                        Err(e)
                    }
                })
            })
            .await?
        };
        let scripted: Option<Vec<Scripted>> = script.and_then(|s| serde_json::from_str(&s).ok());
        let choice = outcome::choose(&dispatch, scripted.as_deref(), &self.config.mix, round);
        // A service with its own deadline (the Yongfu enrolment) is reported done first.
        if choice == Scripted::Approve {
            for service in dispatch["report_separately"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let done = serde_json::json!({"application_id": app, "stage": stage, "round": round,
                    "outcome": {"type": "service_done", "service": service}});
                let res = self
                    .post_signed(stage.agency(), "/agency/callbacks", &done)
                    .await?;
                // A conflict (a later round) is settled by the result's own answer below.
                if !res.status().is_success() && res.status() != reqwest::StatusCode::CONFLICT {
                    return Err(format!(
                        "platform answered HTTP {} to service_done",
                        res.status()
                    ));
                }
            }
        }
        let Some(outcome) = outcome::callback_outcome(choice, &dispatch, stage, self.clock.now())?
        else {
            return Ok(None);
        };
        let callback = serde_json::json!({"application_id": app, "stage": stage, "round": round, "outcome": outcome});
        let res = self
            .post_signed(stage.agency(), "/agency/callbacks", &callback)
            .await?;
        let status = res.status();
        if status.is_success() {
            return Ok(Some(()));
        }
        // The platform moved past this round (its answer arrived before a crash hid the
        // acknowledgement, and a later round is under way): drop it, as the integration guide
        // tells agencies to.
        let code = res
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|b| b["code"].as_str().map(str::to_owned));
        if status == reqwest::StatusCode::CONFLICT && code.as_deref() == Some("stale_round") {
            Ok(Some(()))
        } else {
            Err(format!("platform answered HTTP {status}"))
        }
    }
}

/// The state a dispatch or registration is left in after an attempt to answer it, and when to try
/// again: answered, held (scripted silence), pending (retried with a growing delay while the
/// platform does not accept the answer), or given up after 60 attempts.
pub(crate) fn after_answer(
    key: &str,
    result: Result<Option<()>, String>,
    attempts: u32,
) -> (&'static str, i64) {
    match result {
        Ok(Some(())) => ("answered", 0),
        Ok(None) => ("held", 0),
        Err(e) if attempts < 60 => {
            tracing::debug!(%key, error = %e, "answer not accepted yet; retrying");
            ("pending", 500 * i64::from(attempts.min(10) + 1))
        }
        Err(e) => {
            tracing::error!(%key, error = %e, "gave up answering");
            ("gave_up", 0)
        }
    }
}

impl Simulator {
    /// POSTs `body` to the platform's `path`, signed with `owner`'s key.
    pub(crate) async fn post_signed(
        &self,
        owner: Agency,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<reqwest::Response, String> {
        let bytes = serde_json::to_vec(body).map_err(|e| e.to_string())?;
        let key = self
            .agency_keys
            .key_of(owner)
            .ok_or_else(|| format!("no key for {}", owner.as_str()))?;
        let mut req = self
            .client
            .post(format!("{}{path}", self.config.platform_url))
            .header("content-type", "application/json");
        for (name, value) in key.headers(&new_message_id(), chrono::Utc::now(), &bytes) {
            req = req.header(name, value);
        }
        req.body(bytes).send().await.map_err(|e| e.to_string())
    }
}

fn agency_by_path(name: &str) -> Option<Agency> {
    Agency::DISPATCHED
        .into_iter()
        .chain([Agency::LicenceDirectory])
        .find(|a| a.dispatch_path() == name)
}

pub(crate) type Answer = (StatusCode, Json<serde_json::Value>);

impl Simulator {
    /// Checks a request from the platform: a known agency path and the platform's signature;
    /// returns the message id (`webhook-id`), the idempotency key of the request.
    pub(crate) fn verified(
        &self,
        agency: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<String, Answer> {
        let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if agency.is_some_and(|a| agency_by_path(a).is_none()) {
            return Err((
                StatusCode::NOT_FOUND,
                Json(serde_json::json!({"error": "no such agency"})),
            ));
        }
        self.platform_keys
            .verify(
                h(ID_HEADER),
                h(TIMESTAMP_HEADER),
                h(SIGNATURE_HEADER),
                body,
                chrono::Utc::now(),
            )
            .map(|v| v.id)
            .map_err(|e| {
                (
                    StatusCode::UNAUTHORIZED,
                    Json(serde_json::json!({"error": e.to_string()})),
                )
            })
    }
}

/// The applicant notification gateway (the app's push / SMS service): verifies the platform's
/// signature and records each notification once, counting repeats.
async fn notify(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Answer {
    sim.record(NOTIFICATIONS, "", &headers, &body).await
}

/// The provincial 好差评 platform: verifies the platform's signature and records each rating
/// once per rating id, counting repeats.
async fn rate(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Answer {
    sim.record(RATINGS, "", &headers, &body).await
}

/// A supervisor's endpoint: verifies the platform's signature and records the escalation once.
async fn supervise(
    State(sim): State<Simulator>,
    Path(agency): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    sim.record(ESCALATIONS, &agency, &headers, &body).await
}

async fn receive(
    State(sim): State<Simulator>,
    Path(agency): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<serde_json::Value>) {
    let key = match sim.verified(Some(&agency), &headers, &body) {
        Ok(key) => key,
        Err(refusal) => return refusal,
    };
    // An agency whose system is down acknowledges nothing (the watchdog's case).
    let name = agency.clone();
    let down = sim
        .call(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM outages WHERE agency = ?1",
                params![name],
                |r| r.get::<_, i64>(0),
            )
        })
        .await;
    if down.unwrap_or(0) > 0 {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": "the agency's system is down"})),
        );
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    let due = now_ms() + sim.config.delay.as_millis() as i64;
    let result = sim
        .call(move |c| {
            let n = c.execute("INSERT OR IGNORE INTO received (key, agency, body, due_at, state, received_us) VALUES (?1, ?2, ?3, ?4, 'pending', ?5)", params![key, agency, text, due, now_us()])?;
            if n == 0 {
                c.execute("UPDATE received SET deliveries = deliveries + 1 WHERE key = ?1", params![key])?;
            }
            Ok(n == 1)
        })
        .await;
    match result {
        Ok(true) => {
            sim.arrived.notify_one();
            (
                StatusCode::ACCEPTED,
                Json(serde_json::json!({"status": "accepted"})),
            )
        }
        Ok(false) => (
            StatusCode::OK,
            Json(serde_json::json!({"status": "duplicate"})),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": e})),
        ),
    }
}

/// An agency's system going down (`{"agency": "police", "down": true}`, the name in its dispatch
/// path: its dispatches are answered 503 and not recorded) or coming back.
#[derive(Deserialize)]
struct Outage {
    agency: String,
    down: bool,
}

async fn set_outage(
    State(sim): State<Simulator>,
    Json(o): Json<Outage>,
) -> (StatusCode, Json<serde_json::Value>) {
    let result = sim
        .call(move |c| {
            if o.down {
                c.execute(
                    "INSERT OR IGNORE INTO outages (agency) VALUES (?1)",
                    params![o.agency],
                )
            } else {
                c.execute("DELETE FROM outages WHERE agency = ?1", params![o.agency])
            }
            .map(|_| ())
        })
        .await;
    match result {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ok"}))),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": e})),
        ),
    }
}

async fn add_script(
    State(sim): State<Simulator>,
    Json(script): Json<Script>,
) -> (StatusCode, Json<serde_json::Value>) {
    match sim.script(script).await {
        Ok(()) => (
            StatusCode::CREATED,
            Json(serde_json::json!({"status": "ok"})),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": e})),
        ),
    }
}

async fn list_received(
    State(sim): State<Simulator>,
    headers: HeaderMap,
) -> (StatusCode, Json<serde_json::Value>) {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let token = sim.config.received_token.as_bytes();
    let matches =
        given.is_some_and(|g| newborn_service::signing::constant_time_eq(g.as_bytes(), token));
    if token.is_empty() || !matches {
        return (
            StatusCode::UNAUTHORIZED,
            Json(
                serde_json::json!({"error": "GET /received needs the simulator token (simulator-token in the data directory) as a bearer token"}),
            ),
        );
    }
    match sim.received().await {
        Ok(r) => (StatusCode::OK, Json(serde_json::json!(r))),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": e})),
        ),
    }
}
