//! Uploads through the API itself (the local runtime): the ticket is a URL of this API signed
//! with the platform's key, valid until the slot expires — the same permission a presigned S3
//! URL gives on AWS.

use async_trait::async_trait;
use newborn_service::ports::{StoreError, UploadSlot, UploadTarget, UploadTicket};
use newborn_service::signing::SigningKey;

/// Signed upload URLs of this API (`PUT /uploads/{id}?expires=…&signature=…`).
#[derive(Debug, Clone)]
pub struct SignedUploadUrls {
    key: SigningKey,
    public_url: String,
}

impl SignedUploadUrls {
    /// URLs under `public_url`, signed with `key`.
    pub fn new(key: SigningKey, public_url: impl Into<String>) -> Self {
        Self {
            key,
            public_url: public_url.into().trim_end_matches('/').to_owned(),
        }
    }

    /// Whether `signature` (the base64 MAC of the URL's query) signs slot `id` until `expires`
    /// (Unix seconds).
    pub fn verifies(&self, id: &str, expires: i64, signature: &str) -> bool {
        let version = self.key.algorithm.version();
        self.key
            .verifies(id, expires, b"upload", &format!("{version},{signature}"))
    }
}

#[async_trait]
impl UploadTarget for SignedUploadUrls {
    async fn ticket(&self, slot: &UploadSlot) -> Result<UploadTicket, StoreError> {
        let expires = slot.expires_at.timestamp();
        let signature = self.key.sign(&slot.id, expires, b"upload");
        let mac = signature.split_once(',').map_or("", |(_, mac)| mac);
        // base64's `+`, `/` and `=` percent-encoded for the query.
        let mac = mac
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        Ok(UploadTicket {
            url: format!(
                "{}/uploads/{}?expires={expires}&signature={mac}",
                self.public_url, slot.id,
            ),
            headers: vec![("content-type".into(), slot.content_type.clone())],
        })
    }

    async fn arrived(&self, _: &UploadSlot) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }
}
