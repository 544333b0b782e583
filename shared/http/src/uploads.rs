//! Uploads through the API itself (the local runtime): the ticket is a URL of this API signed
//! with the platform's key, valid until the slot expires — the same permission a presigned S3
//! URL gives on AWS.

use async_trait::async_trait;
use newborn_service::ports::{StoreError, UploadSlot, UploadTarget, UploadTicket};
use newborn_service::signing::SigningKey;

/// Signed upload URLs of this API (`PUT /uploads/{id}?owner=…&expires=…&signature=…`).
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

    /// Whether `signature` (the base64 MAC of the URL's query) signs `owner`'s slot `id` until
    /// `expires` (Unix seconds).
    pub fn verifies(&self, owner: &str, id: &str, expires: i64, signature: &str) -> bool {
        let version = self.key.algorithm.version();
        self.key.verifies(
            &signed_part(owner, id),
            expires,
            b"upload",
            &format!("{version},{signature}"),
        )
    }
}

/// What the signature of an upload URL covers: the slot and its owner, unambiguously.
fn signed_part(owner: &str, id: &str) -> String {
    serde_json::json!([id, owner]).to_string()
}

/// `text` for a URL's query (RFC 3986 unreserved characters kept, every other byte
/// percent-encoded).
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[async_trait]
impl UploadTarget for SignedUploadUrls {
    async fn ticket(&self, slot: &UploadSlot) -> Result<UploadTicket, StoreError> {
        let expires = slot.expires_at.timestamp();
        let signature = self
            .key
            .sign(&signed_part(&slot.owner, &slot.id), expires, b"upload");
        let mac = signature.split_once(',').map_or("", |(_, mac)| mac);
        Ok(UploadTicket {
            url: format!(
                "{}/uploads/{}?owner={}&expires={expires}&signature={}",
                self.public_url,
                slot.id,
                query_value(&slot.owner),
                query_value(mac),
            ),
            headers: vec![("content-type".into(), slot.content_type.clone())],
        })
    }

    async fn arrived(&self, _: &UploadSlot) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }
}
