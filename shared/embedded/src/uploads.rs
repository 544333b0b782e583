//! [`UploadStore`] on SQLite.

use crate::db::Database;
use async_trait::async_trait;
use newborn_domain::application::{DocumentKind, Sha256Hex};
use newborn_service::ports::{StoreError, UploadQuota, UploadSlot, UploadStore};
use rusqlite::{OptionalExtension, params};

/// Upload slots in SQLite.
#[derive(Clone)]
pub struct SqliteUploads {
    db: Database,
}

impl SqliteUploads {
    /// Slots over the database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn unavailable(e: String) -> StoreError {
    StoreError::Unavailable(e)
}

#[async_trait]
impl UploadStore for SqliteUploads {
    async fn open(
        &self,
        slot: UploadSlot,
        day: chrono::NaiveDate,
        quota: UploadQuota,
    ) -> Result<Option<UploadSlot>, StoreError> {
        let body =
            serde_json::to_string(&slot).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let size = i64::try_from(slot.size).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let (id, owner, kind, day) = (
            slot.id.clone(),
            slot.owner.clone(),
            slot.kind.as_str().to_owned(),
            day.to_string(),
        );
        let opened = self
            .db
            .call(move |c| {
                // The allowance and the slot in one commit: counted only if recorded.
                let tx = c.savepoint()?;
                // Days before yesterday no longer matter.
                tx.execute(
                    "DELETE FROM upload_quota WHERE day < date(?1, '-1 day')",
                    params![day],
                )?;
                let (slots, bytes): (i64, i64) = tx
                    .query_row(
                        "SELECT slots, bytes FROM upload_quota WHERE owner = ?1 AND day = ?2",
                        params![owner, day],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?
                    .unwrap_or((0, 0));
                if slots >= i64::from(quota.slots_per_day)
                    || bytes.saturating_add(size)
                        > i64::try_from(quota.bytes_per_day).unwrap_or(i64::MAX)
                {
                    return Ok(false);
                }
                tx.execute(
                    "INSERT INTO upload_quota (owner, day, slots, bytes) VALUES (?1, ?2, 1, ?3)
                     ON CONFLICT (owner, day) DO UPDATE SET slots = slots + 1, bytes = bytes + ?3",
                    params![owner, day, size],
                )?;
                tx.execute(
                    "INSERT INTO uploads (id, owner, kind, body) VALUES (?1, ?2, ?3, ?4)",
                    params![id, owner, kind, body],
                )?;
                tx.commit()?;
                Ok(true)
            })
            .await
            .map_err(unavailable)?;
        Ok(opened.then_some(slot))
    }

    async fn get(&self, owner: &str, id: &str) -> Result<Option<UploadSlot>, StoreError> {
        let (owner, id) = (owner.to_owned(), id.to_owned());
        let row: Option<(String, Option<String>)> = self
            .db
            .call(move |c| {
                c.query_row(
                    "SELECT body, sha256 FROM uploads WHERE id = ?1 AND owner = ?2",
                    params![id, owner],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
            })
            .await
            .map_err(unavailable)?;
        let Some((body, sha)) = row else {
            return Ok(None);
        };
        let mut slot: UploadSlot =
            serde_json::from_str(&body).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        slot.sha256 = sha.and_then(|s| s.parse().ok());
        Ok(Some(slot))
    }

    async fn complete(
        &self,
        owner: &str,
        id: &str,
        sha256: &Sha256Hex,
    ) -> Result<bool, StoreError> {
        let (owner, id, sha) = (owner.to_owned(), id.to_owned(), sha256.as_str().to_owned());
        self.db
            .call(move |c| {
                Ok(c.execute(
                    "UPDATE uploads SET sha256 = ?3 WHERE id = ?1 AND owner = ?2 AND sha256 IS NULL",
                    params![id, owner, sha],
                )? == 1)
            })
            .await
            .map_err(unavailable)
    }

    async fn verified(
        &self,
        owner: &str,
        kind: DocumentKind,
        sha256: &Sha256Hex,
    ) -> Result<bool, StoreError> {
        let (owner, kind, sha) = (owner.to_owned(), kind.as_str(), sha256.as_str().to_owned());
        self.db
            .call(move |c| {
                c.query_row(
                    "SELECT 1 FROM uploads WHERE owner = ?1 AND kind = ?2 AND sha256 = ?3 LIMIT 1",
                    params![owner, kind, sha],
                    |_| Ok(()),
                )
                .optional()
                .map(|r| r.is_some())
            })
            .await
            .map_err(unavailable)
    }
}
