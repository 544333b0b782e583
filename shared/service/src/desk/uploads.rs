//! The uploads desk: applicants' scans. A slot is a presigned URL's worth of permission for one
//! scan of one kind; the bytes are checked by their whole content and stored by SHA-256.
//! Served by the `api` function and the local server.

use crate::error::ServiceError;
use crate::ports::{DocumentStore, UploadQuota, UploadSlot, UploadStore};
use chrono::{DateTime, Utc};
use newborn_domain::application::{DocumentKind, Sha256Hex};
use newborn_domain::calendar::CHINA;
use newborn_domain::text::Invalid;
use sha2::Digest as _;
use std::sync::Arc;

/// The largest scan accepted, in bytes (10 MiB).
pub const MAX_UPLOAD: u64 = 10 * 1024 * 1024;
/// The content types accepted for scans.
pub const UPLOAD_TYPES: [&str; 3] = ["image/jpeg", "image/png", "application/pdf"];

/// Upload slots and the scans they receive.
#[derive(Clone)]
pub struct UploadDesk {
    uploads: Arc<dyn UploadStore>,
    documents: Arc<dyn DocumentStore>,
    quota: UploadQuota,
}

impl UploadDesk {
    /// The desk over the slot register and the scan store, with the default daily quota.
    pub fn new(uploads: Arc<dyn UploadStore>, documents: Arc<dyn DocumentStore>) -> Self {
        Self {
            uploads,
            documents,
            quota: UploadQuota::default(),
        }
    }

    /// The same desk with another daily upload allowance per applicant.
    pub fn with_quota(mut self, quota: UploadQuota) -> Self {
        self.quota = quota;
        self
    }

    /// Opens an upload slot for one scan of `kind` (a presigned URL's worth of permission).
    /// JPEG, PNG and PDF only, at most [`MAX_UPLOAD`] bytes, valid for 15 minutes from `now`;
    /// with the bytes' SHA-256 when the applicant declares it (`declared`).
    #[tracing::instrument(skip(self, owner))]
    pub async fn open_upload(
        &self,
        owner: &str,
        kind: DocumentKind,
        content_type: &str,
        size: u64,
        declared: Option<Sha256Hex>,
        now: DateTime<Utc>,
    ) -> Result<UploadSlot, ServiceError> {
        if !UPLOAD_TYPES.contains(&content_type) {
            return Err(ServiceError::UnsupportedMedia(Invalid::new(
                "unsupported_document",
                "仅支持JPEG、PNG或PDF文件",
                "only JPEG, PNG or PDF files are accepted",
            )));
        }
        if size == 0 || size > MAX_UPLOAD {
            return Err(ServiceError::TooLarge(Invalid::new(
                "upload_too_large",
                "文件大小应在1字节至10MB之间",
                "a file must have 1 byte to 10 MiB",
            )));
        }
        let today = now.with_timezone(&CHINA).date_naive();
        let slot = UploadSlot {
            id: hex::encode(rand::random::<[u8; 16]>()),
            owner: owner.to_owned(),
            kind,
            content_type: content_type.to_owned(),
            size,
            expires_at: now + chrono::TimeDelta::minutes(15),
            sha256: None,
            declared_sha256: declared,
        };
        self.uploads
            .open(slot, today, self.quota)
            .await?
            .ok_or_else(|| {
                ServiceError::TooMany(Invalid::new(
                    "upload_quota",
                    format!(
                        "今日上传已达上限（{}个文件、{} MB），请明日再试或到窗口办理",
                        self.quota.slots_per_day,
                        self.quota.bytes_per_day / (1024 * 1024)
                    ),
                    format!(
                        "today's uploads are used up ({} files, {} MiB); try again tomorrow or visit a counter",
                        self.quota.slots_per_day,
                        self.quota.bytes_per_day / (1024 * 1024)
                    ),
                ))
            })
    }

    /// The applicant's own upload slot (another's is reported as absent).
    pub async fn upload_slot(&self, owner: &str, id: &str) -> Result<UploadSlot, ServiceError> {
        self.uploads
            .get(owner, id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// Receives the bytes of `owner`'s slot `id`: within its time and declared size, of the
    /// declared type by its whole content ([`crate::scans::inspect`]); marks the upload verified
    /// with the bytes' SHA-256 and stores the scan under it. One file per slot, whatever the concurrency: the
    /// slot is claimed for one digest before anything is stored, so of two different files sent
    /// at once only the winner's is kept (the other gets 409 and leaves nothing); the same file
    /// sent again (a retry after a lost answer, or after a failed store) is accepted again.
    pub async fn receive_upload(
        &self,
        owner: &str,
        id: &str,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Result<UploadSlot, ServiceError> {
        let mut slot = self.upload_slot(owner, id).await?;
        if now > slot.expires_at {
            return Err(ServiceError::Forbidden(Invalid::new(
                "upload_expired",
                "上传地址已过期，请重新获取",
                "the upload URL has expired; request a new one",
            )));
        }
        let used = || {
            ServiceError::conflict(
                "upload_used",
                "该上传地址已用于另一个文件",
                "this upload URL was used for another file",
            )
        };
        let digest: Sha256Hex = hex::encode(sha2::Sha256::digest(bytes))
            .parse()
            .map_err(|_| ServiceError::Transient("digest".into()))?;
        if slot.sha256.as_ref().is_some_and(|d| *d != digest) {
            return Err(used());
        }
        if slot.declared_sha256.as_ref().is_some_and(|d| *d != digest) {
            return Err(ServiceError::bad(
                "sha256",
                Invalid::new(
                    "checksum_mismatch",
                    "文件内容与申请上传时声明的SHA-256不符",
                    "the file does not have the SHA-256 declared for this upload",
                ),
            ));
        }
        if bytes.len() as u64 > slot.size {
            return Err(ServiceError::TooLarge(Invalid::new(
                "upload_too_large",
                "文件大于申请上传时声明的大小",
                "the file is larger than declared for this upload",
            )));
        }
        let found = crate::scans::inspect(bytes).map_err(ServiceError::UnsupportedMedia)?;
        if found != slot.content_type {
            return Err(ServiceError::UnsupportedMedia(Invalid::new(
                "content_type_mismatch",
                format!("文件内容不是声明的{}类型", slot.content_type),
                format!("the file is not the declared {}", slot.content_type),
            )));
        }
        if slot.sha256.is_none() && !self.uploads.complete(owner, id, &digest).await? {
            // Another request completed the slot meanwhile: the same file is the same upload.
            let now_marked = self.uploads.get(owner, id).await?.and_then(|s| s.sha256);
            if now_marked.as_ref() != Some(&digest) {
                return Err(used());
            }
        }
        self.documents.put(bytes).await?;
        slot.sha256 = Some(digest);
        Ok(slot)
    }
}
