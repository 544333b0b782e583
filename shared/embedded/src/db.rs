//! The SQLite database: opening, schema, and the writer thread every call runs on, which
//! commits the calls waiting together in one durable transaction (group commit).
//!
//! One connection, owned by one thread. A call is a closure over the connection; the thread
//! takes the first waiting call and every other already queued (up to [`GROUP`]), runs them in
//! one `BEGIN IMMEDIATE … COMMIT` — each closure's own transaction is a savepoint inside it, so a
//! closure that fails or refuses (a version conflict) undoes only its own statements — and only
//! after the `COMMIT` is on disk (`synchronous = FULL`) answers each caller. A caller therefore
//! never acts on a change that a crash could still take back, and a burst of transitions costs
//! one fsync instead of one each. A lone call runs as before, in its own transaction.

use newborn_service::ports::StoreError;
use rusqlite::Connection;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The most calls one group commit holds.
const GROUP: usize = 64;

/// A call as the writer thread runs it: the closure, which returns how to answer its caller
/// once the group's outcome (committed or not) is known.
type Job = Box<dyn FnOnce(&mut Connection) -> Answer + Send>;
/// Answers one caller with the group's outcome.
type Answer = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A value as the JSON text a row stores.
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Unavailable(format!("serialise: {e}")))
}

/// A value from the JSON text of a row.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Unavailable(format!("stored row: {e}")))
}

/// The shared database handle.
#[derive(Clone)]
pub struct Database {
    jobs: std::sync::mpsc::Sender<Job>,
    /// Commits since opening (read by the benchmark).
    commits: Arc<std::sync::atomic::AtomicU64>,
    /// Per queue, counts commits that queued messages on it, so its idle worker wakes at once.
    sent: Arc<Mutex<HashMap<String, tokio::sync::watch::Sender<u64>>>>,
    /// Set by a call that deleted personal data: after its commit, before its caller hears,
    /// the writer checkpoints the write-ahead log into the database and truncates it, so the
    /// deleted rows' earlier images do not survive in the log.
    erase: Arc<std::sync::atomic::AtomicBool>,
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
-- Drafts from the hospital's birth record, until the mother confirms them or they expire.
CREATE TABLE IF NOT EXISTS drafts (
    id          TEXT PRIMARY KEY,
    mother      TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS drafts_mother ON drafts(mother, created_ms);
CREATE INDEX IF NOT EXISTS drafts_expiry ON drafts(expires_ms);
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
        // Deleted content is overwritten, not merely unlinked: a deleted draft's personal data
        // does not linger in free pages (see [`Database::erase_after_commit`]).
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.execute_batch(SCHEMA)?;
        let commits = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = commits.clone();
        conn.commit_hook(Some(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            false
        }));
        let (jobs, waiting) = std::sync::mpsc::channel::<Job>();
        let erase = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let erasing = erase.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer(conn, &waiting, &erasing))
            .map_err(|e| {
                rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                    Some(format!("cannot start the database thread: {e}")),
                )
            })?;
        Ok(Self {
            jobs,
            commits,
            sent: Arc::default(),
            erase,
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

    /// The flag a call that deletes personal data sets, inside its closure: the writer then
    /// checkpoints and truncates the write-ahead log after that call's commit, before answering.
    pub(crate) fn eraser(&self) -> Arc<std::sync::atomic::AtomicBool> {
        self.erase.clone()
    }

    /// Runs `f` with the connection on the writer thread; answers once what it wrote is
    /// committed (with the calls grouped with it).
    pub(crate) async fn call<T, F>(&self, f: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn: &mut Connection| {
            let result = f(conn).map_err(|e| e.to_string());
            Box::new(move |group: Result<(), String>| {
                let _ = tx.send(group.and(result));
            })
        });
        self.jobs
            .send(job)
            .map_err(|_| "the database thread is gone".to_owned())?;
        rx.await
            .map_err(|_| "the database thread dropped a call".to_owned())?
    }
}

/// The writer thread: runs the calls as they come, those waiting together in one transaction.
fn writer(
    mut conn: Connection,
    waiting: &std::sync::mpsc::Receiver<Job>,
    erase: &std::sync::atomic::AtomicBool,
) {
    // After a commit that deleted personal data, the log's older page images go too.
    let erase_log = |conn: &mut Connection| {
        if erase.swap(false, std::sync::atomic::Ordering::SeqCst)
            && let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        {
            tracing::error!(error = %e, "could not truncate the write-ahead log after a deletion");
        }
    };
    while let Ok(first) = waiting.recv() {
        let mut group = vec![first];
        while group.len() < GROUP {
            match waiting.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        // A call that panics is not answered (its caller gets an error); the rest go on.
        let run = |job: Job, conn: &mut Connection| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(conn))).ok()
        };
        if group.len() == 1 || conn.execute_batch("BEGIN IMMEDIATE").is_err() {
            // Alone (or no group transaction to be had): each call commits itself.
            for job in group {
                if let Some(answer) = run(job, &mut conn) {
                    erase_log(&mut conn);
                    answer(Ok(()));
                }
            }
            continue;
        }
        let answers: Vec<Answer> = group
            .into_iter()
            .filter_map(|job| run(job, &mut conn))
            .collect();
        let committed = conn.execute_batch("COMMIT").map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            format!("the group commit failed: {e}")
        });
        erase_log(&mut conn);
        for answer in answers {
            answer(committed.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calls that wait together are one durable commit; one of them that fails undoes only its
    /// own statements, and every caller hears only after the commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_waiting_together_commit_once_and_a_failed_one_undoes_only_itself() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = Database::open(&dir.path().join("g.db")).unwrap_or_else(|e| panic!("{e}"));
        db.call(|c| c.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // The writer is held by a first call while the others queue behind it.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let blocker = tokio::spawn({
            let db = db.clone();
            async move { db.call(move |_| Ok(held.recv().is_ok())).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let before = db.commits();
        let mut calls = tokio::task::JoinSet::new();
        for n in 0..20_i64 {
            let db = db.clone();
            calls.spawn(async move {
                db.call(move |c| {
                    let tx = c.savepoint()?;
                    tx.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                    tx.commit()
                })
                .await
            });
        }
        let failing = tokio::spawn({
            let db = db.clone();
            async move {
                db.call(|c| {
                    let tx = c.savepoint()?;
                    tx.execute("INSERT INTO t (n) VALUES (100)", [])?;
                    // A duplicate key: the call fails after a first statement.
                    tx.execute("INSERT INTO t (n) VALUES (100)", [])?;
                    tx.commit()
                })
                .await
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(
            db.commits(),
            before,
            "nothing committed while the writer is held"
        );
        release.send(()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(blocker.await.ok(), Some(Ok(true)));
        let mut ok = 0;
        while let Some(r) = calls.join_next().await {
            assert_eq!(r.ok(), Some(Ok(())));
            ok += 1;
        }
        assert_eq!(ok, 20);
        assert!(
            failing.await.is_ok_and(|r| r.is_err()),
            "the failed call is told"
        );
        assert_eq!(
            db.commits() - before,
            1,
            "twenty-one calls waiting together, one commit"
        );
        let rows: Vec<i64> = db
            .call(|c| {
                let mut s = c.prepare("SELECT n FROM t ORDER BY n")?;
                let rows = s.query_map([], |r| r.get(0))?;
                rows.collect()
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            rows,
            (0..20).collect::<Vec<_>>(),
            "the failed call left nothing"
        );
    }
}
