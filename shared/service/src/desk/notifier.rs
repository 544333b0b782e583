//! The notifier desk: one notification delivery to the family's app at a time (the `notifier`
//! function, the local notification worker). It holds only the notification gateway and the
//! counters: the notification and its recipient travel in the message, written with the change
//! that caused it.

use crate::error::ServiceError;
use crate::metric::{Dim, Metric};
use crate::ports::{Delivery, Metrics, Notifier};
use std::sync::Arc;

/// Delivers notifications.
#[derive(Clone)]
pub struct NotifierDesk {
    notifier: Arc<dyn Notifier>,
    metrics: Arc<dyn Metrics>,
}

impl NotifierDesk {
    /// The desk over the gateway and the counters.
    pub fn new(notifier: Arc<dyn Notifier>, metrics: Arc<dyn Metrics>) -> Self {
        Self { notifier, metrics }
    }

    /// Delivers one notification to the applicant's app.
    #[tracing::instrument(skip_all, fields(application = %delivery.application_id, kind = %delivery.notification.kind))]
    pub async fn deliver(&self, delivery: &Delivery) -> Result<(), ServiceError> {
        self.notifier
            .deliver(delivery)
            .await
            .map_err(|e| ServiceError::Transient(e.to_string()))?;
        self.metrics.count(
            Metric::NotificationDelivered,
            &[(Dim::Kind, delivery.notification.kind.as_str())],
            1.0,
        );
        Ok(())
    }
}
