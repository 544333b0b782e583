//! [`DraftStore`] on SQLite: drafts from the hospital's birth record, the notices that tell the
//! mother queued in the same transaction, and deletion that leaves no trace of the personal data
//! (`secure_delete`, then the write-ahead log checkpointed and truncated).

use crate::db::{Database, from_json, to_json};
use crate::queue::now_ms;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use newborn_domain::draft::Draft;
use newborn_domain::flow::ApplicationId;
use newborn_domain::ids::IdNumber;
use newborn_service::ports::{Delivery, DraftStore, NOTIFICATIONS_QUEUE, StoreError};
use rusqlite::{OptionalExtension, params};

/// The drafts in the service's database.
#[derive(Clone)]
pub struct SqliteDrafts {
    db: Database,
}

impl SqliteDrafts {
    /// The drafts over the database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl DraftStore for SqliteDrafts {
    async fn create(&self, drafts: &[Draft], deliveries: &[Delivery]) -> Result<bool, StoreError> {
        let rows = drafts
            .iter()
            .map(|d| {
                Ok((
                    d.id.as_str().to_owned(),
                    d.mother.id_number.as_str().to_owned(),
                    d.created_at.timestamp_millis(),
                    d.expires_at.timestamp_millis(),
                    to_json(d)?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let messages = deliveries
            .iter()
            .map(to_json)
            .collect::<Result<Vec<_>, _>>()?;
        let queued = !messages.is_empty();
        let created = self
            .db
            .call(move |conn| {
                let tx = conn.savepoint()?;
                for (id, mother, created, expires, body) in &rows {
                    let n = tx.execute(
                        "INSERT OR IGNORE INTO drafts (id, mother, created_ms, expires_ms, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![id, mother, created, expires, body],
                    )?;
                    if n == 0 {
                        return Ok(false);
                    }
                }
                let now = now_ms();
                for body in &messages {
                    tx.execute(
                        "INSERT INTO messages (queue, body, visible_at, sent_at) VALUES (?1, ?2, ?3, ?3)",
                        params![NOTIFICATIONS_QUEUE, body, now],
                    )?;
                }
                tx.commit()?;
                Ok(true)
            })
            .await
            .map_err(StoreError::Unavailable)?;
        if created && queued {
            self.db.messages_queued([NOTIFICATIONS_QUEUE]);
        }
        Ok(created)
    }

    async fn get(&self, id: &ApplicationId) -> Result<Option<Draft>, StoreError> {
        let id = id.as_str().to_owned();
        let body: Option<String> = self
            .db
            .call(move |conn| {
                conn.query_row("SELECT body FROM drafts WHERE id = ?1", params![id], |r| {
                    r.get(0)
                })
                .optional()
            })
            .await
            .map_err(StoreError::Unavailable)?;
        body.as_deref().map(from_json).transpose()
    }

    async fn of_mother(&self, id_number: &IdNumber) -> Result<Vec<Draft>, StoreError> {
        let mother = id_number.as_str().to_owned();
        let bodies: Vec<String> = self
            .db
            .call(move |conn| {
                let mut stmt = conn
                    .prepare("SELECT body FROM drafts WHERE mother = ?1 ORDER BY created_ms, id")?;
                let rows = stmt.query_map(params![mother], |r| r.get(0))?;
                rows.collect()
            })
            .await
            .map_err(StoreError::Unavailable)?;
        bodies.iter().map(|b| from_json(b)).collect()
    }

    async fn expiring(&self, until: DateTime<Utc>) -> Result<Vec<ApplicationId>, StoreError> {
        let until = until.timestamp_millis();
        let ids: Vec<String> = self
            .db
            .call(move |conn| {
                let mut stmt = conn
                    .prepare("SELECT id FROM drafts WHERE expires_ms <= ?1 ORDER BY expires_ms")?;
                let rows = stmt.query_map(params![until], |r| r.get(0))?;
                rows.collect()
            })
            .await
            .map_err(StoreError::Unavailable)?;
        ids.iter()
            .map(|id| {
                id.parse()
                    .map_err(|_| StoreError::Unavailable(format!("a malformed draft id {id}")))
            })
            .collect()
    }

    async fn delete(&self, id: &ApplicationId) -> Result<(), StoreError> {
        let id = id.as_str().to_owned();
        let erase = self.db.eraser();
        self.db
            .call(move |conn| {
                conn.execute("DELETE FROM drafts WHERE id = ?1", params![id])?;
                erase.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            })
            .await
            .map_err(StoreError::Unavailable)
    }
}
