//! Outbound webhooks, signed with the platform's key: dispatches to each agency system's
//! endpoint, SLA escalations to the agencies' supervisors, notifications to the applicant
//! gateway. Each is a Standard Webhooks message whose `webhook-id` is its idempotency key: the
//! receiver de-duplicates by it.

use crate::outbound::{TrustedRoots, chain};
use async_trait::async_trait;
use newborn_domain::stage::Agency;
use newborn_service::ports::{
    AgencyDispatcher, Clock, Delivery, DeliveryError, Dispatch, DispatchError, Notifier,
    RatingPlatform, RatingRecord,
};
use newborn_service::signing::SigningKey;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How long one outbound call may take, connection and TLS handshake included.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Signed JSON POSTs with an idempotency key.
#[derive(Clone)]
pub(crate) struct SignedPoster {
    client: reqwest::Client,
    key: SigningKey,
    clock: Arc<dyn Clock>,
}

impl SignedPoster {
    /// Signature timestamps use the wall clock `clock` (not a sped-up service clock): receivers
    /// check them against theirs.
    pub(crate) fn new(key: SigningKey, clock: Arc<dyn Clock>) -> Result<Self, String> {
        let client = TrustedRoots::system().client(TIMEOUT)?;
        Ok(Self { client, key, clock })
    }

    /// The same poster trusting `roots` as well as the system's.
    pub(crate) fn trusting(self, roots: &TrustedRoots) -> Result<Self, String> {
        Ok(Self {
            client: roots.client(TIMEOUT)?,
            ..self
        })
    }

    async fn post(
        &self,
        url: &str,
        idempotency_key: &str,
        body: &serde_json::Value,
    ) -> Result<(), String> {
        let res = self.send(url, idempotency_key, body).await?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", res.status()))
        }
    }

    /// Posts `body` signed as message `id`, returning the response whatever its status.
    pub(crate) async fn send(
        &self,
        url: &str,
        id: &str,
        body: &serde_json::Value,
    ) -> Result<reqwest::Response, String> {
        let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
        let mut req = self
            .client
            .post(url)
            .header("content-type", "application/json");
        for (name, value) in self.key.headers(id, self.clock.now(), &body) {
            req = req.header(name, value);
        }
        req.body(body).send().await.map_err(|e| chain(&e))
    }
}

/// Posts dispatches to configured agency endpoints, signed with the platform's key.
pub struct HttpDispatcher {
    endpoints: HashMap<Agency, String>,
    poster: SignedPoster,
}

impl HttpDispatcher {
    /// A dispatcher posting to `endpoints`, signing with `key` at the wall clock `clock`.
    pub fn new(
        endpoints: HashMap<Agency, String>,
        key: SigningKey,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        Ok(Self {
            endpoints,
            poster: SignedPoster::new(key, clock)?,
        })
    }

    /// A dispatcher posting to one gateway: each agency at `<base>/dispatch/<segment>`.
    pub fn to_gateway(base: &str, key: SigningKey, clock: Arc<dyn Clock>) -> Result<Self, String> {
        Self::under(base, "dispatch", key, clock)
    }

    /// A dispatcher posting SLA escalations to the agencies' supervisors, the licence
    /// directory's (registration reviews) and the platform's (the whole matter's clock, 永福县
    /// 附件2 六(一)): each at `<base>/supervision/<segment>`.
    pub fn to_supervisors(
        base: &str,
        key: SigningKey,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let mut d = Self::under(base, "supervision", key, clock)?;
        let base = base.trim_end_matches('/');
        for supervised in [Agency::LicenceDirectory, Agency::Platform] {
            d.endpoints.insert(
                supervised,
                format!("{base}/supervision/{}", supervised.dispatch_path()),
            );
        }
        Ok(d)
    }

    fn under(
        base: &str,
        section: &str,
        key: SigningKey,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let base = base.trim_end_matches('/');
        let endpoints = Agency::DISPATCHED
            .into_iter()
            .map(|a| (a, format!("{base}/{section}/{}", a.dispatch_path())))
            .collect();
        Self::new(endpoints, key, clock)
    }

    /// The same dispatcher trusting `roots` as well as the system's.
    pub fn trusting(self, roots: &TrustedRoots) -> Result<Self, String> {
        Ok(Self {
            poster: self.poster.trusting(roots)?,
            ..self
        })
    }
}

#[async_trait]
impl AgencyDispatcher for HttpDispatcher {
    async fn dispatch(&self, agency: Agency, d: &Dispatch) -> Result<(), DispatchError> {
        let fail = |reason: String| DispatchError { agency, reason };
        let url = self
            .endpoints
            .get(&agency)
            .ok_or_else(|| fail("no endpoint configured".into()))?;
        self.poster
            .post(url, &d.idempotency_key, &d.body)
            .await
            .map_err(fail)
    }
}

/// Posts notifications to the applicant gateway (the app's push / SMS service), signed with the
/// platform's key; the delivery id is the idempotency key.
pub struct HttpNotifier {
    url: String,
    poster: SignedPoster,
}

impl HttpNotifier {
    /// A notifier posting to `url`.
    pub fn new(
        url: impl Into<String>,
        key: SigningKey,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        Ok(Self {
            url: url.into(),
            poster: SignedPoster::new(key, clock)?,
        })
    }
}

#[async_trait]
impl Notifier for HttpNotifier {
    async fn deliver(&self, d: &Delivery) -> Result<(), DeliveryError> {
        let body = serde_json::to_value(d).map_err(|e| DeliveryError(e.to_string()))?;
        self.poster
            .post(&self.url, &d.id, &body)
            .await
            .map_err(DeliveryError)
    }
}

/// Posts ratings to the provincial 好差评 platform at `<base>/ratings`, signed with the
/// platform's key; the rating id is the idempotency key.
pub struct HttpRatingPlatform {
    url: String,
    poster: SignedPoster,
}

impl HttpRatingPlatform {
    /// A client of the 好差评 platform at `base`.
    pub fn new(base: &str, key: SigningKey, clock: Arc<dyn Clock>) -> Result<Self, String> {
        Ok(Self {
            url: format!("{}/ratings", base.trim_end_matches('/')),
            poster: SignedPoster::new(key, clock)?,
        })
    }
}

#[async_trait]
impl RatingPlatform for HttpRatingPlatform {
    async fn forward(&self, record: &RatingRecord) -> Result<(), DeliveryError> {
        let body = serde_json::to_value(record).map_err(|e| DeliveryError(e.to_string()))?;
        self.poster
            .post(&self.url, &record.rating_id, &body)
            .await
            .map_err(DeliveryError)
    }
}
