//! Scans on S3, addressed by SHA-256, and presigned uploads.
//!
//! A presigned PUT cannot bound the size by itself, and the Rust SDK cannot presign a POST
//! policy; so the exact `Content-Type` and `Content-Length` of the declared upload are signed into
//! the PUT (S3 refuses a request whose signed headers differ), and the service still verifies the
//! type by magic bytes and records the SHA-256 after the upload.

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

    /// A presigned PUT of exactly `content_length` bytes of `content_type` to `key`, valid `ttl`.
    pub async fn presign_upload(
        &self,
        key: &str,
        content_type: &str,
        content_length: i64,
        ttl: Duration,
    ) -> Result<PresignedUpload, StoreError> {
        let config = PresigningConfig::expires_in(ttl).map_err(unavailable)?;
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(content_length)
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

    /// Reads an object (e.g. an upload to verify).
    pub async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(
                out.body
                    .collect()
                    .await
                    .map_err(unavailable)?
                    .into_bytes()
                    .to_vec(),
            )),
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
        let up = self
            .presign_upload(&Self::staging_key(&slot.id), &slot.content_type, size, ttl)
            .await?;
        Ok(UploadTicket {
            url: up.url,
            headers: up.headers,
        })
    }

    async fn arrived(&self, slot: &UploadSlot) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(&Self::staging_key(&slot.id)).await
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
