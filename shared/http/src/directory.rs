//! The licence directory adapter: the province's electronic licence platform (省电子证照共享平台)
//! over HTTP, signed like the agency webhooks in both directions (docs/agency-integration.md).
//!
//! - `POST <base>/licences/lookup` with `{kind, number, issuer, holder_id_number}`, signed with
//!   the platform's key; the directory answers `200 {"record": {...} | null}`, signed with its own
//!   key (`webhook-*` headers over the response body), which is verified before it is believed.
//! - `POST <base>/licences/registrations` with a [`RegistrationRequest`], signed, with the
//!   registration id as `webhook-id`; the directory answers `2xx` and later posts its
//!   decision, signed, to `POST /agency/licence-registrations`.
//! - `POST <base>/licences/held` with `{holder_id_number}`, signed; the directory answers
//!   `200 {"records": [...]}`, signed: the licences the person holds and those authorised to
//!   them (a draft from the hospital's record is completed with them).

use crate::dispatcher::SignedPoster;
use async_trait::async_trait;
use newborn_domain::ids::IdNumber;
use newborn_domain::licence::{LicenceRecord, LicenceRef};
use newborn_domain::stage::Agency;
use newborn_service::ports::{Clock, DirectoryError, LicenceDirectory, RegistrationRequest};
use newborn_service::signing::{
    ID_HEADER, KeyRing, SIGNATURE_HEADER, SigningKey, TIMESTAMP_HEADER, new_message_id,
};
use std::sync::Arc;

/// The directory at a base URL.
pub struct HttpLicenceDirectory {
    base: String,
    poster: SignedPoster,
    /// The directory's keys, which its answers must be signed with.
    directory_keys: KeyRing,
    clock: Arc<dyn Clock>,
}

#[derive(serde::Deserialize)]
struct LookupAnswer {
    record: Option<LicenceRecord>,
}

impl HttpLicenceDirectory {
    /// A directory at `base`, asked with the platform's `key`, answering with one of the
    /// directory's keys in `keys` (others' keys are not accepted); signatures use the wall clock
    /// `clock`.
    pub fn new(
        base: &str,
        key: SigningKey,
        keys: KeyRing,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let directory_keys = KeyRing::new(
            keys.keys()
                .iter()
                .filter(|k| k.owner == Agency::LicenceDirectory)
                .cloned()
                .collect(),
        );
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            poster: SignedPoster::new(key, clock.clone())?,
            directory_keys,
            clock,
        })
    }
}

impl HttpLicenceDirectory {
    /// Posts a signed question to `path` and reads the directory's signed answer as `T`.
    async fn ask<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, DirectoryError> {
        let fail = |e: String| DirectoryError(e);
        // A question is a new message each time (a receiver may drop a repeated id).
        let res = self
            .poster
            .send(&format!("{}{path}", self.base), &new_message_id(), body)
            .await
            .map_err(fail)?;
        let status = res.status();
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (id, ts, sig) = (
            header(ID_HEADER),
            header(TIMESTAMP_HEADER),
            header(SIGNATURE_HEADER),
        );
        let bytes = res.bytes().await.map_err(|e| fail(e.to_string()))?;
        if !status.is_success() {
            return Err(fail(format!("{path} answered HTTP {status}")));
        }
        self.directory_keys
            .verify(
                id.as_deref(),
                ts.as_deref(),
                sig.as_deref(),
                &bytes,
                self.clock.now(),
            )
            .map_err(|e| {
                fail(format!(
                    "the directory's answer's signature was refused: {e}"
                ))
            })?;
        serde_json::from_slice::<T>(&bytes)
            .map_err(|e| fail(format!("malformed answer of {path}: {e}")))
    }
}

#[derive(serde::Deserialize)]
struct HeldAnswer {
    records: Vec<LicenceRecord>,
}

#[async_trait]
impl LicenceDirectory for HttpLicenceDirectory {
    async fn lookup(&self, r: &LicenceRef) -> Result<Option<LicenceRecord>, DirectoryError> {
        let body = serde_json::json!({
            "kind": r.kind, "number": r.number, "issuer": r.issuer,
            "holder_id_number": r.holder_id_number,
        });
        self.ask::<LookupAnswer>("/licences/lookup", &body)
            .await
            .map(|a| a.record)
    }

    async fn held_by(&self, id_number: &IdNumber) -> Result<Vec<LicenceRecord>, DirectoryError> {
        let body = serde_json::json!({ "holder_id_number": id_number });
        self.ask::<HeldAnswer>("/licences/held", &body)
            .await
            .map(|a| a.records)
    }

    async fn register(&self, request: &RegistrationRequest) -> Result<(), DirectoryError> {
        let body = serde_json::to_value(request).map_err(|e| DirectoryError(e.to_string()))?;
        let res = self
            .poster
            .send(
                &format!("{}/licences/registrations", self.base),
                &request.id,
                &body,
            )
            .await
            .map_err(DirectoryError)?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(DirectoryError(format!(
                "registration answered HTTP {}",
                res.status()
            )))
        }
    }
}
