//! One application's flow: its stages in policy order, their clocks, routing and ratings.
//!
//! [`Application::apply`] is the single place where a stage changes status. It moves the stage
//! with [`next_status`], keeps the SLA clock in step with the status (running only while the
//! agency holds the case, 闽卫政法〔2024〕40号 附件1 四(五)), and routes: after a stage completes the
//! next one on the case's route is queued if the applicant chose it, otherwise the flow ends
//! successfully (附件1 三(一)2–4 "申请人未选择…的，业务办理流程结束"); after a stage goes offline the
//! rest are skipped. It returns the timeline entries and the hand-offs to perform.

mod evaluation;
mod licences;
mod offers;
mod parenting;
mod results;
mod watches;

pub use crate::kinds::ApplicationId;
pub use evaluation::{Invitation, InvitationEnd, MatterRating, Rated};

use crate::application::{ApplicationForm, FieldIssue, Text};
use crate::kinds::Service;
use crate::policy::{ClockStart, FailureScope, Needs, Policy, PolicyRef};
use crate::sla::{ClockError, SlaClock};
use crate::stage::{
    Agency, ApplicantWait, SkipReason, Stage, StageEvent, StageResult, StageStatus,
    TransitionError, next_status,
};
use crate::stage::{CertificateVersion, EventKind, StatusKind, SupplementItem};
use crate::text::Invalid;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One stage of one application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageState {
    /// Which stage.
    pub stage: Stage,
    /// Where it stands.
    pub status: StageStatus,
    /// Its SLA clock, once started.
    pub clock: Option<SlaClock>,
    /// The clocks of the services inside it with a promised time of their own, started with
    /// the stage's clock and stopped when the agency reports the service done.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartClock>,
    /// Since when the dispatch of the current round has failed to reach its agency (no 2xx),
    /// until one attempt does: what the watchdog escalates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undelivered_since: Option<DateTime<Utc>>,
}

/// The clock of one service inside its stage (永福县 附件2 六(二)5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartClock {
    /// The service.
    pub service: crate::kinds::Service,
    /// Its clock.
    pub clock: SlaClock,
}

/// The five levels of 好差评 (闽卫政法〔2024〕40号 附件4 七; domain glossary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingLevel {
    /// 非常满意
    VerySatisfied,
    /// 满意
    Satisfied,
    /// 基本满意
    FairlySatisfied,
    /// 不满意
    Dissatisfied,
    /// 非常不满意
    VeryDissatisfied,
}

impl RatingLevel {
    /// The level's name, as it is serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            RatingLevel::VerySatisfied => "very_satisfied",
            RatingLevel::Satisfied => "satisfied",
            RatingLevel::FairlySatisfied => "fairly_satisfied",
            RatingLevel::Dissatisfied => "dissatisfied",
            RatingLevel::VeryDissatisfied => "very_dissatisfied",
        }
    }

    /// 不满意 and 非常不满意 are bad ratings (差评) that need a follow-up.
    pub fn is_bad(self) -> bool {
        matches!(
            self,
            RatingLevel::Dissatisfied | RatingLevel::VeryDissatisfied
        )
    }
}

/// One rating of one finished stage (分环节评价, 附件4 七).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    /// The stage rated.
    pub stage: Stage,
    /// The level.
    pub level: RatingLevel,
    /// The applicant's words.
    pub comment: Option<Text>,
    /// When.
    pub at: DateTime<Utc>,
}

/// The follow-up of a bad rating (差评回访整改): the rated stage's agency contacts the parent and
/// puts right what went wrong, within the policy's `follow_up_working_days`, and reports back
/// (闽卫政法〔2024〕40号 附件4 七, 分环节“好差评”; 永福县 八 评价与改进).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    /// The stage rated.
    pub stage: Stage,
    /// The agency that must follow up.
    pub agency: Agency,
    /// The bad rating's level.
    pub level: RatingLevel,
    /// When the rating opened it.
    pub opened_at: DateTime<Utc>,
    /// When it is due (working days, the calendar's holidays excluded).
    pub due_at: DateTime<Utc>,
    /// Set when the agency reported it done.
    pub closed: Option<FollowUpClosure>,
}

/// How a follow-up was closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUpClosure {
    /// When.
    pub at: DateTime<Utc>,
    /// What the agency did (回访 and 整改).
    pub note: Text,
    /// Whether it was closed after it was due.
    pub late: bool,
}

/// How an application stands overall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Some stage is unfinished.
    InProgress,
    /// Every chosen service was delivered (the flow may have ended early by choice).
    Completed,
    /// A stage went offline (转线下办理).
    Terminated,
    /// The applicant withdrew.
    Withdrawn,
}

/// One status change, for the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// The stage.
    pub stage: Stage,
    /// Status before.
    pub from: StatusKind,
    /// Status after.
    pub to: StatusKind,
    /// The event.
    pub event: TimelineEvent,
    /// When.
    pub at: DateTime<Utc>,
}

/// What a timeline entry records: a stage event, or something that happened to a stage
/// without changing its status (a registration, a rating, a follow-up). Written as its
/// snake-case name (`dispatch`, `rated_satisfied`, `follow_up_closed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimelineEvent {
    /// A stage event.
    Stage(EventKind),
    /// `licence_registration_filed`
    LicenceRegistrationFiled,
    /// `licence_registration_approved`
    LicenceRegistrationApproved,
    /// `licence_registration_rejected`
    LicenceRegistrationRejected,
    /// `rated_<level>`
    Rated(RatingLevel),
    /// `follow_up_opened`
    FollowUpOpened,
    /// `follow_up_closed`
    FollowUpClosed,
    /// `rating_invited`: the family was invited to rate (the stage's, or pre-review's entry for
    /// the whole matter).
    RatingInvited,
    /// `not_rated`: a rating window closed unrated.
    NotRated,
    /// `matter_rated_<level>`: the whole matter was rated (recorded on pre-review, the
    /// platform's own stage).
    MatterRated(RatingLevel),
    /// `<service>_done`: the agency reported a service with its own clock done inside its stage.
    ServiceDone(crate::kinds::Service),
}

/// The five levels, best first.
pub const RATING_LEVELS: [RatingLevel; 5] = [
    RatingLevel::VerySatisfied,
    RatingLevel::Satisfied,
    RatingLevel::FairlySatisfied,
    RatingLevel::Dissatisfied,
    RatingLevel::VeryDissatisfied,
];

const STAGE_EVENTS: [EventKind; 15] = [
    EventKind::Queue,
    EventKind::Dispatch,
    EventKind::AwaitBank,
    EventKind::RequestSupplement,
    EventKind::RequestConfirmation,
    EventKind::RequestMailing,
    EventKind::Supplied,
    EventKind::Confirmed,
    EventKind::BankChosen,
    EventKind::MailArrived,
    EventKind::Complete,
    EventKind::GoOffline,
    EventKind::Withdraw,
    EventKind::Skip,
    EventKind::AcceptOffer,
];

impl TimelineEvent {
    /// The entry's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TimelineEvent::Stage(kind) => kind.as_str(),
            TimelineEvent::LicenceRegistrationFiled => "licence_registration_filed",
            TimelineEvent::LicenceRegistrationApproved => "licence_registration_approved",
            TimelineEvent::LicenceRegistrationRejected => "licence_registration_rejected",
            TimelineEvent::Rated(RatingLevel::VerySatisfied) => "rated_very_satisfied",
            TimelineEvent::Rated(RatingLevel::Satisfied) => "rated_satisfied",
            TimelineEvent::Rated(RatingLevel::FairlySatisfied) => "rated_fairly_satisfied",
            TimelineEvent::Rated(RatingLevel::Dissatisfied) => "rated_dissatisfied",
            TimelineEvent::Rated(RatingLevel::VeryDissatisfied) => "rated_very_dissatisfied",
            TimelineEvent::FollowUpOpened => "follow_up_opened",
            TimelineEvent::FollowUpClosed => "follow_up_closed",
            TimelineEvent::RatingInvited => "rating_invited",
            TimelineEvent::NotRated => "not_rated",
            TimelineEvent::MatterRated(RatingLevel::VerySatisfied) => "matter_rated_very_satisfied",
            TimelineEvent::MatterRated(RatingLevel::Satisfied) => "matter_rated_satisfied",
            TimelineEvent::MatterRated(RatingLevel::FairlySatisfied) => {
                "matter_rated_fairly_satisfied"
            }
            TimelineEvent::MatterRated(RatingLevel::Dissatisfied) => "matter_rated_dissatisfied",
            TimelineEvent::MatterRated(RatingLevel::VeryDissatisfied) => {
                "matter_rated_very_dissatisfied"
            }
            TimelineEvent::ServiceDone(service) => match service {
                Service::BirthCertificate => "birth_certificate_done",
                Service::VaccinationCertificate => "vaccination_certificate_done",
                Service::ParentingGuidance => "parenting_guidance_done",
                Service::HouseholdRegistration => "household_registration_done",
                Service::MaternityBenefit => "maternity_benefit_done",
                Service::MedicalInsuranceEnrolment => "medical_insurance_enrolment_done",
                Service::SocialSecurityCard => "social_security_card_done",
            },
        }
    }

    /// Every entry there is.
    pub fn all() -> impl Iterator<Item = TimelineEvent> {
        STAGE_EVENTS
            .into_iter()
            .map(TimelineEvent::Stage)
            .chain([
                TimelineEvent::LicenceRegistrationFiled,
                TimelineEvent::LicenceRegistrationApproved,
                TimelineEvent::LicenceRegistrationRejected,
                TimelineEvent::FollowUpOpened,
                TimelineEvent::FollowUpClosed,
                TimelineEvent::RatingInvited,
                TimelineEvent::NotRated,
            ])
            .chain(RATING_LEVELS.into_iter().map(TimelineEvent::Rated))
            .chain(RATING_LEVELS.into_iter().map(TimelineEvent::MatterRated))
            .chain(Service::ALL.into_iter().map(TimelineEvent::ServiceDone))
    }
}

impl std::fmt::Display for TimelineEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TimelineEvent {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        TimelineEvent::all()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| {
                Invalid::new(
                    "timeline_event",
                    "未知的办理事件",
                    format!("unknown timeline event {s:?}"),
                )
            })
    }
}

impl Serialize for TimelineEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TimelineEvent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e: Invalid| serde::de::Error::custom(e.to_serde_message()))
    }
}

/// Work the caller must do after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Put the stage on its queue for (re-)dispatch in this round.
    Enqueue {
        /// The stage.
        stage: Stage,
        /// The dispatch round.
        round: u32,
    },
    /// The flow has ended.
    FlowEnded {
        /// How.
        outcome: Outcome,
    },
}

/// What [`Application::apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Timeline entries, in order.
    pub transitions: Vec<Transition>,
    /// Hand-offs to perform.
    pub effects: Vec<Effect>,
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    /// The stage transition is not allowed.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The clock was misused (time going backwards).
    #[error(transparent)]
    Clock(#[from] ClockError),
    /// The stage is not on this application's route.
    #[error("stage {0} is not part of this application")]
    NotOnRoute(Stage),
    /// The policy given is not the one the application was submitted under.
    #[error("the application was submitted under policy {expected}, not {given}")]
    WrongPolicy {
        /// The application's policy.
        expected: PolicyRef,
        /// The one given.
        given: PolicyRef,
    },
    /// The form fails its cross-field checks; nothing was created.
    #[error("the form has {} problem(s)", .0.len())]
    InvalidForm(Vec<FieldIssue>),
    /// The card's clock starts with the bank choice: ask for it before dispatch.
    #[error("the partner bank is not chosen yet; ask the applicant first")]
    PartnerBankMissing,
    /// The stage cannot be rated (not finished by its agency).
    #[error("stage {0} is not finished and cannot be rated")]
    NotRatable(Stage),
    /// The stage was rated already.
    #[error("stage {0} was rated already")]
    AlreadyRated(Stage),
    /// No bad rating of the stage needs a follow-up.
    #[error("stage {0} has no follow-up")]
    NoFollowUp(Stage),
    /// A licence or registration request the policy or the application's state does not allow.
    #[error("{}", .0.message.en)]
    Licence(crate::text::Invalid),
    /// No open offer of the stage.
    #[error("stage {0} is not on offer")]
    NoOffer(Stage),
    /// The service has no clock of its own in this application.
    #[error("{} has no promised time of its own here", .0.as_str())]
    NoOwnClock(crate::kinds::Service),
    /// An agency's result that cannot be true of this application; nothing was applied.
    #[error("the result has {} problem(s)", .0.len())]
    ImplausibleResult(Vec<FieldIssue>),
    /// A request the application's choices or state do not allow, with the reason.
    #[error("{}", .0.message.en)]
    NotAllowed(crate::text::Invalid),
}

/// One application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// Its identifier.
    pub id: ApplicationId,
    /// The policy version it was submitted under.
    pub policy: PolicyRef,
    /// When it was submitted.
    pub submitted_at: DateTime<Utc>,
    /// The form as last corrected.
    pub form: ApplicationForm,
    /// Pre-review, then the agency stages of the case's route.
    pub stages: Vec<StageState>,
    /// Ratings of finished stages.
    pub ratings: Vec<Rating>,
    /// Follow-ups of bad ratings.
    #[serde(default)]
    pub follow_ups: Vec<FollowUp>,
    /// Invitations to rate (好差评), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invitations: Vec<Invitation>,
    /// The rating of the whole matter (一事一评), where the policy invites one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matter_rating: Option<MatterRating>,
    /// The licence directory's findings on the form's licences, latest per material.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licence_checks: Vec<crate::licence::LicenceCheck>,
    /// Missing-licence registrations (授权缺失登记), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registrations: Vec<crate::licence::LicenceRegistration>,
    /// Follow-up services offered after the flow ended without them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offers: Vec<crate::offer::Offer>,
    /// The whole matter's clock where the policy promises one (永福县 附件2 六(一)): from
    /// acceptance to the end of the flow, paused while the family is asked for something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matter_clock: Option<SlaClock>,
    /// When the parent registered parenting guidance by reading the knowledge base, where she
    /// registers it herself (闽卫政法〔2024〕40号 附件1 三(一)2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parenting_guidance_read_at: Option<DateTime<Utc>>,
    /// The applicant's signed submission: the form as signed, by whom and when (the agencies
    /// receive "含有电子签名的申请表", 闽卫政法〔2024〕40号 附件1 三(一)2–4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declaration: Option<Declaration>,
}

/// The applicant's signed submission of the form (电子签名) with the pledge (承诺, 附件2 一(八)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declaration {
    /// The SHA-256 of the form exactly as submitted.
    pub form_sha256: crate::kinds::Sha256Hex,
    /// The signing parent's identity number.
    pub signer_id_number: crate::ids::IdNumber,
    /// The account that signed (the platform's sign-in, or counter staff for the family).
    pub signed_by: String,
    /// When the province's sign-in verified the signer's face (附件4 八 全流程静态验证), as its
    /// token reports; none where it reports none (counter staff sign in otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_verified_at: Option<DateTime<Utc>>,
    /// When.
    pub signed_at: DateTime<Utc>,
    /// The pledge's text, as affirmed.
    pub pledge: crate::text::Bilingual,
}

impl Application {
    /// Records the applicant's signed submission: the digest of the form as submitted, signed by
    /// `signed_by` at `at` (face verified by the sign-in at `face_verified_at`), with the pledge
    /// the form affirms (附件2 一(八)).
    pub fn declare(
        &mut self,
        form_sha256: crate::kinds::Sha256Hex,
        signed_by: &str,
        face_verified_at: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    ) {
        let (zh, en) = crate::application::PLEDGE_TEXT;
        self.declaration = Some(Declaration {
            form_sha256,
            signer_id_number: self.form.applicant_parent().id_number.clone(),
            signed_by: signed_by.to_owned(),
            face_verified_at,
            signed_at: at,
            pledge: crate::text::Bilingual::new(zh, en),
        });
    }

    /// The birth certificate the hospital issued in this application (case 1), with when its
    /// stage last finished; `None` when the family already held one (cases 2 and 3).
    pub fn issued_certificate(
        &self,
    ) -> Option<(&crate::ids::BirthCertificateNumber, DateTime<Utc>)> {
        let state = self.stage(Stage::HealthCheck)?;
        match &state.status {
            StageStatus::Completed {
                result:
                    StageResult::HealthCheck {
                        birth_certificate_number,
                        ..
                    },
            } => {
                let at = state
                    .clock
                    .as_ref()
                    .and_then(|c| c.runs.last())
                    .and_then(|r| r.to)
                    .unwrap_or(self.submitted_at);
                Some((birth_certificate_number, at))
            }
            _ => None,
        }
    }

    /// The newborn's birth certificate number: the one issued here, or the one the family holds.
    pub fn birth_certificate_number(&self) -> Option<&crate::ids::BirthCertificateNumber> {
        self.issued_certificate().map(|(n, _)| n).or(self
            .form
            .existing
            .birth_certificate_number
            .as_ref())
    }

    /// Creates the application and queues its pre-review, if the form passes every
    /// cross-field check ([`ApplicationForm::check`]); otherwise returns all the problems.
    pub fn submit(
        id: ApplicationId,
        form: ApplicationForm,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<(Self, Applied), FlowError> {
        let issues = form.check(policy, now);
        if !issues.is_empty() {
            return Err(FlowError::InvalidForm(issues));
        }
        let route = policy.route(form.case).unwrap_or_default();
        let stages = std::iter::once(Stage::PreReview)
            .chain(route.iter().copied())
            .map(|stage| StageState {
                stage,
                status: StageStatus::Pending,
                clock: None,
                parts: vec![],
                undelivered_since: None,
            })
            .collect();
        let mut app = Self {
            id,
            policy: policy.reference(),
            submitted_at: now,
            form,
            stages,
            ratings: vec![],
            follow_ups: vec![],
            invitations: vec![],
            matter_rating: None,
            licence_checks: vec![],
            registrations: vec![],
            offers: vec![],
            matter_clock: None,
            parenting_guidance_read_at: None,
            declaration: None,
        };
        let applied = app.apply(Stage::PreReview, StageEvent::Queue, policy, now)?;
        Ok((app, applied))
    }

    /// The dispatch of round `round` of `stage` did not reach its agency (no 2xx) at `now`:
    /// remembered from the first such attempt while the agency holds that round. False when
    /// already remembered or the stage is no longer there.
    pub fn dispatch_failed(&mut self, stage: Stage, round: u32, now: DateTime<Utc>) -> bool {
        match self.stages.iter_mut().find(|s| s.stage == stage) {
            Some(s)
                if s.status == (StageStatus::AwaitingAgency { round })
                    && s.undelivered_since.is_none() =>
            {
                s.undelivered_since = Some(now);
                true
            }
            _ => false,
        }
    }

    /// A dispatch of `stage` reached its agency: the failure is forgotten. False when there was
    /// none.
    pub fn dispatch_delivered(&mut self, stage: Stage) -> bool {
        self.stages
            .iter_mut()
            .find(|s| s.stage == stage)
            .and_then(|s| s.undelivered_since.take())
            .is_some()
    }

    /// The state of one stage.
    pub fn stage(&self, stage: Stage) -> Option<&StageState> {
        self.stages.iter().find(|s| s.stage == stage)
    }

    /// The stage waiting for a supplement (补件) and the items it asked for.
    pub fn supplement_request(&self) -> Option<(Stage, &[SupplementItem])> {
        self.stages.iter().find_map(|s| match &s.status {
            StageStatus::AwaitingApplicant {
                wait: ApplicantWait::Supplement { items, .. },
                ..
            } => Some((s.stage, items.as_slice())),
            _ => None,
        })
    }

    /// How the application stands.
    pub fn outcome(&self) -> Outcome {
        if !self.stages.iter().all(|s| s.status.is_final()) {
            // A stage still runs (after a failure or a withdrawal, the hospital's release; or
            // the stages a stage-scoped failure left running).
            Outcome::InProgress
        } else if self
            .stages
            .iter()
            .any(|s| s.status == StageStatus::Withdrawn)
        {
            Outcome::Withdrawn
        } else if self
            .stages
            .iter()
            .any(|s| matches!(s.status, StageStatus::Terminated { .. }))
        {
            Outcome::Terminated
        } else {
            Outcome::Completed
        }
    }

    /// Applies `event` to `stage` at `now` under `policy` (which must be the application's).
    pub fn apply(
        &mut self,
        stage: Stage,
        event: StageEvent,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<Applied, FlowError> {
        if policy.reference() != self.policy {
            return Err(FlowError::WrongPolicy {
                expected: self.policy.clone(),
                given: policy.reference(),
            });
        }
        if event == StageEvent::Withdraw {
            return self.withdraw(policy, now);
        }
        let index = self
            .stages
            .iter()
            .position(|s| s.stage == stage)
            .ok_or(FlowError::NotOnRoute(stage))?;
        if event == StageEvent::Dispatch
            && policy.clock_start(stage) == ClockStart::OnPartnerBankChoice
            && self.form.card.is_none()
        {
            return Err(FlowError::PartnerBankMissing);
        }
        if let StageEvent::Complete { result } = &event {
            self.check_result(result, policy)?;
        }
        let mut applied = Applied::default();
        self.move_to(index, event, policy, now, &mut applied)?;
        self.route_after(index, policy, now, &mut applied)?;
        Ok(applied)
    }

    /// Records the partner bank (选择合作银行) and, if the card stage waits for it, releases it.
    pub fn choose_partner_bank(
        &mut self,
        bank: Text,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<Applied, FlowError> {
        let waiting = matches!(
            self.stage(Stage::SocialSecurityCard).map(|s| &s.status),
            Some(StageStatus::AwaitingApplicant {
                wait: ApplicantWait::PartnerBank,
                ..
            })
        );
        if let Some(done) = self
            .stage(Stage::SocialSecurityCard)
            .filter(|s| s.status.is_final())
        {
            return Err(TransitionError::NotAllowed {
                stage: done.stage,
                status: done.status.name(),
                event: "bank_chosen",
            }
            .into());
        }
        self.form.card = Some(crate::application::CardRequest { partner_bank: bank });
        if waiting {
            self.apply(
                Stage::SocialSecurityCard,
                StageEvent::BankChosen,
                policy,
                now,
            )
        } else {
            Ok(Applied::default())
        }
    }

    /// Withdraws the application: every unfinished stage becomes withdrawn, but the hospital's
    /// release once the registration had begun — the certificate exists and the family still
    /// collects it (the full certificate when the registration did not finish, 附件1 三(一)3).
    pub fn withdraw(&mut self, policy: &Policy, now: DateTime<Utc>) -> Result<Applied, FlowError> {
        let withdrawn_before = self
            .stages
            .iter()
            .any(|s| s.status == StageStatus::Withdrawn);
        if self.outcome() != Outcome::InProgress || withdrawn_before {
            let s = &self.stages[0];
            return Err(TransitionError::NotAllowed {
                stage: s.stage,
                status: s.status.name(),
                event: "withdraw",
            }
            .into());
        }
        let case = self.form.case;
        let keep: Vec<bool> = self
            .stages
            .iter()
            .map(|s| {
                let deps = policy.dependencies(case, s.stage);
                deps.iter().any(|d| d.needs == Needs::Ended)
                    && deps.iter().all(|d| {
                        self.stage(d.stage)
                            .is_some_and(|x| x.status != StageStatus::Pending)
                    })
            })
            .collect();
        let mut applied = Applied::default();
        for (i, keep) in keep.into_iter().enumerate() {
            if !keep && !self.stages[i].status.is_final() {
                let to = StageStatus::Withdrawn;
                self.set(i, to, &StageEvent::Withdraw, policy, now, &mut applied)?;
            }
        }
        self.start_ready(policy, now, &mut applied)?;
        Ok(applied)
    }

    /// Opens the follow-up a bad rating needs (none for a good one), due after the policy's
    /// `follow_up_working_days` of working time.
    pub fn open_follow_up(
        &mut self,
        rating: &Rating,
        policy: &Policy,
        calendar: &crate::calendar::WorkingCalendar,
    ) -> Option<FollowUp> {
        if !rating.level.is_bad() || self.follow_ups.iter().any(|f| f.stage == rating.stage) {
            return None;
        }
        let days = i64::from(policy.supervision.follow_up_working_days);
        let (due_at, _) =
            crate::sla::add_working_time(calendar, rating.at, chrono::TimeDelta::hours(24 * days));
        let follow_up = FollowUp {
            stage: rating.stage,
            agency: rating.stage.agency(),
            level: rating.level,
            opened_at: rating.at,
            due_at,
            closed: None,
        };
        self.follow_ups.push(follow_up.clone());
        Some(follow_up)
    }

    /// Closes the open follow-up of `stage` with the agency's note; `false` if it was closed
    /// before (a repeated report).
    pub fn close_follow_up(
        &mut self,
        stage: Stage,
        note: Text,
        now: DateTime<Utc>,
    ) -> Result<bool, FlowError> {
        let follow_up = self
            .follow_ups
            .iter_mut()
            .find(|f| f.stage == stage)
            .ok_or(FlowError::NoFollowUp(stage))?;
        if follow_up.closed.is_some() {
            return Ok(false);
        }
        follow_up.closed = Some(FollowUpClosure {
            at: now,
            note,
            late: now > follow_up.due_at,
        });
        Ok(true)
    }

    /// Sets a stage's status, keeping its clock in step, and records the transition.
    fn set(
        &mut self,
        index: usize,
        to: StageStatus,
        event: &StageEvent,
        policy: &Policy,
        now: DateTime<Utc>,
        applied: &mut Applied,
    ) -> Result<(), FlowError> {
        // A failed delivery belongs to the round the agency holds; any other status ends it.
        if !matches!(to, StageStatus::AwaitingAgency { .. }) {
            self.stages[index].undelivered_since = None;
        }
        let from = std::mem::replace(&mut self.stages[index].status, to);
        self.keep_stage_clocks(index, &from, policy, now)?;
        self.keep_matter_clock(policy, now)?;
        let state = &self.stages[index];
        let to = &state.status;
        applied.transitions.push(Transition {
            stage: state.stage,
            from: from.kind(),
            to: to.kind(),
            event: TimelineEvent::Stage(event.kind()),
            at: now,
        });
        if let StageStatus::Queued { round } = to {
            applied.effects.push(Effect::Enqueue {
                stage: state.stage,
                round: *round,
            });
        }
        Ok(())
    }

    /// After a stage finished: queue the next chosen stage, or skip the rest and end the flow.
    fn route_after(
        &mut self,
        index: usize,
        policy: &Policy,
        now: DateTime<Utc>,
        applied: &mut Applied,
    ) -> Result<(), FlowError> {
        let case = self.form.case;
        let ended = self.stages[index].stage;
        match &self.stages[index].status {
            StageStatus::Completed { .. } => {}
            // 终止套餐服务 (附件1 三(一)3): every stage not started ends, but those that wait for
            // this one's ending (the hospital still learns the result); 终止本环节服务 (三(二)2):
            // only the stages that need this one's completion, which the graph skips below.
            StageStatus::Terminated { .. } => {
                if policy.failure_scope(case, ended) == FailureScope::Package {
                    for i in 0..self.stages.len() {
                        let stage = self.stages[i].stage;
                        let waits_for_ending = policy
                            .dependencies(case, stage)
                            .iter()
                            .any(|d| d.needs == Needs::Ended);
                        if self.stages[i].status == StageStatus::Pending && !waits_for_ending {
                            self.move_to(
                                i,
                                StageEvent::Skip {
                                    reason: SkipReason::FlowTerminated,
                                },
                                policy,
                                now,
                                applied,
                            )?;
                        }
                    }
                }
            }
            _ => return Ok(()),
        }
        self.start_ready(policy, now, applied)
    }

    /// Settles every pending stage whose dependencies are all final — it starts (or is
    /// skipped, if not chosen), or is skipped because a dependency did not end as it needs —
    /// and ends the flow when nothing runs any more.
    fn start_ready(
        &mut self,
        policy: &Policy,
        now: DateTime<Utc>,
        applied: &mut Applied,
    ) -> Result<(), FlowError> {
        let case = self.form.case;
        // The route is in dependency order, so one pass settles them all.
        for i in 0..self.stages.len() {
            if self.stages[i].status != StageStatus::Pending {
                continue;
            }
            let stage = self.stages[i].stage;
            let mut skip = None;
            let mut waiting = false;
            for dep in policy.dependencies(case, stage) {
                let Some(status) = self.stage(dep.stage).map(|s| &s.status) else {
                    continue;
                };
                if !status.is_final() {
                    waiting = true;
                    break;
                }
                let satisfied = matches!(
                    (dep.needs, status),
                    (_, StageStatus::Completed { .. })
                        | (Needs::Ended, StageStatus::Terminated { .. })
                        | (Needs::Ended, StageStatus::Withdrawn)
                        | (
                            Needs::Ended,
                            StageStatus::Skipped {
                                reason: SkipReason::NotChosen,
                            },
                        )
                );
                if !satisfied {
                    let reason = match status {
                        StageStatus::Skipped {
                            reason: SkipReason::NotChosen,
                        } => SkipReason::NotChosen,
                        _ => SkipReason::FlowTerminated,
                    };
                    skip = skip.or(Some(reason));
                }
            }
            if waiting {
                continue;
            }
            let event = match skip {
                Some(reason) => StageEvent::Skip { reason },
                None if self.form.chose_stage(stage) => StageEvent::Queue,
                None => StageEvent::Skip {
                    reason: SkipReason::NotChosen,
                },
            };
            self.move_to(i, event, policy, now, applied)?;
        }
        if self.outcome() != Outcome::InProgress {
            applied.effects.push(Effect::FlowEnded {
                outcome: self.outcome(),
            });
        }
        Ok(())
    }

    /// Moves stage `i` by `event`, as the stage's rules allow in this case.
    fn move_to(
        &mut self,
        i: usize,
        event: StageEvent,
        policy: &Policy,
        now: DateTime<Utc>,
        applied: &mut Applied,
    ) -> Result<(), FlowError> {
        let stage = self.stages[i].stage;
        let to = next_status(
            stage,
            &self.stages[i].status,
            &event,
            &policy.stage_rules(stage, self.form.case),
        )?;
        self.set(i, to, &event, policy, now, applied)
    }

    /// Which certificate the hospital releases: the main page once the police registered the
    /// newborn, the full certificate once the police stage ended otherwise; `None` before.
    pub fn certificate_to_release(&self) -> Option<CertificateVersion> {
        match &self.stage(Stage::Police)?.status {
            StageStatus::Completed { .. } => Some(CertificateVersion::MainPage),
            StageStatus::Terminated { .. } | StageStatus::Withdrawn => {
                Some(CertificateVersion::Full)
            }
            _ => None,
        }
    }
}
