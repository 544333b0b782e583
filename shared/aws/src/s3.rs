//! Scans on S3, addressed by SHA-256, and presigned uploads.
//!
//! A presigned PUT cannot bound the size by itself, and the Rust SDK cannot presign a POST
//! policy; so the exact `Content-Type` and `Content-Length` of the declared upload are signed into
//! the PUT (S3 refuses a request whose signed headers differ), and the service still verifies the
//! type by magic bytes and records the SHA-256 after the upload.
//!
//! When the applicant declares the SHA-256 with the slot, the PUT goes straight to the content
//! address `scans/<sha256>` with `x-amz-checksum-sha256` signed in (S3 refuses bytes that do not
//! have it), so the scan is written once and never copied. The PUT also carries the slot's id as
//! `x-amz-meta-slot`: completing a slot reads the object back only if this slot's PUT wrote it
//! last, so knowing a scan's digest is not enough to claim another family's scan.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use newborn_domain::application::Sha256Hex;
use newborn_service::ports::{DocumentStore, StoreError, UploadSlot, UploadTarget, UploadTicket};
use sha2::{Digest, Sha256};
use std::time::Duration;

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("s3: {e}"))
}

/// Scans in a bucket under `scans/<sha256>`.
#[derive(Debug, Clone)]
pub struct S3Documents {
    client: Client,
    bucket: String,
}

/// A presigned PUT: the URL and the headers the client must send exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedUpload {
    /// The URL.
    pub url: String,
    /// Headers that are part of the signature.
    pub headers: Vec<(String, String)>,
}

impl S3Documents {
    /// Scans in `bucket`.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    fn key(digest: &str) -> String {
        format!("scans/{digest}")
    }

    /// Where the bytes of an upload slot wait for verification (the bucket's lifecycle removes
    /// them after a day; verified bytes are kept under `scans/`).
    fn staging_key(slot: &str) -> String {
        format!("uploads/{slot}")
    }

    /// A presigned PUT of exactly `content_length` bytes of `content_type` to `key`, valid `ttl`;
    /// with `checksum` (the bytes' SHA-256) and the `slot` it belongs to signed in, when given.
    pub async fn presign_upload(
        &self,
        key: &str,
        content_type: &str,
        content_length: i64,
        checksum: Option<(&Sha256Hex, &str)>,
        ttl: Duration,
    ) -> Result<PresignedUpload, StoreError> {
        use base64::Engine as _;
        let config = PresigningConfig::expires_in(ttl).map_err(unavailable)?;
        let mut put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(content_length);
        if let Some((digest, slot)) = checksum {
            let raw = hex::decode(digest.as_str()).map_err(unavailable)?;
            put = put
                .checksum_sha256(base64::engine::general_purpose::STANDARD.encode(raw))
                .metadata("slot", slot);
        }
        let req = put
            .presigned(config)
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(PresignedUpload {
            url: req.uri().to_owned(),
            headers: req
                .headers()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        })
    }

    /// Reads an object (e.g. an upload to verify); with `slot`, only if that slot's PUT wrote
    /// it last (its `x-amz-meta-slot`).
    pub async fn read(&self, key: &str, slot: Option<&str>) -> Result<Option<Vec<u8>>, StoreError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => {
                let written_by = out
                    .metadata()
                    .and_then(|m| m.get("slot"))
                    .map(String::as_str);
                if slot.is_some() && written_by != slot {
                    return Ok(None);
                }
                Ok(Some(
                    out.body
                        .collect()
                        .await
                        .map_err(unavailable)?
                        .into_bytes()
                        .to_vec(),
                ))
            }
            Err(e) => {
                let service = e.into_service_error();
                if service.is_no_such_key() {
                    Ok(None)
                } else {
                    Err(unavailable(service))
                }
            }
        }
    }
}

#[async_trait]
impl UploadTarget for S3Documents {
    async fn ticket(&self, slot: &UploadSlot) -> Result<UploadTicket, StoreError> {
        let ttl = (slot.expires_at - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::from_secs(1));
        let size = i64::try_from(slot.size).map_err(unavailable)?;
        let up = match &slot.declared_sha256 {
            Some(digest) => {
                let key = Self::key(digest.as_str());
                self.presign_upload(
                    &key,
                    &slot.content_type,
                    size,
                    Some((digest, &slot.id)),
                    ttl,
                )
                .await?
            }
            None => {
                let key = Self::staging_key(&slot.id);
                self.presign_upload(&key, &slot.content_type, size, None, ttl)
                    .await?
            }
        };
        Ok(UploadTicket {
            url: up.url,
            headers: up.headers,
        })
    }

    async fn arrived(&self, slot: &UploadSlot) -> Result<Option<Vec<u8>>, StoreError> {
        match &slot.declared_sha256 {
            Some(digest) => self.read(&Self::key(digest.as_str()), Some(&slot.id)).await,
            None => self.read(&Self::staging_key(&slot.id), None).await,
        }
    }
}

#[async_trait]
impl DocumentStore for S3Documents {
    async fn put(&self, bytes: &[u8]) -> Result<Sha256Hex, StoreError> {
        let digest: Sha256Hex = hex::encode(Sha256::digest(bytes))
            .parse()
            .map_err(|_| StoreError::Unavailable("digest".into()))?;
        if !self.exists(&digest).await? {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(Self::key(digest.as_str()))
                .body(ByteStream::from(bytes.to_vec()))
                .send()
                .await
                .map_err(|e| unavailable(e.into_service_error()))?;
        }
        Ok(digest)
    }

    async fn exists(&self, digest: &Sha256Hex) -> Result<bool, StoreError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(Self::key(digest.as_str()))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => {
                let service = e.into_service_error();
                if service.is_not_found() {
                    Ok(false)
                } else {
                    Err(unavailable(service))
                }
            }
        }
    }
}
