//! Looking electronic licences up in the province's directory (电子证照共享平台) and judging each
//! against the form, as pre-review and a supplement answer both do.

use crate::error::ServiceError;
use crate::metric::{Dim, Metric};
use crate::ports::{Clock, LicenceDirectory, Metrics};
use newborn_domain::application::ApplicationForm;
use newborn_domain::calendar::CHINA;
use newborn_domain::licence::{LicenceCheck, LicenceRef, judge};
use newborn_domain::policy::Policy;
use std::sync::Arc;

/// The licence directory, as the desks that look licences up hold it.
#[derive(Clone)]
pub struct Licences {
    pub(crate) directory: Arc<dyn LicenceDirectory>,
    clock: Arc<dyn Clock>,
    metrics: Arc<dyn Metrics>,
}

impl Licences {
    /// Look-ups in `directory`, judged at `clock`'s time, counted in `metrics`.
    pub fn new(
        directory: Arc<dyn LicenceDirectory>,
        clock: Arc<dyn Clock>,
        metrics: Arc<dyn Metrics>,
    ) -> Self {
        Self {
            directory,
            clock,
            metrics,
        }
    }

    /// Looks each of `references` up and judges it against `form` today.
    #[tracing::instrument(skip_all, fields(count = references.len()))]
    pub(crate) async fn check(
        &self,
        references: &[LicenceRef],
        form: &ApplicationForm,
        policy: &Policy,
    ) -> Result<Vec<LicenceCheck>, ServiceError> {
        let now = self.clock.now();
        let today = now.with_timezone(&CHINA).date_naive();
        let mut checks = vec![];
        for reference in references {
            let record = self
                .directory
                .lookup(reference)
                .await
                .map_err(|e| ServiceError::Transient(e.to_string()))?;
            let judged = judge(reference, record.as_ref(), form, policy, today);
            let metric = if judged.is_ok() {
                Metric::LicenceVerified
            } else {
                Metric::LicenceRefused
            };
            self.metrics
                .count(metric, &[(Dim::Kind, reference.kind.as_str())], 1.0);
            checks.push(LicenceCheck {
                reference: reference.clone(),
                checked_at: now,
                problem: judged.err(),
                valid_until: record.as_ref().and_then(|r| r.valid_until),
                authorised_at: judged.ok().flatten(),
            });
        }
        Ok(checks)
    }
}
