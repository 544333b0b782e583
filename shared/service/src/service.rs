//! The use cases. Each loads an application, changes it through the domain, and writes the
//! result — application, timeline, outbox, clock index, notifications — in one conditional write,
//! retrying on a version conflict. Every step is idempotent, so a redelivered message or a
//! repeated callback changes nothing twice.

use crate::error::ServiceError;
use crate::payload::dispatch_body;
use crate::ports::{
    Actor, AgencyDispatcher, Alert, ApplicationStore, Clock, Delivery, Dispatch, DocumentStore,
    HandoverRegister, IdempotencyClaim, IdempotentResponse, LicenceDirectory, Metrics,
    Notification, Notifier, OpenClock, OpenFollowUp, RegisteredLicence, RegistrationRequest,
    StageMessage, StoreError, Stored, TimelineEntry, Unit, UploadQuota, UploadSlot, UploadStore,
    Write,
};
use crate::view::ApplicationView;
use chrono::{DateTime, Days, Utc};
use newborn_domain::application::{
    ApplicationForm, DocumentKind, DocumentRef, Sha256Hex, Text, parse_form,
};
use newborn_domain::calendar::{CHINA, WorkingCalendar};
use newborn_domain::flow::{
    Application, ApplicationId, Applied, Effect, Outcome, RatingLevel, Transition,
};
use newborn_domain::handover::{Counterfoil, HandoverBatch, HandoverParties};
use newborn_domain::licence::{
    LicenceCheck, LicenceRef, RegistrationReason, RegistrationStatus, judge,
};
use newborn_domain::policy::{ClockStart, Policy, PolicyRegistry};
use newborn_domain::prereview::{Decision, missing_materials, pre_review};
use newborn_domain::region::RegionCode;
use newborn_domain::sla::SlaLevel;
use newborn_domain::stage::{
    Agency, ApplicantWait, GeneratedForm, Stage, StageEvent, StageResult, StageStatus,
    SupplementItem,
};
use newborn_domain::text::{Bilingual, Invalid};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::sync::Arc;

/// The adapters a [`Service`] runs on.
#[derive(Clone)]
pub struct Ports {
    /// Applications and everything written with them.
    pub store: Arc<dyn ApplicationStore>,
    /// Uploaded scans.
    pub documents: Arc<dyn DocumentStore>,
    /// Upload slots and verified uploads.
    pub uploads: Arc<dyn UploadStore>,
    /// Outbound agency webhooks.
    pub agencies: Arc<dyn AgencyDispatcher>,
    /// Each agency's supervisor (办件监察), told of SLA warnings and breaches.
    pub supervisors: Arc<dyn AgencyDispatcher>,
    /// The counterfoil handover register.
    pub handovers: Arc<dyn HandoverRegister>,
    /// The applicant notification gateway.
    pub notifier: Arc<dyn Notifier>,
    /// The province's electronic licence directory.
    pub licences: Arc<dyn LicenceDirectory>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Counters.
    pub metrics: Arc<dyn Metrics>,
}

/// The service: use cases over ports.
pub struct Service {
    ports: Ports,
    policies: PolicyRegistry,
    calendar: WorkingCalendar,
    default_policy: String,
    upload_quota: UploadQuota,
}

/// What an agency reports back about a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CallbackOutcome {
    /// Done, with the result (certificate number, newborn ID number, enrolment, card).
    Approve {
        /// The result; its `stage` must be the callback's stage.
        result: StageResult,
    },
    /// Materials are missing or wrong (补件).
    Supplement {
        /// What the applicant must supply.
        items: Vec<SupplementItem>,
        /// Why.
        reason: Bilingual,
    },
    /// The check passed; the platform must have the applicant confirm these generated forms.
    ConfirmForms {
        /// Which forms.
        forms: Vec<GeneratedForm>,
    },
    /// The applicant must mail documents (time not counted).
    Mailing {
        /// What to send.
        what: Bilingual,
    },
    /// The mailed documents arrived.
    MailArrived,
    /// Cannot be done online (转线下办理).
    GoOffline {
        /// Why.
        reason: Bilingual,
    },
}

/// An agency's callback about one stage of one application in one dispatch round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Callback {
    /// The application.
    pub application_id: String,
    /// The stage.
    pub stage: Stage,
    /// The dispatch round answered.
    pub round: u32,
    /// What happened.
    pub outcome: CallbackOutcome,
}

/// An agency's report that the follow-up of a bad rating is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUpReport {
    /// The application.
    pub application_id: String,
    /// The rated stage.
    pub stage: Stage,
    /// What the agency did (回访 and 整改).
    pub note: Text,
}

/// What became of a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackAck {
    /// Applied now.
    Applied,
    /// Applied before (a retry): nothing changed.
    AlreadyApplied,
}

/// The applicant's answer to a supplement request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplementAnswer {
    /// Newly uploaded documents (each replaces a licence of its kind).
    #[serde(default)]
    pub documents: Vec<DocumentRef>,
    /// Electronic licences (each replaces a scan or licence of its kind).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licences: Vec<LicenceRef>,
    /// Corrections as a JSON merge patch (RFC 7396) of the form.
    #[serde(default)]
    pub form_patch: Option<serde_json::Value>,
}

/// The licence directory's decision on a missing-licence registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationDecision {
    /// The application.
    pub application_id: String,
    /// The registration's number within it.
    pub number: u32,
    /// Approved or rejected.
    pub approved: bool,
    /// Why, when rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Bilingual>,
}

/// What one SLA sweep found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// When the sweep ran (service time).
    pub at: Option<DateTime<Utc>>,
    /// Clocks the index returned as due.
    pub due: usize,
    /// New warnings raised.
    pub warnings: usize,
    /// New breaches raised.
    pub breaches: usize,
    /// Years in the next 60 days the holiday calendar does not cover (deadlines provisional).
    pub uncovered_years: Vec<i32>,
}

const MAX_CONFLICT_RETRIES: usize = 16;

/// The largest scan accepted, in bytes (10 MiB).
pub const MAX_UPLOAD: u64 = 10 * 1024 * 1024;
/// The content types accepted for scans.
pub const UPLOAD_TYPES: [&str; 3] = ["image/jpeg", "image/png", "application/pdf"];

impl Service {
    /// A service over `ports` with the given policies and calendar.
    pub fn new(
        ports: Ports,
        policies: PolicyRegistry,
        calendar: WorkingCalendar,
        default_policy: &str,
    ) -> Result<Self, String> {
        if policies.latest(default_policy).is_none() {
            return Err(format!("default policy \"{default_policy}\" is not known"));
        }
        Ok(Self {
            ports,
            policies,
            calendar,
            default_policy: default_policy.to_owned(),
            upload_quota: UploadQuota::default(),
        })
    }

    /// The same service with another daily upload allowance per applicant.
    pub fn with_upload_quota(mut self, quota: UploadQuota) -> Self {
        self.upload_quota = quota;
        self
    }

    /// The service's time.
    pub fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now()
    }

    /// The working-day calendar.
    pub fn calendar(&self) -> &WorkingCalendar {
        &self.calendar
    }

    /// The known policies.
    pub fn policies(&self) -> &PolicyRegistry {
        &self.policies
    }

    /// The store (for read-only operator queries).
    pub fn store(&self) -> &Arc<dyn ApplicationStore> {
        &self.ports.store
    }

    /// Opens an upload slot for one scan of `kind` (a presigned URL's worth of permission).
    /// JPEG, PNG and PDF only, at most [`MAX_UPLOAD`] bytes, valid for 15 minutes from `now`.
    pub async fn open_upload(
        &self,
        owner: &str,
        kind: DocumentKind,
        content_type: &str,
        size: u64,
        now: DateTime<Utc>,
    ) -> Result<UploadSlot, ServiceError> {
        if !UPLOAD_TYPES.contains(&content_type) {
            return Err(ServiceError::UnsupportedMedia(Invalid::new(
                "unsupported_document",
                "仅支持JPEG、PNG或PDF文件",
                "only JPEG, PNG or PDF files are accepted",
            )));
        }
        if size == 0 || size > MAX_UPLOAD {
            return Err(ServiceError::TooLarge(Invalid::new(
                "upload_too_large",
                "文件大小应在1字节至10MB之间",
                "a file must have 1 byte to 10 MiB",
            )));
        }
        let today = now.with_timezone(&CHINA).date_naive();
        if !self
            .ports
            .uploads
            .reserve(owner, today, size, self.upload_quota)
            .await?
        {
            return Err(ServiceError::TooMany(Invalid::new(
                "upload_quota",
                format!(
                    "今日上传已达上限（{}个文件、{} MB），请明日再试或到窗口办理",
                    self.upload_quota.slots_per_day,
                    self.upload_quota.bytes_per_day / (1024 * 1024)
                ),
                format!(
                    "today's uploads are used up ({} files, {} MiB); try again tomorrow or visit a counter",
                    self.upload_quota.slots_per_day,
                    self.upload_quota.bytes_per_day / (1024 * 1024)
                ),
            )));
        }
        let slot = UploadSlot {
            id: hex::encode(rand::random::<[u8; 16]>()),
            owner: owner.to_owned(),
            kind,
            content_type: content_type.to_owned(),
            size,
            expires_at: now + chrono::TimeDelta::minutes(15),
            sha256: None,
        };
        self.ports.uploads.create(&slot).await?;
        Ok(slot)
    }

    /// The applicant's own upload slot (another's is reported as absent).
    pub async fn upload_slot(&self, owner: &str, id: &str) -> Result<UploadSlot, ServiceError> {
        self.ports
            .uploads
            .get(id)
            .await?
            .filter(|slot| slot.owner == owner)
            .ok_or(ServiceError::NotFound)
    }

    /// Receives the bytes of a slot: within its time and declared size, of the declared type by
    /// its whole content ([`crate::scans::inspect`]); marks the upload verified with the bytes'
    /// SHA-256 and stores the scan under it. One file per slot, whatever the concurrency: the
    /// slot is claimed for one digest before anything is stored, so of two different files sent
    /// at once only the winner's is kept (the other gets 409 and leaves nothing); the same file
    /// sent again (a retry after a lost answer, or after a failed store) is accepted again.
    pub async fn receive_upload(
        &self,
        id: &str,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Result<UploadSlot, ServiceError> {
        let mut slot = self
            .ports
            .uploads
            .get(id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        if now > slot.expires_at {
            return Err(ServiceError::Forbidden(Invalid::new(
                "upload_expired",
                "上传地址已过期，请重新获取",
                "the upload URL has expired; request a new one",
            )));
        }
        let used = || {
            ServiceError::conflict(
                "upload_used",
                "该上传地址已用于另一个文件",
                "this upload URL was used for another file",
            )
        };
        let digest: Sha256Hex = hex::encode(sha2::Sha256::digest(bytes))
            .parse()
            .map_err(|_| ServiceError::Transient("digest".into()))?;
        if slot.sha256.as_ref().is_some_and(|d| *d != digest) {
            return Err(used());
        }
        if bytes.len() as u64 > slot.size {
            return Err(ServiceError::TooLarge(Invalid::new(
                "upload_too_large",
                "文件大于申请上传时声明的大小",
                "the file is larger than declared for this upload",
            )));
        }
        let found = crate::scans::inspect(bytes).map_err(ServiceError::UnsupportedMedia)?;
        if found != slot.content_type {
            return Err(ServiceError::UnsupportedMedia(Invalid::new(
                "content_type_mismatch",
                format!("文件内容不是声明的{}类型", slot.content_type),
                format!("the file is not the declared {}", slot.content_type),
            )));
        }
        if slot.sha256.is_none() && !self.ports.uploads.complete(id, &digest).await? {
            // Another request completed the slot meanwhile: the same file is the same upload.
            let now_marked = self.ports.uploads.get(id).await?.and_then(|s| s.sha256);
            if now_marked.as_ref() != Some(&digest) {
                return Err(used());
            }
        }
        self.ports.documents.put(bytes).await?;
        slot.sha256 = Some(digest);
        Ok(slot)
    }

    fn policy_of(&self, app: &Application) -> Result<&Policy, ServiceError> {
        self.policies
            .get(&app.policy)
            .ok_or_else(|| ServiceError::Transient(format!("policy {} is not loaded", app.policy)))
    }

    /// An application may reference only verified uploads of its own applicant, of the right kind:
    /// each of `docs` is checked and refused under the field it was given in.
    async fn require_documents(
        &self,
        owner: &str,
        docs: &[(String, DocumentRef)],
    ) -> Result<(), ServiceError> {
        let mut issues = vec![];
        for (field, d) in docs {
            if !self
                .ports
                .uploads
                .verified(owner, d.kind, &d.sha256)
                .await?
            {
                issues.push(newborn_domain::application::FieldIssue {
                    field: field.clone(),
                    error: Invalid::new(
                        "unknown_document",
                        "未找到该材料，请先上传",
                        "no such uploaded document; upload it first",
                    ),
                });
            }
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::BadInput(issues))
        }
    }

    fn new_id(&self, now: DateTime<Utc>) -> ApplicationId {
        let date = now.with_timezone(&CHINA).format("%Y%m%d");
        let random: u64 = rand::random::<u64>() & 0xFF_FFFF_FFFF;
        format!("NB{date}{random:010X}")
            .parse()
            .unwrap_or_else(|_| unreachable!("generated ids are well formed"))
    }

    /// 申请: validates the form, creates the application and queues its pre-review.
    /// With `claim`, the request's `Idempotency-Key` record and its response (the `201` view) are
    /// written in the same transaction as the application.
    pub async fn submit(
        &self,
        owner: &str,
        actor: Actor,
        body: &[u8],
        policy_id: Option<&str>,
        claim: Option<IdempotencyClaim>,
    ) -> Result<Stored, ServiceError> {
        let form = parse_form(body).map_err(|issue| ServiceError::BadInput(vec![issue]))?;
        let docs: Vec<_> = form
            .documents
            .iter()
            .enumerate()
            .map(|(i, d)| (format!("documents[{i}]"), d.clone()))
            .collect();
        self.require_documents(owner, &docs).await?;
        let policy_id = policy_id.unwrap_or(&self.default_policy);
        let policy = self.policies.latest(policy_id).ok_or_else(|| {
            ServiceError::bad(
                "policy",
                Invalid::new(
                    "unknown_policy",
                    format!("未知的地区政策“{policy_id}”"),
                    format!("unknown policy \"{policy_id}\""),
                ),
            )
        })?;
        let now = self.now();
        let (app, applied) = Application::submit(self.new_id(now), form, policy, now)?;
        let mut write = self.write_for(&app, owner, &actor, &applied, now);
        write.notifications.insert(
            0,
            notice(
                now,
                "accepted",
                "您的“出生一件事”申请已提交，正在自动预审。",
                "Your application was submitted and is being pre-reviewed.",
            ),
        );
        write.deliveries = deliveries(&app, owner, &write.notifications, now);
        if let Some(claim) = claim {
            let view = ApplicationView::of(&app, 1, &self.calendar, now);
            write.response = Some(IdempotentResponse {
                claim,
                status: 201,
                body: serde_json::to_vec(&view)
                    .map_err(|e| ServiceError::Transient(e.to_string()))?,
            });
        }
        self.ports.store.insert(&write).await.map_err(|e| match e {
            StoreError::Conflict => {
                ServiceError::Transient("application id collision; retry".into())
            }
            other => other.into(),
        })?;
        self.ports
            .metrics
            .count("ApplicationsSubmitted", &[("Region", &policy.id)], 1.0);
        Ok(Stored {
            application: app,
            owner: owner.to_owned(),
            version: 1,
        })
    }

    /// Reads an application for its owner.
    pub async fn get(&self, owner: &str, id: &str) -> Result<Stored, ServiceError> {
        let id: ApplicationId = id.parse().map_err(|_| ServiceError::NotFound)?;
        match self.ports.store.get(&id).await? {
            Some(s) if s.owner == owner => Ok(s),
            _ => Err(ServiceError::NotFound),
        }
    }

    /// The view of an application for its owner.
    pub async fn view(&self, owner: &str, id: &str) -> Result<ApplicationView, ServiceError> {
        let s = self.get(owner, id).await?;
        Ok(ApplicationView::of(
            &s.application,
            s.version,
            &self.calendar,
            self.now(),
        ))
    }

    /// An owner's applications.
    pub async fn list(&self, owner: &str) -> Result<Vec<ApplicationView>, ServiceError> {
        let now = self.now();
        Ok(self
            .ports
            .store
            .list_by_owner(owner)
            .await?
            .iter()
            .map(|s| ApplicationView::of(&s.application, s.version, &self.calendar, now))
            .collect())
    }

    /// The timeline of an application for its owner.
    pub async fn timeline(
        &self,
        owner: &str,
        id: &str,
    ) -> Result<Vec<TimelineEntry>, ServiceError> {
        let s = self.get(owner, id).await?;
        Ok(self.ports.store.timeline(&s.application.id).await?)
    }

    /// The notifications of an application for its owner.
    pub async fn notifications(
        &self,
        owner: &str,
        id: &str,
    ) -> Result<Vec<Notification>, ServiceError> {
        let s = self.get(owner, id).await?;
        Ok(self.ports.store.notifications(&s.application.id).await?)
    }

    /// Loads, changes and writes an application, retrying on version conflicts. `change`
    /// returns `None` when there is nothing (more) to do, which makes retries idempotent.
    async fn mutate<F>(
        &self,
        id: &ApplicationId,
        owner: Option<&str>,
        actor: &Actor,
        mut change: F,
    ) -> Result<Option<Stored>, ServiceError>
    where
        F: FnMut(
            &mut Application,
            &Policy,
            DateTime<Utc>,
        ) -> Result<Option<(Applied, Vec<Notification>)>, ServiceError>,
    {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let stored = self
                .ports
                .store
                .get(id)
                .await?
                .ok_or(ServiceError::NotFound)?;
            if owner.is_some_and(|o| o != stored.owner) {
                return Err(ServiceError::NotFound);
            }
            let policy = self.policy_of(&stored.application)?;
            let mut app = stored.application.clone();
            let now = self.now();
            let Some((applied, mut extra)) = change(&mut app, policy, now)? else {
                return Ok(None);
            };
            // The flow ended without a follow-up service the family may still get: offer it.
            if applied.effects.contains(&Effect::FlowEnded {
                outcome: Outcome::Completed,
            }) && let Some(offer) = app.make_offer(policy, now)
            {
                extra.push(Notification {
                    at: now,
                    kind: "offer".into(),
                    message: offer.message(),
                });
            }
            let mut write = self.write_for(&app, &stored.owner, actor, &applied, now);
            write.notifications.extend(extra);
            write.deliveries = deliveries(&app, &stored.owner, &write.notifications, now);
            match self.ports.store.update(&write, stored.version).await {
                Ok(()) => {
                    self.count_transitions(&app, &applied);
                    return Ok(Some(Stored {
                        application: app,
                        owner: stored.owner,
                        version: stored.version + 1,
                    }));
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Transient(
            "the application is changing too often; retry".into(),
        ))
    }

    /// The metrics of committed transitions, by stage, agency and region (the policy).
    fn count_transitions(&self, app: &Application, applied: &Applied) {
        let m = &self.ports.metrics;
        // Ratings and follow-ups are recorded as entries without a status change: not stage events.
        for t in applied.transitions.iter().filter(|t| t.from != t.to) {
            let dims = [
                ("Stage", t.stage.as_str()),
                ("Agency", t.stage.agency().as_str()),
                ("Region", app.policy.id.as_str()),
            ];
            match (t.from.as_str(), t.to.as_str()) {
                (_, "awaiting_agency") if t.event == "dispatch" => {
                    m.count("StageStarted", &dims, 1.0)
                }
                (_, "completed") => {
                    m.count("StageCompleted", &dims, 1.0);
                    // How long the stage took: working time on its clock (what the deadline
                    // counts, 附件1 四(五)) and wall time from its first start to now.
                    if let Some(clock) = app.stage(t.stage).and_then(|s| s.clock.as_ref()) {
                        let reading = clock.read(&self.calendar, t.at);
                        if reading.level != SlaLevel::Overdue {
                            m.count("StageCompletedOnTime", &dims, 1.0);
                        }
                        m.record(
                            "StageWorkingTime",
                            &dims,
                            reading.elapsed_secs as f64,
                            Unit::Seconds,
                        );
                        if let Some(first) = clock.runs.first() {
                            m.record(
                                "StageWallTime",
                                &dims,
                                (t.at - first.from).num_milliseconds() as f64 / 1000.0,
                                Unit::Seconds,
                            );
                        }
                    }
                }
                (_, "terminated") => m.count("GoOffline", &dims, 1.0),
                (_, "awaiting_applicant") if t.event == "request_supplement" => {
                    m.count("SupplementRequested", &dims, 1.0)
                }
                _ => {}
            }
        }
    }

    /// Builds the atomic write for a change: timeline, outbox, clock index, notifications.
    fn write_for<'a>(
        &self,
        app: &'a Application,
        owner: &'a str,
        actor: &Actor,
        applied: &Applied,
        now: DateTime<Utc>,
    ) -> Write<'a> {
        let timeline = applied
            .transitions
            .iter()
            .map(|t| {
                // Routing after an agency's answer (queueing the next stage, skipping the rest)
                // is the platform's act; a submission's first hand-off stays the submitter's.
                let routing = t.event == "queue" || t.event == "skip";
                let actor = if routing && matches!(actor, Actor::Agency { .. }) {
                    Actor::Platform
                } else {
                    actor.clone()
                };
                TimelineEntry {
                    at: t.at,
                    stage: t.stage,
                    from: t.from.clone(),
                    to: t.to.clone(),
                    event: t.event.clone(),
                    actor,
                }
            })
            .collect();
        let outbox = applied
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::Enqueue { stage, round } => Some(StageMessage {
                    application_id: app.id.as_str().to_owned(),
                    stage: *stage,
                    round: *round,
                }),
                Effect::FlowEnded { .. } => None,
            })
            .collect();
        let clocks = Stage::ALL
            .iter()
            .filter_map(|stage| {
                let clock = app
                    .supervised_clock(*stage)
                    .filter(|c| c.state() == newborn_domain::sla::ClockState::Running)?;
                let r = clock.read(&self.calendar, now);
                Some(OpenClock {
                    application_id: app.id.as_str().to_owned(),
                    stage: *stage,
                    warning_at: r.warning_at,
                    deadline: r.deadline,
                })
            })
            .collect();
        let follow_ups = app
            .follow_ups
            .iter()
            .filter(|f| f.closed.is_none())
            .map(|f| OpenFollowUp {
                application_id: app.id.as_str().to_owned(),
                follow_up: f.clone(),
            })
            .collect();
        Write {
            application: app,
            owner,
            timeline,
            outbox,
            clocks,
            follow_ups,
            notifications: notifications_for(app, applied, now),
            deliveries: vec![],
            response: None,
        }
    }

    // ------------------------------------------------------------------------------------
    // Stage processing (the stage Lambdas / local workers)
    // ------------------------------------------------------------------------------------

    /// Handles one stage message: pre-review runs here; agency stages are dispatched (again, on
    /// redelivery — agencies de-duplicate by the idempotency key). Stale messages are no-ops.
    pub async fn handle_stage(&self, msg: &StageMessage) -> Result<(), ServiceError> {
        let id: ApplicationId = msg
            .application_id
            .parse()
            .map_err(|e: Invalid| ServiceError::bad("application_id", e))?;
        let (stage, round) = (msg.stage, msg.round);
        let checks = if stage == Stage::PreReview {
            self.look_up_licences(&id, round).await?
        } else {
            vec![]
        };
        let stored = self.mutate(&id, None, &Actor::Platform, |app, policy, now| {
            let Some(state) = app.stage(stage) else {
                return Ok(None);
            };
            if state.status != (StageStatus::Queued { round }) {
                return Ok(None);
            }
            let mut applied = app
                .apply(stage, StageEvent::Dispatch, policy, now)
                .or_else(|e| {
                    // The card's clock starts with the bank choice: ask for it first (附件1 四(四)).
                    if policy.clock_start(stage) == ClockStart::OnPartnerBankChoice
                        && app.form.card.is_none()
                    {
                        app.apply(stage, StageEvent::AwaitBank, policy, now)
                    } else {
                        Err(e)
                    }
                })?;
            if stage == Stage::PreReview {
                if checks.len() != app.form.licences.len()
                    || checks
                        .iter()
                        .zip(&app.form.licences)
                        .any(|(c, l)| &c.reference != l)
                {
                    return Err(ServiceError::Transient(
                        "the form's licences changed while they were looked up; retry".into(),
                    ));
                }
                app.record_licence_checks(&checks);
                let review = pre_review(&app.form, policy, now, &checks);
                let event = match review.decision {
                    Decision::Accept { notes } => StageEvent::Complete {
                        result: StageResult::PreReview { notes },
                    },
                    Decision::Supplement { items, reason } => {
                        StageEvent::RequestSupplement { items, reason }
                    }
                    Decision::GoOffline { reason } => StageEvent::GoOffline { reason },
                };
                merge(&mut applied, app.apply(stage, event, policy, now)?);
            } else if matches!(
                app.stage(stage).map(|s| &s.status),
                Some(StageStatus::AwaitingAgency { .. })
            ) {
                // Materials this stage needs that the form lacks: ask once, before the agency
                // sees an incomplete case (e.g. the newborn's booklet page for the card).
                let missing = missing_materials(&app.form, policy, stage);
                if !missing.is_empty() && policy.stage_rules(stage, app.form.case).supplement {
                    let items = missing
                        .iter()
                        .map(|(kind, _)| SupplementItem::Document { kind: *kind })
                        .collect();
                    let names: Vec<Bilingual> = missing.iter().map(|(k, _)| k.label()).collect();
                    let reason = Bilingual::new(
                        format!(
                            "本环节需要补充：{}",
                            names
                                .iter()
                                .map(|n| n.zh.as_str())
                                .collect::<Vec<_>>()
                                .join("、")
                        ),
                        format!(
                            "this stage needs: {}",
                            names
                                .iter()
                                .map(|n| n.en.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                    merge(
                        &mut applied,
                        app.apply(
                            stage,
                            StageEvent::RequestSupplement { items, reason },
                            policy,
                            now,
                        )?,
                    );
                }
            }
            Ok(Some((applied, vec![])))
        });
        let stored = match stored.await? {
            Some(s) => s,
            None => self
                .ports
                .store
                .get(&id)
                .await?
                .ok_or(ServiceError::NotFound)?,
        };
        // Send (or re-send) the dispatch while the agency holds this round.
        let app = &stored.application;
        if stage == Stage::PreReview {
            self.send_registration(app).await?;
        }
        if stage == Stage::Police {
            self.keep_counterfoil(app).await?;
        }
        if stage != Stage::PreReview
            && app.stage(stage).map(|s| &s.status) == Some(&StageStatus::AwaitingAgency { round })
        {
            let policy = self.policy_of(app)?;
            let dispatch = Dispatch {
                idempotency_key: format!("{}:{}:{}", app.id.as_str(), stage, round),
                body: dispatch_body(app, policy, stage, round),
            };
            self.ports
                .agencies
                .dispatch(stage.agency(), &dispatch)
                .await
                .map_err(|e| ServiceError::Transient(e.to_string()))?;
            self.ports.metrics.count(
                "DispatchSent",
                &[
                    ("Stage", stage.as_str()),
                    ("Agency", stage.agency().as_str()),
                ],
                1.0,
            );
        }
        Ok(())
    }

    /// Looks up the form's licences in the directory for pre-review round `round` (nothing when
    /// the pre-review is not queued in that round) and judges each at the service's time.
    async fn look_up_licences(
        &self,
        id: &ApplicationId,
        round: u32,
    ) -> Result<Vec<LicenceCheck>, ServiceError> {
        let Some(stored) = self.ports.store.get(id).await? else {
            return Ok(vec![]);
        };
        let app = &stored.application;
        if app.stage(Stage::PreReview).map(|s| &s.status) != Some(&StageStatus::Queued { round }) {
            return Ok(vec![]);
        }
        self.check_licences(&app.form.licences, &app.form, self.policy_of(app)?)
            .await
    }

    /// Looks each of `references` up in the directory and judges it against `form` today.
    async fn check_licences(
        &self,
        references: &[LicenceRef],
        form: &ApplicationForm,
        policy: &Policy,
    ) -> Result<Vec<LicenceCheck>, ServiceError> {
        let now = self.now();
        let today = now.with_timezone(&CHINA).date_naive();
        let mut checks = vec![];
        for reference in references {
            let record = self
                .ports
                .licences
                .lookup(reference)
                .await
                .map_err(|e| ServiceError::Transient(e.to_string()))?;
            let judged = judge(reference, record.as_ref(), form, policy, today);
            let dims = [("Kind", reference.kind.as_str())];
            self.ports.metrics.count(
                if judged.is_ok() {
                    "LicenceVerified"
                } else {
                    "LicenceRefused"
                },
                &dims,
                1.0,
            );
            checks.push(LicenceCheck {
                reference: reference.clone(),
                checked_at: now,
                problem: judged.err(),
                valid_until: record.as_ref().and_then(|r| r.valid_until),
                authorised_at: judged.ok().flatten(),
            });
        }
        Ok(checks)
    }

    /// Sends (or re-sends, on redelivery) the registration under review to the directory.
    async fn send_registration(&self, app: &Application) -> Result<(), ServiceError> {
        let Some(r) = app.registration_under_review() else {
            return Ok(());
        };
        let request = RegistrationRequest {
            id: format!("{}:{}", app.id.as_str(), r.number),
            application_id: app.id.as_str().to_owned(),
            number: r.number,
            licences: r
                .kinds
                .iter()
                .map(|kind| RegisteredLicence {
                    kind: *kind,
                    holder_id_number: app
                        .form
                        .licence(*kind)
                        .map(|l| l.holder_id_number.clone())
                        .unwrap_or_else(|| default_holder(&app.form, *kind)),
                })
                .collect(),
            reason: r.reason,
            filed_at: r.filed_at,
            due_at: r.clock.read(&self.calendar, self.now()).deadline,
        };
        self.ports
            .licences
            .register(&request)
            .await
            .map_err(|e| ServiceError::Transient(e.to_string()))
    }

    /// 授权缺失登记: the applicant registers licences as missing or wrong; the directory reviews
    /// the registration within the policy's working days. It is sent through the pre-review
    /// queue, so a crash between the write and the send loses nothing.
    pub async fn file_registration(
        &self,
        owner: &str,
        id: &str,
        kinds: &[DocumentKind],
        reason: RegistrationReason,
    ) -> Result<Stored, ServiceError> {
        let id: ApplicationId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let actor = Actor::Applicant {
            subject: owner.to_owned(),
        };
        let stored = self
            .mutate(&id, Some(owner), &actor, |app, policy, now| {
                let r = app.file_registration(kinds, reason, policy, now)?;
                let names: Vec<String> = r.kinds.iter().map(|k| k.label().zh).collect();
                let names_en: Vec<String> = r.kinds.iter().map(|k| k.label().en).collect();
                let days = policy
                    .licences
                    .as_ref()
                    .map(|l| l.registration_review_working_days)
                    .unwrap_or(1);
                let number = r.number;
                let round = app
                    .stage(Stage::PreReview)
                    .and_then(|s| s.status.round())
                    .unwrap_or(0);
                Ok(Some((
                    Applied {
                        transitions: vec![marker(
                            app,
                            Stage::PreReview,
                            "licence_registration_filed".into(),
                            now,
                        )],
                        effects: vec![Effect::Enqueue {
                            stage: Stage::PreReview,
                            round,
                        }],
                    },
                    vec![notice(
                        now,
                        "licence_registration_filed",
                        format!(
                            "授权缺失登记（第{number}号：{}）已提交，将在{days}个工作日内审核。",
                            names.join("、")
                        ),
                        format!(
                            "Missing-licence registration no. {number} ({}) is filed; it is reviewed within {days} working day(s).",
                            names_en.join(", ")
                        ),
                    )],
                )))
            })
            .await?
            .ok_or(ServiceError::NotFound)?;
        self.ports
            .metrics
            .count("LicenceRegistrationFiled", &[], 1.0);
        Ok(stored)
    }

    /// The directory's (authenticated) decision on a registration; a repeated one changes
    /// nothing.
    pub async fn decide_registration(
        &self,
        agency: Agency,
        key_id: &str,
        decision: &RegistrationDecision,
    ) -> Result<CallbackAck, ServiceError> {
        if agency != Agency::LicenceDirectory {
            return Err(ServiceError::Forbidden(Invalid::new(
                "wrong_agency",
                "只有电子证照共享平台可以审核授权缺失登记",
                "only the licence directory reviews missing-licence registrations",
            )));
        }
        if let Some(reason) = &decision.reason {
            reason
                .check_agency_text()
                .map_err(|e| ServiceError::bad("reason", e))?;
        }
        let (id, actor) = agency_request(agency, key_id, &decision.application_id)?;
        let changed = self
            .mutate(&id, None, &actor, |app, _, now| {
                let status = if decision.approved {
                    RegistrationStatus::Approved { at: now }
                } else {
                    RegistrationStatus::Rejected {
                        at: now,
                        rejection: decision.reason.clone().unwrap_or_else(|| {
                            Bilingual::new("审核未通过", "the review did not approve it")
                        }),
                    }
                };
                if !app.decide_registration(decision.number, status.clone(), now)? {
                    return Ok(None);
                }
                let (event, message) = match &status {
                    RegistrationStatus::Rejected { rejection, .. } => (
                        "licence_registration_rejected",
                        Bilingual::new(
                            format!(
                                "授权缺失登记（第{}号）未通过审核：{}。您可以重新登记或转线下办理。",
                                decision.number, rejection.zh
                            ),
                            format!(
                                "Missing-licence registration no. {} was rejected: {}. You may register again or go to a counter.",
                                decision.number, rejection.en
                            ),
                        ),
                    ),
                    _ => (
                        "licence_registration_approved",
                        Bilingual::new(
                            format!(
                                "授权缺失登记（第{}号）已审核通过，请在补件中上传相应证件的照片，无需重新填写申请表。",
                                decision.number
                            ),
                            format!(
                                "Missing-licence registration no. {} is approved: upload photos of those documents with the supplement; nothing else to fill in again.",
                                decision.number
                            ),
                        ),
                    ),
                };
                Ok(Some((
                    Applied {
                        transitions: vec![marker(app, Stage::PreReview, event.into(), now)],
                        effects: vec![],
                    },
                    vec![Notification {
                        at: now,
                        kind: event.into(),
                        message,
                    }],
                )))
            })
            .await?;
        Ok(match changed {
            Some(_) => {
                let outcome = if decision.approved {
                    "approved"
                } else {
                    "rejected"
                };
                self.ports.metrics.count(
                    "LicenceRegistrationDecided",
                    &[("Outcome", outcome)],
                    1.0,
                );
                CallbackAck::Applied
            }
            None => CallbackAck::AlreadyApplied,
        })
    }

    /// Accepts the proactive offer of `stage`: the declined stage starts on the data on file.
    pub async fn accept_offer(
        &self,
        owner: &str,
        id: &str,
        stage: Stage,
    ) -> Result<Stored, ServiceError> {
        let id: ApplicationId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let actor = Actor::Applicant {
            subject: owner.to_owned(),
        };
        let stored = self
            .mutate(&id, Some(owner), &actor, |app, policy, now| {
                Ok(Some((app.accept_offer(stage, policy, now)?, vec![])))
            })
            .await?
            .ok_or(ServiceError::NotFound)?;
        self.ports.metrics.count(
            "OfferAccepted",
            &[
                ("Stage", stage.as_str()),
                ("Region", &stored.application.policy.id),
            ],
            1.0,
        );
        Ok(stored)
    }

    /// Registering the birth online means the hospital keeps the certificate's counterfoil for
    /// handover (闽卫政法〔2024〕40号 附件1 三(一)2): recorded when the police stage is
    /// dispatched, idempotently, so a redelivered message cannot lose or double it.
    async fn keep_counterfoil(&self, app: &Application) -> Result<(), ServiceError> {
        let issued = app.stage(Stage::HealthCheck).and_then(|s| match &s.status {
            StageStatus::Completed {
                result:
                    StageResult::HealthCheck {
                        birth_certificate_number,
                        ..
                    },
            } => Some(birth_certificate_number.as_str().to_owned()),
            _ => None,
        });
        let Some(certificate_number) = issued else {
            return Ok(()); // the parent brought the certificate (情形二/三): nothing was cut off
        };
        let issued_at = app
            .stage(Stage::HealthCheck)
            .and_then(|s| s.clock.as_ref())
            .and_then(|c| c.runs.last())
            .and_then(|r| r.to)
            .unwrap_or(app.submitted_at);
        let counterfoil = Counterfoil {
            certificate_number,
            application_id: app.id.as_str().to_owned(),
            institution: app.form.newborn.hospital.name.as_str().to_owned(),
            county: app.form.newborn.birthplace.clone(),
            issued_at,
        };
        Ok(self.ports.handovers.keep(&counterfoil).await?)
    }

    /// The counterfoils of a county ready for handover: kept, not handed over, and the online
    /// registration succeeded (otherwise the hospital gave the full certificate back, 附件1
    /// 三(一)2). Oldest first.
    pub async fn counterfoils_ready(
        &self,
        county: &RegionCode,
    ) -> Result<Vec<Counterfoil>, ServiceError> {
        let mut ready = vec![];
        for c in self.ports.handovers.pending(county).await? {
            let Ok(id) = c.application_id.parse::<ApplicationId>() else {
                continue;
            };
            let registered = self.ports.store.get(&id).await?.is_some_and(|s| {
                matches!(
                    s.application.stage(Stage::Police).map(|p| &p.status),
                    Some(StageStatus::Completed { .. })
                )
            });
            if registered {
                ready.push(c);
            }
        }
        Ok(ready)
    }

    /// Hands the ready counterfoils of a county over in one batch (移交记录表) with the next free
    /// number of the day, `<county>-<YYYYMMDD>-<n>`; at most `max` counterfoils.
    pub async fn hand_over(
        &self,
        county: &RegionCode,
        parties: HandoverParties,
        max: usize,
    ) -> Result<HandoverBatch, ServiceError> {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let mut ready = self.counterfoils_ready(county).await?;
            if ready.is_empty() {
                return Err(ServiceError::conflict(
                    "nothing_to_hand_over",
                    "该县（市、区）没有待移交的副页",
                    "this county has no counterfoil waiting for handover",
                ));
            }
            ready.truncate(max);
            let now = self.now();
            let day = now.with_timezone(&CHINA).format("%Y%m%d");
            let mut n = 1;
            while self
                .ports
                .handovers
                .batch(&format!("{}-{day}-{n}", county.as_str()))
                .await?
                .is_some()
            {
                n += 1;
            }
            let batch = HandoverBatch::new(
                format!("{}-{day}-{n}", county.as_str()),
                county.clone(),
                now,
                parties.clone(),
                &ready,
            );
            if self.ports.handovers.hand_over(&batch).await? {
                self.ports.metrics.count(
                    "CounterfoilsHandedOver",
                    &[("County", county.as_str())],
                    batch.items.len() as f64,
                );
                return Ok(batch);
            }
            // Another batch took some of them, or the number, meanwhile: look again.
        }
        Err(ServiceError::Transient(
            "handover batches are being created concurrently; retry".into(),
        ))
    }

    /// A handover batch by number.
    pub async fn handover(&self, number: &str) -> Result<HandoverBatch, ServiceError> {
        self.ports
            .handovers
            .batch(number)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// Delivers one notification to the applicant's app (the notification worker / Lambda).
    pub async fn deliver(&self, delivery: &Delivery) -> Result<(), ServiceError> {
        self.ports
            .notifier
            .deliver(delivery)
            .await
            .map_err(|e| ServiceError::Transient(e.to_string()))?;
        self.ports.metrics.count(
            "NotificationDelivered",
            &[("Kind", delivery.notification.kind.as_str())],
            1.0,
        );
        Ok(())
    }

    // ------------------------------------------------------------------------------------
    // Agency callbacks
    // ------------------------------------------------------------------------------------

    /// Applies an agency's (already authenticated) callback. The agency may act only on the
    /// stage it owns; a repeated callback is acknowledged without a second change.
    pub async fn accept_callback(
        &self,
        agency: Agency,
        key_id: &str,
        cb: &Callback,
    ) -> Result<CallbackAck, ServiceError> {
        if cb.stage.agency() != agency || agency == Agency::Platform {
            return Err(ServiceError::Forbidden(Invalid::new(
                "wrong_agency",
                "该机构无权处理此环节",
                "this agency does not own the stage",
            )));
        }
        let (id, actor) = agency_request(agency, key_id, &cb.application_id)?;
        let text = match &cb.outcome {
            CallbackOutcome::Supplement { reason, .. } => Some(("outcome.reason", reason)),
            CallbackOutcome::GoOffline { reason } => Some(("outcome.reason", reason)),
            CallbackOutcome::Mailing { what } => Some(("outcome.what", what)),
            _ => None,
        };
        if let Some((field, text)) = text {
            text.check_agency_text()
                .map_err(|e| ServiceError::bad(field, e))?;
        }
        let result = self
            .mutate(&id, None, &actor, |app, policy, now| {
                let status = app
                    .stage(cb.stage)
                    .map(|s| s.status.clone())
                    .ok_or_else(|| {
                        ServiceError::conflict(
                            "stage_not_on_route",
                            "该办件不包含此环节",
                            "the application has no such stage",
                        )
                    })?;
                if reflects(&status, cb) {
                    return Ok(None);
                }
                if status.round() != Some(cb.round) {
                    return Err(ServiceError::conflict(
                        "stale_round",
                        "回调的轮次与当前办理轮次不符",
                        format!(
                            "the callback answers round {}, the stage is at {}",
                            cb.round,
                            status.name()
                        ),
                    ));
                }
                let event = match &cb.outcome {
                    CallbackOutcome::Approve { result } => StageEvent::Complete {
                        result: result.clone(),
                    },
                    CallbackOutcome::Supplement { items, reason } => {
                        StageEvent::RequestSupplement {
                            items: items.clone(),
                            reason: reason.clone(),
                        }
                    }
                    CallbackOutcome::ConfirmForms { forms } => StageEvent::RequestConfirmation {
                        forms: forms.clone(),
                    },
                    CallbackOutcome::Mailing { what } => {
                        StageEvent::RequestMailing { what: what.clone() }
                    }
                    CallbackOutcome::MailArrived => StageEvent::MailArrived,
                    CallbackOutcome::GoOffline { reason } => StageEvent::GoOffline {
                        reason: reason.clone(),
                    },
                };
                Ok(Some((app.apply(cb.stage, event, policy, now)?, vec![])))
            })
            .await?;
        // `None`: the stage already shows this outcome (a retried callback).
        Ok(if result.is_some() {
            CallbackAck::Applied
        } else {
            CallbackAck::AlreadyApplied
        })
    }

    // ------------------------------------------------------------------------------------
    // Applicant actions
    // ------------------------------------------------------------------------------------

    fn waiting(app: &Application, pred: impl Fn(&ApplicantWait) -> bool) -> Option<Stage> {
        app.stages.iter().find_map(|s| match &s.status {
            StageStatus::AwaitingApplicant { wait, .. } if pred(wait) => Some(s.stage),
            _ => None,
        })
    }

    fn nothing_waiting(what_zh: &str, what_en: &str) -> ServiceError {
        ServiceError::conflict(
            "nothing_waiting",
            format!("当前没有等待您{what_zh}的事项"),
            format!("nothing is waiting for you to {what_en}"),
        )
    }

    /// 补件: the applicant supplies documents and/or corrects the form. The answer is checked as
    /// a whole before anything is written ([`Self::check_supplement`]), and the write itself
    /// accepts only the additions that were checked.
    pub async fn supplement(
        &self,
        owner: &str,
        id: &str,
        answer: &SupplementAnswer,
    ) -> Result<Stored, ServiceError> {
        let stored = self.get(owner, id).await?;
        let checked = self
            .check_supplement(owner, &stored.application, answer)
            .await?;
        let actor = Actor::Applicant {
            subject: owner.to_owned(),
        };
        self.mutate(
            &stored.application.id,
            Some(owner),
            &actor,
            |app, policy, now| {
                let stage = Self::waiting(app, |w| matches!(w, ApplicantWait::Supplement { .. }))
                    .ok_or_else(|| Self::nothing_waiting("补件", "supplement"))?;
                let next = corrected_form(&app.form, answer, policy, now)?;
                let added = Additions::between(&app.form, &next, answer);
                if !checked.covers(&added) {
                    return Err(ServiceError::Transient(
                        "the application changed while the answer was checked; retry".into(),
                    ));
                }
                for (_, d) in &added.scans {
                    app.scan_allowed(d.kind, policy)
                        .map_err(ServiceError::Conflict)?;
                }
                app.form = next;
                app.record_licence_checks(&checked.licences);
                Ok(Some((
                    app.apply(stage, StageEvent::Supplied, policy, now)?,
                    vec![],
                )))
            },
        )
        .await?
        .ok_or_else(|| Self::nothing_waiting("补件", "supplement"))
    }

    /// Checks a supplement answer as a whole, whichever part of it adds a material: every scan
    /// the corrected form gains (in `documents` or inside `form_patch`) must be a verified upload
    /// of this applicant and pass the missing-licence registration gate, and every licence it
    /// gains is looked up now (the parent learns at once if one is still wrong, and the agency
    /// receives it verified).
    async fn check_supplement(
        &self,
        owner: &str,
        app: &Application,
        answer: &SupplementAnswer,
    ) -> Result<Additions<LicenceCheck>, ServiceError> {
        let policy = self.policy_of(app)?;
        let next = corrected_form(&app.form, answer, policy, self.now())?;
        let added = Additions::between(&app.form, &next, answer);
        self.require_documents(owner, &added.scans).await?;
        for (_, d) in &added.scans {
            app.scan_allowed(d.kind, policy)
                .map_err(ServiceError::Conflict)?;
        }
        let references: Vec<LicenceRef> = added.licences.iter().map(|(_, l)| l.clone()).collect();
        let checks = self.check_licences(&references, &next, policy).await?;
        let refused: Vec<newborn_domain::application::FieldIssue> = checks
            .iter()
            .zip(&added.licences)
            .filter_map(|(c, (field, _))| {
                let problem = c.problem?;
                let code = serde_json::to_value(problem).unwrap_or_default();
                let message = problem.message(c.reference.kind);
                Some(newborn_domain::application::FieldIssue {
                    field: field.clone(),
                    error: Invalid::new(
                        &format!("licence_{}", code.as_str().unwrap_or("refused")),
                        message.zh,
                        message.en,
                    ),
                })
            })
            .collect();
        if !refused.is_empty() {
            return Err(ServiceError::BadInput(refused));
        }
        Ok(Additions {
            scans: added.scans,
            licences: checks,
        })
    }

    /// 确认签字: the applicant confirms the generated forms.
    pub async fn confirm(&self, owner: &str, id: &str) -> Result<Stored, ServiceError> {
        self.applicant_event(
            owner,
            id,
            |w| matches!(w, ApplicantWait::ConfirmForms { .. }),
            StageEvent::Confirmed,
            ("确认", "confirm"),
        )
        .await
    }

    /// 转线下办理: the applicant ends the online flow while it waits for her.
    pub async fn go_offline(&self, owner: &str, id: &str) -> Result<Stored, ServiceError> {
        let reason = Bilingual::new(
            "申请人选择到线下窗口办理",
            "the applicant chose to continue at a counter",
        );
        self.applicant_event(
            owner,
            id,
            |_| true,
            StageEvent::GoOffline { reason },
            ("处理", "act on"),
        )
        .await
    }

    async fn applicant_event(
        &self,
        owner: &str,
        id: &str,
        pred: impl Fn(&ApplicantWait) -> bool,
        event: StageEvent,
        what: (&str, &str),
    ) -> Result<Stored, ServiceError> {
        let id: ApplicationId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let actor = Actor::Applicant {
            subject: owner.to_owned(),
        };
        self.mutate(&id, Some(owner), &actor, |app, policy, now| {
            let stage =
                Self::waiting(app, &pred).ok_or_else(|| Self::nothing_waiting(what.0, what.1))?;
            Ok(Some((
                app.apply(stage, event.clone(), policy, now)?,
                vec![],
            )))
        })
        .await?
        .ok_or_else(|| Self::nothing_waiting(what.0, what.1))
    }

    /// 选择合作银行: records the card's partner bank (the card's clock starts then).
    pub async fn choose_partner_bank(
        &self,
        owner: &str,
        id: &str,
        bank: &str,
    ) -> Result<Stored, ServiceError> {
        let bank: Text = bank
            .parse()
            .map_err(|e| ServiceError::bad("partner_bank", e))?;
        let id: ApplicationId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let actor = Actor::Applicant {
            subject: owner.to_owned(),
        };
        self.mutate(&id, Some(owner), &actor, |app, policy, now| {
            Ok(Some((
                app.choose_partner_bank(bank.clone(), policy, now)?,
                vec![],
            )))
        })
        .await?
        .ok_or(ServiceError::NotFound)
    }

    /// 撤回: withdraws the application.
    pub async fn withdraw(&self, owner: &str, id: &str) -> Result<Stored, ServiceError> {
        let id: ApplicationId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let actor = Actor::Applicant {
            subject: owner.to_owned(),
        };
        self.mutate(&id, Some(owner), &actor, |app, _, now| {
            Ok(Some((app.withdraw(now)?, vec![])))
        })
        .await?
        .ok_or(ServiceError::NotFound)
    }

    /// 好差评: rates a finished stage once.
    pub async fn rate(
        &self,
        owner: &str,
        id: &str,
        stage: Stage,
        level: RatingLevel,
        comment: Option<Text>,
    ) -> Result<Stored, ServiceError> {
        let id: ApplicationId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let actor = Actor::Applicant {
            subject: owner.to_owned(),
        };
        let stored = self
            .mutate(&id, Some(owner), &actor, |app, policy, now| {
                let rating = app.rate(stage, level, comment.clone(), now)?;
                let mut transitions = vec![marker(
                    app,
                    stage,
                    format!("rated_{}", level_name(rating.level)),
                    now,
                )];
                // A bad rating opens its follow-up in the same write (附件4 七).
                if app
                    .open_follow_up(&rating, policy, &self.calendar)
                    .is_some()
                {
                    transitions.push(marker(app, stage, "follow_up_opened".into(), now));
                }
                Ok(Some((
                    Applied {
                        transitions,
                        effects: vec![],
                    },
                    vec![],
                )))
            })
            .await?
            .ok_or(ServiceError::NotFound)?;
        let dims = [
            ("Stage", stage.as_str()),
            ("Agency", stage.agency().as_str()),
            ("Level", level_name(level)),
        ];
        self.ports.metrics.count("Rating", &dims, 1.0);
        if level.is_bad() {
            self.ports.metrics.count("FollowUpOpened", &dims[..2], 1.0);
        }
        Ok(stored)
    }

    /// An agency reports the follow-up of a bad rating of its stage done (回访整改), with what it
    /// did. Reporting it again changes nothing.
    pub async fn close_follow_up(
        &self,
        agency: Agency,
        key_id: &str,
        report: &FollowUpReport,
    ) -> Result<CallbackAck, ServiceError> {
        if report.stage.agency() != agency {
            return Err(ServiceError::Forbidden(Invalid::new(
                "not_your_stage",
                "只能报告本部门承办环节的整改情况",
                "an agency may report only on the stage it handles",
            )));
        }
        let (id, actor) = agency_request(agency, key_id, &report.application_id)?;
        let stage = report.stage;
        let changed = self
            .mutate(&id, None, &actor, |app, _, now| {
                if !app.close_follow_up(stage, report.note.clone(), now)? {
                    return Ok(None);
                }
                Ok(Some((
                    Applied {
                        transitions: vec![marker(app, stage, "follow_up_closed".into(), now)],
                        effects: vec![],
                    },
                    vec![],
                )))
            })
            .await?;
        Ok(match changed {
            Some(_) => {
                self.ports.metrics.count(
                    "FollowUpClosed",
                    &[("Stage", stage.as_str()), ("Agency", agency.as_str())],
                    1.0,
                );
                CallbackAck::Applied
            }
            None => CallbackAck::AlreadyApplied,
        })
    }

    // ------------------------------------------------------------------------------------
    // Supervision (the scheduled SLA monitor)
    // ------------------------------------------------------------------------------------

    /// Tells the agency's supervisor of a new alert (办件监察; the provincial efficiency office
    /// assesses agencies on overdue cases, 闽卫政法〔2024〕40号 附件1 四(五)). The body carries no
    /// personal data; the supervisor de-duplicates by the idempotency key
    /// `<application>:<stage>:<level>`. A failed delivery is logged and counted; the alert stays
    /// in the supervision list either way.
    async fn escalate(&self, app: &Application, alert: &Alert) {
        let (agency, label) = newborn_domain::licence::supervised(alert.stage);
        let level = match alert.level {
            SlaLevel::Overdue => "overdue",
            _ => "warning",
        };
        let (zh, en) = if alert.level == SlaLevel::Overdue {
            ("已超过办理时限", "is past its deadline")
        } else {
            ("即将超过办理时限", "is approaching its deadline")
        };
        let dispatch = Dispatch {
            idempotency_key: format!("{}:{}:{level}", alert.application_id, alert.stage),
            body: serde_json::json!({
                "application_id": alert.application_id,
                "stage": alert.stage,
                "agency": agency,
                "region": app.policy.id,
                "level": level,
                "deadline": alert.deadline,
                "raised_at": alert.at,
                "message": Bilingual::new(
                    format!("申请{}的“{}”环节{zh}", alert.application_id, label.zh),
                    format!("the {} stage of application {} {en}", label.en, alert.application_id),
                ),
            }),
        };
        let dims = [("Stage", alert.stage.as_str()), ("Agency", agency.as_str())];
        match self.ports.supervisors.dispatch(agency, &dispatch).await {
            Ok(()) => self.ports.metrics.count("EscalationSent", &dims, 1.0),
            Err(e) => {
                tracing::error!(application = %alert.application_id, stage = %alert.stage, error = %e, "escalation to the supervisor failed; the alert stays listed");
                self.ports.metrics.count("EscalationFailed", &dims, 1.0);
            }
        }
    }

    /// 办件监察: raises a warning and a breach once per stage clock, from the open-clock index.
    pub async fn sla_sweep(&self) -> Result<SweepReport, ServiceError> {
        let now = self.now();
        let due = self.ports.store.due_clocks(now).await?;
        let mut report = SweepReport {
            at: Some(now),
            due: due.len(),
            ..SweepReport::default()
        };
        for entry in &due {
            let Ok(id) = entry.application_id.parse::<ApplicationId>() else {
                continue;
            };
            let Some(stored) = self.ports.store.get(&id).await? else {
                continue;
            };
            let Some(reading) = stored
                .application
                .supervised_clock(entry.stage)
                .map(|c| c.read(&self.calendar, now))
            else {
                continue;
            };
            for level in [SlaLevel::Warning, SlaLevel::Overdue] {
                if reading.level < level {
                    continue;
                }
                let alert = Alert {
                    application_id: entry.application_id.clone(),
                    stage: entry.stage,
                    level,
                    at: now,
                    deadline: reading.deadline,
                };
                if self.ports.store.record_alert(&alert).await? {
                    self.escalate(&stored.application, &alert).await;
                    let (name, counter) = if level == SlaLevel::Overdue {
                        ("SlaBreach", &mut report.breaches)
                    } else {
                        ("SlaWarning", &mut report.warnings)
                    };
                    *counter += 1;
                    self.ports.metrics.count(
                        name,
                        &[
                            ("Stage", entry.stage.as_str()),
                            ("Agency", supervised_agency(entry.stage).as_str()),
                            ("Region", &stored.application.policy.id),
                        ],
                        1.0,
                    );
                    tracing::warn!(application = %entry.application_id, stage = %entry.stage, level = ?level, deadline = ?reading.deadline, "SLA {}", if level == SlaLevel::Overdue { "breach" } else { "warning" });
                }
            }
        }
        let today = now.with_timezone(&CHINA).date_naive();
        for d in [
            today,
            today.checked_add_days(Days::new(60)).unwrap_or(today),
        ] {
            if !self.calendar.covers(d)
                && !report.uncovered_years.contains(&chrono::Datelike::year(&d))
            {
                report.uncovered_years.push(chrono::Datelike::year(&d));
            }
        }
        if !report.uncovered_years.is_empty() {
            tracing::warn!(years = ?report.uncovered_years, "the holiday calendar does not cover these years: deadlines are provisional; add the State Council notice with NEWBORN_HOLIDAYS_FILE");
        }
        Ok(report)
    }
}

fn supervised_agency(stage: Stage) -> Agency {
    newborn_domain::licence::supervised(stage).0
}

/// The holder a registration names for `kind` when the form gives no licence of it: the parent
/// the material belongs to (the mother for a shared one).
fn default_holder(form: &ApplicationForm, kind: DocumentKind) -> newborn_domain::ids::IdNumber {
    match kind {
        DocumentKind::FatherIdCard => form.father.id_number.clone(),
        _ => form.mother.id_number.clone(),
    }
}

fn level_name(level: RatingLevel) -> &'static str {
    match level {
        RatingLevel::VerySatisfied => "very_satisfied",
        RatingLevel::Satisfied => "satisfied",
        RatingLevel::FairlySatisfied => "fairly_satisfied",
        RatingLevel::Dissatisfied => "dissatisfied",
        RatingLevel::VeryDissatisfied => "very_dissatisfied",
    }
}

/// The application an (authenticated) agency request names, and the agency as the actor.
fn agency_request(
    agency: Agency,
    key_id: &str,
    application_id: &str,
) -> Result<(ApplicationId, Actor), ServiceError> {
    let id: ApplicationId = application_id.parse().map_err(|_| ServiceError::NotFound)?;
    let actor = Actor::Agency {
        agency,
        key_id: key_id.to_owned(),
    };
    Ok((id, actor))
}

/// A timeline entry for something that happened to `stage` without changing its status (a
/// rating, a follow-up, a missing-licence registration).
fn marker(app: &Application, stage: Stage, event: String, at: DateTime<Utc>) -> Transition {
    let status = app
        .stage(stage)
        .map(|s| s.status.name())
        .unwrap_or_default();
    Transition {
        stage,
        from: status.into(),
        to: status.into(),
        event,
        at,
    }
}

fn merge(into: &mut Applied, more: Applied) {
    into.transitions.extend(more.transitions);
    into.effects.extend(more.effects);
}

/// Whether a stage's status already shows what the callback asks for (a retried callback).
fn reflects(status: &StageStatus, cb: &Callback) -> bool {
    match (&cb.outcome, status) {
        (CallbackOutcome::Approve { result }, StageStatus::Completed { result: r }) => result == r,
        (CallbackOutcome::GoOffline { .. }, StageStatus::Terminated { .. }) => true,
        (
            CallbackOutcome::Supplement { .. },
            StageStatus::AwaitingApplicant {
                round,
                wait: ApplicantWait::Supplement { .. },
            },
        )
        | (
            CallbackOutcome::ConfirmForms { .. },
            StageStatus::AwaitingApplicant {
                round,
                wait: ApplicantWait::ConfirmForms { .. },
            },
        )
        | (
            CallbackOutcome::Mailing { .. },
            StageStatus::AwaitingApplicant {
                round,
                wait: ApplicantWait::Mailing { .. },
            },
        ) => *round == cb.round,
        (CallbackOutcome::MailArrived, StageStatus::AwaitingAgency { round }) => *round == cb.round,
        _ => false,
    }
}

/// RFC 7396 JSON merge patch.
fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    use serde_json::Value;
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Default::default());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// The form after a supplement: the patch applied, new documents added, everything re-checked.
/// The case and the applicant cannot change (that would be a new application).
/// The materials a supplement answer adds to a form: the scans and licences of the corrected
/// form that the stored one lacks or that the answer names, each with the field that gave it.
#[derive(Debug)]
struct Additions<L> {
    scans: Vec<(String, DocumentRef)>,
    licences: Vec<L>,
}

impl Additions<(String, LicenceRef)> {
    fn between(old: &ApplicationForm, next: &ApplicationForm, answer: &SupplementAnswer) -> Self {
        let patched = |list: &str, item: serde_json::Value| {
            answer
                .form_patch
                .as_ref()
                .and_then(|p| p.get(list))
                .and_then(serde_json::Value::as_array)
                .and_then(|a| a.iter().position(|v| *v == item))
                .map_or_else(
                    || format!("form_patch.{list}"),
                    |j| format!("form_patch.{list}[{j}]"),
                )
        };
        // What the corrected form lacks before, and whatever the answer names itself (a licence
        // given again after its holder authorised it is looked up again).
        let scans = next
            .documents
            .iter()
            .filter(|d| !old.documents.contains(d) || answer.documents.contains(d))
            .map(|d| {
                let field = answer.documents.iter().position(|a| a == d).map_or_else(
                    || patched("documents", serde_json::to_value(d).unwrap_or_default()),
                    |i| format!("documents[{i}]"),
                );
                (field, d.clone())
            })
            .collect();
        let licences = next
            .licences
            .iter()
            .filter(|l| !old.licences.contains(l) || answer.licences.contains(l))
            .map(|l| {
                let field = answer.licences.iter().position(|a| a == l).map_or_else(
                    || patched("licences", serde_json::to_value(l).unwrap_or_default()),
                    |i| format!("licences[{i}]"),
                );
                (field, l.clone())
            })
            .collect();
        Self { scans, licences }
    }
}

impl Additions<LicenceCheck> {
    /// Whether every material of `added` is one of these checked ones.
    fn covers(&self, added: &Additions<(String, LicenceRef)>) -> bool {
        added
            .scans
            .iter()
            .all(|(_, d)| self.scans.iter().any(|(_, c)| c == d))
            && added
                .licences
                .iter()
                .all(|(_, l)| self.licences.iter().any(|c| c.reference == *l))
    }
}

fn corrected_form(
    form: &ApplicationForm,
    answer: &SupplementAnswer,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<ApplicationForm, ServiceError> {
    let mut value =
        serde_json::to_value(form).map_err(|e| ServiceError::Transient(e.to_string()))?;
    if let Some(patch) = &answer.form_patch {
        merge_patch(&mut value, patch);
    }
    let mut next = parse_form(value.to_string().as_bytes()).map_err(|mut issue| {
        issue.field = format!("form_patch.{}", issue.field);
        ServiceError::BadInput(vec![issue])
    })?;
    for d in &answer.documents {
        next.licences.retain(|l| l.kind != d.kind);
        if !next.documents.contains(d) {
            next.documents.push(d.clone());
        }
    }
    for l in &answer.licences {
        next.documents.retain(|d| d.kind != l.kind);
        next.licences.retain(|o| o.kind != l.kind);
        next.licences.push(l.clone());
    }
    if next.case != form.case || next.applicant != form.applicant {
        return Err(ServiceError::bad(
            "form_patch",
            Invalid::new(
                "immutable_field",
                "补件不能更改办理情形或申请人，请撤回后重新申请",
                "a supplement cannot change the case or the applicant; withdraw and apply again",
            ),
        ));
    }
    let issues = next.check(policy, now);
    if !issues.is_empty() {
        return Err(ServiceError::BadInput(issues));
    }
    Ok(next)
}

fn notice(
    at: DateTime<Utc>,
    kind: &str,
    zh: impl Into<String>,
    en: impl Into<String>,
) -> Notification {
    Notification {
        at,
        kind: kind.to_owned(),
        message: Bilingual::new(zh, en),
    }
}

/// The applicant's notifications for a change, in Chinese and English.
/// The deliveries of a write's notifications.
fn deliveries(
    app: &Application,
    owner: &str,
    notifications: &[Notification],
    now: DateTime<Utc>,
) -> Vec<Delivery> {
    notifications
        .iter()
        .enumerate()
        .map(|(n, notification)| Delivery {
            id: format!("{}:{}:{n}", app.id.as_str(), now.timestamp_millis()),
            application_id: app.id.as_str().to_owned(),
            owner: owner.to_owned(),
            notification: notification.clone(),
        })
        .collect()
}

/// What a finished stage produced and how it reaches the family, per the delivery choice on the
/// form: each agency delivers its own result by mail or pick-up (闽卫政法〔2024〕40号 附件1 五).
fn result_details(app: &Application, result: &StageResult) -> (String, String) {
    use newborn_domain::application::DeliveryChoice;
    let mailed =
        |choice: &Option<DeliveryChoice>| matches!(choice, Some(DeliveryChoice::Mail { .. }));
    let delivery = &app.form.delivery;
    match result {
        // 闽卫政法〔2024〕40号 附件1 三(一)2: after the registration result, the hospital hands over
        // (or mails) the certificate.
        StageResult::HealthCheck { .. } => {
            if mailed(&delivery.birth_certificate) {
                (
                    "《出生医学证明》已签发，户籍登记结果反馈后由助产机构邮寄给您（邮费自理）。".into(),
                    "The birth certificate is issued; the hospital mails it once the registration result is back. ".into(),
                )
            } else {
                (
                    format!(
                        "《出生医学证明》已签发，户籍登记结果反馈后请携带有效身份证件到{}领取。",
                        app.form.newborn.hospital.name.as_str()
                    ),
                    "The birth certificate is issued; collect it at the hospital with your identity card once the registration result is back. ".into(),
                )
            }
        }
        // 附件1 三(一)3: print the newborn's page at the station, or mail the booklet there.
        StageResult::Police { .. } => {
            if mailed(&delivery.household_booklet) {
                (
                    "新生儿户口已登记，请将落户方户口簿邮寄到派出所，打印新生儿户口页后寄回（邮费自付）。".into(),
                    "The newborn is registered; mail the household booklet to the police station, which prints the newborn's page and mails it back. ".into(),
                )
            } else {
                (
                    "新生儿户口已登记，请持落户方户口簿到派出所打印新生儿户口页。".into(),
                    "The newborn is registered; bring the household booklet to the police station to print the newborn's page. ".into(),
                )
            }
        }
        // 附件1 三(一)4: the premium is paid through the tax bureau's channels.
        StageResult::Insurance { .. } => (
            "新生儿已完成医保参保登记，请在工作日内关注税务缴费渠道，及时缴纳城乡居民医疗保险费。".into(),
            "The newborn is enrolled in medical insurance; pay the premium through the tax bureau's channels. ".into(),
        ),
        // 附件1 三(一)5: the card is made by the chosen partner bank.
        StageResult::SocialSecurityCard {
            partner_bank,
            ready_on,
        } => {
            let how = if mailed(&delivery.social_security_card) {
                ("将邮寄给您", "it will be mailed to you")
            } else {
                ("请到该银行网点领取", "collect it at a branch of that bank")
            };
            (
                format!(
                    "社会保障卡已由{}制卡，{}起{}。",
                    partner_bank.as_str(),
                    ready_on.format("%Y年%m月%d日"),
                    how.0
                ),
                format!(
                    "The social-security card is made by {}; from {ready_on} {}. ",
                    partner_bank.as_str(),
                    how.1
                ),
            )
        }
        StageResult::PreReview { .. } => (String::new(), String::new()),
    }
}

fn notifications_for(
    app: &Application,
    applied: &Applied,
    now: DateTime<Utc>,
) -> Vec<Notification> {
    let mut out = vec![];
    for t in &applied.transitions {
        let Some(state) = app.stage(t.stage) else {
            continue;
        };
        let label = t.stage.label();
        // Only the latest status of the stage is described; earlier steps of the same write are
        // intermediate.
        if applied
            .transitions
            .iter()
            .rev()
            .find(|x| x.stage == t.stage)
            .is_some_and(|last| !std::ptr::eq(last, t))
        {
            continue;
        }
        match &state.status {
            StageStatus::AwaitingApplicant { wait, .. } => match wait {
                ApplicantWait::Supplement { items, reason } => {
                    let names: Vec<String> = items
                        .iter()
                        .map(|i| match i {
                            SupplementItem::Document { kind } => kind.label().zh,
                            SupplementItem::Field { field } => format!("表单项 {field}"),
                            SupplementItem::Licence { kind, .. } => {
                                format!("{}电子证照", kind.label().zh)
                            }
                        })
                        .collect();
                    out.push(notice(
                        now,
                        "supplement_needed",
                        format!(
                            "{}环节需要补件：{}。原因：{}",
                            label.zh,
                            names.join("、"),
                            reason.zh
                        ),
                        format!("{} needs more: {}", label.en, reason.en),
                    ));
                }
                ApplicantWait::ConfirmForms { forms } => {
                    let names: Vec<String> = forms.iter().map(|f| f.label().zh).collect();
                    out.push(notice(
                        now,
                        "forms_to_confirm",
                        format!("请确认并签署：{}", names.join("、")),
                        "please confirm and sign the generated forms",
                    ));
                }
                ApplicantWait::PartnerBank => out.push(notice(
                    now,
                    "choose_partner_bank",
                    "请选择新生儿社保卡合作银行",
                    "please choose the partner bank for the newborn's social-security card",
                )),
                ApplicantWait::Mailing { what } => out.push(notice(
                    now,
                    "mail_documents",
                    format!("请邮寄：{}（寄件时间不计入办理时限）", what.zh),
                    format!("please mail: {}", what.en),
                )),
            },
            StageStatus::Completed { result } if t.stage != Stage::PreReview => {
                let (zh, en) = result_details(app, result);
                out.push(notice(
                    now,
                    "stage_done",
                    format!("{}已办结。{zh}欢迎对本环节进行评价。", label.zh),
                    format!("{} is done. {en}You may rate it.", label.en),
                ));
            }
            StageStatus::Terminated { reason, .. } => {
                out.push(notice(
                    now,
                    "gone_offline",
                    format!("线上办理已终止，请到线下窗口办理。原因：{}", reason.zh),
                    format!(
                        "online handling ended; please visit a counter. Reason: {}",
                        reason.en
                    ),
                ));
            }
            _ => {}
        }
    }
    if applied.effects.iter().any(|e| {
        matches!(
            e,
            Effect::FlowEnded {
                outcome: Outcome::Completed
            }
        )
    }) {
        out.push(notice(
            now,
            "all_done",
            "您选择的事项已全部办结",
            "every service you chose is done",
        ));
    }
    out
}
