//! The unit of work every desk shares: load an application, decide in the domain, write the
//! result — application, timeline, outbox, clock index, notifications and their deliveries — in
//! one conditional write, retrying on a version conflict. Every step is idempotent, so a
//! redelivered message or a repeated callback changes nothing twice.

use crate::error::ServiceError;
use crate::metric::{Dim, Metric};
use crate::notices;
use crate::ports::{
    Actor, ApplicationStore, Clock, Delivery, Fact, FactKind, Metrics, Notification, OpenClock,
    OpenFollowUp, StageMessage, StoreError, Stored, TimelineEntry, Unit, Write,
};
use crate::view::ApplicationView;
use chrono::{DateTime, Utc};
use newborn_domain::calendar::WorkingCalendar;
use newborn_domain::flow::{
    Application, ApplicationId, Applied, Effect, Outcome, TimelineEvent, Transition,
};
use newborn_domain::forecast::{Forecast, forecast};
use newborn_domain::kinds::Watch;
use newborn_domain::policy::{Policy, PolicyRegistry};
use newborn_domain::sla::ClockState;
use newborn_domain::stage::{Agency, EventKind, Stage, StatusKind};
use std::sync::Arc;

const MAX_CONFLICT_RETRIES: usize = 16;

/// The rules a deployment runs on: the regions' policies, the working-day calendar and the
/// region an application without one is made under.
pub struct Rules {
    policies: PolicyRegistry,
    calendar: WorkingCalendar,
    /// The national calendar with a region's own holidays, per policy version that has any.
    regional: std::collections::BTreeMap<newborn_domain::policy::PolicyRef, WorkingCalendar>,
    default_policy: String,
}

/// A deployment named a default region that no policy file defines.
#[derive(Debug, thiserror::Error)]
#[error("default policy \"{0}\" is not known")]
pub struct UnknownPolicy(pub String);

impl Rules {
    /// The rules of `policies` and `calendar`, with `default_policy` for applications that name
    /// no region.
    pub fn new(
        policies: PolicyRegistry,
        calendar: WorkingCalendar,
        default_policy: &str,
    ) -> Result<Self, UnknownPolicy> {
        if policies.latest(default_policy).is_none() {
            return Err(UnknownPolicy(default_policy.to_owned()));
        }
        let regional = policies
            .all()
            .iter()
            .filter_map(|p| Some((p.reference(), p.regional_calendar(&calendar)?)))
            .collect();
        Ok(Self {
            policies,
            calendar,
            regional,
            default_policy: default_policy.to_owned(),
        })
    }

    /// The working-day calendar of applications under `policy`: the national one, with the
    /// region's own holidays where its policy lists them (Guangxi's 壮族三月三).
    pub fn calendar_of(&self, policy: &newborn_domain::policy::PolicyRef) -> &WorkingCalendar {
        self.regional.get(policy).unwrap_or(&self.calendar)
    }

    /// The known policies.
    pub fn policies(&self) -> &PolicyRegistry {
        &self.policies
    }

    /// The working-day calendar.
    pub fn calendar(&self) -> &WorkingCalendar {
        &self.calendar
    }

    /// The region of applications that name none.
    pub fn default_policy(&self) -> &str {
        &self.default_policy
    }
}

/// What every desk holds: the store, time, counters and the rules.
#[derive(Clone)]
pub struct Core {
    pub(crate) store: Arc<dyn ApplicationStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) metrics: Arc<dyn Metrics>,
    pub(crate) rules: Arc<Rules>,
    histories: Arc<crate::forecast::Histories>,
}

/// A change of one application: the domain's transitions and effects, and notifications beyond
/// those the transitions describe.
pub(crate) type Change = Option<(Applied, Vec<Notification>)>;

impl Core {
    /// The core over these adapters and rules.
    pub fn new(
        store: Arc<dyn ApplicationStore>,
        clock: Arc<dyn Clock>,
        metrics: Arc<dyn Metrics>,
        rules: Arc<Rules>,
    ) -> Self {
        Self {
            store,
            clock,
            metrics,
            rules,
            histories: Arc::default(),
        }
    }

    /// The predicted completion of `app` now (`None` once it has ended), from the agencies'
    /// recent history ([`crate::forecast`]).
    pub async fn forecast(&self, app: &Application) -> Option<Forecast> {
        let policy = self.policy_of(app).ok()?;
        let now = self.now();
        let history = self
            .histories
            .get(self.store.as_ref(), policy.forecast.window_days, now)
            .await;
        forecast(app, policy, &history, self.calendar_of(app), now)
    }

    /// What the applicant sees of `stored` now, its predicted completion included.
    pub async fn view(&self, stored: &Stored) -> ApplicationView {
        let forecast = self.forecast(&stored.application).await;
        ApplicationView::of(
            &stored.application,
            stored.version,
            self.calendar_of(&stored.application),
            self.now(),
        )
        .with_forecast(forecast)
    }

    /// The service's time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The rules.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The working-day calendar.
    pub fn calendar(&self) -> &WorkingCalendar {
        &self.rules.calendar
    }

    /// The working-day calendar `app`'s deadlines run on (its region's holidays included).
    pub fn calendar_of(&self, app: &Application) -> &WorkingCalendar {
        self.rules.calendar_of(&app.policy)
    }

    /// The working-day calendar of applications under `policy`.
    pub fn policy_calendar(&self, policy: &Policy) -> &WorkingCalendar {
        self.rules.calendar_of(&policy.reference())
    }

    /// The known policies.
    pub fn policies(&self) -> &PolicyRegistry {
        &self.rules.policies
    }

    pub(crate) fn count(&self, metric: Metric, dims: &[(Dim, &str)], value: f64) {
        self.metrics.count(metric, dims, value);
    }

    pub(crate) fn policy_of(&self, app: &Application) -> Result<&Policy, ServiceError> {
        self.rules
            .policies
            .get(&app.policy)
            .ok_or_else(|| ServiceError::Transient(format!("policy {} is not loaded", app.policy)))
    }

    /// Reads an application; `owner`, when given, must be its owner (another's is reported as
    /// absent).
    pub(crate) async fn load(
        &self,
        id: &ApplicationId,
        owner: Option<&str>,
    ) -> Result<Stored, ServiceError> {
        match self.store.get(id).await? {
            Some(s) if owner.is_none_or(|o| o == s.owner) => Ok(s),
            _ => Err(ServiceError::NotFound),
        }
    }

    /// Loads, changes and writes an application, retrying on version conflicts. `change`
    /// returns `None` when there is nothing (more) to do, which makes retries idempotent.
    pub(crate) async fn mutate<F>(
        &self,
        id: &ApplicationId,
        owner: Option<&str>,
        actor: &Actor,
        change: F,
    ) -> Result<Option<Stored>, ServiceError>
    where
        F: FnMut(&mut Application, &Policy, DateTime<Utc>) -> Result<Change, ServiceError>,
    {
        self.mutate_with(id, owner, actor, None, change).await
    }

    /// [`Core::mutate`] for a signed message (an agency's callback) with id `message`: refused
    /// as a replay if the application accepted it before; recorded in the change's own write.
    pub(crate) async fn mutate_signed<F>(
        &self,
        id: &ApplicationId,
        actor: &Actor,
        message: &str,
        change: F,
    ) -> Result<Option<Stored>, ServiceError>
    where
        F: FnMut(&mut Application, &Policy, DateTime<Utc>) -> Result<Change, ServiceError>,
    {
        self.mutate_with(id, None, actor, Some(message), change)
            .await
    }

    async fn mutate_with<F>(
        &self,
        id: &ApplicationId,
        owner: Option<&str>,
        actor: &Actor,
        message: Option<&str>,
        mut change: F,
    ) -> Result<Option<Stored>, ServiceError>
    where
        F: FnMut(&mut Application, &Policy, DateTime<Utc>) -> Result<Change, ServiceError>,
    {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let stored = self.load(id, owner).await?;
            if let Some(m) = message
                && stored.accepted.iter().any(|a| a == m)
            {
                return Err(ServiceError::conflict(
                    "replayed_message",
                    "该消息（webhook-id）已接收过，不会重复处理",
                    "this message (webhook-id) was received before and is not applied again",
                ));
            }
            let policy = self.policy_of(&stored.application)?;
            let mut app = stored.application.clone();
            let now = self.now();
            let Some((mut applied, mut extra)) = change(&mut app, policy, now)? else {
                // Nothing to change; a signed message is spent all the same, so the same
                // message again is refused as a replay, not acknowledged.
                let Some(m) = message else {
                    return Ok(None);
                };
                let mut write = self.write_for(
                    &stored.application,
                    &stored.owner,
                    actor,
                    &Applied::default(),
                    now,
                );
                write.accepted = Some(m.to_owned());
                match self.store.update(&write, stored.version).await {
                    Ok(()) => return Ok(None),
                    Err(StoreError::Conflict) => continue,
                    Err(e) => return Err(e.into()),
                }
            };
            // 好差评: what the change finished is open for rating from this write on.
            let invited = crate::evaluation::invite_finished(&mut app, policy, &applied, now);
            applied.transitions.extend(invited);
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
            // Each step's notice tells the family when the whole is expected to be done.
            if !write.notifications.is_empty()
                && let Some(f) = self.forecast(&app).await
            {
                for n in &mut write.notifications {
                    n.message = n.message.then(&f.message);
                }
            }
            write.notifications.extend(extra);
            write.deliveries = deliveries(&app, &stored.owner, &write.notifications, now);
            write.accepted = message.map(str::to_owned);
            match self.store.update(&write, stored.version).await {
                Ok(()) => {
                    self.count_transitions(&app, &applied, &write.facts);
                    let mut accepted = stored.accepted;
                    accepted.extend(write.accepted);
                    return Ok(Some(Stored {
                        application: app,
                        owner: stored.owner,
                        version: stored.version + 1,
                        accepted,
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
    fn count_transitions(&self, app: &Application, applied: &Applied, facts: &[Fact]) {
        for t in applied
            .transitions
            .iter()
            .filter(|t| t.event == TimelineEvent::RatingInvited)
        {
            let dims = [(Dim::Agency, t.stage.agency().as_str())];
            self.count(Metric::RatingInvited, &dims, 1.0);
        }
        // Ratings and follow-ups are recorded as entries without a status change: not stage events.
        for t in applied.transitions.iter().filter(|t| t.from != t.to) {
            let dims = [
                (Dim::Stage, t.stage.as_str()),
                (Dim::Agency, t.stage.agency().as_str()),
                (Dim::Region, app.policy.id.as_str()),
            ];
            match (t.to, t.event) {
                (StatusKind::AwaitingAgency, TimelineEvent::Stage(EventKind::Dispatch)) => {
                    self.count(Metric::StageStarted, &dims, 1.0)
                }
                (StatusKind::Completed, _) => {
                    self.count(Metric::StageCompleted, &dims, 1.0);
                    // How long the stage took: working time on its clock (what the deadline
                    // counts, 附件1 四(五)), as its fact says, and wall time from its first start.
                    let clocked = app.stage(t.stage).is_some_and(|s| s.clock.is_some());
                    let completed = facts.iter().filter(|_| clocked).find_map(|f| match f.kind {
                        FactKind::Completed {
                            working_secs,
                            on_time,
                            ..
                        } if f.agency == t.stage.agency() => Some((working_secs, on_time)),
                        _ => None,
                    });
                    if let Some((working_secs, on_time)) = completed {
                        if on_time {
                            self.count(Metric::StageCompletedOnTime, &dims, 1.0);
                        }
                        self.metrics.record(
                            Metric::StageWorkingTime,
                            &dims,
                            working_secs as f64,
                            Unit::Seconds,
                        );
                    }
                    if let Some(first) = app
                        .stage(t.stage)
                        .and_then(|s| s.clock.as_ref())
                        .and_then(|c| c.runs.first())
                    {
                        self.metrics.record(
                            Metric::StageWallTime,
                            &dims,
                            (t.at - first.from).num_milliseconds() as f64 / 1000.0,
                            Unit::Seconds,
                        );
                    }
                }
                (StatusKind::Terminated, _) => self.count(Metric::GoOffline, &dims, 1.0),
                (
                    StatusKind::AwaitingApplicant,
                    TimelineEvent::Stage(EventKind::RequestSupplement),
                ) => self.count(Metric::SupplementRequested, &dims, 1.0),
                _ => {}
            }
        }
    }

    /// Builds the atomic write for a change: timeline, outbox, clock index, notifications.
    pub(crate) fn write_for<'a>(
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
                // and the invitation to rate what it finished are the platform's acts; a
                // submission's first hand-off stays the submitter's.
                let routing = matches!(
                    t.event,
                    TimelineEvent::Stage(EventKind::Queue | EventKind::Skip)
                );
                let platform = t.event == TimelineEvent::RatingInvited;
                let actor = if platform || (routing && matches!(actor, Actor::Agency { .. })) {
                    Actor::Platform
                } else {
                    actor.clone()
                };
                TimelineEntry {
                    at: t.at,
                    stage: t.stage,
                    from: t.from,
                    to: t.to,
                    event: t.event,
                    actor,
                }
            })
            .collect();
        let outbox = applied
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::Enqueue { stage, round } => Some(StageMessage {
                    application_id: app.id.clone(),
                    stage: *stage,
                    round: *round,
                }),
                Effect::FlowEnded { .. } => None,
            })
            .collect();
        let clocks = app
            .watches()
            .filter_map(|watch| {
                let clock = app
                    .watched_clock(watch)
                    .filter(|c| c.state() == ClockState::Running)?;
                let r = clock.read(self.calendar_of(app), now);
                Some(OpenClock {
                    application_id: app.id.clone(),
                    watch,
                    warning_at: r.warning_at,
                    deadline: r.deadline,
                })
            })
            // The dispatches that have not reached their agency: the watchdog's.
            .chain(app.stages.iter().filter_map(|s| {
                let handed = s.undelivered_since?;
                let minutes = self.policy_of(app).ok()?.supervision.acknowledge_minutes;
                Some(OpenClock {
                    application_id: app.id.clone(),
                    watch: Watch::Delivery(s.stage),
                    warning_at: None,
                    deadline: Some(handed + chrono::TimeDelta::minutes(i64::from(minutes))),
                })
            }))
            // The open rating windows, so the monitor finds them when they close.
            .chain(app.open_invitations().map(|i| OpenClock {
                application_id: app.id.clone(),
                watch: Watch::RatingWindow(i.subject),
                warning_at: None,
                deadline: Some(i.closes_at),
            }))
            .collect();
        let follow_ups = app
            .follow_ups
            .iter()
            .filter(|f| f.closed.is_none())
            .map(|f| OpenFollowUp {
                application_id: app.id.clone(),
                follow_up: f.clone(),
            })
            .collect();
        let evaluations = crate::evaluation::tasks(app, applied);
        let facts = crate::report::facts(app, applied, self.calendar_of(app));
        Write {
            application: app,
            owner,
            timeline,
            outbox,
            evaluations,
            facts,
            clocks,
            follow_ups,
            notifications: self
                .policy_of(app)
                .map(|policy| notices::for_change(app, policy, applied, now))
                .unwrap_or_default(),
            deliveries: vec![],
            response: None,
            accepted: None,
        }
    }
}

/// The deliveries of a write's notifications.
pub(crate) fn deliveries(
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
            application_id: app.id.clone(),
            owner: owner.to_owned(),
            notification: notification.clone(),
        })
        .collect()
}

/// A timeline entry for something that happened to `stage` without changing its status (a
/// rating, a follow-up, a missing-licence registration).
pub(crate) fn marker(
    app: &Application,
    stage: Stage,
    event: TimelineEvent,
    at: DateTime<Utc>,
) -> Transition {
    let status = app
        .stage(stage)
        .map_or(StatusKind::Pending, |s| s.status.kind());
    Transition {
        stage,
        from: status,
        to: status,
        event,
        at,
    }
}

/// Only markers: a change of no status.
pub(crate) fn markers(transitions: Vec<Transition>) -> Applied {
    Applied {
        transitions,
        effects: vec![],
    }
}

pub(crate) fn merge(into: &mut Applied, more: Applied) {
    into.transitions.extend(more.transitions);
    into.effects.extend(more.effects);
}

/// The application an (authenticated) agency request names, and the agency as the actor.
pub(crate) fn agency_request(
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

/// The applicant as the actor of a change.
pub(crate) fn applicant(owner: &str) -> Actor {
    Actor::Applicant {
        subject: owner.to_owned(),
    }
}
