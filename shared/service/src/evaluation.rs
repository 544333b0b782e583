//! 好差评 around a change: the steps its agency just finished, and the matter when the flow
//! ended, are opened for rating in the same write (一次一评, 一事一评), their invitation told in
//! the change's own notice; and every rating given is queued for the evaluation stage, which
//! forwards it to the 好差评 platform.

use crate::core::marker;
use crate::ports::EvaluationTask;
use chrono::{DateTime, Utc};
use newborn_domain::flow::{Application, Applied, Effect, Outcome, TimelineEvent, Transition};
use newborn_domain::kinds::RatingSubject;
use newborn_domain::policy::Policy;
use newborn_domain::stage::Stage;

/// The stage a subject's timeline entries are recorded on: the step's own, or pre-review (the
/// platform's stage) for the whole matter.
pub(crate) fn entry_stage(subject: RatingSubject) -> Stage {
    match subject {
        RatingSubject::Step(stage) => stage,
        RatingSubject::Matter => Stage::PreReview,
    }
}

/// Invites the family to rate what `applied` finished: each step its agency just completed or
/// ended, and the matter when the flow ended other than by withdrawal. Returns the timeline
/// entries of the invitations made.
pub(crate) fn invite_finished(
    app: &mut Application,
    policy: &Policy,
    applied: &Applied,
    now: DateTime<Utc>,
) -> Vec<Transition> {
    let steps = applied
        .transitions
        .iter()
        .filter(|t| t.from != t.to && matches!(t.event, TimelineEvent::Stage(_)))
        .map(|t| RatingSubject::Step(t.stage));
    let ended = applied
        .effects
        .iter()
        .any(|e| matches!(e, Effect::FlowEnded { outcome } if *outcome != Outcome::Withdrawn));
    let subjects: Vec<RatingSubject> = steps
        .chain(ended.then_some(RatingSubject::Matter))
        .collect();
    let mut entries = vec![];
    for subject in subjects {
        if app.invite(subject, policy, now).is_some() {
            entries.push(marker(
                app,
                entry_stage(subject),
                TimelineEvent::RatingInvited,
                now,
            ));
        }
    }
    entries
}

/// The evaluation tasks of `applied`: a forward for every rating it records.
pub(crate) fn tasks(app: &Application, applied: &Applied) -> Vec<EvaluationTask> {
    applied
        .transitions
        .iter()
        .filter_map(|t| {
            let subject = match t.event {
                TimelineEvent::Rated(_) => RatingSubject::Step(t.stage),
                TimelineEvent::MatterRated(_) => RatingSubject::Matter,
                _ => return None,
            };
            Some(EvaluationTask::Forward {
                application_id: app.id.clone(),
                subject,
            })
        })
        .collect()
}
