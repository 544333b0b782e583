//! The result of a finished application as the family may show it to anyone (办件结果通知): which
//! items were done and when, with every number masked. The service signs it ([`ResultNotice`] is
//! what the signature covers) so a bank, a kindergarten or a counter can check it offline
//! against the platform's published key; nothing in it identifies the family beyond what the
//! masked numbers show.

use crate::flow::{Application, Outcome};
use crate::kinds::{CertificateVersion, Stage};
use crate::stage::{StageResult, StageStatus};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// One item of the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case", deny_unknown_fields)]
pub enum ResultItem {
    /// 出生医学证明 (with the vaccination certificate where issued).
    HealthCheck {
        /// When the hospital finished.
        done: Option<DateTime<Utc>>,
        /// The certificate's number, masked.
        certificate: String,
        /// 预防接种证 issued.
        vaccination: bool,
    },
    /// 户口登记.
    Police {
        /// When the police registered the newborn.
        done: Option<DateTime<Utc>>,
        /// The newborn's identity number, masked.
        id_number: String,
    },
    /// The hospital's release of the certificate.
    CertificateRelease {
        /// When.
        done: Option<DateTime<Utc>>,
        /// Which version.
        version: CertificateVersion,
    },
    /// 医保参保登记 and 生育保险待遇核准.
    Insurance {
        /// When.
        done: Option<DateTime<Utc>>,
        /// Enrolled.
        enrolled: bool,
        /// The maternity benefit approved, refused or not applied for.
        maternity_benefit: Option<bool>,
    },
    /// 社会保障卡.
    SocialSecurityCard {
        /// When.
        done: Option<DateTime<Utc>>,
        /// Collectable from.
        ready_on: NaiveDate,
    },
}

impl ResultItem {
    /// The stage the item is the result of.
    pub fn stage(&self) -> Stage {
        match self {
            Self::HealthCheck { .. } => Stage::HealthCheck,
            Self::Police { .. } => Stage::Police,
            Self::CertificateRelease { .. } => Stage::CertificateRelease,
            Self::Insurance { .. } => Stage::Insurance,
            Self::SocialSecurityCard { .. } => Stage::SocialSecurityCard,
        }
    }
}

/// The result of a finished application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultNotice {
    /// The application.
    pub application: String,
    /// The policy it ran under (`fujian-2.0@2024-…`).
    pub policy: String,
    /// How it ended.
    pub outcome: Outcome,
    /// When the last stage ended.
    pub ended_at: DateTime<Utc>,
    /// The newborn's name, masked (`张*`).
    pub newborn: String,
    /// What was done, in route order.
    pub items: Vec<ResultItem>,
}

impl ResultNotice {
    /// The result of `app`: `None` while it runs or when no agency finished anything.
    pub fn of(app: &Application) -> Option<Self> {
        if app.outcome() == Outcome::InProgress {
            return None;
        }
        let ended = |stage: Stage| {
            app.stage(stage)
                .and_then(|s| s.clock.as_ref())
                .and_then(|c| c.runs.last())
                .and_then(|r| r.to)
        };
        let items: Vec<ResultItem> = app
            .stages
            .iter()
            .filter_map(|s| match &s.status {
                StageStatus::Completed { result } => Some((s.stage, result)),
                _ => None,
            })
            .filter_map(|(stage, result)| {
                let done = ended(stage);
                Some(match result {
                    StageResult::PreReview { .. } => return None,
                    StageResult::HealthCheck {
                        birth_certificate_number,
                        vaccination_certificate_issued,
                        ..
                    } => ResultItem::HealthCheck {
                        done,
                        certificate: birth_certificate_number.masked(),
                        vaccination: *vaccination_certificate_issued,
                    },
                    StageResult::Police { newborn_id_number } => ResultItem::Police {
                        done,
                        id_number: newborn_id_number.masked(),
                    },
                    StageResult::CertificateRelease { version } => ResultItem::CertificateRelease {
                        done,
                        version: *version,
                    },
                    StageResult::Insurance {
                        enrolled,
                        maternity_benefit_approved,
                    } => ResultItem::Insurance {
                        done,
                        enrolled: *enrolled,
                        maternity_benefit: *maternity_benefit_approved,
                    },
                    StageResult::SocialSecurityCard { ready_on, .. } => {
                        ResultItem::SocialSecurityCard {
                            done,
                            ready_on: *ready_on,
                        }
                    }
                })
            })
            .collect();
        if items.is_empty() {
            return None;
        }
        let ended_at = app
            .stages
            .iter()
            .filter_map(|s| ended(s.stage))
            .max()
            .unwrap_or(app.submitted_at);
        Some(Self {
            application: app.id.as_str().to_owned(),
            policy: app.policy.to_string(),
            outcome: app.outcome(),
            ended_at,
            newborn: app.form.newborn.name.masked(),
            items,
        })
    }
}
