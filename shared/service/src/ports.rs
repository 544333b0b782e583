//! The ports: small traits named by what they do. Adapters (SQLite and files locally; DynamoDB,
//! SQS and S3 on AWS) implement them; the use cases see only these.

use crate::metric::{Dim, Metric};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use newborn_domain::application::Sha256Hex;
use newborn_domain::flow::{Application, ApplicationId, RatingLevel, TimelineEvent};
use newborn_domain::handover::{Counterfoil, HandoverBatch};
use newborn_domain::kinds::RatingSubject;
use newborn_domain::kinds::Watch;
use newborn_domain::region::RegionCode;
use newborn_domain::sla::SlaLevel;
use newborn_domain::stage::StatusKind;
use newborn_domain::stage::{Agency, Stage};
use newborn_domain::text::Bilingual;
use serde::{Deserialize, Serialize};

/// Who acted, for the timeline (谁、何时、做了什么).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// The applicant, by account subject.
    Applicant {
        /// The account subject.
        subject: String,
    },
    /// An agency system, by the key it signed with.
    Agency {
        /// Which agency.
        agency: Agency,
        /// The signing key id.
        key_id: String,
    },
    /// The platform itself (pre-review, routing, the SLA monitor).
    Platform,
    /// Counter staff (一窗受理) acting for the applicant.
    CounterStaff {
        /// The staff member's account subject.
        subject: String,
    },
}

/// One entry of an application's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Which stage.
    pub stage: Stage,
    /// Status before.
    pub from: StatusKind,
    /// Status after.
    pub to: StatusKind,
    /// The event.
    pub event: TimelineEvent,
    /// Who.
    pub actor: Actor,
}

/// The body of a stage queue message: "handle this stage of this application in this round".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageMessage {
    /// The application.
    pub application_id: ApplicationId,
    /// The stage.
    pub stage: Stage,
    /// The dispatch round.
    pub round: u32,
}

/// A task of the evaluation stage (评价), queued with the change that causes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum EvaluationTask {
    /// Forward a rating to the provincial 好差评 platform, opening its follow-up if bad.
    Forward {
        /// The application.
        application_id: ApplicationId,
        /// What was rated.
        subject: RatingSubject,
    },
}

impl EvaluationTask {
    /// The application it concerns.
    pub fn application_id(&self) -> &ApplicationId {
        match self {
            EvaluationTask::Forward { application_id, .. } => application_id,
        }
    }
}

/// A rating as the provincial 好差评 platform receives it. It carries no personal data beyond
/// the family's own comment; the platform de-duplicates by `rating_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingRecord {
    /// `<application>:<subject>`: one rating per subject.
    pub rating_id: String,
    /// The application.
    pub application_id: ApplicationId,
    /// The policy's region (`fujian-2.0`, …).
    pub region: String,
    /// What was rated.
    pub subject: RatingSubject,
    /// The department rated.
    pub department: Agency,
    /// The level.
    pub level: RatingLevel,
    /// The family's words.
    pub comment: Option<String>,
    /// When the family rated.
    pub rated_at: DateTime<Utc>,
    /// When the family was invited, if it was.
    pub invited_at: Option<DateTime<Utc>>,
}

/// The provincial 好差评 platform of the government service system.
#[async_trait]
pub trait RatingPlatform: Send + Sync {
    /// Hands one rating over; an error means "not received, try again".
    async fn forward(&self, record: &RatingRecord) -> Result<(), DeliveryError>;
}

/// One countable thing that happened to one agency's work, written with the change that
/// caused it: the durable rows efficiency reports are computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The application.
    pub application_id: ApplicationId,
    /// The agency whose work it counts.
    pub agency: Agency,
    /// What happened.
    pub kind: FactKind,
}

/// What a [`Fact`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum FactKind {
    /// A stage completed, after this much working time on its clock.
    Completed {
        /// Working seconds on the stage's clock.
        working_secs: i64,
        /// Whether it finished within its deadline.
        on_time: bool,
        /// Which stage (absent in facts written before predictions read them).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage: Option<Stage>,
    },
    /// The agency asked the family for a supplement.
    SupplementRequested,
    /// A clock of the agency's went overdue (the monitor's breach alert).
    Overdue,
    /// The family rated the agency's step (or the platform's matter).
    Rated {
        /// The level.
        level: RatingLevel,
    },
    /// A rating window closed unrated.
    NotRated,
    /// A bad rating opened a follow-up.
    FollowUpOpened,
    /// A follow-up was closed.
    FollowUpClosed {
        /// Whether by its due date.
        on_time: bool,
    },
}

impl Alert {
    /// The fact an overdue alert counts (a warning counts nothing).
    pub fn fact(&self) -> Option<Fact> {
        (self.level == SlaLevel::Overdue).then(|| Fact {
            at: self.at,
            application_id: self.application_id.clone(),
            agency: newborn_domain::licence::supervised(self.watch).0,
            kind: FactKind::Overdue,
        })
    }
}

/// A running SLA clock in the supervision index, with the instants the monitor cares about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenClock {
    /// The application.
    pub application_id: ApplicationId,
    /// What the clock measures (a stage, a service inside one, the whole matter); read from
    /// `stage` in rows written before there were other watches.
    #[serde(alias = "stage")]
    pub watch: Watch,
    /// When the warning threshold is reached.
    pub warning_at: Option<DateTime<Utc>>,
    /// When the budget runs out.
    pub deadline: Option<DateTime<Utc>>,
}

/// An open follow-up of a bad rating in the supervision index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenFollowUp {
    /// The application.
    pub application_id: ApplicationId,
    /// The follow-up.
    pub follow_up: newborn_domain::flow::FollowUp,
}

/// A message for the applicant, kept with the application and delivered by the notifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// When.
    pub at: DateTime<Utc>,
    /// Stable kind, e.g. `supplement_needed`.
    pub kind: String,
    /// The text.
    pub message: Bilingual,
}

/// A notification on its way to the applicant's app (push / SMS gateway), queued with the change
/// that caused it and delivered at least once; the gateway de-duplicates by `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// `<application>:<unix ms>:<n>`: the gateway's de-duplication key.
    pub id: String,
    /// The application.
    pub application_id: ApplicationId,
    /// The applicant's account subject (whom to notify).
    pub owner: String,
    /// The notification.
    pub notification: Notification,
}

/// Why a delivery did not reach the gateway.
#[derive(Debug, thiserror::Error)]
#[error("notification delivery failed: {0}")]
pub struct DeliveryError(pub String);

/// The applicant notification gateway.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Delivers one notification; an error means "not delivered, try again".
    async fn deliver(&self, delivery: &Delivery) -> Result<(), DeliveryError>;
}

/// The queue the notification deliveries go through.
pub const NOTIFICATIONS_QUEUE: &str = "notifications";

/// The queue of the evaluation stage (评价).
pub const EVALUATION_QUEUE: &str = "evaluation";

/// A queue of the service: one per stage, and the notification queue (each with its
/// dead-letter queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueName {
    /// A stage's hand-offs.
    Stage(Stage),
    /// Notification deliveries.
    Notifications,
    /// The evaluation stage's tasks.
    Evaluation,
}

impl QueueName {
    /// Every queue.
    pub const ALL: [QueueName; 7] = [
        QueueName::Stage(Stage::PreReview),
        QueueName::Stage(Stage::HealthCheck),
        QueueName::Stage(Stage::Police),
        QueueName::Stage(Stage::Insurance),
        QueueName::Stage(Stage::SocialSecurityCard),
        QueueName::Notifications,
        QueueName::Evaluation,
    ];

    /// Its name: the stage's (`police`, …) or `notifications`.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Stage(stage) => stage.as_str(),
            QueueName::Notifications => NOTIFICATIONS_QUEUE,
            QueueName::Evaluation => EVALUATION_QUEUE,
        }
    }
}

impl From<Stage> for QueueName {
    /// The queue that carries `stage`'s hand-offs (the hospital's for its release).
    fn from(stage: Stage) -> Self {
        QueueName::Stage(stage.queue())
    }
}

impl std::fmt::Display for QueueName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for QueueName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        QueueName::ALL
            .into_iter()
            .find(|q| q.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = QueueName::ALL.iter().map(|q| q.as_str()).collect();
                format!("unknown queue \"{s}\" (one of {})", names.join(", "))
            })
    }
}

/// An SLA warning or breach, raised once per stage clock and level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The application.
    pub application_id: ApplicationId,
    /// What the clock measures; read from `stage` in rows written before.
    #[serde(alias = "stage")]
    pub watch: Watch,
    /// Warning or overdue.
    pub level: SlaLevel,
    /// When the monitor saw it.
    pub at: DateTime<Utc>,
    /// The clock's deadline.
    pub deadline: Option<DateTime<Utc>>,
}

/// An application as stored, with its owner and optimistic-lock version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The application.
    pub application: Application,
    /// The account that owns it.
    pub owner: String,
    /// Incremented on every write.
    pub version: u64,
    /// The ids of the signed messages (agency callbacks) it accepted within the signature window:
    /// the replay guard, kept with the application and written in the same write.
    pub accepted: Vec<String>,
}

/// How long a store keeps the id of a signed message an application accepted: twice the
/// signature window (a signature older than five minutes is refused as expired anyway).
pub const KEEP_ACCEPTED_MS: i64 = 600 * 1000;

/// Everything one hand-off writes, atomically: the application, its timeline entries, the stage
/// messages to queue (outbox), the open-clock index and the applicant's notifications.
#[derive(Debug, Clone)]
pub struct Write<'a> {
    /// The application after the change.
    pub application: &'a Application,
    /// Its owner.
    pub owner: &'a str,
    /// New timeline entries.
    pub timeline: Vec<TimelineEntry>,
    /// Stage messages to queue.
    pub outbox: Vec<StageMessage>,
    /// Evaluation tasks to queue.
    pub evaluations: Vec<EvaluationTask>,
    /// The facts the change adds to the efficiency reports.
    pub facts: Vec<Fact>,
    /// The application's running clocks (replacing those indexed before).
    pub clocks: Vec<OpenClock>,
    /// The application's open follow-ups (replacing those indexed before).
    pub follow_ups: Vec<OpenFollowUp>,
    /// New notifications.
    pub notifications: Vec<Notification>,
    /// The same notifications, queued for delivery to the applicant's app.
    pub deliveries: Vec<Delivery>,
    /// The completed record of the `Idempotency-Key` this change answers, written in the same
    /// transaction: a request whose handler died after the commit leaves the full record, so its
    /// retry is answered from it instead of making the change again.
    pub response: Option<IdempotentResponse>,
    /// The id of the signed message this change applies, recorded with it so the same message
    /// is not applied again (see [`Stored::accepted`]).
    pub accepted: Option<String>,
}

/// An `Idempotency-Key` claimed for a request: the caller's scope, the key and the request's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// The caller (the key is scoped to it).
    pub scope: String,
    /// The client's key.
    pub key: String,
    /// SHA-256 of the request (method, path, query and body).
    pub request_hash: String,
}

/// The response of a claimed idempotent request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentResponse {
    /// The claim it completes.
    pub claim: IdempotencyClaim,
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The application changed since it was read (optimistic lock), or already exists.
    #[error("version conflict")]
    Conflict,
    /// The backend failed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// Applications, their timelines, the outbox, the open-clock index and alerts.
#[async_trait]
pub trait ApplicationStore: Send + Sync {
    /// Creates an application (version 1). `Conflict` if the id exists.
    async fn insert(&self, write: &Write<'_>) -> Result<(), StoreError>;
    /// Replaces an application if its version is still `expected_version`.
    async fn update(&self, write: &Write<'_>, expected_version: u64) -> Result<(), StoreError>;
    /// Reads one application.
    async fn get(&self, id: &ApplicationId) -> Result<Option<Stored>, StoreError>;
    /// The applications of one owner, newest first.
    async fn list_by_owner(&self, owner: &str) -> Result<Vec<Stored>, StoreError>;
    /// An application's timeline, oldest first.
    async fn timeline(&self, id: &ApplicationId) -> Result<Vec<TimelineEntry>, StoreError>;
    /// An application's notifications, oldest first.
    async fn notifications(&self, id: &ApplicationId) -> Result<Vec<Notification>, StoreError>;
    /// Running clocks whose warning or deadline falls at or before `until` (an index query,
    /// never a scan of all applications).
    async fn due_clocks(&self, until: DateTime<Utc>) -> Result<Vec<OpenClock>, StoreError>;
    /// Every open follow-up of a bad rating, soonest due first (an index query).
    async fn open_follow_ups(&self) -> Result<Vec<OpenFollowUp>, StoreError>;
    /// Records an alert, and the fact it counts ([`Alert::fact`]) with it; false if this
    /// stage already had an alert of this level (and nothing was written).
    async fn record_alert(&self, alert: &Alert) -> Result<bool, StoreError>;
    /// The facts of `agency` that happened in `[from, to)`, oldest first (an index query).
    async fn facts(
        &self,
        agency: Agency,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Fact>, StoreError>;
    /// All alerts, newest first.
    async fn alerts(&self) -> Result<Vec<Alert>, StoreError>;
}

/// Uploaded scans, addressed by SHA-256.
#[async_trait]
pub trait DocumentStore: Send + Sync {
    /// Stores bytes; returns their digest. Storing the same bytes twice is harmless.
    async fn put(&self, bytes: &[u8]) -> Result<Sha256Hex, StoreError>;
    /// Whether a document with this digest is stored.
    async fn exists(&self, digest: &Sha256Hex) -> Result<bool, StoreError>;
}

/// One outbound dispatch to an agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispatch {
    /// `{application}:{stage}:{round}`: the agency de-duplicates by it.
    pub idempotency_key: String,
    /// The JSON body: only the fields that agency needs.
    pub body: serde_json::Value,
}

/// Why a dispatch did not reach the agency.
#[derive(Debug, thiserror::Error)]
#[error("dispatch to {agency:?} failed: {reason}")]
pub struct DispatchError {
    /// The agency.
    pub agency: Agency,
    /// What happened.
    pub reason: String,
}

/// Outbound, signed hand-offs to agency systems.
#[async_trait]
pub trait AgencyDispatcher: Send + Sync {
    /// Delivers one dispatch; an error means "not delivered, try again".
    async fn dispatch(&self, agency: Agency, dispatch: &Dispatch) -> Result<(), DispatchError>;
}

/// The time the service runs on. Locally it can start at a chosen instant and run faster.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's clock (UTC from the system).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The unit of a metric value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A number of events.
    Count,
    /// A duration.
    Seconds,
}

impl Unit {
    /// Its name in CloudWatch.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
        }
    }
}

/// Operational metrics (CloudWatch Embedded Metric Format on AWS, Prometheus text locally).
pub trait Metrics: Send + Sync {
    /// Records one value of `metric` with the given dimensions.
    fn record(&self, metric: Metric, dimensions: &[(Dim, &str)], value: f64, unit: Unit);

    /// Adds `value` to the counter `metric`.
    fn count(&self, metric: Metric, dimensions: &[(Dim, &str)], value: f64) {
        self.record(metric, dimensions, value, Unit::Count);
    }
}

/// What [`RequestLog::claim`] found for an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use: run the request, then `complete` (or `release` on a server error).
    New,
    /// The same request ran before: return its response.
    Replay {
        /// The first response's status.
        status: u16,
        /// The first response's body.
        body: Vec<u8>,
    },
    /// The key was used for a different request.
    Mismatch,
    /// The same request is running now.
    InProgress,
}

/// Idempotency records of POST requests and the nonces of signed callbacks (replay guard).
#[async_trait]
pub trait RequestLog: Send + Sync {
    /// Claims `(scope, key)` for a request whose method, path and body hash to `request_hash`.
    async fn claim(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError>;
    /// Stores the response of a claimed request.
    async fn complete(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError>;
    /// Forgets a claim whose request failed on our side, so a retry runs again.
    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError>;
}

/// A place to upload one scan, handed to an applicant (a presigned URL on S3, a signed local URL
/// here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadSlot {
    /// Random id.
    pub id: String,
    /// The applicant it belongs to.
    pub owner: String,
    /// What the scan shows.
    pub kind: newborn_domain::application::DocumentKind,
    /// Declared content type: `image/jpeg`, `image/png` or `application/pdf`.
    pub content_type: String,
    /// Declared size in bytes (the upload may not exceed it).
    pub size: u64,
    /// When the slot expires.
    pub expires_at: DateTime<Utc>,
    /// The digest, once the upload arrived and was verified.
    pub sha256: Option<Sha256Hex>,
    /// The digest the applicant declared when opening the slot, if she did: the bytes must
    /// have it, and object storage receives them at their content address directly (S3 checks
    /// the checksum on the PUT, so nothing is copied afterwards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_sha256: Option<Sha256Hex>,
}

/// Upload slots and the verified uploads of each applicant. A slot is always looked up with its
/// owner: another applicant's slot is absent, whatever its id.
#[async_trait]
pub trait UploadStore: Send + Sync {
    /// Records `slot` against its owner's allowance for `day` (a date in China), with the id the
    /// store finds it by (the slot's random id, which the store may prefix with where it keeps
    /// it); `None`, and nothing recorded, when the day's slots or bytes would pass `quota`.
    async fn open(
        &self,
        slot: UploadSlot,
        day: chrono::NaiveDate,
        quota: UploadQuota,
    ) -> Result<Option<UploadSlot>, StoreError>;
    /// Reads `owner`'s slot `id`.
    async fn get(&self, owner: &str, id: &str) -> Result<Option<UploadSlot>, StoreError>;
    /// Marks `owner`'s slot `id` verified with its digest; false if it was completed before.
    async fn complete(&self, owner: &str, id: &str, sha256: &Sha256Hex)
    -> Result<bool, StoreError>;
    /// Whether `owner` has a verified upload of `kind` with this digest.
    async fn verified(
        &self,
        owner: &str,
        kind: newborn_domain::application::DocumentKind,
        sha256: &Sha256Hex,
    ) -> Result<bool, StoreError>;
}

/// How much one applicant may upload in a day: upload slots opened and bytes declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadQuota {
    /// Slots a day.
    pub slots_per_day: u32,
    /// Declared bytes a day.
    pub bytes_per_day: u64,
}

impl Default for UploadQuota {
    /// 60 slots and 300 MiB a day: an application needs about ten scans (up to 10 MiB each),
    /// supplements a few more; a family applying for twins, or re-taking photos, stays inside.
    fn default() -> Self {
        Self {
            slots_per_day: 60,
            bytes_per_day: 300 * 1024 * 1024,
        }
    }
}

/// How an applicant sends the bytes of an upload slot: a presigned URL and the headers that are
/// part of its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadTicket {
    /// The URL to `PUT` the bytes to.
    pub url: String,
    /// Headers the `PUT` must carry exactly (content type and, on S3, the exact length).
    pub headers: Vec<(String, String)>,
}

/// Where uploaded bytes go before they are verified: the API itself locally (a signed URL), a
/// staging key of the scan bucket on AWS (a presigned S3 `PUT`; API Gateway and Lambda cannot
/// carry a 10 MiB body).
#[async_trait]
pub trait UploadTarget: Send + Sync {
    /// A ticket to upload the bytes of `slot`, valid until the slot expires.
    async fn ticket(&self, slot: &UploadSlot) -> Result<UploadTicket, StoreError>;
    /// The bytes that arrived for `slot` outside the API (object storage), if any; always
    /// `None` where uploads come through the API.
    async fn arrived(&self, slot: &UploadSlot) -> Result<Option<Vec<u8>>, StoreError>;
}

/// The counterfoil handover register (《出生医学证明》副页移交, see
/// [`newborn_domain::handover`]).
#[async_trait]
pub trait HandoverRegister: Send + Sync {
    /// Records a counterfoil the hospital keeps; recording it again changes nothing.
    async fn keep(&self, counterfoil: &Counterfoil) -> Result<(), StoreError>;
    /// The counterfoils of a county not yet handed over, oldest first.
    async fn pending(&self, county: &RegionCode) -> Result<Vec<Counterfoil>, StoreError>;
    /// Records a batch and marks its counterfoils handed over, all or nothing: `false` if one of
    /// them was handed over meanwhile (or the number exists), and nothing changed.
    async fn hand_over(&self, batch: &HandoverBatch) -> Result<bool, StoreError>;
    /// A batch by number.
    async fn batch(&self, number: &str) -> Result<Option<HandoverBatch>, StoreError>;
}

/// A missing-licence registration (授权缺失登记) on its way to the licence directory, which
/// reviews it and answers on the signed `POST /agency/licence-registrations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationRequest {
    /// `<application>:<number>`: the directory de-duplicates by it.
    pub id: String,
    /// The application.
    pub application_id: ApplicationId,
    /// The registration's number within the application.
    pub number: u32,
    /// The materials whose licences are missing or wrong, each with its holder.
    pub licences: Vec<RegisteredLicence>,
    /// Missing or wrong.
    pub reason: newborn_domain::licence::RegistrationReason,
    /// When it was filed.
    pub filed_at: DateTime<Utc>,
    /// When the review is due (the policy's working days).
    pub due_at: Option<DateTime<Utc>>,
}

/// One material of a registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredLicence {
    /// Which material.
    pub kind: newborn_domain::application::DocumentKind,
    /// Whose (the holder the form names for it).
    pub holder_id_number: newborn_domain::ids::IdNumber,
}

/// Why the licence directory could not answer.
#[derive(Debug, thiserror::Error)]
#[error("licence directory: {0}")]
pub struct DirectoryError(pub String);

/// The province's electronic licence directory (省电子证照共享平台): looks licences up and takes
/// missing-licence registrations for review.
#[async_trait]
pub trait LicenceDirectory: Send + Sync {
    /// The directory's record of the licence `reference` names (by kind, number and issuer),
    /// with its holder's authorisations; `None` when it has none.
    async fn lookup(
        &self,
        reference: &newborn_domain::licence::LicenceRef,
    ) -> Result<Option<newborn_domain::licence::LicenceRecord>, DirectoryError>;
    /// Hands a registration to the directory for review; sending it again is harmless.
    async fn register(&self, request: &RegistrationRequest) -> Result<(), DirectoryError>;
    /// The licences of the person with `id_number`: those they hold and those others
    /// authorised to them for this service.
    async fn held_by(
        &self,
        id_number: &newborn_domain::ids::IdNumber,
    ) -> Result<Vec<newborn_domain::licence::LicenceRecord>, DirectoryError>;
}

/// Drafts made from the hospital's birth record ([`newborn_domain::draft`]), waiting for the
/// mother. A deleted draft leaves nothing of its personal data behind in the store.
#[async_trait]
pub trait DraftStore: Send + Sync {
    /// Records the drafts of one delivery with the notices that tell the mother, all or
    /// nothing: `false`, and nothing written, if one of them exists already.
    async fn create(
        &self,
        drafts: &[newborn_domain::draft::Draft],
        deliveries: &[Delivery],
    ) -> Result<bool, StoreError>;
    /// Reads one draft.
    async fn get(
        &self,
        id: &ApplicationId,
    ) -> Result<Option<newborn_domain::draft::Draft>, StoreError>;
    /// The drafts of the mother with this identity number, oldest first (an index query).
    async fn of_mother(
        &self,
        id_number: &newborn_domain::ids::IdNumber,
    ) -> Result<Vec<newborn_domain::draft::Draft>, StoreError>;
    /// The drafts whose confirmation window ends at or before `until` (an index query).
    async fn expiring(&self, until: DateTime<Utc>) -> Result<Vec<ApplicationId>, StoreError>;
    /// Deletes a draft and everything of it; deleting a missing one is harmless.
    async fn delete(&self, id: &ApplicationId) -> Result<(), StoreError>;
}
