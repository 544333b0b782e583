//! [`HandoverRegister`] on SQLite: counterfoils and handover batches in the service's database.

use crate::db::{Database, from_json, to_json};
use async_trait::async_trait;
use newborn_domain::handover::{Counterfoil, HandoverBatch};
use newborn_domain::region::RegionCode;
use newborn_service::ports::{HandoverRegister, StoreError};
use rusqlite::{OptionalExtension, params};

/// The register in SQLite.
#[derive(Clone)]
pub struct SqliteHandovers {
    db: Database,
}

impl SqliteHandovers {
    /// The register over the database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl HandoverRegister for SqliteHandovers {
    async fn keep(&self, c: &Counterfoil) -> Result<(), StoreError> {
        let (number, county, at, body) = (
            c.certificate_number.clone(),
            c.county.as_str().to_owned(),
            c.issued_at.timestamp_millis(),
            to_json(c)?,
        );
        self.db
            .call(move |conn| {
                conn.execute(
                    "INSERT OR IGNORE INTO counterfoils (certificate, county, issued_ms, body) VALUES (?1, ?2, ?3, ?4)",
                    params![number, county, at, body],
                )
                .map(|_| ())
            })
            .await
            .map_err(StoreError::Unavailable)
    }

    async fn pending(&self, county: &RegionCode) -> Result<Vec<Counterfoil>, StoreError> {
        let county = county.as_str().to_owned();
        let bodies: Vec<String> = self
            .db
            .call(move |conn| {
                let mut stmt = conn.prepare("SELECT body FROM counterfoils WHERE county = ?1 AND batch IS NULL ORDER BY issued_ms, certificate")?;
                let rows = stmt.query_map(params![county], |r| r.get(0))?;
                rows.collect()
            })
            .await
            .map_err(StoreError::Unavailable)?;
        bodies.iter().map(|b| from_json(b)).collect()
    }

    async fn hand_over(&self, batch: &HandoverBatch) -> Result<bool, StoreError> {
        let (number, body) = (batch.number.clone(), to_json(batch)?);
        let certificates: Vec<String> = batch
            .items
            .iter()
            .map(|i| i.certificate_number.clone())
            .collect();
        self.db
            .call(move |conn| {
                let tx = conn.savepoint()?;
                if tx.execute(
                    "INSERT OR IGNORE INTO handovers (number, body) VALUES (?1, ?2)",
                    params![number, body],
                )? == 0
                {
                    return Ok(false);
                }
                for c in &certificates {
                    let marked = tx.execute(
                        "UPDATE counterfoils SET batch = ?2 WHERE certificate = ?1 AND batch IS NULL",
                        params![c, number],
                    )?;
                    if marked != 1 {
                        return Ok(false); // dropped: the transaction rolls back
                    }
                }
                tx.commit()?;
                Ok(true)
            })
            .await
            .map_err(StoreError::Unavailable)
    }

    async fn batch(&self, number: &str) -> Result<Option<HandoverBatch>, StoreError> {
        let number = number.to_owned();
        let body: Option<String> = self
            .db
            .call(move |conn| {
                conn.query_row(
                    "SELECT body FROM handovers WHERE number = ?1",
                    params![number],
                    |r| r.get(0),
                )
                .optional()
            })
            .await
            .map_err(StoreError::Unavailable)?;
        body.map(|b| from_json(&b)).transpose()
    }
}
