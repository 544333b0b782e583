//! The simulated licence directory (省电子证照共享平台): licence records and the holders'
//! authorisations (as the Minzhengtong app records them), signed look-ups, and the review of
//! missing-licence registrations, answered after the configured delay on the platform's signed
//! `POST /agency/licence-registrations`. Records and authorisations are set up over
//! `POST /licences` and `POST /licences/authorisations` (as `/scripts` sets up the agencies).

use crate::{Answer, Simulator, now_ms};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use newborn_domain::ids::IdNumber;
use newborn_domain::licence::{LicenceGrant, LicenceRecord};
use newborn_domain::stage::Agency;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS licences (kind TEXT NOT NULL, number TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, number));
CREATE TABLE IF NOT EXISTS registrations (id TEXT PRIMARY KEY, body TEXT NOT NULL, due_at INTEGER NOT NULL,
  state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, deliveries INTEGER NOT NULL DEFAULT 1);
CREATE INDEX IF NOT EXISTS registrations_due ON registrations(state, due_at);
";

/// The sample family's three licences as a form references them: the mother's and the father's
/// identity cards and their marriage certificate (the demo's and the end-to-end tests' family).
pub fn sample_licences() -> serde_json::Value {
    serde_json::json!([
        {"kind": "mother_id_card", "holder_id_number": "35010219940315002X", "number": "350102-ID-0001", "issuer": "福州市公安局鼓楼分局"},
        {"kind": "father_id_card", "holder_id_number": "350203199207080011", "number": "350203-ID-0002", "issuer": "厦门市公安局思明分局"},
        {"kind": "marriage_certificate", "holder_id_number": "35010219940315002X", "number": "J350102-2020-000123", "issuer": "福州市鼓楼区民政局"},
    ])
}

/// The scripts table's stage name for registration reviews.
const REVIEW: &str = "licence_registration";

/// How the simulated directory decides one application's registrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Review {
    /// Approve (the default).
    Approve,
    /// Reject.
    Reject,
    /// Never answer (for supervision tests).
    Hold,
}

/// A registration review script.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewScript {
    /// The application.
    pub application_id: String,
    /// The decision on its registrations.
    pub review: Review,
}

/// A holder's authorisation of a licence to someone, for this service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Authorise {
    /// The licence's kind.
    pub kind: newborn_domain::application::DocumentKind,
    /// The licence's number.
    pub number: String,
    /// Whom it is authorised to.
    pub grantee_id_number: IdNumber,
    /// The last day it may be used.
    pub valid_until: chrono::NaiveDate,
}

/// One registration as the directory received it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReceivedRegistration {
    /// `<application>:<number>`.
    pub id: String,
    /// pending, answered, held, gave_up.
    pub state: String,
    /// How many times the platform sent it.
    pub deliveries: u32,
    /// What the platform sent.
    pub body: serde_json::Value,
}

#[derive(Deserialize)]
struct Lookup {
    kind: newborn_domain::application::DocumentKind,
    number: String,
}

fn unavailable(e: impl std::fmt::Display) -> Answer {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(serde_json::json!({"error": e.to_string()})),
    )
}

impl Simulator {
    /// Adds (or replaces) a licence record.
    pub async fn add_licence(&self, record: LicenceRecord) -> Result<(), String> {
        let body = serde_json::to_string(&record).map_err(|e| e.to_string())?;
        let (kind, number) = (record.kind.as_str(), record.number.clone());
        self.call(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO licences (kind, number, body) VALUES (?1, ?2, ?3)",
                params![kind, number, body],
            )
            .map(|_| ())
        })
        .await
    }

    async fn licence(
        &self,
        kind: newborn_domain::application::DocumentKind,
        number: String,
    ) -> Result<Option<LicenceRecord>, String> {
        let kind = kind.as_str();
        let body: Option<String> = self
            .call(move |c| {
                c.query_row(
                    "SELECT body FROM licences WHERE kind = ?1 AND number = ?2",
                    params![kind, number],
                    |r| r.get(0),
                )
                .optional()
            })
            .await?;
        body.map(|b| serde_json::from_str(&b).map_err(|e| e.to_string()))
            .transpose()
    }

    /// The licences `holder` holds or was authorised (a simulator's whole-table read: it holds a
    /// few families).
    async fn held_by(&self, holder: String) -> Result<Vec<LicenceRecord>, String> {
        let bodies: Vec<String> = self
            .call(move |c| {
                let mut stmt = c.prepare("SELECT body FROM licences ORDER BY kind, number")?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
                rows.collect()
            })
            .await?;
        let mut out = vec![];
        for body in bodies {
            let record: LicenceRecord = serde_json::from_str(&body).map_err(|e| e.to_string())?;
            if record.holder_id_number.as_str() == holder
                || record
                    .grants
                    .iter()
                    .any(|g| g.grantee_id_number.as_str() == holder)
            {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Puts [`sample_licences`] on file, valid until 2035, with each parent's authorisation of the
    /// identity card to the other (as given in the app); returns the references.
    pub async fn file_sample_licences(&self) -> Result<serde_json::Value, String> {
        let refs = sample_licences();
        for r in refs.as_array().into_iter().flatten() {
            let mut record = r.clone();
            record["valid_until"] = serde_json::json!("2035-01-01");
            self.add_licence(serde_json::from_value(record).map_err(|e| e.to_string())?)
                .await?;
        }
        // Each parent authorised the other's use of the identity card for this service, so either
        // may apply (the father on the mother's letter, 闽卫政法〔2024〕40号 附件2 一(三)).
        for grant in [
            serde_json::json!({"kind": "father_id_card", "number": "350203-ID-0002",
                "grantee_id_number": "35010219940315002X", "valid_until": "2099-12-31"}),
            serde_json::json!({"kind": "mother_id_card", "number": "350102-ID-0001",
                "grantee_id_number": "350203199207080011", "valid_until": "2099-12-31"}),
        ] {
            self.authorise(serde_json::from_value(grant).map_err(|e| e.to_string())?)
                .await?;
        }
        Ok(refs)
    }

    /// Records a holder's authorisation of a licence; `false` when the licence is unknown.
    pub async fn authorise(&self, a: Authorise) -> Result<bool, String> {
        let Some(mut record) = self.licence(a.kind, a.number.clone()).await? else {
            return Ok(false);
        };
        record
            .grants
            .retain(|g| g.grantee_id_number != a.grantee_id_number);
        record.grants.push(LicenceGrant {
            grantee_id_number: a.grantee_id_number,
            granted_at: chrono::Utc::now(),
            valid_until: a.valid_until,
        });
        self.add_licence(record).await?;
        Ok(true)
    }

    /// Sets how one application's registrations are decided.
    pub async fn script_review(&self, s: ReviewScript) -> Result<(), String> {
        let review = serde_json::to_string(&s.review).map_err(|e| e.to_string())?;
        self.call(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO scripts (application, stage, outcomes) VALUES (?1, ?2, ?3)",
                params![s.application_id, REVIEW, review],
            )
            .map(|_| ())
        })
        .await
    }

    /// Every registration received.
    pub async fn registrations(&self) -> Result<Vec<ReceivedRegistration>, String> {
        self.call(|c| {
            let mut stmt =
                c.prepare("SELECT id, state, deliveries, body FROM registrations ORDER BY rowid")?;
            let rows = stmt.query_map([], |r| {
                Ok(ReceivedRegistration {
                    id: r.get(0)?,
                    state: r.get(1)?,
                    deliveries: r.get(2)?,
                    body: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default(),
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// Decides due registrations (one round); returns how many were due.
    pub(crate) async fn review_due(&self) -> Result<usize, String> {
        let now = now_ms();
        let due: Vec<(String, String, u32)> = self
            .call(move |c| {
                let mut stmt = c.prepare("SELECT id, body, attempts FROM registrations WHERE state = 'pending' AND due_at <= ?1 ORDER BY due_at LIMIT 64")?;
                let rows = stmt.query_map(params![now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                rows.collect()
            })
            .await?;
        let count = due.len();
        for (id, body, attempts) in due {
            let (state, retry_ms) = crate::after_answer(&id, self.decide(&body).await, attempts);
            self.call(move |c| {
                c.execute(
                    "UPDATE registrations SET state = ?2, attempts = attempts + 1, due_at = ?3 WHERE id = ?1",
                    params![id, state, now_ms() + retry_ms],
                )
                .map(|_| ())
            })
            .await?;
        }
        Ok(count)
    }

    /// Sends the decision on one registration; `None` when scripted to stay silent.
    async fn decide(&self, body: &str) -> Result<Option<()>, String> {
        let request: serde_json::Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
        let app = request["application_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let review: Option<String> = {
            let app = app.clone();
            self.call(move |c| {
                c.query_row(
                    "SELECT outcomes FROM scripts WHERE application = ?1 AND stage = ?2",
                    params![app, REVIEW],
                    |r| r.get(0),
                )
                .optional()
            })
            .await?
        };
        let review = review
            .and_then(|r| serde_json::from_str(&r).ok())
            .unwrap_or(Review::Approve);
        let decision = match review {
            Review::Hold => return Ok(None),
            Review::Approve => serde_json::json!({
                "application_id": app, "number": request["number"], "approved": true,
            }),
            Review::Reject => serde_json::json!({
                "application_id": app, "number": request["number"], "approved": false,
                "reason": {"zh": "户籍信息核对不一致", "en": "the household records do not match"},
            }),
        };
        let res = self
            .post_signed(
                Agency::LicenceDirectory,
                "/agency/licence-registrations",
                &decision,
            )
            .await?;
        if res.status().is_success() {
            Ok(Some(()))
        } else {
            Err(format!("platform answered HTTP {}", res.status()))
        }
    }
}

/// `POST /licences`: adds a licence record (set-up, like `/scripts`).
pub(crate) async fn add(State(sim): State<Simulator>, Json(r): Json<LicenceRecord>) -> Answer {
    match sim.add_licence(r).await {
        Ok(()) => (
            StatusCode::CREATED,
            Json(serde_json::json!({"status": "ok"})),
        ),
        Err(e) => unavailable(e),
    }
}

/// `POST /licences/authorisations`: a holder authorises a licence to someone.
pub(crate) async fn authorise(State(sim): State<Simulator>, Json(a): Json<Authorise>) -> Answer {
    match sim.authorise(a).await {
        Ok(true) => (
            StatusCode::CREATED,
            Json(serde_json::json!({"status": "ok"})),
        ),
        Ok(false) => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": "no such licence"})),
        ),
        Err(e) => unavailable(e),
    }
}

/// `POST /licences/registration-scripts`: how an application's registrations are decided.
pub(crate) async fn script(State(sim): State<Simulator>, Json(s): Json<ReviewScript>) -> Answer {
    match sim.script_review(s).await {
        Ok(()) => (
            StatusCode::CREATED,
            Json(serde_json::json!({"status": "ok"})),
        ),
        Err(e) => unavailable(e),
    }
}

/// `GET /licences/registrations`: what the directory received.
pub(crate) async fn list(State(sim): State<Simulator>) -> Answer {
    match sim.registrations().await {
        Ok(r) => (StatusCode::OK, Json(serde_json::json!(r))),
        Err(e) => unavailable(e),
    }
}

/// A question the platform signed, parsed as `T`; the refusal to answer otherwise.
fn question<T: serde::de::DeserializeOwned>(
    sim: &Simulator,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, Box<Response>> {
    sim.verified(None, headers, body)
        .map_err(|refusal| Box::new(refusal.into_response()))?;
    serde_json::from_slice::<T>(body).map_err(|_| {
        Box::new(
            (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({"error": "malformed question"})),
            )
                .into_response(),
        )
    })
}

/// The directory's answer `value` (or why it has none), signed with the directory's key.
fn answer(sim: &Simulator, value: Result<serde_json::Value, String>) -> Response {
    let value = match value {
        Ok(v) => v,
        Err(e) => return unavailable(e).into_response(),
    };
    let Some(key) = sim.agency_keys.key_of(Agency::LicenceDirectory) else {
        return unavailable("no key for the licence directory").into_response();
    };
    signed(key, serde_json::to_vec(&value).unwrap_or_default())
}

/// `POST /licences/lookup`, signed by the platform; the answer is signed with the directory's key.
pub(crate) async fn lookup(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let q = match question::<Lookup>(&sim, &headers, &body) {
        Ok(q) => q,
        Err(refusal) => return *refusal,
    };
    let record = sim.licence(q.kind, q.number).await;
    answer(&sim, record.map(|r| serde_json::json!({ "record": r })))
}

#[derive(Deserialize)]
struct Held {
    holder_id_number: String,
}

/// `POST /licences/held`, signed by the platform: the licences a person holds or was
/// authorised; the answer is signed with the directory's key.
pub(crate) async fn held(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let q = match question::<Held>(&sim, &headers, &body) {
        Ok(q) => q,
        Err(refusal) => return *refusal,
    };
    let records = sim.held_by(q.holder_id_number).await;
    answer(&sim, records.map(|r| serde_json::json!({ "records": r })))
}

/// A 200 JSON response with `body`, signed with `key`.
fn signed(key: &newborn_service::signing::SigningKey, body: Vec<u8>) -> Response {
    let mut res = (StatusCode::OK, body.clone()).into_response();
    let h = res.headers_mut();
    if let Ok(v) = "application/json".parse() {
        h.insert("content-type", v);
    }
    let id = newborn_service::signing::new_message_id();
    for (name, value) in key.headers(&id, chrono::Utc::now(), &body) {
        if let Ok(v) = value.parse() {
            h.insert(name, v);
        }
    }
    res
}

/// `POST /licences/registrations`, signed by the platform, de-duplicated by its message id.
pub(crate) async fn register(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let id = match sim.verified(None, &headers, &body) {
        Ok(id) => id,
        Err(refusal) => return refusal,
    };
    let text = String::from_utf8_lossy(&body).into_owned();
    let due = now_ms() + sim.config.delay.as_millis() as i64;
    let result = sim
        .call(move |c| {
            let n = c.execute("INSERT OR IGNORE INTO registrations (id, body, due_at, state) VALUES (?1, ?2, ?3, 'pending')", params![id, text, due])?;
            if n == 0 {
                c.execute("UPDATE registrations SET deliveries = deliveries + 1 WHERE id = ?1", params![id])?;
            }
            Ok(n == 1)
        })
        .await;
    match result {
        Ok(true) => {
            sim.arrived.notify_one();
            (
                StatusCode::ACCEPTED,
                Json(serde_json::json!({"status": "accepted"})),
            )
        }
        Ok(false) => (
            StatusCode::OK,
            Json(serde_json::json!({"status": "duplicate"})),
        ),
        Err(e) => unavailable(e),
    }
}
