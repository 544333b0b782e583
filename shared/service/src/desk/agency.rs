//! The agency desk: what an agency's signed request does — a stage's result, a supplement
//! request, forms to confirm, mailing, going offline; the report of a bad rating's follow-up;
//! the licence directory's decision on a missing-licence registration. Served by the
//! `callbacks` function and the local server. It holds only the store: the signature was
//! verified where the request entered, and the agency may act only on the stage it owns.

use crate::core::{Core, agency_request, marker, markers};
use crate::error::ServiceError;
use crate::metric::{Dim, Metric};
use crate::notices;
use chrono::{DateTime, Utc};
use newborn_domain::application::Text;
use newborn_domain::flow::{Application, Applied, TimelineEvent};
use newborn_domain::kinds::Service;
use newborn_domain::licence::RegistrationStatus;
use newborn_domain::stage::{
    Agency, ApplicantWait, GeneratedForm, Stage, StageEvent, StageResult, StageStatus,
    SupplementItem,
};
use newborn_domain::text::{Bilingual, Invalid};
use serde::{Deserialize, Serialize};

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
    /// One service of the stage with a promised time of its own is done while the stage goes
    /// on (永福县 附件2 六(二)5: 居民医保登记 within 1 working day, before the reimbursement).
    ServiceDone {
        /// Which service.
        service: Service,
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

/// What became of a hospital's birth record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BirthAck {
    /// Recorded now, or recorded before (the same record again: nothing changed).
    pub result: CallbackAck,
    /// The drafts of the delivery's children, in birth order (the hospital may quote them).
    pub drafts: Vec<newborn_domain::flow::ApplicationId>,
    /// When unconfirmed drafts are deleted.
    pub expires_at: DateTime<Utc>,
}

/// The agencies' use cases.
#[derive(Clone)]
pub struct AgencyDesk {
    core: Core,
    drafts: Option<crate::drafts::Drafts>,
}

impl AgencyDesk {
    /// The desk over the core.
    pub fn new(core: Core) -> Self {
        Self { core, drafts: None }
    }

    /// The desk taking hospitals' birth records into `drafts`.
    pub fn with_drafts(mut self, drafts: crate::drafts::Drafts) -> Self {
        self.drafts = Some(drafts);
        self
    }

    /// A hospital's (authenticated) birth record: one draft per child, pre-filled, kept for the
    /// policy's days, and an SMS to the mother's recorded phone, written together. The same
    /// record again changes nothing (its drafts' ids follow from the delivery), and a child
    /// whose draft was already confirmed gets none again.
    pub async fn record_birth(
        &self,
        agency: Agency,
        record: &newborn_domain::draft::BirthRecord,
    ) -> Result<BirthAck, ServiceError> {
        if agency != Agency::Hospital {
            return Err(ServiceError::Forbidden(Invalid::new(
                "wrong_agency",
                "只有助产机构可以报送出生信息",
                "only a hospital may post a birth record",
            )));
        }
        let drafts = self.drafts.as_ref().ok_or_else(|| {
            ServiceError::Transient("this installation takes no birth records".into())
        })?;
        let now = self.core.now();
        let issues = record.check(now);
        if !issues.is_empty() {
            return Err(ServiceError::BadInput(issues));
        }
        let born = record.born().unwrap_or_else(|| now.date_naive());
        let policy = self
            .core
            .policies()
            .for_birth(&record.birthplace, born)
            .ok_or_else(|| {
                ServiceError::bad(
                    "birthplace",
                    Invalid::new(
                        "birth_not_served",
                        "该出生地点和出生日期不在“出生一件事”线上办理范围内，不生成预填申请",
                        "a birth at this place and date is outside online handling: no draft is made",
                    ),
                )
            })?;
        let expires_at = record.expiry(policy, now).ok_or_else(|| {
            let months = policy.eligibility.newborn_age.under_months;
            ServiceError::bad(
                "newborns",
                Invalid::new(
                    "beyond_online_age",
                    format!("新生儿已满{months}个月，超出线上办理范围，不生成预填申请"),
                    format!(
                        "the newborn is {months} months or older, beyond online handling: no draft is made"
                    ),
                ),
            )
        })?;
        let ids: Vec<_> = (0..record.newborns.len())
            .map(|i| crate::drafts::draft_id(record, i))
            .collect();
        let all = record.drafts(|i| ids[i].clone(), &policy.id, now, expires_at);
        let mut fresh = vec![];
        for d in all {
            // A child whose draft became an application has had its draft.
            if self.core.store.get(&d.id).await?.is_none() {
                fresh.push(d);
            }
        }
        let sms = notices::drafts_ready(now, fresh.len(), expires_at);
        let deliveries: Vec<_> = fresh
            .first()
            .map(|d| crate::ports::Delivery {
                id: format!("{}:draft", d.id),
                application_id: d.id.clone(),
                owner: format!("sms:{}", d.mother.phone.as_str()),
                notification: sms,
            })
            .into_iter()
            .collect();
        let created = !fresh.is_empty() && drafts.store.create(&fresh, &deliveries).await?;
        let result = if created {
            self.core.count(
                Metric::DraftsCreated,
                &[(Dim::Region, &policy.id)],
                fresh.len() as f64,
            );
            tracing::info!(drafts = fresh.len(), "birth record taken: drafts made");
            CallbackAck::Applied
        } else {
            CallbackAck::AlreadyApplied
        };
        let expires_at = match fresh.first() {
            Some(d) if !created => drafts
                .store
                .get(&d.id)
                .await?
                .map_or(expires_at, |d| d.expires_at),
            _ => expires_at,
        };
        Ok(BirthAck {
            result,
            drafts: ids,
            expires_at,
        })
    }

    /// The core (time, rules) this desk runs on.
    pub fn core(&self) -> &Core {
        &self.core
    }

    /// Applies an agency's (already authenticated) callback, signed message `message`. The
    /// agency may act only on the stage it owns; the same message again is refused as a replay,
    /// and another message repeating an outcome the stage already shows is acknowledged without
    /// a second change.
    pub async fn accept_callback(
        &self,
        agency: Agency,
        key_id: &str,
        message: &str,
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
            .core
            .mutate_signed(&id, &actor, message, |app, policy, now| {
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
                let event = match &cb.outcome {
                    CallbackOutcome::ServiceDone { service } => {
                        return service_done(app, cb, &status, *service, now);
                    }
                    _ if reflects(&status, cb) => return Ok(None),
                    _ if status.round() != Some(cb.round) => return Err(stale(cb, &status)),
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

    /// The directory's (authenticated) decision on a registration; a repeated one changes
    /// nothing.
    pub async fn decide_registration(
        &self,
        agency: Agency,
        key_id: &str,
        message: &str,
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
            .core
            .mutate_signed(&id, &actor, message, |app, _, now| {
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
                let rejection = match &status {
                    RegistrationStatus::Rejected { rejection, .. } => Some(rejection),
                    _ => None,
                };
                let (event, notice) =
                    notices::registration_decided(now, decision.number, rejection);
                Ok(Some((
                    markers(vec![marker(app, Stage::PreReview, event, now)]),
                    vec![notice],
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
                self.core.count(
                    Metric::LicenceRegistrationDecided,
                    &[(Dim::Outcome, outcome)],
                    1.0,
                );
                CallbackAck::Applied
            }
            None => CallbackAck::AlreadyApplied,
        })
    }

    /// An agency reports the follow-up of a bad rating of its stage done (回访整改), with what it
    /// did. Reporting it again changes nothing.
    pub async fn close_follow_up(
        &self,
        agency: Agency,
        key_id: &str,
        message: &str,
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
            .core
            .mutate_signed(&id, &actor, message, |app, _, now| {
                if !app.close_follow_up(stage, report.note.clone(), now)? {
                    return Ok(None);
                }
                Ok(Some((
                    markers(vec![marker(app, stage, TimelineEvent::FollowUpClosed, now)]),
                    vec![],
                )))
            })
            .await?;
        Ok(match changed {
            Some(_) => {
                self.core.count(
                    Metric::FollowUpClosed,
                    &[(Dim::Stage, stage.as_str()), (Dim::Agency, agency.as_str())],
                    1.0,
                );
                CallbackAck::Applied
            }
            None => CallbackAck::AlreadyApplied,
        })
    }
}

/// The refusal of a callback that answers another round than the stage's.
fn stale(cb: &Callback, status: &StageStatus) -> ServiceError {
    ServiceError::conflict(
        "stale_round",
        "回调的轮次与当前办理轮次不符",
        format!(
            "the callback answers round {}, the stage is at {}",
            cb.round,
            status.name()
        ),
    )
}

/// An agency's report that one service of its stage is done: the service's own clock stops; a
/// repeat changes nothing.
fn service_done(
    app: &mut Application,
    cb: &Callback,
    status: &StageStatus,
    service: Service,
    now: DateTime<Utc>,
) -> Result<Option<(Applied, Vec<crate::ports::Notification>)>, ServiceError> {
    if service.stage() != cb.stage {
        return Err(ServiceError::bad(
            "outcome.service",
            Invalid::new(
                "service_not_of_stage",
                format!("“{}”不属于此环节", service.label().zh),
                format!(
                    "{} is not part of the {} stage",
                    service.label().en,
                    cb.stage
                ),
            ),
        ));
    }
    if !status.is_final() && status.round() != Some(cb.round) {
        return Err(stale(cb, status));
    }
    if !app.finish_service(service, now)? {
        return Ok(None);
    }
    Ok(Some((
        markers(vec![marker(
            app,
            cb.stage,
            TimelineEvent::ServiceDone(service),
            now,
        )]),
        vec![],
    )))
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
