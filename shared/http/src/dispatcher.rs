//! Outbound dispatches: signed POSTs to each agency system's endpoint.

use async_trait::async_trait;
use newborn_domain::stage::Agency;
use newborn_service::ports::{AgencyDispatcher, Clock, Dispatch, DispatchError};
use newborn_service::signing::{IDEMPOTENCY_HEADER, SigningKey};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Posts dispatches to configured agency endpoints, signed with the platform's key.
pub struct HttpDispatcher {
    client: reqwest::Client,
    endpoints: HashMap<Agency, String>,
    key: SigningKey,
    clock: Arc<dyn Clock>,
}

impl HttpDispatcher {
    /// A dispatcher posting to `endpoints`, signing with `key`. Signature timestamps use the
    /// wall clock `clock` (not a sped-up service clock): receivers check them against theirs.
    pub fn new(
        endpoints: HashMap<Agency, String>,
        key: SigningKey,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            endpoints,
            key,
            clock,
        })
    }

    /// A dispatcher posting to one gateway: each agency at `<base>/dispatch/<segment>`.
    pub fn to_gateway(base: &str, key: SigningKey, clock: Arc<dyn Clock>) -> Result<Self, String> {
        Self::under(base, "dispatch", key, clock)
    }

    /// A dispatcher posting SLA escalations to the agencies' supervisors: each at
    /// `<base>/supervision/<segment>`.
    pub fn to_supervisors(
        base: &str,
        key: SigningKey,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        Self::under(base, "supervision", key, clock)
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
}

#[async_trait]
impl AgencyDispatcher for HttpDispatcher {
    async fn dispatch(&self, agency: Agency, d: &Dispatch) -> Result<(), DispatchError> {
        let fail = |reason: String| DispatchError { agency, reason };
        let url = self
            .endpoints
            .get(&agency)
            .ok_or_else(|| fail("no endpoint configured".into()))?;
        let body = serde_json::to_vec(&d.body).map_err(|e| fail(e.to_string()))?;
        let mut req = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header(IDEMPOTENCY_HEADER, &d.idempotency_key);
        for (name, value) in self.key.headers(self.clock.now(), &body) {
            req = req.header(name, value);
        }
        let res = req
            .body(body)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(fail(format!("HTTP {}", res.status())))
        }
    }
}
