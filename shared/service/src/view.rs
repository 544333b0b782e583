//! What an applicant (or an operator) sees of an application: each stage with its status
//! (未办结 / 已办结), its clock reading and deadline.

use chrono::{DateTime, Utc};
use newborn_domain::application::DocumentKind;
use newborn_domain::calendar::WorkingCalendar;
use newborn_domain::flow::{Application, Outcome, Rating};
use newborn_domain::forecast::Forecast;
use newborn_domain::kinds::Service;
use newborn_domain::licence::{
    LicenceProblem, LicenceRegistration, RegistrationReason, RegistrationStatus,
};
use newborn_domain::offer::Offer;
use newborn_domain::sla::ClockReading;
use newborn_domain::stage::{Stage, StageStatus};
use newborn_domain::text::Bilingual;
use serde::Serialize;

/// One stage as shown.
#[derive(Debug, Clone, Serialize)]
pub struct StageView {
    /// The stage.
    pub stage: Stage,
    /// Its name.
    pub name: Bilingual,
    /// 已办结 (finished one way or another) or 未办结.
    pub finished: bool,
    /// The status with its details (wait reason, result, go-offline reason).
    pub status: StageStatus,
    /// The SLA clock, once started.
    pub clock: Option<ClockReading>,
    /// The services inside the stage with a promised time of their own, and their clocks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartView>,
}

/// A service's own clock inside its stage, as shown.
#[derive(Debug, Clone, Serialize)]
pub struct PartView {
    /// The service.
    pub service: Service,
    /// Its name.
    pub name: Bilingual,
    /// Its clock: stopped once the agency reported it done.
    pub clock: ClockReading,
}

/// Where a material came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MaterialSource {
    /// An electronic licence (电子证照) from the province's directory.
    Licence,
    /// An uploaded scan or photo.
    Scan,
}

/// One material of the application and where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct MaterialView {
    /// Which material.
    pub kind: DocumentKind,
    /// Its name.
    pub name: Bilingual,
    /// Licence or scan.
    pub source: MaterialSource,
    /// A scan's SHA-256.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// A licence's number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub licence_number: Option<String>,
    /// A licence's issuing authority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// A licence: `true` once the directory verified it, `false` if refused; absent until checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// A refused licence: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<LicenceProblem>,
}

/// A missing-licence registration as shown, with its review clock.
#[derive(Debug, Clone, Serialize)]
pub struct RegistrationView {
    /// Its number.
    pub number: u32,
    /// The materials registered.
    pub kinds: Vec<DocumentKind>,
    /// Missing or wrong.
    pub reason: RegistrationReason,
    /// When filed.
    pub filed_at: DateTime<Utc>,
    /// Under review, approved or rejected.
    #[serde(flatten)]
    pub status: RegistrationStatus,
    /// The review clock.
    pub clock: ClockReading,
}

/// An application as shown.
#[derive(Debug, Clone, Serialize)]
pub struct ApplicationView {
    /// Its id.
    pub id: String,
    /// The policy version it runs under.
    pub policy: String,
    /// Overall.
    pub outcome: Outcome,
    /// When submitted.
    pub submitted_at: DateTime<Utc>,
    /// Optimistic-lock version (also the ETag).
    pub version: u64,
    /// The stages in flow order.
    pub stages: Vec<StageView>,
    /// Ratings given.
    pub ratings: Vec<Rating>,
    /// The whole matter's rating (一事一评), where given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matter_rating: Option<newborn_domain::flow::MatterRating>,
    /// Invitations to rate (好差评): what, until when, and how each ended.
    pub invitations: Vec<newborn_domain::flow::Invitation>,
    /// Follow-ups of bad ratings (整改) and whether each is closed.
    pub follow_ups: Vec<newborn_domain::flow::FollowUp>,
    /// Every material and whether it came from a licence or an upload.
    pub materials: Vec<MaterialView>,
    /// Missing-licence registrations.
    pub registrations: Vec<RegistrationView>,
    /// Follow-up services offered after the flow ended without them.
    pub offers: Vec<Offer>,
    /// The whole matter's clock where the policy promises a time for it (永福县 附件2 六(一)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matter_clock: Option<ClockReading>,
    /// When the parent registered parenting guidance by opening the knowledge base, where she
    /// registers it herself (闽卫政法〔2024〕40号 附件1 三(一)2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parenting_guidance_read_at: Option<DateTime<Utc>>,
    /// While it runs: when it is expected to be done (p50 and p90, per stage and whole), and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast: Option<Forecast>,
}

impl ApplicationView {
    /// The view with its predicted completion.
    pub fn with_forecast(mut self, forecast: Option<Forecast>) -> Self {
        self.forecast = forecast;
        self
    }

    /// The view of `app` at `now`.
    pub fn of(
        app: &Application,
        version: u64,
        calendar: &WorkingCalendar,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: app.id.as_str().to_owned(),
            policy: app.policy.to_string(),
            outcome: app.outcome(),
            submitted_at: app.submitted_at,
            version,
            stages: app
                .stages
                .iter()
                .map(|s| StageView {
                    stage: s.stage,
                    name: s.stage.label(),
                    finished: s.status.is_final(),
                    status: s.status.clone(),
                    clock: s.clock.as_ref().map(|c| c.read(calendar, now)),
                    parts: s
                        .parts
                        .iter()
                        .map(|p| PartView {
                            service: p.service,
                            name: p.service.label(),
                            clock: p.clock.read(calendar, now),
                        })
                        .collect(),
                })
                .collect(),
            ratings: app.ratings.clone(),
            matter_rating: app.matter_rating.clone(),
            invitations: app.invitations.clone(),
            follow_ups: app.follow_ups.clone(),
            materials: materials(app),
            registrations: app
                .registrations
                .iter()
                .map(|r| registration(r, calendar, now))
                .collect(),
            offers: app.offers.clone(),
            matter_clock: app.matter_clock.as_ref().map(|c| c.read(calendar, now)),
            parenting_guidance_read_at: app.parenting_guidance_read_at,
            forecast: None,
        }
    }
}

fn materials(app: &Application) -> Vec<MaterialView> {
    let scans = app.form.documents.iter().map(|d| MaterialView {
        kind: d.kind,
        name: d.kind.label(),
        source: MaterialSource::Scan,
        sha256: Some(d.sha256.as_str().to_owned()),
        licence_number: None,
        issuer: None,
        verified: None,
        problem: None,
    });
    let licences = app.form.licences.iter().map(|l| {
        let check = app.check_of(l);
        MaterialView {
            kind: l.kind,
            name: l.kind.label(),
            source: MaterialSource::Licence,
            sha256: None,
            licence_number: Some(l.number.as_str().to_owned()),
            issuer: Some(l.issuer.as_str().to_owned()),
            verified: check.map(|c| c.verified()),
            problem: check.and_then(|c| c.problem),
        }
    });
    licences.chain(scans).collect()
}

fn registration(
    r: &LicenceRegistration,
    calendar: &WorkingCalendar,
    now: DateTime<Utc>,
) -> RegistrationView {
    RegistrationView {
        number: r.number,
        kinds: r.kinds.clone(),
        reason: r.reason,
        filed_at: r.filed_at,
        status: r.status.clone(),
        clock: r.clock.read(calendar, now),
    }
}
