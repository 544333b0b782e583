//! Signatures of the webhooks in both directions: HMAC-SHA256 over the timestamp and the raw
//! body, with a key id so keys can be rotated (two active at once).
//!
//! Headers: `X-Newborn-Key-Id: <key id>`, `X-Newborn-Timestamp: <unix seconds>`,
//! `X-Newborn-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`.
//! A receiver accepts a timestamp within five minutes of its own clock and compares in
//! constant time.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use newborn_domain::stage::Agency;
use sha2::Sha256;
use std::fmt;

/// Header carrying the key id.
pub const KEY_ID_HEADER: &str = "x-newborn-key-id";
/// Header carrying the Unix timestamp in seconds.
pub const TIMESTAMP_HEADER: &str = "x-newborn-timestamp";
/// Header carrying `v1=<hex>`.
pub const SIGNATURE_HEADER: &str = "x-newborn-signature";
/// Header carrying the idempotency key of a dispatch.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// How far a signed timestamp may be from the receiver's clock.
pub const WINDOW_SECS: i64 = 300;

/// A shared secret with its id and owner. The secret never appears in `Debug` output.
#[derive(Clone)]
pub struct SigningKey {
    /// The key id sent in `X-Newborn-Key-Id`.
    pub key_id: String,
    /// Who signs with it: an agency, or the platform for outbound dispatches.
    pub owner: Agency,
    secret: Vec<u8>,
}

impl SigningKey {
    /// A key from its parts.
    pub fn new(key_id: impl Into<String>, owner: Agency, secret: Vec<u8>) -> Self {
        Self {
            key_id: key_id.into(),
            owner,
            secret,
        }
    }

    /// The secret, hex-encoded (for writing a key file or handing it to an integrator).
    pub fn secret_hex(&self) -> String {
        hex::encode(&self.secret)
    }

    fn mac(&self, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `X-Newborn-Signature` value for `body` at `timestamp`.
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        format!(
            "v1={}",
            hex::encode(self.mac(timestamp, body).finalize().into_bytes())
        )
    }

    /// Whether `signature` is this key's signature of `body` at `timestamp` (constant-time), with
    /// no time window: for signed URLs that carry their own expiry.
    pub fn verifies(&self, timestamp: i64, body: &[u8], signature: &str) -> bool {
        signature
            .strip_prefix("v1=")
            .and_then(|h| hex::decode(h).ok())
            .is_some_and(|given| self.mac(timestamp, body).verify_slice(&given).is_ok())
    }

    /// The three headers for `body` signed now.
    pub fn headers(&self, now: DateTime<Utc>, body: &[u8]) -> [(&'static str, String); 3] {
        let ts = now.timestamp();
        [
            (KEY_ID_HEADER, self.key_id.clone()),
            (TIMESTAMP_HEADER, ts.to_string()),
            (SIGNATURE_HEADER, self.sign(ts, body)),
        ]
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, {:?}, ****)", self.key_id, self.owner)
    }
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header is missing or malformed.
    #[error("missing or malformed signature headers")]
    Malformed,
    /// The key id is unknown (or retired).
    #[error("unknown key id")]
    UnknownKey,
    /// The timestamp is outside the window.
    #[error("timestamp outside the {WINDOW_SECS} s window")]
    Expired,
    /// The signature does not match.
    #[error("signature mismatch")]
    Mismatch,
}

/// One key of a key file: `keys.json` of a local installation, or the webhook-keys secret
/// (Secrets Manager) on AWS — the same JSON array in both.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct KeyEntry {
    /// The key id.
    pub key_id: String,
    /// Whose key: `platform` signs dispatches, each agency signs its callbacks.
    pub owner: Agency,
    /// The secret, hex.
    pub secret_hex: String,
}

/// The platform's signing key and the agencies' keys, read from a key file.
#[derive(Debug, Clone)]
pub struct Keys {
    /// The platform's signing key.
    pub platform: SigningKey,
    /// The agencies' keys.
    pub agencies: KeyRing,
}

impl Keys {
    /// Reads a key file's JSON; names what is wrong without showing any secret.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let entries: Vec<KeyEntry> = serde_json::from_str(text).map_err(|e| {
            format!("not a key file (a JSON array of {{key_id, owner, secret_hex}}): {e}")
        })?;
        Self::from_entries(entries)
    }

    /// The keys of these entries: exactly one platform key is required.
    pub fn from_entries(entries: Vec<KeyEntry>) -> Result<Self, String> {
        let mut platform = None;
        let mut agencies = vec![];
        for e in entries {
            let secret = hex::decode(&e.secret_hex)
                .map_err(|_| format!("the secret of key {} is not hex", e.key_id))?;
            let key = SigningKey::new(e.key_id, e.owner, secret);
            if e.owner == Agency::Platform {
                platform = Some(key);
            } else {
                agencies.push(key);
            }
        }
        Ok(Self {
            platform: platform.ok_or("the key file has no platform key")?,
            agencies: KeyRing::new(agencies),
        })
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

    /// Verifies headers and body at `now`; returns the key that signed.
    pub fn verify(
        &self,
        key_id: Option<&str>,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<&SigningKey, SignatureError> {
        let (Some(key_id), Some(ts), Some(sig)) = (key_id, timestamp, signature) else {
            return Err(SignatureError::Malformed);
        };
        let ts: i64 = ts.trim().parse().map_err(|_| SignatureError::Malformed)?;
        let given = sig
            .trim()
            .strip_prefix("v1=")
            .and_then(|h| hex::decode(h).ok())
            .ok_or(SignatureError::Malformed)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.key_id == key_id)
            .ok_or(SignatureError::UnknownKey)?;
        if (now.timestamp() - ts).abs() > WINDOW_SECS {
            return Err(SignatureError::Expired);
        }
        key.mac(ts, body)
            .verify_slice(&given)
            .map_err(|_| SignatureError::Mismatch)?;
        Ok(key)
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

    /// A worked example for integrators (docs/agency-integration.md repeats it).
    #[test]
    fn the_documented_test_vector() {
        let key = SigningKey::new(
            "hospital-2025-01",
            Agency::Hospital,
            b"test-secret".to_vec(),
        );
        let sig = key.sign(1_763_350_000, br#"{"application_id":"NB1"}"#);
        // Computed independently: python3 -c "import hmac,hashlib; print(hmac.new(b'test-secret',
        // b'1763350000.{\"application_id\":\"NB1\"}', hashlib.sha256).hexdigest())"
        assert_eq!(
            sig,
            "v1=181be3e85aa102ac0ccd58c4c79d176bf66678f5fccc8e015f74bb3be0fa9941"
        );
    }

    #[test]
    fn signatures_verify_within_the_window_and_fail_outside_it_or_when_forged() {
        let now = t("2025-11-17T09:00:00+08:00");
        let key = SigningKey::new("police-1", Agency::PoliceStation, b"s3cret".to_vec());
        let old = SigningKey::new("police-0", Agency::PoliceStation, b"older".to_vec());
        let ring = KeyRing::new(vec![key.clone(), old.clone()]);
        let body = b"{}";
        let ts = now.timestamp();
        let ok = |k: &SigningKey, ts: i64, body: &[u8]| {
            ring.verify(
                Some(&k.key_id),
                Some(&ts.to_string()),
                Some(&k.sign(ts, body)),
                body,
                now,
            )
            .map(|k| k.key_id.clone())
        };
        assert_eq!(ok(&key, ts, body), Ok("police-1".into()));
        assert_eq!(
            ok(&old, ts - 299, body),
            Ok("police-0".into()),
            "both keys active during rotation"
        );
        assert_eq!(ok(&key, ts - 301, body), Err(SignatureError::Expired));
        let sig = key.sign(ts, body);
        assert_eq!(
            ring.verify(
                Some("police-1"),
                Some(&ts.to_string()),
                Some(&sig),
                b"{ }",
                now
            )
            .err(),
            Some(SignatureError::Mismatch)
        );
        assert_eq!(
            ring.verify(Some("nobody"), Some(&ts.to_string()), Some(&sig), body, now)
                .err(),
            Some(SignatureError::UnknownKey)
        );
        assert_eq!(
            ring.verify(Some("police-1"), None, Some(&sig), body, now)
                .err(),
            Some(SignatureError::Malformed)
        );
        assert_eq!(
            ring.verify(
                Some("police-1"),
                Some(&ts.to_string()),
                Some("v1=zz"),
                body,
                now
            )
            .err(),
            Some(SignatureError::Malformed)
        );
        assert!(!format!("{key:?}").contains("s3cret"));
    }
}
