//! [`RequestLog`] on SQLite: Idempotency-Key records (kept 24 hours). (The callbacks' replay
//! guard is kept with each application: [`crate::SqliteStore`].)

use crate::db::Database;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use newborn_service::ports::{Claim, RequestLog, StoreError};
use rusqlite::{OptionalExtension, params};

/// How long idempotency records are kept.
const KEEP_REQUESTS_MS: i64 = 24 * 3600 * 1000;
/// How long a claim without a response blocks the key (a crashed request).
const STALE_CLAIM_MS: i64 = 60 * 1000;

/// Idempotency records in SQLite.
#[derive(Clone)]
pub struct SqliteRequestLog {
    db: Database,
}

impl SqliteRequestLog {
    /// A log over the database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// Writes the completed record of `response` (the row [`RequestLog::claim`] reads) inside the
/// application store's transaction of the change it answers.
pub(crate) fn write_completed(
    tx: &rusqlite::Connection,
    response: &newborn_service::ports::IdempotentResponse,
    now_ms: i64,
) -> Result<(), rusqlite::Error> {
    let c = &response.claim;
    tx.execute(
        "INSERT OR REPLACE INTO idempotency (scope, key, request_hash, status, body, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![c.scope, c.key, c.request_hash, response.status, response.body, now_ms],
    )?;
    Ok(())
}

fn unavailable(e: String) -> StoreError {
    StoreError::Unavailable(e)
}

#[async_trait]
impl RequestLog for SqliteRequestLog {
    async fn claim(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let (scope, key, hash, now) = (
            scope.to_owned(),
            key.to_owned(),
            request_hash.to_owned(),
            now.timestamp_millis(),
        );
        self.db
            .call(move |conn| {
                let tx = conn.savepoint()?;
                tx.execute("DELETE FROM idempotency WHERE created_ms < ?1", params![now - KEEP_REQUESTS_MS])?;
                let row: Option<(String, Option<u16>, Option<Vec<u8>>, i64)> = tx
                    .query_row("SELECT request_hash, status, body, created_ms FROM idempotency WHERE scope = ?1 AND key = ?2", params![scope, key], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })
                    .optional()?;
                let claim = match row {
                    Some((h, _, _, _)) if h != hash => Claim::Mismatch,
                    Some((_, Some(status), body, _)) => Claim::Replay { status, body: body.unwrap_or_default() },
                    Some((_, None, _, created)) if now - created < STALE_CLAIM_MS => Claim::InProgress,
                    _ => {
                        tx.execute(
                            "INSERT OR REPLACE INTO idempotency (scope, key, request_hash, status, body, created_ms) VALUES (?1, ?2, ?3, NULL, NULL, ?4)",
                            params![scope, key, hash, now],
                        )?;
                        Claim::New
                    }
                };
                tx.commit()?;
                Ok(claim)
            })
            .await
            .map_err(unavailable)
    }

    async fn complete(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let (scope, key, body) = (scope.to_owned(), key.to_owned(), body.to_vec());
        self.db
            .call(move |conn| {
                conn.execute(
                    "UPDATE idempotency SET status = ?3, body = ?4 WHERE scope = ?1 AND key = ?2",
                    params![scope, key, status, body],
                )
                .map(|_| ())
            })
            .await
            .map_err(unavailable)
    }

    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        let (scope, key) = (scope.to_owned(), key.to_owned());
        self.db
            .call(move |conn| {
                conn.execute(
                    "DELETE FROM idempotency WHERE scope = ?1 AND key = ?2 AND status IS NULL",
                    params![scope, key],
                )
                .map(|_| ())
            })
            .await
            .map_err(unavailable)
    }
}
