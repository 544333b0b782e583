//! Stages of an application and the transitions the notices allow between their statuses.
//!
//! The lifecycle of one stage, per 闽卫政法〔2024〕40号 附件1 三:
//!
//! ```text
//! Pending ──Queue──▶ Queued ──Dispatch──▶ AwaitingAgency ──Complete──▶ Completed
//!    │                 │  ▲                    │   ▲  │
//!   Skip          AwaitBank │                  │   │  └──GoOffline──▶ Terminated
//!    ▼                 ▼  │ BankChosen         │   │ MailArrived
//! Skipped      AwaitingApplicant ◀─RequestSupplement / RequestConfirmation / RequestMailing
//!                     │  Supplied / Confirmed ──▶ Queued (next round)
//!                     └──GoOffline (applicant)──▶ Terminated
//! any unfinished status ──Withdraw──▶ Withdrawn
//! Skipped (not chosen) ──AcceptOffer──▶ Queued (round 1): a proactive offer taken up
//! ```
//! Every other pair is a [`TransitionError`].

use crate::ids::{BirthCertificateNumber, IdNumber};
pub use crate::kinds::CertificateVersion;
pub use crate::kinds::{Agency, GeneratedForm, Stage};
use crate::kinds::{DocumentKind, LicenceProblem, Text};
pub use crate::policy::StageRules;
use crate::text::Bilingual;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// An item the applicant must supply (补件).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SupplementItem {
    /// A document to upload.
    Document {
        /// Which.
        kind: DocumentKind,
    },
    /// An electronic licence that was refused: give a correct one, have it authorised, or
    /// (after a missing-licence registration where the policy asks for one) upload a scan.
    Licence {
        /// Which material.
        kind: DocumentKind,
        /// What was wrong with it.
        problem: LicenceProblem,
    },
    /// A form field to correct.
    Field {
        /// Its dotted path.
        field: String,
    },
}

/// What a stage waits for from the applicant. The SLA clock does not run meanwhile
/// (附件1 四(五): "用户补件时间和寄件时间不纳入计时范畴").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "wait", rename_all = "snake_case")]
pub enum ApplicantWait {
    /// 补件: missing or wrong materials.
    Supplement {
        /// What to supply.
        items: Vec<SupplementItem>,
        /// Why, for the applicant.
        reason: Bilingual,
    },
    /// 确认签字: generated forms to confirm.
    ConfirmForms {
        /// Which.
        forms: Vec<GeneratedForm>,
    },
    /// 选择合作银行: the card's partner bank (附件1 四(四)).
    PartnerBank,
    /// 寄件: the applicant mails documents to the agency (附件2 一(四), EMS two-way).
    Mailing {
        /// What to send.
        what: Bilingual,
    },
}

/// What a finished stage produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum StageResult {
    /// Pre-review accepted the application, possibly with notes for reviewers.
    PreReview {
        /// Notes that did not block acceptance (e.g. a legacy marriage certificate number).
        notes: Vec<Bilingual>,
    },
    /// The hospital issued the certificates.
    HealthCheck {
        /// 出生医学证明编号
        birth_certificate_number: BirthCertificateNumber,
        /// 预防接种证 issued at the hospital
        vaccination_certificate_issued: bool,
        /// 科学育儿指导服务登记 done, where the hospital registers it (永福县 五(三)6); where the
        /// parent registers it in the app (闽卫政法〔2024〕40号 附件1 三(一)2) it is not reported.
        #[serde(default)]
        parenting_guidance_registered: bool,
    },
    /// The police registered the newborn.
    Police {
        /// The newborn's 公民身份号码.
        newborn_id_number: IdNumber,
    },
    /// The hospital released the certificate the registration result called for.
    CertificateRelease {
        /// Which version it gave (or mailed) the family.
        version: CertificateVersion,
    },
    /// Medical insurance enrolled the newborn and decided the maternity benefit.
    Insurance {
        /// 参保登记 done; premium data pushed to the tax bureau.
        enrolled: bool,
        /// 生育保险待遇核准: approved, refused, or not applied for.
        maternity_benefit_approved: Option<bool>,
    },
    /// The card was made.
    SocialSecurityCard {
        /// The issuing partner bank.
        partner_bank: Text,
        /// When the card is ready.
        ready_on: NaiveDate,
    },
}

impl StageResult {
    /// The stage this result belongs to.
    pub fn stage(&self) -> Stage {
        match self {
            StageResult::PreReview { .. } => Stage::PreReview,
            StageResult::HealthCheck { .. } => Stage::HealthCheck,
            StageResult::Police { .. } => Stage::Police,
            StageResult::CertificateRelease { .. } => Stage::CertificateRelease,
            StageResult::Insurance { .. } => Stage::Insurance,
            StageResult::SocialSecurityCard { .. } => Stage::SocialSecurityCard,
        }
    }
}

/// Why a stage was not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The applicant did not choose its services; the flow ended successfully before it.
    NotChosen,
    /// An earlier stage went offline.
    FlowTerminated,
}

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The platform (pre-review, routing, the SLA monitor).
    Platform,
    /// The applicant.
    Applicant,
    /// The stage's agency.
    Agency,
}

/// The status of one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StageStatus {
    /// Not reached yet.
    Pending,
    /// Handed off; the dispatch to the agency is queued.
    Queued {
        /// Dispatch round (1, then +1 after each supplement or confirmation).
        round: u32,
    },
    /// Dispatched; the agency is working on it (未办结).
    AwaitingAgency {
        /// Dispatch round.
        round: u32,
    },
    /// Waiting for the applicant; the clock is paused.
    AwaitingApplicant {
        /// Dispatch round.
        round: u32,
        /// What for.
        #[serde(flatten)]
        wait: ApplicantWait,
    },
    /// Done (已办结).
    Completed {
        /// What it produced.
        result: StageResult,
    },
    /// Not run.
    Skipped {
        /// Why.
        reason: SkipReason,
    },
    /// 转线下办理: the online flow ended; the applicant must go to a counter.
    Terminated {
        /// Why, for the applicant.
        reason: Bilingual,
        /// Who ended it.
        by: Party,
    },
    /// The applicant withdrew the application.
    Withdrawn,
}

impl StageStatus {
    /// The status name, e.g. `awaiting_agency`.
    pub fn name(&self) -> &'static str {
        self.kind().as_str()
    }

    /// Which status this is, without its data.
    pub fn kind(&self) -> StatusKind {
        match self {
            StageStatus::Pending => StatusKind::Pending,
            StageStatus::Queued { .. } => StatusKind::Queued,
            StageStatus::AwaitingAgency { .. } => StatusKind::AwaitingAgency,
            StageStatus::AwaitingApplicant { .. } => StatusKind::AwaitingApplicant,
            StageStatus::Completed { .. } => StatusKind::Completed,
            StageStatus::Skipped { .. } => StatusKind::Skipped,
            StageStatus::Terminated { .. } => StatusKind::Terminated,
            StageStatus::Withdrawn => StatusKind::Withdrawn,
        }
    }

    /// Finished one way or another: nothing can happen to it any more.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            StageStatus::Completed { .. }
                | StageStatus::Skipped { .. }
                | StageStatus::Terminated { .. }
                | StageStatus::Withdrawn
        )
    }

    /// Whether the stage's SLA clock runs in this status.
    pub fn clock_runs(&self) -> bool {
        matches!(
            self,
            StageStatus::Queued { .. } | StageStatus::AwaitingAgency { .. }
        )
    }

    /// The dispatch round, for unfinished stages.
    pub fn round(&self) -> Option<u32> {
        match self {
            StageStatus::Queued { round }
            | StageStatus::AwaitingAgency { round }
            | StageStatus::AwaitingApplicant { round, .. } => Some(*round),
            _ => None,
        }
    }
}

/// A stage status without its data, as the timeline records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusKind {
    /// `pending`
    Pending,
    /// `queued`
    Queued,
    /// `awaiting_agency`
    AwaitingAgency,
    /// `awaiting_applicant`
    AwaitingApplicant,
    /// `completed`
    Completed,
    /// `skipped`
    Skipped,
    /// `terminated`
    Terminated,
    /// `withdrawn`
    Withdrawn,
}

impl StatusKind {
    /// The status's name.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusKind::Pending => "pending",
            StatusKind::Queued => "queued",
            StatusKind::AwaitingAgency => "awaiting_agency",
            StatusKind::AwaitingApplicant => "awaiting_applicant",
            StatusKind::Completed => "completed",
            StatusKind::Skipped => "skipped",
            StatusKind::Terminated => "terminated",
            StatusKind::Withdrawn => "withdrawn",
        }
    }
}

/// A stage event without its data, as the timeline records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// `queue`
    Queue,
    /// `dispatch`
    Dispatch,
    /// `await_bank`
    AwaitBank,
    /// `request_supplement`
    RequestSupplement,
    /// `request_confirmation`
    RequestConfirmation,
    /// `request_mailing`
    RequestMailing,
    /// `supplied`
    Supplied,
    /// `confirmed`
    Confirmed,
    /// `bank_chosen`
    BankChosen,
    /// `mail_arrived`
    MailArrived,
    /// `complete`
    Complete,
    /// `go_offline`
    GoOffline,
    /// `withdraw`
    Withdraw,
    /// `skip`
    Skip,
    /// `accept_offer`
    AcceptOffer,
}

/// Something that happens to a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum StageEvent {
    /// The flow reached the stage: hand it off.
    Queue,
    /// The platform sent the dispatch to the agency.
    Dispatch,
    /// Before dispatch: the card's partner bank is not chosen yet, ask the applicant.
    AwaitBank,
    /// The agency (or pre-review) asks for materials.
    RequestSupplement {
        /// What to supply; at least one item.
        items: Vec<SupplementItem>,
        /// Why.
        reason: Bilingual,
    },
    /// The agency generated forms for the applicant to confirm.
    RequestConfirmation {
        /// Which.
        forms: Vec<GeneratedForm>,
    },
    /// The agency waits for documents the applicant mails.
    RequestMailing {
        /// What to send.
        what: Bilingual,
    },
    /// The applicant supplied the requested items.
    Supplied,
    /// The applicant confirmed the generated forms.
    Confirmed,
    /// The applicant chose the partner bank.
    BankChosen,
    /// The mailed documents arrived at the agency.
    MailArrived,
    /// The agency finished the stage.
    Complete {
        /// What it produced.
        result: StageResult,
    },
    /// The online flow ends: go to a counter (转线下办理).
    GoOffline {
        /// Why.
        reason: Bilingual,
    },
    /// The applicant withdraws.
    Withdraw,
    /// The flow ends before this stage.
    Skip {
        /// Why.
        reason: SkipReason,
    },
    /// The applicant takes up a declined stage from its offer.
    AcceptOffer,
}

impl StageEvent {
    /// The event name, e.g. `request_supplement`.
    pub fn name(&self) -> &'static str {
        serde_name(self.kind())
    }

    /// Which event this is, without its data.
    pub fn kind(&self) -> EventKind {
        match self {
            StageEvent::Queue => EventKind::Queue,
            StageEvent::Dispatch => EventKind::Dispatch,
            StageEvent::AwaitBank => EventKind::AwaitBank,
            StageEvent::RequestSupplement { .. } => EventKind::RequestSupplement,
            StageEvent::RequestConfirmation { .. } => EventKind::RequestConfirmation,
            StageEvent::RequestMailing { .. } => EventKind::RequestMailing,
            StageEvent::Supplied => EventKind::Supplied,
            StageEvent::Confirmed => EventKind::Confirmed,
            StageEvent::BankChosen => EventKind::BankChosen,
            StageEvent::MailArrived => EventKind::MailArrived,
            StageEvent::Complete { .. } => EventKind::Complete,
            StageEvent::GoOffline { .. } => EventKind::GoOffline,
            StageEvent::Withdraw => EventKind::Withdraw,
            StageEvent::Skip { .. } => EventKind::Skip,
            StageEvent::AcceptOffer => EventKind::AcceptOffer,
        }
    }
}

impl EventKind {
    /// The event's name.
    pub fn as_str(self) -> &'static str {
        serde_name(self)
    }
}

fn serde_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Queue => "queue",
        EventKind::Dispatch => "dispatch",
        EventKind::AwaitBank => "await_bank",
        EventKind::RequestSupplement => "request_supplement",
        EventKind::RequestConfirmation => "request_confirmation",
        EventKind::RequestMailing => "request_mailing",
        EventKind::Supplied => "supplied",
        EventKind::Confirmed => "confirmed",
        EventKind::BankChosen => "bank_chosen",
        EventKind::MailArrived => "mail_arrived",
        EventKind::Complete => "complete",
        EventKind::GoOffline => "go_offline",
        EventKind::Withdraw => "withdraw",
        EventKind::Skip => "skip",
        EventKind::AcceptOffer => "accept_offer",
    }
}

/// A transition the documents do not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The event cannot happen in the stage's current status.
    #[error("{stage}: event {event} is not allowed while {status}")]
    NotAllowed {
        /// The stage.
        stage: Stage,
        /// Its status name.
        status: &'static str,
        /// The event name.
        event: &'static str,
    },
    /// This stage may not ask for supplements under the policy.
    #[error("{0}: the policy does not allow supplement requests at this stage; go offline instead")]
    SupplementNotAllowed(Stage),
    /// A supplement request with nothing to supply.
    #[error("{0}: a supplement request must name at least one item")]
    EmptySupplement(Stage),
    /// Forms this stage does not generate.
    #[error("{0}: the policy has no such forms to confirm at this stage")]
    ConfirmationNotAllowed(Stage),
    /// A result of another stage.
    #[error("{stage}: a result of stage {result} cannot complete it")]
    WrongResult {
        /// The stage.
        stage: Stage,
        /// The result's stage.
        result: Stage,
    },
    /// The applicant answered something the stage does not wait for.
    #[error("{stage}: the stage waits for {waits_for}, not for {event}")]
    WrongAnswer {
        /// The stage.
        stage: Stage,
        /// What it waits for.
        waits_for: &'static str,
        /// The answer given.
        event: &'static str,
    },
}

fn wait_name(w: &ApplicantWait) -> &'static str {
    match w {
        ApplicantWait::Supplement { .. } => "supplement",
        ApplicantWait::ConfirmForms { .. } => "confirm_forms",
        ApplicantWait::PartnerBank => "partner_bank",
        ApplicantWait::Mailing { .. } => "mailing",
    }
}

/// The status a stage moves to on `event`, or why it cannot.
pub fn next_status(
    stage: Stage,
    from: &StageStatus,
    event: &StageEvent,
    rules: &StageRules,
) -> Result<StageStatus, TransitionError> {
    use StageEvent as E;
    use StageStatus as S;
    let not_allowed = || TransitionError::NotAllowed {
        stage,
        status: from.name(),
        event: event.name(),
    };
    Ok(match (from, event) {
        (S::Pending, E::Queue) => S::Queued { round: 1 },
        (S::Pending, E::Skip { reason }) => S::Skipped { reason: *reason },
        // A proactive offer taken up: the declined stage starts after all, in its first round.
        (
            S::Skipped {
                reason: SkipReason::NotChosen,
            },
            E::AcceptOffer,
        ) => S::Queued { round: 1 },
        (S::Queued { round }, E::Dispatch) => S::AwaitingAgency { round: *round },
        (S::Queued { round }, E::AwaitBank) if stage == Stage::SocialSecurityCard => {
            S::AwaitingApplicant {
                round: *round,
                wait: ApplicantWait::PartnerBank,
            }
        }
        (S::AwaitingAgency { round }, E::RequestSupplement { items, reason }) => {
            if !rules.supplement {
                return Err(TransitionError::SupplementNotAllowed(stage));
            }
            if items.is_empty() {
                return Err(TransitionError::EmptySupplement(stage));
            }
            S::AwaitingApplicant {
                round: *round,
                wait: ApplicantWait::Supplement {
                    items: items.clone(),
                    reason: reason.clone(),
                },
            }
        }
        (S::AwaitingAgency { round }, E::RequestConfirmation { forms }) => {
            if forms.is_empty() || !forms.iter().all(|f| rules.confirmation_forms.contains(f)) {
                return Err(TransitionError::ConfirmationNotAllowed(stage));
            }
            S::AwaitingApplicant {
                round: *round,
                wait: ApplicantWait::ConfirmForms {
                    forms: forms.clone(),
                },
            }
        }
        (S::AwaitingAgency { round }, E::RequestMailing { what }) if stage != Stage::PreReview => {
            S::AwaitingApplicant {
                round: *round,
                wait: ApplicantWait::Mailing { what: what.clone() },
            }
        }
        (
            S::AwaitingApplicant { round, wait },
            E::Supplied | E::Confirmed | E::BankChosen | E::MailArrived,
        ) => match (wait, event) {
            (ApplicantWait::Supplement { .. }, E::Supplied)
            | (ApplicantWait::ConfirmForms { .. }, E::Confirmed) => S::Queued { round: round + 1 },
            (ApplicantWait::PartnerBank, E::BankChosen) => S::Queued { round: *round },
            (ApplicantWait::Mailing { .. }, E::MailArrived) => S::AwaitingAgency { round: *round },
            _ => {
                return Err(TransitionError::WrongAnswer {
                    stage,
                    waits_for: wait_name(wait),
                    event: event.name(),
                });
            }
        },
        (S::AwaitingAgency { .. }, E::Complete { result }) => {
            if result.stage() != stage {
                return Err(TransitionError::WrongResult {
                    stage,
                    result: result.stage(),
                });
            }
            S::Completed {
                result: result.clone(),
            }
        }
        (S::AwaitingAgency { .. }, E::GoOffline { reason }) => S::Terminated {
            reason: reason.clone(),
            by: if stage == Stage::PreReview {
                Party::Platform
            } else {
                Party::Agency
            },
        },
        (S::AwaitingApplicant { .. }, E::GoOffline { reason }) => S::Terminated {
            reason: reason.clone(),
            by: Party::Applicant,
        },
        (s, E::Withdraw) if !s.is_final() => S::Withdrawn,
        _ => return Err(not_allowed()),
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn agency_names_are_their_json_names() {
        for a in [
            Agency::Platform,
            Agency::Hospital,
            Agency::PoliceStation,
            Agency::MedicalInsurance,
            Agency::SocialSecurity,
        ] {
            assert_eq!(
                serde_json::to_value(a).ok(),
                Some(serde_json::Value::from(a.as_str()))
            );
        }
    }
    use super::*;

    fn rules() -> StageRules {
        StageRules {
            supplement: true,
            confirmation_forms: vec![
                GeneratedForm::BirthCertificateRegistration,
                GeneratedForm::PermanentResidentRegistration,
            ],
        }
    }

    fn reason() -> Bilingual {
        Bilingual::new("原因", "reason")
    }

    /// 附件1 三(一)2: hospital check → forms confirmed by the applicant → pushed to the hospital.
    #[test]
    fn the_hospital_flow_with_confirmation_and_supplement() {
        let s = Stage::HealthCheck;
        let r = rules();
        let mut st = next_status(s, &StageStatus::Pending, &StageEvent::Queue, &r)
            .unwrap_or_else(|e| panic!("{e}"));
        st = next_status(s, &st, &StageEvent::Dispatch, &r).unwrap_or_else(|e| panic!("{e}"));
        st = next_status(
            s,
            &st,
            &StageEvent::RequestConfirmation {
                forms: vec![GeneratedForm::BirthCertificateRegistration],
            },
            &r,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(!st.clock_runs());
        st = next_status(s, &st, &StageEvent::Confirmed, &r).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(st, StageStatus::Queued { round: 2 });
        st = next_status(s, &st, &StageEvent::Dispatch, &r).unwrap_or_else(|e| panic!("{e}"));
        let items = vec![SupplementItem::Document {
            kind: DocumentKind::MarriageCertificate,
        }];
        st = next_status(
            s,
            &st,
            &StageEvent::RequestSupplement {
                items,
                reason: reason(),
            },
            &r,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        st = next_status(s, &st, &StageEvent::Supplied, &r).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(st, StageStatus::Queued { round: 3 });
    }

    #[test]
    fn forbidden_transitions_are_typed_errors() {
        let r = rules();
        let s = Stage::Police;
        let done = StageStatus::Completed {
            result: StageResult::PreReview { notes: vec![] },
        };
        let cases: Vec<(StageStatus, StageEvent)> = vec![
            (StageStatus::Pending, StageEvent::Dispatch),
            (StageStatus::Queued { round: 1 }, StageEvent::Supplied),
            (StageStatus::AwaitingAgency { round: 1 }, StageEvent::Queue),
            (done.clone(), StageEvent::Withdraw),
            (done, StageEvent::GoOffline { reason: reason() }),
            (StageStatus::Withdrawn, StageEvent::Queue),
            (StageStatus::Queued { round: 1 }, StageEvent::AwaitBank),
        ];
        for (from, ev) in cases {
            assert!(
                matches!(
                    next_status(s, &from, &ev, &r),
                    Err(TransitionError::NotAllowed { .. })
                ),
                "{} on {}",
                ev.name(),
                from.name()
            );
        }
    }

    /// Xiamen guide (二): a failed hospital check ends online handling — no supplement there.
    #[test]
    fn a_supplement_where_the_policy_forbids_it_is_refused() {
        let r = StageRules::default();
        let e = next_status(
            Stage::HealthCheck,
            &StageStatus::AwaitingAgency { round: 1 },
            &StageEvent::RequestSupplement {
                items: vec![SupplementItem::Field { field: "x".into() }],
                reason: reason(),
            },
            &r,
        );
        assert_eq!(
            e,
            Err(TransitionError::SupplementNotAllowed(Stage::HealthCheck))
        );
        let e = next_status(
            Stage::HealthCheck,
            &StageStatus::AwaitingAgency { round: 1 },
            &StageEvent::RequestSupplement {
                items: vec![],
                reason: reason(),
            },
            &rules(),
        );
        assert_eq!(e, Err(TransitionError::EmptySupplement(Stage::HealthCheck)));
    }

    #[test]
    fn results_and_answers_must_fit_the_stage() {
        let r = rules();
        let result = StageResult::PreReview { notes: vec![] };
        let e = next_status(
            Stage::Police,
            &StageStatus::AwaitingAgency { round: 1 },
            &StageEvent::Complete { result },
            &r,
        );
        assert_eq!(
            e,
            Err(TransitionError::WrongResult {
                stage: Stage::Police,
                result: Stage::PreReview
            })
        );
        let waiting = StageStatus::AwaitingApplicant {
            round: 1,
            wait: ApplicantWait::PartnerBank,
        };
        let e = next_status(
            Stage::SocialSecurityCard,
            &waiting,
            &StageEvent::Supplied,
            &r,
        );
        assert!(matches!(e, Err(TransitionError::WrongAnswer { .. })));
        let e = next_status(
            Stage::Police,
            &StageStatus::AwaitingAgency { round: 1 },
            &StageEvent::RequestConfirmation { forms: vec![] },
            &StageRules::default(),
        );
        assert_eq!(
            e,
            Err(TransitionError::ConfirmationNotAllowed(Stage::Police))
        );
    }

    /// 附件1 三(一)3: the applicant may choose "补齐后到户籍地派出所办理" — going offline herself.
    #[test]
    fn the_applicant_may_go_offline_while_asked_for_a_supplement() {
        let waiting = StageStatus::AwaitingApplicant {
            round: 1,
            wait: ApplicantWait::Supplement {
                items: vec![],
                reason: reason(),
            },
        };
        let st = next_status(
            Stage::Police,
            &waiting,
            &StageEvent::GoOffline { reason: reason() },
            &rules(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            st,
            StageStatus::Terminated {
                by: Party::Applicant,
                ..
            }
        ));
    }

    /// 附件1 四(五): mailing time is not counted; after the mail arrives the agency goes on.
    #[test]
    fn mailing_pauses_and_the_agency_continues_in_the_same_round() {
        let r = rules();
        let st = next_status(
            Stage::Police,
            &StageStatus::AwaitingAgency { round: 2 },
            &StageEvent::RequestMailing { what: reason() },
            &r,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(!st.clock_runs());
        let st = next_status(Stage::Police, &st, &StageEvent::MailArrived, &r)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(st, StageStatus::AwaitingAgency { round: 2 });
    }

    #[test]
    fn stage_names_round_trip() {
        for s in Stage::ALL {
            assert_eq!(s.as_str().parse::<Stage>(), Ok(s));
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::Value::String(s.as_str().to_owned()))
            );
        }
        assert!("evaluation".parse::<Stage>().is_err());
    }
}
