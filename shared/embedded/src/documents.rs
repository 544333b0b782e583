//! Uploaded scans in a folder, addressed by SHA-256 and written atomically (temporary file,
//! fsync, rename), so a crash never leaves a half-written scan under a valid name.

use async_trait::async_trait;
use newborn_domain::application::Sha256Hex;
use newborn_service::ports::{DocumentStore, StoreError};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Scans under `<root>/<first two hex digits>/<digest>`.
#[derive(Debug, Clone)]
pub struct FileDocuments {
    root: PathBuf,
}

impl FileDocuments {
    /// Scans under `root` (created if needed, owner-only like every scan).
    pub fn new(root: &Path) -> std::io::Result<Self> {
        crate::files::create_dir(&root.join("tmp"))?;
        Ok(Self {
            root: root.to_owned(),
        })
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.root.join(&digest[..2]).join(digest)
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("documents: {e}"))
}

#[async_trait]
impl DocumentStore for FileDocuments {
    async fn put(&self, bytes: &[u8]) -> Result<Sha256Hex, StoreError> {
        let digest = hex::encode(Sha256::digest(bytes));
        let target = self.path(&digest);
        // A temporary name of its own per write: the same bytes may be stored by two requests at
        // once (an applicant's app retrying an upload), and each rename must find its own file.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = self
            .root
            .join("tmp")
            .join(format!("{digest}.{}.{n}", std::process::id()));
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            if target.exists() {
                return Ok(());
            }
            let dir = target.parent().unwrap_or(Path::new("."));
            crate::files::create_dir(dir)?;
            let mut f = crate::files::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &target)?;
            std::fs::File::open(dir)?.sync_all()
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
        .map_err(io)?;
        digest
            .parse()
            .map_err(|_| StoreError::Unavailable("digest".into()))
    }

    async fn exists(&self, digest: &Sha256Hex) -> Result<bool, StoreError> {
        Ok(self.path(digest.as_str()).is_file())
    }
}
