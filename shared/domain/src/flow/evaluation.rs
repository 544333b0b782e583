//! 好差评 after the work: the family is invited to rate each finished step (一次一评, 分环节评价,
//! 闽卫政法〔2024〕40号 附件4 七) and, where the policy says so, the whole matter once it ends
//! (一事一评, 永福县 附件2 八(一)). An invitation stays open for the policy's window; a window
//! that closes unrated is recorded as not rated, and no rating is assumed.

use super::{Application, FlowError, Outcome, Rating, RatingLevel};
use crate::application::Text;
use crate::kinds::{RatingSubject, Stage};
use crate::policy::Policy;
use crate::stage::{Party, StageStatus};
use crate::text::Invalid;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// An invitation to rate one subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// What is to be rated.
    pub subject: RatingSubject,
    /// When the family was invited.
    pub at: DateTime<Utc>,
    /// When the window closes.
    pub closes_at: DateTime<Utc>,
    /// How it ended, once it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<InvitationEnd>,
}

/// How an invitation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum InvitationEnd {
    /// The family rated.
    Rated {
        /// When.
        at: DateTime<Utc>,
    },
    /// The window closed unrated.
    NotRated {
        /// When it was recorded.
        at: DateTime<Utc>,
    },
}

/// The rating of the whole matter (一事一评).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatterRating {
    /// The level.
    pub level: RatingLevel,
    /// The applicant's words.
    pub comment: Option<Text>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A rating as the 好差评 platform receives it: one subject's level, whoever it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rated<'a> {
    /// What was rated.
    pub subject: RatingSubject,
    /// The level.
    pub level: RatingLevel,
    /// The applicant's words.
    pub comment: Option<&'a Text>,
    /// When.
    pub at: DateTime<Utc>,
}

fn closed(subject: RatingSubject) -> FlowError {
    FlowError::NotAllowed(Invalid::new(
        "rating_window_closed",
        format!("“{}”的评价期限已过，已记为未评价", subject.label().zh),
        format!(
            "the window to rate {} has closed and it was recorded as not rated",
            subject.label().en
        ),
    ))
}

impl Application {
    /// Whether `subject` is finished, so it can be rated: a step its agency completed or ended,
    /// or a matter whose flow ended other than by withdrawal.
    pub fn ratable(&self, subject: RatingSubject) -> bool {
        match subject {
            RatingSubject::Step(Stage::PreReview) => false,
            RatingSubject::Step(stage) => self.stage(stage).is_some_and(|s| {
                matches!(
                    s.status,
                    StageStatus::Completed { .. }
                        | StageStatus::Terminated {
                            by: Party::Agency,
                            ..
                        }
                )
            }),
            RatingSubject::Matter => {
                !matches!(self.outcome(), Outcome::InProgress | Outcome::Withdrawn)
            }
        }
    }

    /// Whether `policy` invites ratings of `subject` at all.
    pub fn offers_rating(policy: &Policy, subject: RatingSubject) -> bool {
        match subject {
            RatingSubject::Step(_) => policy.evaluation.steps,
            RatingSubject::Matter => policy.evaluation.matter,
        }
    }

    /// The rating of `subject`, if given.
    pub fn rating_of(&self, subject: RatingSubject) -> Option<Rated<'_>> {
        match subject {
            RatingSubject::Step(stage) => {
                self.ratings
                    .iter()
                    .find(|r| r.stage == stage)
                    .map(|r| Rated {
                        subject,
                        level: r.level,
                        comment: r.comment.as_ref(),
                        at: r.at,
                    })
            }
            RatingSubject::Matter => self.matter_rating.as_ref().map(|r| Rated {
                subject,
                level: r.level,
                comment: r.comment.as_ref(),
                at: r.at,
            }),
        }
    }

    /// The invitation to rate `subject`, if one was sent.
    pub fn invitation(&self, subject: RatingSubject) -> Option<&Invitation> {
        self.invitations.iter().find(|i| i.subject == subject)
    }

    /// Invites the family to rate `subject` for the policy's window; `None` when the policy
    /// invites no such rating, the subject is not finished, or it was invited or rated before.
    pub fn invite(
        &mut self,
        subject: RatingSubject,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Option<Invitation> {
        if !Self::offers_rating(policy, subject)
            || !self.ratable(subject)
            || self.invitation(subject).is_some()
            || self.rating_of(subject).is_some()
        {
            return None;
        }
        let invitation = Invitation {
            subject,
            at: now,
            closes_at: now + TimeDelta::days(i64::from(policy.evaluation.window_days)),
            ended: None,
        };
        self.invitations.push(invitation.clone());
        Some(invitation)
    }

    /// Records `subject` as not rated when its window has closed unrated; `false` when there
    /// is nothing to close (rated, closed before, or still open).
    pub fn close_unrated(&mut self, subject: RatingSubject, now: DateTime<Utc>) -> bool {
        match self.invitations.iter_mut().find(|i| i.subject == subject) {
            Some(i) if i.ended.is_none() && i.closes_at <= now => {
                i.ended = Some(InvitationEnd::NotRated { at: now });
                true
            }
            _ => false,
        }
    }

    /// The invitations still open.
    pub fn open_invitations(&self) -> impl Iterator<Item = &Invitation> {
        self.invitations.iter().filter(|i| i.ended.is_none())
    }

    /// Checks that `subject` may be rated now, and ends its invitation as rated.
    fn take_rating(&mut self, subject: RatingSubject, now: DateTime<Utc>) -> Result<(), FlowError> {
        if let Some(i) = self.invitations.iter_mut().find(|i| i.subject == subject) {
            match i.ended {
                Some(InvitationEnd::NotRated { .. }) => return Err(closed(subject)),
                None if i.closes_at <= now => return Err(closed(subject)),
                _ => i.ended = Some(InvitationEnd::Rated { at: now }),
            }
        }
        Ok(())
    }

    /// Rates a stage its agency finished (completed, or ended by the agency), once, while its
    /// invitation (if any) is open.
    pub fn rate(
        &mut self,
        stage: Stage,
        level: RatingLevel,
        comment: Option<Text>,
        now: DateTime<Utc>,
    ) -> Result<Rating, FlowError> {
        self.stage(stage).ok_or(FlowError::NotOnRoute(stage))?;
        if !self.ratable(RatingSubject::Step(stage)) {
            return Err(FlowError::NotRatable(stage));
        }
        if self.ratings.iter().any(|r| r.stage == stage) {
            return Err(FlowError::AlreadyRated(stage));
        }
        self.take_rating(RatingSubject::Step(stage), now)?;
        let rating = Rating {
            stage,
            level,
            comment,
            at: now,
        };
        self.ratings.push(rating.clone());
        Ok(rating)
    }

    /// Rates the whole matter once it ended, once, where the policy invites it (一事一评).
    pub fn rate_matter(
        &mut self,
        level: RatingLevel,
        comment: Option<Text>,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<MatterRating, FlowError> {
        if !policy.evaluation.matter {
            return Err(FlowError::NotAllowed(Invalid::new(
                "matter_rating_not_offered",
                "本地区不对整件事项单独评价，请对各办理环节分别评价",
                "this region rates each step, not the whole matter",
            )));
        }
        if !self.ratable(RatingSubject::Matter) {
            return Err(FlowError::NotAllowed(Invalid::new(
                "matter_not_finished",
                "事项办结后才能对整件事项评价",
                "the whole matter can be rated once it has ended",
            )));
        }
        if self.matter_rating.is_some() {
            return Err(FlowError::NotAllowed(Invalid::new(
                "already_rated",
                "整件事项已评价过",
                "the whole matter was rated already",
            )));
        }
        self.take_rating(RatingSubject::Matter, now)?;
        let rating = MatterRating {
            level,
            comment,
            at: now,
        };
        self.matter_rating = Some(rating.clone());
        Ok(rating)
    }
}
