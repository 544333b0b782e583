//! What a use case can fail with, split by what the caller must do.

use newborn_domain::application::FieldIssue;
use newborn_domain::flow::FlowError;
use newborn_domain::text::Invalid;

/// A use case's failure.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input is wrong; the caller must change it (HTTP 400/422).
    #[error("bad input: {}", .0.first().map(|i| format!("{}: {}", i.field, i.error)).unwrap_or_default())]
    BadInput(Vec<FieldIssue>),
    /// No such application for this caller (HTTP 404). Another owner's application is reported
    /// the same way, so its existence is not revealed.
    #[error("not found")]
    NotFound,
    /// The request does not fit the application's current state (HTTP 409).
    #[error("conflict: {0}")]
    Conflict(Invalid),
    /// The caller may not do this (HTTP 403).
    #[error("forbidden: {0}")]
    Forbidden(Invalid),
    /// The upload is larger than allowed (HTTP 413).
    #[error("too large: {0}")]
    TooLarge(Invalid),
    /// The caller has used up an allowance, e.g. its uploads of the day (HTTP 429).
    #[error("too many: {0}")]
    TooMany(Invalid),
    /// The upload is not of an accepted or declared type (HTTP 415).
    #[error("unsupported media: {0}")]
    UnsupportedMedia(Invalid),
    /// A dependency failed; retrying later may succeed (HTTP 503 / message redelivery).
    #[error("temporarily unavailable: {0}")]
    Transient(String),
}

impl ServiceError {
    /// One bad field.
    pub fn bad(field: &str, error: Invalid) -> Self {
        ServiceError::BadInput(vec![FieldIssue {
            field: field.to_owned(),
            error,
        }])
    }

    /// A state conflict with a bilingual explanation.
    pub fn conflict(code: &str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        ServiceError::Conflict(Invalid::new(code, zh, en))
    }
}

impl From<FlowError> for ServiceError {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::InvalidForm(issues) | FlowError::ImplausibleResult(issues) => {
                ServiceError::BadInput(issues)
            }
            FlowError::Licence(invalid) | FlowError::NotAllowed(invalid) => {
                ServiceError::Conflict(invalid)
            }
            FlowError::NoOffer(stage) => ServiceError::Conflict(Invalid::new(
                "no_offer",
                format!("“{}”没有待接受的办理邀请", stage.label().zh),
                format!("there is no open offer of the {} stage", stage.label().en),
            )),
            FlowError::NoOwnClock(service) => ServiceError::bad(
                "outcome.service",
                Invalid::new(
                    "no_own_deadline",
                    format!(
                        "“{}”在本办件中没有单独的办理时限，无需单独报告",
                        service.label().zh
                    ),
                    format!(
                        "{} has no deadline of its own in this application; report it with the stage",
                        service.label().en
                    ),
                ),
            ),
            other => ServiceError::Conflict(Invalid::new(
                "transition_not_allowed",
                format!("当前办件状态下不能进行此操作（{other}）"),
                format!("not possible in the application's current state: {other}"),
            )),
        }
    }
}

impl From<crate::ports::StoreError> for ServiceError {
    fn from(e: crate::ports::StoreError) -> Self {
        ServiceError::Transient(e.to_string())
    }
}
