//! The signed result of a finished application (办件结果通知): a compact JWS (RFC 7515, compact
//! serialisation, `alg` EdDSA with an Ed25519 key, RFC 8037) over the [`ResultNotice`], made and
//! checked with the maintained `jsonwebtoken` library, and its QR code (the `qrcode` crate) as a
//! PNG. Anyone verifies it offline with the platform's public key, published as a JWK set
//! (RFC 7517) at `/.well-known/jwks.json`, by `newborn verify`, or on the public `/verify` page.
//!
//! Ed25519 signatures are deterministic and the notice is made from the application alone (its
//! `iat` is when the application ended), so the same application always gets the same token.

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
pub use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use newborn_domain::result_notice::ResultNotice;
use serde::{Deserialize, Serialize};

/// The `iss` of every result.
pub const ISSUER: &str = "newborn-one-stop";

/// The longest token accepted for checking (a result is well under 2 KB).
pub const MAX_TOKEN_LEN: usize = 4096;

/// What the signature covers: the registered claims and the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Claims {
    iss: String,
    sub: String,
    iat: i64,
    result: ResultNotice,
}

/// The platform's key for results: Ed25519, its private half only in the key file.
#[derive(Clone)]
pub struct ResultKey {
    key_id: String,
    encoding: EncodingKey,
    public: [u8; 32],
}

impl std::fmt::Debug for ResultKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Why a result does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not a compact JWS, or too long.
    #[error("not a signed result")]
    Malformed,
    /// Its key id is not one of the platform's published keys.
    #[error("signed with a key the platform has not published ({0})")]
    UnknownKey(String),
    /// The signature does not match (the content or the signature was altered).
    #[error("the signature does not match: the result was altered or not issued by the platform")]
    BadSignature,
}

impl ResultKey {
    /// A new random key, with its PKCS#8 PEM text for the key file.
    pub fn generate(key_id: &str) -> Result<(Self, String), String> {
        let signing = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
        let pem = signing
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| format!("encoding the result key: {e}"))?;
        let key = Self::from_pem(key_id, &pem)?;
        Ok((key, pem.to_string()))
    }

    /// The key of a PKCS#8 PEM text (`-----BEGIN PRIVATE KEY-----`); names what is wrong
    /// without showing the key.
    pub fn from_pem(key_id: &str, pem: &str) -> Result<Self, String> {
        let signing = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map_err(|_| format!("result key {key_id}: not an Ed25519 PKCS#8 PEM private key"))?;
        let der = signing
            .to_pkcs8_der()
            .map_err(|e| format!("result key {key_id}: {e}"))?;
        Ok(Self {
            key_id: key_id.to_owned(),
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            public: signing.verifying_key().to_bytes(),
        })
    }

    /// Its id (the JWS `kid`).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The signed result of `notice`, a compact JWS.
    pub fn sign(&self, notice: &ResultNotice) -> Result<String, String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.key_id.clone());
        let claims = Claims {
            iss: ISSUER.to_owned(),
            sub: notice.application.clone(),
            iat: notice.ended_at.timestamp(),
            result: notice.clone(),
        };
        jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(|e| e.to_string())
    }

    /// The public key as a JWK set (what `/.well-known/jwks.json` publishes).
    pub fn jwks(&self) -> JwkSet {
        use base64::Engine as _;
        JwkSet {
            keys: vec![Jwk {
                common: CommonParameters {
                    public_key_use: Some(PublicKeyUse::Signature),
                    key_algorithm: Some(KeyAlgorithm::EdDSA),
                    key_id: Some(self.key_id.clone()),
                    ..Default::default()
                },
                algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                    key_type: OctetKeyPairType::OctetKeyPair,
                    curve: EllipticCurve::Ed25519,
                    x: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.public),
                }),
            }],
        }
    }
}

/// Checks `token` against the published keys `jwks`; the result it carries if it verifies.
pub fn verify(token: &str, jwks: &JwkSet) -> Result<ResultNotice, Refused> {
    let token = token.trim();
    if token.len() > MAX_TOKEN_LEN || token.split('.').count() != 3 {
        return Err(Refused::Malformed);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| Refused::Malformed)?;
    if header.alg != Algorithm::EdDSA {
        return Err(Refused::BadSignature);
    }
    let kid = header.kid.unwrap_or_default();
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| Refused::UnknownKey(kid.clone()))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| Refused::UnknownKey(kid))?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    // A result does not expire: what was done stays done.
    validation.validate_exp = false;
    validation.required_spec_claims = ["iss", "sub"].into_iter().map(String::from).collect();
    validation.set_issuer(&[ISSUER]);
    let data =
        jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => Refused::BadSignature,
            _ => Refused::Malformed,
        })?;
    if data.claims.sub != data.claims.result.application {
        return Err(Refused::BadSignature);
    }
    Ok(data.claims.result)
}

/// The QR code of `text` as a PNG: black modules on white, a quiet zone, 4 pixels a module.
pub fn qr_png(text: &str) -> Result<Vec<u8>, String> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| format!("QR code: {e}"))?;
    let image = code
        .render::<image::Luma<u8>>()
        .module_dimensions(4, 4)
        .build();
    let mut png = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut png, image::ImageFormat::Png)
        .map_err(|e| format!("PNG: {e}"))?;
    Ok(png.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use newborn_domain::flow::Outcome;
    use newborn_domain::result_notice::ResultItem;

    fn notice() -> ResultNotice {
        let at: DateTime<Utc> = "2026-12-07T02:00:00Z".parse().unwrap_or_default();
        ResultNotice {
            application: "APP-1".into(),
            policy: "fujian-2.0@2024-05-20".into(),
            outcome: Outcome::Completed,
            ended_at: at,
            newborn: "张*".into(),
            items: vec![ResultItem::Police {
                done: Some(at),
                id_number: "3501**********1234".into(),
            }],
        }
    }

    /// A result verifies against the published key, twice the same; a result signed with
    /// another key, altered in one byte, or malformed does not.
    /// Rules: OURS-SIGNED-RESULT.
    #[test]
    fn a_result_verifies_and_an_altered_one_does_not() -> Result<(), String> {
        let (key, pem) = ResultKey::generate("results-1")?;
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let token = key.sign(&notice())?;
        assert_eq!(key.sign(&notice())?, token, "deterministic");
        assert_eq!(verify(&token, &key.jwks()), Ok(notice()));
        // Reloaded from its PEM it is the same key.
        let again = ResultKey::from_pem("results-1", &pem)?;
        assert_eq!(verify(&token, &again.jwks()), Ok(notice()));
        // Every single-byte change of the payload or the signature is refused.
        let payload_at = token.find('.').unwrap_or(0) + 5;
        let signature_at = token.rfind('.').unwrap_or(0) + 5;
        for at in [payload_at, signature_at, token.len() - 1] {
            let mut bytes = token.clone().into_bytes();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let flipped = String::from_utf8(bytes).map_err(|e| e.to_string())?;
            assert!(verify(&flipped, &key.jwks()).is_err(), "byte {at}");
        }
        let (other, _) = ResultKey::generate("results-1")?;
        assert_eq!(
            verify(&other.sign(&notice())?, &key.jwks()),
            Err(Refused::BadSignature)
        );
        let (renamed, _) = ResultKey::generate("results-2")?;
        assert_eq!(
            verify(&renamed.sign(&notice())?, &key.jwks()),
            Err(Refused::UnknownKey("results-2".into()))
        );
        assert_eq!(verify("not.a-token", &key.jwks()), Err(Refused::Malformed));
        // The QR code of a token is a PNG.
        let png = qr_png(&token)?;
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        Ok(())
    }
}
