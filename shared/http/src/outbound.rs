//! The outbound HTTP client every adapter shares: HTTPS by rustls on ring (as the AWS SDK's
//! client, `newborn_aws::https_client`), certificates checked against the system's roots — on Lambda the runtime's CA bundle;
//! `SSL_CERT_FILE` / `SSL_CERT_DIR` replace them, as for any OpenSSL-style program, which is how
//! a deployment trusts an agency gateway behind a private CA. `HttpDispatcher::trusting` adds
//! roots in code (the HTTPS test's CA). Plain `http://` stays allowed for the local runtime and
//! its simulated agencies on 127.0.0.1.

use std::sync::{LazyLock, Once};
use std::time::Duration;

/// Makes ring the process's rustls crypto provider, once. reqwest is built without one
/// (`rustls-no-provider`): its default, aws-lc-rs, is a second crypto library in every function
/// binary beside the ring the SDK's client uses. Every client of this workspace is built through
/// [`client_builder`], which calls this first; a provider installed before is kept.
pub fn install_crypto_provider() {
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

/// The system's CA certificates, read once per process. Each client built with the system's
/// trust store would read and parse them again: milliseconds of every cold start per outbound
/// adapter (a stage function has two). Certificates webpki cannot use as trust anchors are
/// left out, as the platform verifier leaves them out.
fn system_roots() -> &'static [reqwest::Certificate] {
    static ROOTS: LazyLock<Vec<reqwest::Certificate>> = LazyLock::new(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!(error = %e, "a system CA certificate could not be read");
        }
        found
            .certs
            .iter()
            .filter(|der| webpki::anchor_from_trusted_cert(der).is_ok())
            .filter_map(|der| reqwest::Certificate::from_der(der).ok())
            .collect()
    });
    &ROOTS
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
