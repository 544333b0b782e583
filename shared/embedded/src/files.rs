//! Files at rest: every folder and file the local runtime creates (the data directory, databases
//! and their WAL, key files, scans) is owner-only from its first byte — folders 0700, files
//! 0600, given to `open(2)` / `mkdir(2)` rather than `chmod`-ed afterwards — whatever the umask.
//! SQLite creates a database's `-wal` and `-shm` files with the database file's own mode, so a
//! database created here keeps them owner-only too.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of the folders created.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the files created.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and its missing parents, each new one owner-only (an existing folder is left
/// as it is).
pub fn create_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| named(e, dir))
}

/// Creates (or truncates) `file` for writing, owner-only when created.
pub fn create(file: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(file)
        .map_err(|e| named(e, file))
}

/// Creates `file` empty and owner-only if it does not exist yet (for a database SQLite then
/// opens).
pub fn touch(file: &Path) -> io::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(file)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(named(e, file)),
    }
}

/// Writes `bytes` to `file` atomically: an owner-only temporary file beside it, fsync, rename.
pub fn write_atomically(file: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut f = create(&tmp)?;
    f.write_all(bytes).map_err(|e| named(e, &tmp))?;
    f.sync_all().map_err(|e| named(e, &tmp))?;
    std::fs::rename(&tmp, file).map_err(|e| named(e, file))
}

/// The mode of `file` when others than the owner may read or write it (group or other bits
/// set); `None` when it is owner-only or does not exist.
pub fn open_to_others(file: &Path) -> io::Result<Option<u32>> {
    match std::fs::metadata(file) {
        Ok(m) => Ok(Some(m.permissions().mode() & 0o777).filter(|mode| mode & 0o077 != 0)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(named(e, file)),
    }
}

/// Refuses a secret file others may read: the message names the file, its mode and the fix.
pub fn require_private(file: &Path) -> Result<(), String> {
    match open_to_others(file) {
        Ok(None) => Ok(()),
        Ok(Some(mode)) => Err(format!(
            "{} holds secrets but is readable by others (mode {mode:o}); \
                 run `chmod 600 {}` (and `chmod 700` on its folder) before starting \
                 / 该文件含密钥但其他用户可读（权限{mode:o}），请先执行 chmod 600",
            file.display(),
            file.display()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// An I/O error that names the path it happened on (a read-only or foreign data directory says
/// which file, not only "Permission denied").
fn named(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_created_is_owner_only_and_errors_name_the_path() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("a/b");
        create_dir(&data)?;
        for d in [dir.path().join("a"), data.clone()] {
            assert_eq!(std::fs::metadata(&d)?.permissions().mode() & 0o777, 0o700);
        }
        let f = data.join("keys.json");
        write_atomically(&f, b"{}")?;
        assert_eq!(std::fs::metadata(&f)?.permissions().mode() & 0o777, 0o600);
        assert_eq!(open_to_others(&f)?, None);
        assert!(require_private(&f).is_ok());
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644))?;
        let refused = require_private(&f).err().unwrap_or_default();
        assert!(
            refused.contains("keys.json") && refused.contains("chmod 600"),
            "{refused}"
        );
        let e = create(Path::new("/proc/no-such-dir/x"))
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("/proc/no-such-dir/x")));
        Ok(())
    }
}
