//! The SQLite database: opening, schema, and running blocking calls off the async runtime.

use rusqlite::Connection;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The shared database handle.
#[derive(Clone)]
pub struct Database {
    conn: Arc<Mutex<Connection>>,
    /// Commits since opening (read by the benchmark).
    commits: Arc<std::sync::atomic::AtomicU64>,
    /// Per queue, counts commits that queued messages on it, so its idle worker wakes at once.
    sent: Arc<Mutex<HashMap<String, tokio::sync::watch::Sender<u64>>>>,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS applications (
    id          TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    version     INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    body        TEXT NOT NULL,
    submitted_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS applications_owner ON applications(owner, submitted_at);
CREATE TABLE IF NOT EXISTS timeline (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    application TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timeline_application ON timeline(application, seq);
CREATE TABLE IF NOT EXISTS notifications (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    application TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_application ON notifications(application, seq);
-- The sparse index of running SLA clocks: only running clocks have rows. `stage` holds what the
-- clock watches (`Watch`): a stage's name, `service:<service>` or `matter`.
CREATE TABLE IF NOT EXISTS open_clocks (
    application TEXT NOT NULL,
    stage       TEXT NOT NULL,
    warning_at  INTEGER,
    deadline    INTEGER,
    PRIMARY KEY (application, stage)
);
CREATE INDEX IF NOT EXISTS open_clocks_warning ON open_clocks(warning_at);
CREATE INDEX IF NOT EXISTS open_clocks_deadline ON open_clocks(deadline);
CREATE TABLE IF NOT EXISTS open_follow_ups (
    application TEXT NOT NULL,
    stage       TEXT NOT NULL,
    due_at      INTEGER NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (application, stage)
);
CREATE INDEX IF NOT EXISTS open_follow_ups_due ON open_follow_ups(due_at);
-- The counterfoil handover register (《出生医学证明》副页移交).
CREATE TABLE IF NOT EXISTS counterfoils (
    certificate TEXT PRIMARY KEY,
    county      TEXT NOT NULL,
    issued_ms   INTEGER NOT NULL,
    body        TEXT NOT NULL,
    batch       TEXT
);
CREATE INDEX IF NOT EXISTS counterfoils_pending ON counterfoils(county, batch, issued_ms);
CREATE TABLE IF NOT EXISTS handovers (
    number      TEXT PRIMARY KEY,
    body        TEXT NOT NULL
);
-- `stage` holds the alert's watch, as in open_clocks.
CREATE TABLE IF NOT EXISTS alerts (
    application TEXT NOT NULL,
    stage       TEXT NOT NULL,
    level       TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (application, stage, level)
);
-- The facts efficiency reports are computed from, written with the change that caused them.
CREATE TABLE IF NOT EXISTS facts (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    agency      TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS facts_agency ON facts(agency, at_ms);
-- The queues: visibility timeout, receive count, delayed delivery; dead letters move to
-- the queue named "<queue>-dlq".
CREATE TABLE IF NOT EXISTS messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    queue         TEXT NOT NULL,
    body          TEXT NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    visible_at    INTEGER NOT NULL,
    sent_at       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_queue ON messages(queue, visible_at, id);
-- Idempotency-Key records of POST requests (24 h) and seen callback signatures (replay guard).
CREATE TABLE IF NOT EXISTS idempotency (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER,
    body         BLOB,
    created_ms   INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency(created_ms);
CREATE TABLE IF NOT EXISTS accepted_messages (
    message     TEXT PRIMARY KEY,
    application TEXT NOT NULL,
    at_ms       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS accepted_messages_application ON accepted_messages(application, at_ms);
CREATE TABLE IF NOT EXISTS upload_quota (
    owner  TEXT NOT NULL,
    day    TEXT NOT NULL,
    slots  INTEGER NOT NULL,
    bytes  INTEGER NOT NULL,
    PRIMARY KEY (owner, day)
);
CREATE TABLE IF NOT EXISTS uploads (
    id           TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    kind         TEXT NOT NULL,
    body         TEXT NOT NULL,
    sha256       TEXT
);
CREATE INDEX IF NOT EXISTS uploads_owner ON uploads(owner, kind, sha256);
"#;

impl Database {
    /// Opens (creating if needed, owner-only) the database file with WAL and durable commits.
    pub fn open(path: &Path) -> Result<Self, rusqlite::Error> {
        crate::files::touch(path).map_err(|e| {
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(e.to_string()),
            )
        })?;
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: every commit is on disk before it returns; a crash loses no acknowledged write.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "busy_timeout", 5000)?;
        conn.execute_batch(SCHEMA)?;
        let commits = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = commits.clone();
        conn.commit_hook(Some(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            false
        }));
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            commits,
            sent: Arc::default(),
        })
    }

    /// How many transactions committed since the database was opened (each one durable:
    /// synchronous FULL).
    pub fn commits(&self) -> u64 {
        self.commits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Tells the workers of `queues` that a commit queued messages on them.
    pub(crate) fn messages_queued<'a>(&self, queues: impl IntoIterator<Item = &'a str>) {
        let Ok(sent) = self.sent.lock() else { return };
        for queue in queues {
            if let Some(tx) = sent.get(queue) {
                tx.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    /// A receiver that changes whenever messages are queued on `queue` (see
    /// [`crate::SqliteQueue::wait`]).
    pub(crate) fn queued_signal(&self, queue: &str) -> tokio::sync::watch::Receiver<u64> {
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.entry(queue.to_owned())
            .or_insert_with(|| tokio::sync::watch::channel(0).0)
            .subscribe()
    }

    /// Runs `f` with the connection on a blocking thread.
    pub(crate) async fn call<T, F>(&self, f: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| "database lock poisoned".to_owned())?;
            f(&mut guard).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }
}
