//! The keys of a local installation, generated on first start into `keys.json` in the data
//! directory: the platform's webhook key (signs dispatches), one key per agency (signs
//! callbacks), and the platform's Ed25519 key for signed results (`results-1`; its public half
//! is published at `/.well-known/jwks.json`). Hand an agency integrator its key id and secret
//! (`whsec_…`) from this file. Both files here are owner-only, and start-up refuses them if
//! others may read them.

use anyhow::{Context, Result};
use newborn_domain::stage::Agency;
use newborn_embedded::files;
use newborn_service::signing::{Algorithm, FileEntry, KeyEntry, Keys, ResultKeyEntry};
use serde::{Deserialize, Serialize};
use std::path::Path;

const OWNERS: [Agency; 6] = [
    Agency::Platform,
    Agency::Hospital,
    Agency::PoliceStation,
    Agency::MedicalInsurance,
    Agency::SocialSecurity,
    Agency::LicenceDirectory,
];

fn fresh_key(owner: Agency) -> KeyEntry {
    KeyEntry::random(
        format!("{}-1", owner.as_str()),
        owner,
        Algorithm::HmacSha256,
    )
}

/// The id of a new installation's result key.
const RESULT_KEY_ID: &str = "results-1";

fn fresh_result_key() -> Result<FileEntry> {
    Ok(FileEntry::Result(
        ResultKeyEntry::random(RESULT_KEY_ID).map_err(anyhow::Error::msg)?,
    ))
}

fn write_atomically(file: &Path, entries: &[FileEntry]) -> Result<()> {
    Ok(files::write_atomically(
        file,
        &serde_json::to_vec_pretty(entries)?,
    )?)
}

/// Reads a secret file, refusing one that others may read (it names the file and the fix).
fn read_secret(file: &Path) -> Result<String> {
    files::require_private(file).map_err(anyhow::Error::msg)?;
    std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
}

/// Loads `keys.json`, creating it (owner-only) with fresh random secrets if absent. An agency
/// key's `algorithm` may be edited to `hmac-sm3` (docs/agency-integration.md).
pub fn load_or_create(dir: &Path) -> Result<Keys> {
    let file = dir.join("keys.json");
    let entries: Vec<FileEntry> = if file.exists() {
        let text = read_secret(&file)?;
        let mut entries: Vec<FileEntry> = serde_json::from_str(&text).with_context(|| {
            if text.contains("secret_hex") {
                format!(
                    "{} holds keys of the old signature scheme (secret_hex); move it away and \
                     start again for new Standard Webhooks keys (whsec_…), then give each agency \
                     its new secret",
                    file.display()
                )
            } else {
                format!("{} is not a valid key file", file.display())
            }
        })?;
        // A key file from before an owner existed (the licence directory) gains its key, and
        // one from before signed results its result key.
        let missing: Vec<Agency> = OWNERS
            .into_iter()
            .filter(|o| {
                !entries
                    .iter()
                    .any(|e| matches!(e, FileEntry::Webhook(k) if k.owner == *o))
            })
            .collect();
        let without_result = !entries.iter().any(|e| matches!(e, FileEntry::Result(_)));
        if !missing.is_empty() || without_result {
            entries.extend(missing.into_iter().map(fresh_key).map(FileEntry::Webhook));
            if without_result {
                entries.push(fresh_result_key()?);
            }
            write_atomically(&file, &entries)?;
        }
        entries
    } else {
        files::create_dir(dir)?;
        let mut entries: Vec<FileEntry> = OWNERS
            .into_iter()
            .map(fresh_key)
            .map(FileEntry::Webhook)
            .collect();
        entries.push(fresh_result_key()?);
        write_atomically(&file, &entries)?;
        entries
    };
    Keys::from_file_entries(entries).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))
}

#[derive(Serialize, Deserialize)]
struct IssuerFile {
    issuer: String,
    audience: String,
    secret_hex: String,
}

/// The development identity provider of this installation, from `dev-issuer.json` (created
/// owner-only with a random secret on first use). `newborn token` mints applicant tokens with it.
pub fn dev_issuer(dir: &Path) -> Result<newborn_http::DevIssuer> {
    let file = dir.join("dev-issuer.json");
    let f: IssuerFile = if file.exists() {
        serde_json::from_str(&read_secret(&file)?)
            .with_context(|| format!("{} is not a valid issuer file", file.display()))?
    } else {
        files::create_dir(dir)?;
        let f = IssuerFile {
            issuer: "newborn-dev-issuer".into(),
            audience: "newborn-api".into(),
            secret_hex: hex::encode(rand::random::<[u8; 32]>()),
        };
        files::write_atomically(&file, &serde_json::to_vec_pretty(&f)?)?;
        f
    };
    Ok(newborn_http::DevIssuer::new(
        f.issuer,
        f.audience,
        hex::decode(&f.secret_hex).context("dev-issuer.json: the secret is not hex")?,
    ))
}

/// A bearer token kept in `<dir>/<name>` (owner-only, created with 32 random bytes on first use):
/// `operator-token` for the operator routes (`/admin/*`, `/operations`), `simulator-token` for
/// the simulated agencies' `/received` list.
pub fn token(dir: &Path, name: &str) -> Result<String> {
    let file = dir.join(name);
    if file.exists() {
        let token = read_secret(&file)?.trim().to_owned();
        anyhow::ensure!(token.len() >= 32, "{} holds no token", file.display());
        return Ok(token);
    }
    files::create_dir(dir)?;
    let token = hex::encode(rand::random::<[u8; 32]>());
    files::write_atomically(&file, token.as_bytes())?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_of_the_old_scheme_is_named_with_what_to_do() -> Result<()> {
        let dir = tempfile::tempdir()?;
        files::write_atomically(
            &dir.path().join("keys.json"),
            br#"[{"key_id": "platform-1", "owner": "platform", "secret_hex": "00"}]"#,
        )?;
        let e = load_or_create(dir.path())
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(
            e.contains("old signature scheme") && e.contains("whsec_"),
            "{e}"
        );
        Ok(())
    }

    #[test]
    fn new_keys_are_standard_webhooks_secrets_in_an_owner_only_file() -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let keys = load_or_create(&dir.path().join("data"))?;
        assert!(keys.platform.secret_text().starts_with("whsec_"));
        assert_eq!(keys.agencies.keys().len(), OWNERS.len() - 1);
        let mode = std::fs::metadata(dir.path().join("data/keys.json"))?
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create(&dir.path().join("data"))?;
        assert_eq!(again.platform.secret_text(), keys.platform.secret_text());
        // The result key is made once and kept.
        let jwks = |k: &Keys| {
            k.results
                .as_ref()
                .map(|r| serde_json::to_string(&r.jwks()).ok())
        };
        assert!(jwks(&keys).is_some());
        assert_eq!(jwks(&again), jwks(&keys));
        Ok(())
    }

    #[test]
    fn a_key_file_from_before_signed_results_gains_a_result_key() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let old: Vec<KeyEntry> = OWNERS.into_iter().map(fresh_key).collect();
        files::write_atomically(&dir.path().join("keys.json"), &serde_json::to_vec(&old)?)?;
        let keys = load_or_create(dir.path())?;
        assert!(keys.results.is_some());
        assert_eq!(keys.platform.secret_text(), old[0].secret);
        Ok(())
    }
}
