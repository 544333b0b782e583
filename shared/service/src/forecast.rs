//! The history predictions are drawn from ([`newborn_domain::forecast`]): the working time each
//! agency took on the stages it completed in a policy's window, read from the report's durable
//! facts (one index query per agency), so a prediction reads the same after a restart and on
//! either runtime. The history is kept for [`REFRESH`] per process and window; a failed read
//! keeps the last one (or none: every stage then counts its deadline), since a prediction must
//! never stop an application from moving.

use crate::ports::{ApplicationStore, FactKind};
use crate::report::REPORTED;
use chrono::{DateTime, TimeDelta, Utc};
use newborn_domain::forecast::History;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// How long a history read serves before it is read again.
pub const REFRESH: TimeDelta = TimeDelta::minutes(10);

/// A history and when it was read.
type Read = (DateTime<Utc>, Arc<History>);

/// The histories read, per window in days, with when each was read.
#[derive(Default)]
pub(crate) struct Histories {
    read: Mutex<BTreeMap<u32, Read>>,
}

impl Histories {
    /// The history of the `window_days` before `now`.
    pub(crate) async fn get(
        &self,
        store: &dyn ApplicationStore,
        window_days: u32,
        now: DateTime<Utc>,
    ) -> Arc<History> {
        let cached = self.cached(window_days);
        if let Some((at, history)) = &cached
            && now - *at < REFRESH
            && *at <= now
        {
            return history.clone();
        }
        match read(store, window_days, now).await {
            Ok(history) => {
                let history = Arc::new(history);
                if let Ok(mut read) = self.read.lock() {
                    read.insert(window_days, (now, history.clone()));
                }
                history
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the agencies' history; predictions use the last one or the deadlines");
                cached.map(|(_, h)| h).unwrap_or_default()
            }
        }
    }

    fn cached(&self, window_days: u32) -> Option<Read> {
        self.read.lock().ok()?.get(&window_days).cloned()
    }
}

async fn read(
    store: &dyn ApplicationStore,
    window_days: u32,
    now: DateTime<Utc>,
) -> Result<History, crate::ports::StoreError> {
    let from = now - TimeDelta::days(i64::from(window_days));
    let mut history = History::new();
    for agency in REPORTED {
        for fact in store.facts(agency, from, now).await? {
            if let FactKind::Completed {
                working_secs,
                stage: Some(stage),
                ..
            } = fact.kind
            {
                history.record(stage, working_secs);
            }
        }
    }
    Ok(history)
}
