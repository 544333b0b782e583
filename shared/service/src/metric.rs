//! The metrics the desks record: names and dimensions as types, so a dashboard, an alarm and the
//! local operator page read the same names the code writes.

use serde::Serialize;

/// A metric (a CloudWatch metric name in the `Newborn` namespace; `newborn_<snake_case>` in the
/// local runtime's Prometheus text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Metric {
    /// An application was submitted (by region).
    ApplicationsSubmitted,
    /// A stage was dispatched to its agency.
    StageStarted,
    /// A stage finished.
    StageCompleted,
    /// A stage finished within its deadline.
    StageCompletedOnTime,
    /// Working time a finished stage's clock ran (seconds).
    StageWorkingTime,
    /// Wall time from a finished stage's first start (seconds).
    StageWallTime,
    /// A stage ended online handling (转线下办理).
    GoOffline,
    /// A stage asked the family for a supplement.
    SupplementRequested,
    /// A signed dispatch reached an agency.
    DispatchSent,
    /// An electronic licence was found and valid.
    LicenceVerified,
    /// An electronic licence was refused.
    LicenceRefused,
    /// A missing-licence registration was filed.
    LicenceRegistrationFiled,
    /// The directory decided a missing-licence registration.
    LicenceRegistrationDecided,
    /// The family accepted a proactive offer.
    OfferAccepted,
    /// Counterfoils handed over to the police.
    CounterfoilsHandedOver,
    /// A notification reached the family's app.
    NotificationDelivered,
    /// A stage was rated (by level).
    Rating,
    /// The family was invited to rate a step or the matter.
    RatingInvited,
    /// A rating reached the 好差评 platform.
    RatingForwarded,
    /// A rating window closed unrated.
    NotRated,
    /// A bad rating opened a follow-up.
    FollowUpOpened,
    /// An agency closed a follow-up.
    FollowUpClosed,
    /// A supervisor was told of an alert.
    EscalationSent,
    /// Telling a supervisor of an alert failed.
    EscalationFailed,
    /// A stage passed its deadline.
    SlaBreach,
    /// A stage reached its warning point.
    SlaWarning,
    /// A dispatch its agency did not acknowledge within the policy's minutes (the watchdog).
    DispatchUnacknowledged,
    /// Per agency, at each sweep: its open dispatches past their deadline.
    OpenBeyondSla,
    /// Per agency, at each sweep: how far past its deadline its most overdue open dispatch is,
    /// in seconds (0 when none is).
    MostOverdueSeconds,
    /// Drafts made from hospitals' birth records.
    DraftsCreated,
    /// Drafts the mother confirmed into applications.
    DraftsConfirmed,
    /// Drafts deleted unconfirmed at the end of their window.
    DraftsExpired,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 32] = [
        Metric::ApplicationsSubmitted,
        Metric::StageStarted,
        Metric::StageCompleted,
        Metric::StageCompletedOnTime,
        Metric::StageWorkingTime,
        Metric::StageWallTime,
        Metric::GoOffline,
        Metric::SupplementRequested,
        Metric::DispatchSent,
        Metric::LicenceVerified,
        Metric::LicenceRefused,
        Metric::LicenceRegistrationFiled,
        Metric::LicenceRegistrationDecided,
        Metric::OfferAccepted,
        Metric::CounterfoilsHandedOver,
        Metric::NotificationDelivered,
        Metric::Rating,
        Metric::RatingInvited,
        Metric::RatingForwarded,
        Metric::NotRated,
        Metric::FollowUpOpened,
        Metric::FollowUpClosed,
        Metric::EscalationSent,
        Metric::EscalationFailed,
        Metric::SlaBreach,
        Metric::SlaWarning,
        Metric::DispatchUnacknowledged,
        Metric::OpenBeyondSla,
        Metric::MostOverdueSeconds,
        Metric::DraftsCreated,
        Metric::DraftsConfirmed,
        Metric::DraftsExpired,
    ];

    /// The metric's name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::ApplicationsSubmitted => "ApplicationsSubmitted",
            Metric::StageStarted => "StageStarted",
            Metric::StageCompleted => "StageCompleted",
            Metric::StageCompletedOnTime => "StageCompletedOnTime",
            Metric::StageWorkingTime => "StageWorkingTime",
            Metric::StageWallTime => "StageWallTime",
            Metric::GoOffline => "GoOffline",
            Metric::SupplementRequested => "SupplementRequested",
            Metric::DispatchSent => "DispatchSent",
            Metric::LicenceVerified => "LicenceVerified",
            Metric::LicenceRefused => "LicenceRefused",
            Metric::LicenceRegistrationFiled => "LicenceRegistrationFiled",
            Metric::LicenceRegistrationDecided => "LicenceRegistrationDecided",
            Metric::OfferAccepted => "OfferAccepted",
            Metric::CounterfoilsHandedOver => "CounterfoilsHandedOver",
            Metric::NotificationDelivered => "NotificationDelivered",
            Metric::Rating => "Rating",
            Metric::RatingInvited => "RatingInvited",
            Metric::RatingForwarded => "RatingForwarded",
            Metric::NotRated => "NotRated",
            Metric::FollowUpOpened => "FollowUpOpened",
            Metric::FollowUpClosed => "FollowUpClosed",
            Metric::EscalationSent => "EscalationSent",
            Metric::EscalationFailed => "EscalationFailed",
            Metric::SlaBreach => "SlaBreach",
            Metric::SlaWarning => "SlaWarning",
            Metric::DispatchUnacknowledged => "DispatchUnacknowledged",
            Metric::OpenBeyondSla => "OpenBeyondSla",
            Metric::MostOverdueSeconds => "MostOverdueSeconds",
            Metric::DraftsCreated => "DraftsCreated",
            Metric::DraftsConfirmed => "DraftsConfirmed",
            Metric::DraftsExpired => "DraftsExpired",
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A metric's dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Dim {
    /// The stage (`Stage::as_str`); on SLA alerts, what the clock watches (`Watch::name`: a
    /// stage, `service:<service>` or `matter`).
    Stage,
    /// The agency that owns the stage (`Agency::as_str`).
    Agency,
    /// The region's policy id.
    Region,
    /// A licence's kind.
    Kind,
    /// A registration decision (`approved` / `rejected`).
    Outcome,
    /// A rating level.
    Level,
    /// A county's code.
    County,
}

impl Dim {
    /// The dimension's name.
    pub fn name(self) -> &'static str {
        match self {
            Dim::Stage => "Stage",
            Dim::Agency => "Agency",
            Dim::Region => "Region",
            Dim::Kind => "Kind",
            Dim::Outcome => "Outcome",
            Dim::Level => "Level",
            Dim::County => "County",
        }
    }
}
