//! The desks: one use-case type per actor, each holding only the ports it uses, all over the
//! one unit of work of [`crate::core`]. A function builds exactly the desks it serves, so a
//! capability it lacks is a compile error, not a run-time one.
//!
//! | desk | called by | holds |
//! |---|---|---|
//! | [`ApplicantDesk`] | the API (`api` function, local server) | store, upload register, licence directory |
//! | [`UploadDesk`] | the API | upload register, scan store |
//! | [`AgencyDesk`] | signed agency requests (`callbacks` function) | store |
//! | [`StageDesk`] | the stage queues (five stage functions) | store, agencies' dispatcher, licence directory, counterfoil register |
//! | [`SupervisionDesk`] | staff and supervisors' routes (`api`) | store, counterfoil register |
//! | [`MonitorDesk`] | the schedule (`sla-monitor`) | store, supervisors' dispatcher |
//! | [`NotifierDesk`] | the notification queue (`notifier`) | notification gateway |
//! | [`EvaluationDesk`] | the evaluation queue (`evaluation`) | store, 好差评 platform |

mod agency;
mod applicant;
mod evaluation;
mod monitor;
mod notifier;
mod stage;
mod supervision;
mod uploads;

pub use agency::{
    AgencyDesk, BirthAck, Callback, CallbackAck, CallbackOutcome, FollowUpReport,
    RegistrationDecision,
};
pub use applicant::{ApplicantDesk, DraftView, SignedResult};
pub use evaluation::EvaluationDesk;
pub use monitor::{MonitorDesk, SweepReport};
pub use notifier::NotifierDesk;
pub use stage::StageDesk;
pub use supervision::SupervisionDesk;
pub use uploads::{MAX_UPLOAD, UPLOAD_TYPES, UploadDesk};
