//! [`ApplicationStore`] on SQLite: one transaction per hand-off, optimistic locking by version.

use crate::db::{Database, to_json};
use crate::queue::now_ms;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use newborn_domain::flow::{Application, ApplicationId};
use newborn_domain::kinds::Watch;
use newborn_domain::stage::Agency;
use newborn_service::ports::{
    Alert, ApplicationStore, EVALUATION_QUEUE, Fact, KEEP_ACCEPTED_MS, NOTIFICATIONS_QUEUE,
    Notification, OpenClock, OpenFollowUp, StoreError, Stored, TimelineEntry, Write,
};
use rusqlite::{Connection, OptionalExtension, params};

/// Applications and everything written with them, in SQLite.
#[derive(Clone)]
pub struct SqliteStore {
    db: Database,
}

impl SqliteStore {
    /// A store over the database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// Rows of one write, serialised before entering the blocking section.
struct Rows {
    id: String,
    owner: String,
    outcome: String,
    body: String,
    submitted_at: String,
    timeline: Vec<String>,
    notifications: Vec<String>,
    outbox: Vec<(String, String)>,
    deliveries: Vec<(String, String)>,
    clocks: Vec<(String, Option<i64>, Option<i64>)>,
    follow_ups: Vec<(String, i64, String)>,
    facts: Vec<(String, i64, String)>,
    response: Option<newborn_service::ports::IdempotentResponse>,
    accepted: Option<String>,
}

fn rows(w: &Write<'_>) -> Result<Rows, StoreError> {
    let app = w.application;
    Ok(Rows {
        response: w.response.clone(),
        accepted: w.accepted.clone(),
        id: app.id.as_str().to_owned(),
        owner: w.owner.to_owned(),
        outcome: to_json(&app.outcome())?,
        body: to_json(app)?,
        submitted_at: app.submitted_at.to_rfc3339(),
        timeline: w.timeline.iter().map(to_json).collect::<Result<_, _>>()?,
        notifications: w
            .notifications
            .iter()
            .map(to_json)
            .collect::<Result<_, _>>()?,
        outbox: w
            .outbox
            .iter()
            .map(|m| Ok((m.stage.queue().as_str().to_owned(), to_json(m)?)))
            .chain(
                w.evaluations
                    .iter()
                    .map(|t| Ok((EVALUATION_QUEUE.to_owned(), to_json(t)?))),
            )
            .collect::<Result<_, StoreError>>()?,
        deliveries: w
            .deliveries
            .iter()
            .map(|d| Ok((NOTIFICATIONS_QUEUE.to_owned(), to_json(d)?)))
            .collect::<Result<_, StoreError>>()?,
        clocks: w
            .clocks
            .iter()
            .map(|c| {
                (
                    c.watch.name(),
                    c.warning_at.map(|t| t.timestamp_millis()),
                    c.deadline.map(|t| t.timestamp_millis()),
                )
            })
            .collect(),
        follow_ups: w
            .follow_ups
            .iter()
            .map(|f| {
                Ok((
                    f.follow_up.stage.as_str().to_owned(),
                    f.follow_up.due_at.timestamp_millis(),
                    to_json(f)?,
                ))
            })
            .collect::<Result<_, StoreError>>()?,
        facts: w.facts.iter().map(fact_row).collect::<Result<_, _>>()?,
    })
}

fn fact_row(f: &Fact) -> Result<(String, i64, String), StoreError> {
    Ok((
        f.agency.as_str().to_owned(),
        f.at.timestamp_millis(),
        to_json(f)?,
    ))
}

fn insert_facts(tx: &Connection, facts: &[(String, i64, String)]) -> Result<(), rusqlite::Error> {
    for (agency, at, body) in facts {
        tx.execute(
            "INSERT INTO facts (agency, at_ms, body) VALUES (?1, ?2, ?3)",
            params![agency, at, body],
        )?;
    }
    Ok(())
}

/// Everything but the application row itself.
fn write_rest(tx: &Connection, r: &Rows) -> Result<(), rusqlite::Error> {
    for t in &r.timeline {
        tx.execute(
            "INSERT INTO timeline (application, body) VALUES (?1, ?2)",
            params![r.id, t],
        )?;
    }
    for n in &r.notifications {
        tx.execute(
            "INSERT INTO notifications (application, body) VALUES (?1, ?2)",
            params![r.id, n],
        )?;
    }
    let now = now_ms();
    for (queue, body) in r.outbox.iter().chain(&r.deliveries) {
        tx.execute(
            "INSERT INTO messages (queue, body, visible_at, sent_at) VALUES (?1, ?2, ?3, ?3)",
            params![queue, body, now],
        )?;
    }
    tx.execute(
        "DELETE FROM open_clocks WHERE application = ?1",
        params![r.id],
    )?;
    for (stage, warning, deadline) in &r.clocks {
        tx.execute("INSERT INTO open_clocks (application, stage, warning_at, deadline) VALUES (?1, ?2, ?3, ?4)", params![r.id, stage, warning, deadline])?;
    }
    tx.execute(
        "DELETE FROM open_follow_ups WHERE application = ?1",
        params![r.id],
    )?;
    for (stage, due, body) in &r.follow_ups {
        tx.execute(
            "INSERT INTO open_follow_ups (application, stage, due_at, body) VALUES (?1, ?2, ?3, ?4)",
            params![r.id, stage, due, body],
        )?;
    }
    insert_facts(tx, &r.facts)?;
    if let Some(response) = &r.response {
        crate::requests::write_completed(tx, response, now)?;
    }
    Ok(())
}

fn unavailable(e: String) -> StoreError {
    StoreError::Unavailable(e)
}

fn decode(
    owner: String,
    version: i64,
    body: String,
    accepted: Vec<String>,
) -> Result<Stored, rusqlite::Error> {
    let application: Application = serde_json::from_str(&body).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(Stored {
        application,
        owner,
        version: version as u64,
        accepted,
    })
}

fn from_ms(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(DateTime::from_timestamp_millis)
}

impl SqliteStore {
    /// One write in one transaction: the application row (inserted when `expected_version` is
    /// `None`, else updated if still at that version), then everything written with it.
    /// `Conflict` when the row condition fails; nothing is written then.
    async fn write(
        &self,
        write: &Write<'_>,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let r = rows(write)?;
        let queued: Vec<String> = r
            .outbox
            .iter()
            .chain(&r.deliveries)
            .map(|(queue, _)| queue.clone())
            .collect();
        let written = self
            .db
            .call(move |conn| {
                let tx = conn.savepoint()?;
                let n = match expected_version {
                    None => tx.execute(
                        "INSERT OR IGNORE INTO applications (id, owner, version, outcome, body, submitted_at) VALUES (?1, ?2, 1, ?3, ?4, ?5)",
                        params![r.id, r.owner, r.outcome, r.body, r.submitted_at],
                    )?,
                    Some(v) => tx.execute(
                        "UPDATE applications SET version = version + 1, outcome = ?2, body = ?3 WHERE id = ?1 AND version = ?4",
                        params![r.id, r.outcome, r.body, v as i64],
                    )?,
                };
                if n == 0 {
                    return Ok(false);
                }
                // The signed message this write applies: spent with it, once.
                if let Some(message) = &r.accepted {
                    let now = now_ms();
                    tx.execute(
                        "DELETE FROM accepted_messages WHERE application = ?1 AND at_ms < ?2",
                        params![r.id, now - KEEP_ACCEPTED_MS],
                    )?;
                    let spent = tx.execute(
                        "INSERT OR IGNORE INTO accepted_messages (message, application, at_ms) VALUES (?1, ?2, ?3)",
                        params![message, r.id, now],
                    )?;
                    if spent == 0 {
                        return Ok(false);
                    }
                }
                write_rest(&tx, &r)?;
                tx.commit()?;
                Ok(true)
            })
            .await
            .map_err(unavailable)?;
        if !written {
            return Err(StoreError::Conflict);
        }
        self.db.messages_queued(queued.iter().map(String::as_str));
        Ok(())
    }
}

#[async_trait]
impl ApplicationStore for SqliteStore {
    async fn insert(&self, write: &Write<'_>) -> Result<(), StoreError> {
        self.write(write, None).await
    }

    async fn update(&self, write: &Write<'_>, expected_version: u64) -> Result<(), StoreError> {
        self.write(write, Some(expected_version)).await
    }

    async fn get(&self, id: &ApplicationId) -> Result<Option<Stored>, StoreError> {
        let id = id.as_str().to_owned();
        self.db
            .call(move |conn| {
                let row = conn
                    .query_row(
                        "SELECT owner, version, body FROM applications WHERE id = ?1",
                        params![id],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()?;
                let Some((o, v, b)) = row else {
                    return Ok(None);
                };
                let mut stmt = conn.prepare_cached(
                    "SELECT message FROM accepted_messages WHERE application = ?1 AND at_ms >= ?2 ORDER BY at_ms, rowid",
                )?;
                let accepted = stmt
                    .query_map(params![id, now_ms() - KEEP_ACCEPTED_MS], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()?;
                decode(o, v, b, accepted).map(Some)
            })
            .await
            .map_err(unavailable)
    }

    async fn list_by_owner(&self, owner: &str) -> Result<Vec<Stored>, StoreError> {
        let owner = owner.to_owned();
        self.db
            .call(move |conn| {
                let mut stmt = conn.prepare("SELECT owner, version, body FROM applications WHERE owner = ?1 ORDER BY submitted_at DESC, id")?;
                let rows = stmt.query_map(params![owner], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                rows.map(|row| row.and_then(|(o, v, b)| decode(o, v, b, vec![]))).collect()
            })
            .await
            .map_err(unavailable)
    }

    async fn timeline(&self, id: &ApplicationId) -> Result<Vec<TimelineEntry>, StoreError> {
        json_rows(
            &self.db,
            "SELECT body FROM timeline WHERE application = ?1 ORDER BY seq",
            vec![id.as_str().to_owned()],
        )
        .await
    }

    async fn notifications(&self, id: &ApplicationId) -> Result<Vec<Notification>, StoreError> {
        json_rows(
            &self.db,
            "SELECT body FROM notifications WHERE application = ?1 ORDER BY seq",
            vec![id.as_str().to_owned()],
        )
        .await
    }

    async fn due_clocks(&self, until: DateTime<Utc>) -> Result<Vec<OpenClock>, StoreError> {
        let until = until.timestamp_millis();
        let rows: Vec<(String, String, Option<i64>, Option<i64>)> = self
            .db
            .call(move |conn| {
                let mut stmt = conn.prepare(
                    "SELECT application, stage, warning_at, deadline FROM open_clocks WHERE warning_at <= ?1 \
                     UNION SELECT application, stage, warning_at, deadline FROM open_clocks WHERE deadline <= ?1",
                )?;
                let rows = stmt.query_map(params![until], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
                rows.collect()
            })
            .await
            .map_err(unavailable)?;
        // A row that does not read back is reported, never skipped: a skipped clock is a case
        // no supervisor would see.
        rows.into_iter()
            .map(|(application_id, stage, w, d)| {
                Ok(OpenClock {
                    application_id: application_id.parse().map_err(|e| {
                        StoreError::Unavailable(format!("clock index row {application_id}: {e}"))
                    })?,
                    watch: stage.parse::<Watch>().map_err(|e| {
                        StoreError::Unavailable(format!("clock index row {application_id}: {e}"))
                    })?,
                    warning_at: from_ms(w),
                    deadline: from_ms(d),
                })
            })
            .collect()
    }

    async fn record_alert(&self, alert: &Alert) -> Result<bool, StoreError> {
        let body = to_json(alert)?;
        let (id, stage, level) = (
            alert.application_id.as_str().to_owned(),
            alert.watch.name(),
            to_json(&alert.level)?,
        );
        let facts = alert
            .fact()
            .iter()
            .map(fact_row)
            .collect::<Result<Vec<_>, _>>()?;
        self.db
            .call(move |conn| {
                let tx = conn.savepoint()?;
                let n = tx.execute("INSERT OR IGNORE INTO alerts (application, stage, level, body) VALUES (?1, ?2, ?3, ?4)", params![id, stage, level, body])?;
                if n == 1 {
                    insert_facts(&tx, &facts)?;
                }
                tx.commit()?;
                Ok(n == 1)
            })
            .await
            .map_err(unavailable)
    }

    async fn open_follow_ups(&self) -> Result<Vec<OpenFollowUp>, StoreError> {
        json_rows(
            &self.db,
            "SELECT body FROM open_follow_ups ORDER BY due_at, application",
            vec![],
        )
        .await
    }

    async fn facts(
        &self,
        agency: Agency,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Fact>, StoreError> {
        // The instants go as text; the INTEGER column converts them for the comparison.
        json_rows(
            &self.db,
            "SELECT body FROM facts WHERE agency = ?1 AND at_ms >= ?2 AND at_ms < ?3 ORDER BY at_ms, seq",
            vec![
                agency.as_str().to_owned(),
                from.timestamp_millis().to_string(),
                to.timestamp_millis().to_string(),
            ],
        )
        .await
    }

    async fn alerts(&self) -> Result<Vec<Alert>, StoreError> {
        json_rows(
            &self.db,
            "SELECT body FROM alerts ORDER BY rowid DESC",
            vec![],
        )
        .await
    }
}

/// The JSON `body` column of every row `sql` selects with `args`, decoded.
async fn json_rows<T: serde::de::DeserializeOwned>(
    db: &Database,
    sql: &'static str,
    args: Vec<String>,
) -> Result<Vec<T>, StoreError> {
    let bodies: Vec<String> = db
        .call(move |conn| {
            let mut stmt = conn.prepare(sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| r.get(0))?;
            rows.collect()
        })
        .await
        .map_err(unavailable)?;
    bodies
        .iter()
        .map(|b| serde_json::from_str(b).map_err(|e| StoreError::Unavailable(e.to_string())))
        .collect()
}
