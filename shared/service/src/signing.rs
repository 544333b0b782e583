//! Signatures of the webhooks in both directions, in the **Standard Webhooks** scheme
//! (<https://www.standardwebhooks.com>, the spec behind the maintained `standardwebhooks`
//! libraries), so an agency verifies and signs with a library instead of hand-written code.
//!
//! Headers: `webhook-id: <message id>`, `webhook-timestamp: <unix seconds>`,
//! `webhook-signature: <version>,<base64 MAC>` (several, space-separated, during a rotation).
//! The MAC is over `"<id>.<timestamp>.<raw body>"` with the secret given as `whsec_<base64>`.
//!
//! Two algorithms, chosen per key (so per agency):
//! - `v1`: HMAC-SHA256, the standard's own; what the libraries produce and check.
//! - `v1sm3`: HMAC-SM3 (SM3 of GB/T 32905-2016) for systems that must pass the
//!   commercial-cryptography assessment (GB/T 39786-2021). Same content and encoding; only the MAC
//!   and the version prefix differ. This prefix is ours: the standard reserves `v1` (HMAC-SHA256)
//!   and `v1a` (Ed25519) and tells receivers to ignore versions they do not know.
//!
//! A receiver accepts a timestamp within five minutes of its own clock (either side), compares in
//! constant time, and accepts each message id once within that window (the replay guard is keyed
//! on the signed id, never on the header's text).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use newborn_domain::stage::Agency;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sm3::Sm3;
use std::fmt;

/// Header carrying the message id (unique per message; a retry of the same message keeps it).
pub const ID_HEADER: &str = "webhook-id";
/// Header carrying the Unix timestamp in seconds.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// Header carrying `<version>,<base64>` signatures, space-separated.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// How far a signed timestamp may be from the receiver's clock, in seconds.
pub const WINDOW_SECS: u64 = 300;
/// The prefix of a secret in its text form.
pub const SECRET_PREFIX: &str = "whsec_";
/// The longest message id accepted.
const MAX_ID_LEN: usize = 255;

/// The MAC a key signs with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// HMAC-SHA256, signatures `v1,<base64>` (the Standard Webhooks scheme).
    #[default]
    HmacSha256,
    /// HMAC-SM3 (GB/T 32905), signatures `v1sm3,<base64>`.
    HmacSm3,
}

impl Algorithm {
    /// The version prefix of its signatures.
    pub fn version(self) -> &'static str {
        match self {
            Self::HmacSha256 => "v1",
            Self::HmacSm3 => "v1sm3",
        }
    }
}

/// A shared secret with its id, owner and algorithm. The secret never appears in `Debug` output.
#[derive(Clone)]
pub struct SigningKey {
    /// The key's id: names it in logs and in the key file (not sent: a receiver finds the key
    /// whose signature matches).
    pub key_id: String,
    /// Who signs with it: an agency, or the platform for outbound dispatches.
    pub owner: Agency,
    /// The MAC it signs with.
    pub algorithm: Algorithm,
    secret: Vec<u8>,
}

impl SigningKey {
    /// A key from its parts.
    pub fn new(
        key_id: impl Into<String>,
        owner: Agency,
        algorithm: Algorithm,
        secret: Vec<u8>,
    ) -> Self {
        Self {
            key_id: key_id.into(),
            owner,
            algorithm,
            secret,
        }
    }

    /// The secret in its text form, `whsec_<base64>` (for a key file or an integrator).
    pub fn secret_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", BASE64.encode(&self.secret))
    }

    /// The secret's bytes from its text form `whsec_<base64>`.
    pub fn parse_secret(text: &str) -> Result<Vec<u8>, String> {
        let b64 = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| format!("a secret starts with {SECRET_PREFIX}"))?;
        let bytes = BASE64
            .decode(b64)
            .map_err(|_| format!("a secret is {SECRET_PREFIX} and base64"))?;
        if bytes.len() < 24 {
            return Err("a secret has at least 24 bytes".into());
        }
        Ok(bytes)
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        fn run<M: Mac + hmac::digest::KeyInit>(
            secret: &[u8],
            id: &str,
            timestamp: i64,
            body: &[u8],
        ) -> Vec<u8> {
            // HMAC takes keys of any length.
            let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(secret)
                .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            mac.finalize().into_bytes().to_vec()
        }
        match self.algorithm {
            Algorithm::HmacSha256 => run::<Hmac<Sha256>>(&self.secret, id, timestamp, body),
            Algorithm::HmacSm3 => run::<Hmac<Sm3>>(&self.secret, id, timestamp, body),
        }
    }

    /// The `webhook-signature` value (`<version>,<base64>`) of message `id` with `body` at
    /// `timestamp`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!(
            "{},{}",
            self.algorithm.version(),
            BASE64.encode(self.mac(id, timestamp, body))
        )
    }

    /// Whether one of the signatures in `header` is this key's signature of message `id` with
    /// `body` at `timestamp` (constant-time), with no time window: for signed URLs that carry
    /// their own expiry.
    pub fn verifies(&self, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
        let expected = self.mac(id, timestamp, body);
        header
            .split(' ')
            .filter_map(|s| s.split_once(','))
            .filter(|(version, _)| *version == self.algorithm.version())
            .filter_map(|(_, b64)| BASE64.decode(b64).ok())
            .any(|given| constant_time_eq(&given, &expected))
    }

    /// The three headers of message `id` with `body`, signed now.
    pub fn headers(
        &self,
        id: &str,
        now: DateTime<Utc>,
        body: &[u8],
    ) -> [(&'static str, String); 3] {
        let ts = now.timestamp();
        [
            (ID_HEADER, id.to_owned()),
            (TIMESTAMP_HEADER, ts.to_string()),
            (SIGNATURE_HEADER, self.sign(id, ts, body)),
        ]
    }
}

/// Whether two secrets (MACs, tokens) are equal, compared in constant time for equal lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh message id for a message that has no id of its own (`msg_<32 hex>`).
pub fn new_message_id() -> String {
    format!("msg_{}", hex::encode(rand::random::<[u8; 16]>()))
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKey({}, {:?}, {:?}, ****)",
            self.key_id, self.owner, self.algorithm
        )
    }
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header is missing or malformed.
    #[error("missing or malformed webhook-id, webhook-timestamp or webhook-signature")]
    Malformed,
    /// The timestamp is outside the window.
    #[error("timestamp outside the {WINDOW_SECS} s window")]
    Expired,
    /// No active key's signature matches.
    #[error("no signature matches an active key")]
    Mismatch,
}

/// One key of a key file: `keys.json` of a local installation, or the webhook-keys secret
/// (Secrets Manager) on AWS — the same JSON array in both.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// The key id.
    pub key_id: String,
    /// Whose key: `platform` signs dispatches, each agency signs its callbacks.
    pub owner: Agency,
    /// The MAC: `hmac-sha256` (default) or `hmac-sm3`.
    #[serde(default)]
    pub algorithm: Algorithm,
    /// The secret, `whsec_<base64>`.
    pub secret: String,
}

impl KeyEntry {
    /// A new entry with a random 32-byte secret.
    pub fn random(key_id: impl Into<String>, owner: Agency, algorithm: Algorithm) -> Self {
        let key = SigningKey::new(
            key_id,
            owner,
            algorithm,
            rand::random::<[u8; 32]>().to_vec(),
        );
        Self {
            secret: key.secret_text(),
            key_id: key.key_id,
            owner,
            algorithm,
        }
    }
}

/// The one algorithm of a result key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResultAlgorithm {
    /// Ed25519 (RFC 8032), JWS `alg` EdDSA.
    Ed25519,
}

/// The platform's key for signed results ([`crate::attestation`]) in a key file.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultKeyEntry {
    /// The key id (the JWS `kid`, published with the public key).
    pub key_id: String,
    /// Always the platform.
    pub owner: Agency,
    /// `ed25519`.
    pub algorithm: ResultAlgorithm,
    /// The private key, PKCS#8 PEM.
    pub private_key_pem: String,
}

impl ResultKeyEntry {
    /// A new random result key.
    pub fn random(key_id: &str) -> Result<Self, String> {
        let (_, pem) = crate::attestation::ResultKey::generate(key_id)?;
        Ok(Self {
            key_id: key_id.to_owned(),
            owner: Agency::Platform,
            algorithm: ResultAlgorithm::Ed25519,
            private_key_pem: pem,
        })
    }
}

/// One entry of a key file: a webhook key, or the platform's result key.
#[derive(Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FileEntry {
    /// A webhook key (`secret`).
    Webhook(KeyEntry),
    /// The result key (`private_key_pem`).
    Result(ResultKeyEntry),
}

/// The platform's signing key and the agencies' keys, read from a key file.
#[derive(Debug, Clone)]
pub struct Keys {
    /// The platform's signing key.
    pub platform: SigningKey,
    /// The agencies' keys.
    pub agencies: KeyRing,
    /// The platform's key for signed results, where the key file has one.
    pub results: Option<crate::attestation::ResultKey>,
}

impl Keys {
    /// Reads a key file's JSON; names what is wrong without showing any secret.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let entries: Vec<FileEntry> = serde_json::from_str(text).map_err(|e| {
            format!(
                "not a key file (a JSON array of {{key_id, owner, algorithm, secret}} and one {{key_id, owner, algorithm: ed25519, private_key_pem}}): {e}"
            )
        })?;
        Self::from_file_entries(entries)
    }

    /// The keys of a key file's entries: exactly one platform webhook key, at most one result
    /// key (the platform's).
    pub fn from_file_entries(entries: Vec<FileEntry>) -> Result<Self, String> {
        let mut webhooks = vec![];
        let mut results = None;
        for e in entries {
            match e {
                FileEntry::Webhook(k) => webhooks.push(k),
                FileEntry::Result(r) => {
                    if r.owner != Agency::Platform {
                        return Err(format!(
                            "result key {}: only the platform signs results",
                            r.key_id
                        ));
                    }
                    if results.is_some() {
                        return Err("the key file has more than one result key".into());
                    }
                    results = Some(crate::attestation::ResultKey::from_pem(
                        &r.key_id,
                        &r.private_key_pem,
                    )?);
                }
            }
        }
        let mut keys = Self::from_entries(webhooks)?;
        keys.results = results;
        Ok(keys)
    }

    /// The keys of these entries: exactly one platform key is required.
    pub fn from_entries(entries: Vec<KeyEntry>) -> Result<Self, String> {
        let mut platform = None;
        let mut agencies = vec![];
        for e in entries {
            let secret = SigningKey::parse_secret(&e.secret)
                .map_err(|why| format!("key {}: {why}", e.key_id))?;
            let key = SigningKey::new(e.key_id, e.owner, e.algorithm, secret);
            if e.owner == Agency::Platform {
                platform = Some(key);
            } else {
                agencies.push(key);
            }
        }
        Ok(Self {
            platform: platform.ok_or("the key file has no platform key")?,
            agencies: KeyRing::new(agencies),
            results: None,
        })
    }
}

/// A verified message: the key that signed it and its id.
#[derive(Debug, Clone)]
pub struct Verified<'a> {
    /// The key whose signature matched.
    pub key: &'a SigningKey,
    /// The message id (`webhook-id`).
    pub id: String,
}

impl Verified<'_> {
    /// The replay guard's key: the signer and the message id (what the signature covers).
    pub fn replay_key(&self) -> String {
        format!("{}:{}", self.key.owner.as_str(), self.id)
    }
}

/// The keys a receiver accepts.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
}

impl KeyRing {
    /// A ring of keys.
    pub fn new(keys: Vec<SigningKey>) -> Self {
        Self { keys }
    }

    /// The first key of `owner` (for signing).
    pub fn key_of(&self, owner: Agency) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.owner == owner)
    }

    /// All keys.
    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    /// Verifies the three headers and the body at `now`; returns the key that signed.
    pub fn verify(
        &self,
        id: Option<&str>,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Verified<'_>, SignatureError> {
        let (Some(id), Some(ts), Some(sig)) = (id, timestamp, signature) else {
            return Err(SignatureError::Malformed);
        };
        if id.is_empty() || id.len() > MAX_ID_LEN || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SignatureError::Malformed);
        }
        let ts: i64 = ts.trim().parse().map_err(|_| SignatureError::Malformed)?;
        // i128: no timestamp, however far off, overflows the comparison.
        if (i128::from(now.timestamp()) - i128::from(ts)).unsigned_abs() > u128::from(WINDOW_SECS) {
            return Err(SignatureError::Expired);
        }
        self.keys
            .iter()
            .find(|k| k.verifies(id, ts, body, sig.trim()))
            .map(|key| Verified {
                key,
                id: id.to_owned(),
            })
            .ok_or(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn documented(algorithm: Algorithm) -> SigningKey {
        let secret = SigningKey::parse_secret(SECRET).unwrap_or_default();
        SigningKey::new("hospital-1", Agency::Hospital, algorithm, secret)
    }

    /// Worked examples for integrators (docs/agency-integration.md repeats them). Computed
    /// independently: python3 -c "import hmac,hashlib,base64; k=base64.b64decode(
    /// 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'); m=b'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.
    /// {\"test\": 2432232314}'; print(base64.b64encode(hmac.new(k,m,'sha256').digest()),
    /// base64.b64encode(hmac.new(k,m,'sm3').digest()))". The v1 one is the example of the
    /// Standard Webhooks specification itself.
    #[test]
    fn the_documented_test_vectors() {
        let (id, ts, body) = (
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            documented(Algorithm::HmacSha256).sign(id, ts, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(
            documented(Algorithm::HmacSm3).sign(id, ts, body),
            "v1sm3,/HoSFIzweCy/UJPM50++HyVPa/54PFXtLisZ9sIFN1I="
        );
    }

    /// SM3 itself, the example of GB/T 32905-2016 附录A.1: SM3("abc").
    #[test]
    fn sm3_is_the_standard_one() {
        use sm3::Digest;
        assert_eq!(
            hex::encode(Sm3::digest(b"abc")),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }

    #[test]
    fn signatures_verify_within_the_window_and_fail_outside_it_or_when_forged() {
        let now = t("2025-11-17T09:00:00+08:00");
        let key = SigningKey::new(
            "police-1",
            Agency::PoliceStation,
            Algorithm::HmacSha256,
            b"s3cret".to_vec(),
        );
        let old = SigningKey::new(
            "police-0",
            Agency::PoliceStation,
            Algorithm::HmacSm3,
            b"older".to_vec(),
        );
        let ring = KeyRing::new(vec![key.clone(), old.clone()]);
        let body = b"{}";
        let ts = now.timestamp();
        let check = |sig: &str, ts: i64, body: &[u8]| {
            ring.verify(Some("msg_1"), Some(&ts.to_string()), Some(sig), body, now)
                .map(|v| (v.key.key_id.clone(), v.replay_key()))
        };
        assert_eq!(
            check(&key.sign("msg_1", ts, body), ts, body),
            Ok(("police-1".into(), "police_station:msg_1".into()))
        );
        assert_eq!(
            check(&old.sign("msg_1", ts - 299, body), ts - 299, body).map(|v| v.0),
            Ok("police-0".into()),
            "both keys active during rotation, each with its algorithm"
        );
        let both = format!(
            "{} {}",
            SigningKey::new(
                "x",
                Agency::PoliceStation,
                Algorithm::HmacSha256,
                b"no".to_vec()
            )
            .sign("msg_1", ts, body),
            key.sign("msg_1", ts, body)
        );
        assert!(
            check(&both, ts, body).is_ok(),
            "any one of several signatures"
        );
        assert_eq!(
            check(&key.sign("msg_1", ts - 301, body), ts - 301, body),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            check(&key.sign("msg_1", ts + 301, body), ts + 301, body),
            Err(SignatureError::Expired),
            "a timestamp from the future"
        );
        for extreme in [i64::MIN, i64::MAX] {
            assert_eq!(
                check(&key.sign("msg_1", extreme, body), extreme, body),
                Err(SignatureError::Expired),
                "no overflow at {extreme}"
            );
        }
        let sig = key.sign("msg_1", ts, body);
        assert_eq!(check(&sig, ts, b"{ }"), Err(SignatureError::Mismatch));
        assert_eq!(
            ring.verify(Some("msg_2"), Some(&ts.to_string()), Some(&sig), body, now)
                .err(),
            Some(SignatureError::Mismatch),
            "the id is signed: a replay under another id fails"
        );
        let sm3_as_v1 = sig.replace("v1,", "v1sm3,");
        assert_eq!(
            check(&sm3_as_v1, ts, body),
            Err(SignatureError::Mismatch),
            "a version is checked with its own algorithm only"
        );
        assert_eq!(
            ring.verify(Some("msg_1"), None, Some(&sig), body, now)
                .err(),
            Some(SignatureError::Malformed)
        );
        assert_eq!(
            ring.verify(Some(""), Some(&ts.to_string()), Some(&sig), body, now)
                .err(),
            Some(SignatureError::Malformed)
        );
        assert_eq!(check("v1,zz", ts, body), Err(SignatureError::Mismatch));
        assert!(!format!("{key:?}").contains("s3cret"));
    }

    #[test]
    fn secrets_are_whsec_base64_of_at_least_24_bytes() {
        let key = documented(Algorithm::HmacSha256);
        assert_eq!(key.secret_text(), SECRET);
        assert!(SigningKey::parse_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(SigningKey::parse_secret("whsec_!!").is_err());
        assert!(SigningKey::parse_secret("whsec_c2hvcnQ=").is_err());
        let e = KeyEntry::random("police-1", Agency::PoliceStation, Algorithm::HmacSm3);
        let keys = Keys::from_entries(vec![
            KeyEntry::random("platform-1", Agency::Platform, Algorithm::HmacSha256),
            e,
        ])
        .map_err(|e| e.to_string());
        assert_eq!(
            keys.map(|k| k.agencies.keys()[0].algorithm),
            Ok(Algorithm::HmacSm3)
        );
    }
}
