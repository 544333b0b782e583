//! Clocks of the local runtime: the system clock, and a controllable one that starts at a chosen
//! instant, runs at a chosen speed and can be advanced, so demos and tests can cross holidays and
//! deadlines. Its origin is kept in the data directory so time keeps flowing across restarts.

use anyhow::{Context, Result};
use chrono::{DateTime, TimeDelta, Utc};
use newborn_service::ports::Clock;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use newborn_service::ports::SystemClock;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Origin {
    real: DateTime<Utc>,
    virtual_start: DateTime<Utc>,
    speed: f64,
    offset_ms: i64,
}

/// Service time = `start` + (real time since first start) × `speed` + manual advances.
#[derive(Debug)]
pub struct ScaledClock {
    origin: Mutex<Origin>,
    file: PathBuf,
}

impl ScaledClock {
    /// Opens the clock state in `dir`, continuing it if it was started before with the same
    /// start and speed, else starting afresh.
    pub fn open(dir: &Path, start: DateTime<Utc>, speed: f64) -> Result<Self> {
        let file = dir.join("clock.json");
        let saved: Option<Origin> = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        let origin = match saved {
            Some(o) if o.virtual_start == start && o.speed == speed => o,
            _ => Origin {
                real: Utc::now(),
                virtual_start: start,
                speed,
                offset_ms: 0,
            },
        };
        let clock = Self {
            origin: Mutex::new(origin),
            file,
        };
        clock.save(&origin)?;
        Ok(clock)
    }

    fn save(&self, o: &Origin) -> Result<()> {
        newborn_embedded::files::write_atomically(&self.file, &serde_json::to_vec(o)?)
            .with_context(|| format!("writing {}", self.file.display()))
    }

    /// Moves service time forward.
    pub fn advance(&self, by: TimeDelta) -> Result<DateTime<Utc>> {
        let o = {
            let mut o = self
                .origin
                .lock()
                .map_err(|_| anyhow::anyhow!("clock lock poisoned"))?;
            o.offset_ms += by.num_milliseconds().max(0);
            *o
        };
        self.save(&o)?;
        Ok(self.now())
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        let Ok(o) = self.origin.lock().map(|o| *o) else {
            return Utc::now();
        };
        let real = (Utc::now() - o.real).num_milliseconds() as f64;
        o.virtual_start + TimeDelta::milliseconds((real * o.speed) as i64 + o.offset_ms)
    }
}
