//! The outbound HTTP client every adapter shares: HTTPS by rustls on ring (as the AWS SDK's
//! client, `newborn_lambda::https_client`), certificates checked against the system's roots —
//! on Lambda the runtime's CA bundle;
//! `SSL_CERT_FILE` / `SSL_CERT_DIR` replace them, as for any OpenSSL-style program, which is how
//! a deployment trusts an agency gateway behind a private CA. `HttpDispatcher::trusting` adds
//! roots in code (the HTTPS test's CA). Plain `http://` stays allowed for the local runtime and
//! its simulated agencies on 127.0.0.1.

use rustls::pki_types::CertificateDer;
use std::sync::{LazyLock, Once};
use std::time::Duration;

/// Makes ring the process's rustls crypto provider, once. reqwest is built without one
/// (`rustls-no-provider`): its default, aws-lc-rs, is a second crypto library in every function
/// binary beside the ring the SDK's client uses. Every client of this workspace is built through
/// [`client_builder`], which calls this first; a provider installed before is kept.
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // An error means a provider is already installed, which is all that is needed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A reqwest client builder, the crypto provider installed: the one way this workspace builds
/// an HTTP client (`clippy.toml` disallows `reqwest::Client::new`, `Client::builder` and
/// `reqwest::get`, which would panic without the provider).
#[allow(clippy::disallowed_methods)]
pub fn client_builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
}

/// A reqwest client with the defaults, for tests and tools.
///
/// # Panics
/// As `reqwest::Client::new`, when the TLS backend cannot be initialised.
pub fn client() -> reqwest::Client {
    client_builder()
        .build()
        .expect("the HTTP client with rustls on ring builds")
}

/// Certificate authorities trusted for outbound calls beyond the system's roots.
#[derive(Clone, Default)]
pub struct TrustedRoots(Vec<reqwest::Certificate>);

impl std::fmt::Debug for TrustedRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrustedRoots({} extra)", self.0.len())
    }
}

impl TrustedRoots {
    /// The system's roots only.
    pub fn system() -> Self {
        Self::default()
    }

    /// The system's roots and every certificate of the PEM bundle `pem`.
    pub fn with_pem_bundle(pem: &[u8]) -> Result<Self, String> {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| format!("the CA bundle is not PEM certificates: {}", chain(&e)))?;
        if certs.is_empty() {
            return Err("the CA bundle holds no certificate".into());
        }
        Ok(Self(certs))
    }

    /// A client with these roots and a whole-request `timeout`.
    pub(crate) fn client(&self, timeout: Duration) -> Result<reqwest::Client, String> {
        let system = system_roots();
        if system.is_empty() && self.0.is_empty() {
            return Err(
                "no CA certificate was found on the system (SSL_CERT_FILE, SSL_CERT_DIR)".into(),
            );
        }
        client_builder()
            .timeout(timeout)
            .tls_certs_only(system.iter().chain(&self.0).cloned())
            .build()
            .map_err(|e| format!("cannot build the HTTPS client: {}", chain(&e)))
    }
}

/// The system's CA certificates, read once per process and shared by every client of it: ours
/// (as [`reqwest::Certificate`]s) and the AWS SDK's (as PEM, [`system_roots_pem`]), which would
/// otherwise read and parse the store again — milliseconds of every cold start each time.
/// Certificates webpki cannot use as trust anchors are left out, as the platform verifier
/// leaves them out.
///
/// Where they are read: `SSL_CERT_FILE` and `SSL_CERT_DIR` when either is set (as OpenSSL
/// reads them); otherwise the distribution's bundle file alone when there is one (Amazon
/// Linux's `/etc/pki/tls/certs/ca-bundle.crt`, Debian's `/etc/ssl/certs/ca-certificates.crt`),
/// which its tooling writes from the same store as the hashed directory beside it (on Debian
/// some 300 more files to open, for the same certificates); otherwise that directory.
fn system_roots_der() -> &'static [CertificateDer<'static>] {
    static ROOTS: LazyLock<Vec<CertificateDer<'static>>> = LazyLock::new(|| {
        let from_env = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
            .iter()
            .any(|v| std::env::var_os(v).is_some());
        let found = match openssl_probe::probe().cert_file {
            Some(bundle) if !from_env => {
                rustls_native_certs::load_certs_from_paths(Some(&bundle), None)
            }
            _ => rustls_native_certs::load_native_certs(),
        };
        for e in &found.errors {
            tracing::warn!(error = %e, "a system CA certificate could not be read");
        }
        found
            .certs
            .into_iter()
            .filter(|der| webpki::anchor_from_trusted_cert(der).is_ok())
            .collect()
    });
    &ROOTS
}

fn system_roots() -> &'static [reqwest::Certificate] {
    static ROOTS: LazyLock<Vec<reqwest::Certificate>> = LazyLock::new(|| {
        system_roots_der()
            .iter()
            .filter_map(|der| reqwest::Certificate::from_der(der).ok())
            .collect()
    });
    &ROOTS
}

/// The system's CA certificates ([`system_roots_der`]) as one PEM bundle, for the trust store
/// of the AWS SDK's HTTPS client.
pub fn system_roots_pem() -> &'static [u8] {
    static PEM: LazyLock<Vec<u8>> = LazyLock::new(|| {
        use base64::Engine;
        let mut out = Vec::new();
        for der in system_roots_der() {
            let text = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
            out.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
            for line in text.as_bytes().chunks(64) {
                out.extend_from_slice(line);
                out.push(b'\n');
            }
            out.extend_from_slice(b"-----END CERTIFICATE-----\n");
        }
        out
    });
    &PEM
}

/// An error with its causes, e.g. "error sending request: client error (Connect): invalid peer
/// certificate: UnknownIssuer" — reqwest's own text names only the first.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    /// The AWS SDK's client parses the PEM bundle and panics on a certificate it cannot add:
    /// the bundle must read back as exactly the certificates read from the system.
    #[test]
    fn the_system_roots_read_back_from_their_pem_bundle_and_are_anchors() {
        let der = system_roots_der();
        assert!(!der.is_empty(), "this machine has a CA store");
        let back = CertificateDer::pem_slice_iter(system_roots_pem())
            .collect::<Result<Vec<_>, _>>()
            .expect("the bundle is PEM");
        assert_eq!(back, der);
        let mut store = rustls::RootCertStore::empty();
        for cert in back {
            store.add(cert).expect("each certificate is a trust anchor");
        }
        assert_eq!(store.len(), der.len());
        assert_eq!(system_roots().len(), der.len());
    }
}
