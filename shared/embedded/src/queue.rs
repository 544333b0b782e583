//! The stage queues, in the same SQLite database as the applications, with the semantics the
//! stage handlers expect of SQS: at-least-once delivery, a visibility timeout, a receive count,
//! dead-lettering after a configured number of receives, and delayed (re)delivery.

use crate::db::Database;
use rusqlite::params;
use serde::Serialize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, wall clock (queues run on real time, not service time).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Its id (also the receipt).
    pub id: i64,
    /// The body.
    pub body: String,
    /// How often it has been received, this time included.
    pub receive_count: u32,
    /// When it was first sent, ms since the epoch.
    pub sent_at_ms: i64,
}

/// Depth of one queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    /// The queue.
    pub queue: String,
    /// Messages ready to receive.
    pub visible: u64,
    /// Messages received and not yet deleted, or delayed.
    pub in_flight: u64,
}

/// Changes whenever a commit queues messages; see [`SqliteQueue::wait`].
pub struct QueueSignal(tokio::sync::watch::Receiver<u64>);

/// The queues.
#[derive(Clone)]
pub struct SqliteQueue {
    db: Database,
    /// Test mode: every message delivered twice, in no particular order.
    duplicates: bool,
}

/// The dead-letter queue of `queue`.
pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}-dlq")
}

impl SqliteQueue {
    /// Queues over the database.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            duplicates: false,
        }
    }

    /// A test mode (the reliability suite): each receive takes visible messages in random order
    /// rather than oldest first and delivers each of them twice, shuffled, as at-least-once
    /// delivery may. Handlers must still change each application once per hand-off.
    pub fn with_duplicate_delivery(mut self) -> Self {
        self.duplicates = true;
        self
    }

    /// Sends a message, visible after `delay`.
    pub async fn send(&self, queue: &str, body: &str, delay: Duration) -> Result<(), String> {
        let queue_name = queue.to_owned();
        let (queue, body) = (queue.to_owned(), body.to_owned());
        self.db
            .call(move |conn| {
                let now = now_ms();
                conn.execute("INSERT INTO messages (queue, body, visible_at, sent_at) VALUES (?1, ?2, ?3, ?4)", params![queue, body, now + delay.as_millis() as i64, now])?;
                Ok(())
            })
            .await?;
        self.db.messages_queued([queue_name.as_str()]);
        Ok(())
    }

    /// The signal of `queue` for [`wait`](Self::wait).
    pub fn signal(&self, queue: &str) -> QueueSignal {
        QueueSignal(self.db.queued_signal(queue))
    }

    /// Waits until a commit queues messages on the signal's queue or `at_most` passes, whichever is
    /// first; returns at once if that happened since `signal` was last waited on.
    pub async fn wait(signal: &mut QueueSignal, at_most: Duration) {
        let _ = tokio::time::timeout(at_most, signal.0.changed()).await;
        signal.0.borrow_and_update();
    }

    /// Receives up to `max` visible messages, hiding them for `visibility`. A message already
    /// received `max_receives` times moves to the dead-letter queue instead.
    pub async fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility: Duration,
        max_receives: u32,
    ) -> Result<Vec<Received>, String> {
        let queue = queue.to_owned();
        let duplicates = self.duplicates;
        let order = if duplicates { "random()" } else { "id" };
        let mut out = self
            .db
            .call(move |conn| {
                let tx = conn.savepoint()?;
                let now = now_ms();
                let candidates: Vec<(i64, String, u32, i64)> = {
                    let mut stmt = tx.prepare(&format!("SELECT id, body, receive_count, sent_at FROM messages WHERE queue = ?1 AND visible_at <= ?2 ORDER BY {order} LIMIT ?3"))?;
                    let rows = stmt.query_map(params![queue, now, (max * 2) as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
                    rows.collect::<Result<_, _>>()?
                };
                let mut out = vec![];
                for (id, body, count, sent_at) in candidates {
                    if count >= max_receives {
                        tx.execute("UPDATE messages SET queue = ?2, receive_count = 0, visible_at = ?3 WHERE id = ?1", params![id, dead_letter_queue(&queue), now])?;
                        tracing::error!(queue = %queue, message = id, receives = count, "message dead-lettered");
                        continue;
                    }
                    if out.len() == max {
                        break;
                    }
                    tx.execute("UPDATE messages SET receive_count = receive_count + 1, visible_at = ?2 WHERE id = ?1", params![id, now + visibility.as_millis() as i64])?;
                    out.push(Received { id, body, receive_count: count + 1, sent_at_ms: sent_at });
                }
                tx.commit()?;
                Ok(out)
            })
            .await?;
        if duplicates {
            // Every message again, in the opposite order: A B C → A B C C B A.
            let again: Vec<Received> = out.iter().rev().cloned().collect();
            out.extend(again);
        }
        Ok(out)
    }

    /// Deletes processed messages.
    pub async fn delete(&self, ids: Vec<i64>) -> Result<(), String> {
        self.db
            .call(move |conn| {
                let tx = conn.savepoint()?;
                for id in ids {
                    tx.execute("DELETE FROM messages WHERE id = ?1", params![id])?;
                }
                tx.commit()
            })
            .await
    }

    /// Makes a failed message visible again after `delay` (retry with backoff).
    pub async fn retry_after(&self, id: i64, delay: Duration) -> Result<(), String> {
        self.db
            .call(move |conn| {
                conn.execute(
                    "UPDATE messages SET visible_at = ?2 WHERE id = ?1",
                    params![id, now_ms() + delay.as_millis() as i64],
                )?;
                Ok(())
            })
            .await
    }

    /// Moves every message of a dead-letter queue back to its source queue (after a fix).
    pub async fn redrive(&self, queue: &str) -> Result<usize, String> {
        let queue_name = queue.to_owned();
        let queue = queue.to_owned();
        self.db
            .call(move |conn| {
                let n = conn.execute("UPDATE messages SET queue = ?1, receive_count = 0, visible_at = ?3 WHERE queue = ?2", params![queue, dead_letter_queue(&queue), now_ms()])?;
                Ok(n)
            })
            .await
            .inspect(|_| self.db.messages_queued([queue_name.as_str()]))
    }

    /// Up to `limit` messages of `queue`, oldest first, without receiving them (the operator's
    /// view of a dead-letter queue).
    pub async fn peek(&self, queue: &str, limit: usize) -> Result<Vec<Received>, String> {
        let (queue, limit) = (queue.to_owned(), limit as i64);
        self.db
            .call(move |conn| {
                let mut stmt = conn.prepare("SELECT id, body, receive_count, sent_at FROM messages WHERE queue = ?1 ORDER BY id LIMIT ?2")?;
                let rows = stmt.query_map(params![queue, limit], |r| {
                    Ok(Received {
                        id: r.get(0)?,
                        body: r.get(1)?,
                        receive_count: r.get(2)?,
                        sent_at_ms: r.get(3)?,
                    })
                })?;
                rows.collect()
            })
            .await
    }

    /// Depth of every queue that has messages.
    pub async fn stats(&self) -> Result<Vec<QueueStats>, String> {
        self.db
            .call(|conn| {
                let now = now_ms();
                let mut stmt = conn.prepare("SELECT queue, SUM(visible_at <= ?1), SUM(visible_at > ?1) FROM messages GROUP BY queue ORDER BY queue")?;
                let rows = stmt.query_map(params![now], |r| Ok(QueueStats { queue: r.get(0)?, visible: r.get::<_, i64>(1)? as u64, in_flight: r.get::<_, i64>(2)? as u64 }))?;
                rows.collect()
            })
            .await
    }
}
