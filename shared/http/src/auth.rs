//! Who is calling. Applicants and counter staff present an OIDC JWT (`Authorization: Bearer`).
//! On AWS the API Gateway JWT authorizer validates it; locally [`DevIssuer`] is both the
//! development identity provider (the `token` command mints with it) and the validator.

use crate::problem::Problem;
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use newborn_domain::text::Invalid;
use serde::{Deserialize, Serialize};

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A parent using the provincial app.
    Applicant,
    /// Counter staff (一窗受理) submitting for a parent.
    CounterStaff,
    /// A supervisor (效能监督): overdue alerts and bad ratings' follow-ups.
    Supervisor,
}

impl Role {
    /// Its name in a token's `newborn_role` claim.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applicant => "applicant",
            Self::CounterStaff => "counter_staff",
            Self::Supervisor => "supervisor",
        }
    }

    /// The role of a `newborn_role` claim.
    pub fn parse(claim: &str) -> Option<Self> {
        [Self::Applicant, Self::CounterStaff, Self::Supervisor]
            .into_iter()
            .find(|r| r.as_str() == claim)
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The account subject (`sub`).
    pub subject: String,
    /// The role.
    pub role: Role,
    /// When the province's sign-in verified the caller's face, where the token says so (OIDC
    /// `amr` containing `face`, at `auth_time`): 闽卫政法〔2024〕40号 附件4 八 (全流程静态验证).
    pub face_verified_at: Option<DateTime<Utc>>,
    /// The caller's real-name identity number (公民身份号码), where the province's sign-in
    /// verified it and the token carries it (claim `id_number`): drafts from the hospital's
    /// birth record are shown to the mother by it.
    pub id_number: Option<newborn_domain::ids::IdNumber>,
}

/// The real-name identity number of a token's `id_number` claim; a malformed one is none.
pub fn real_name(claim: Option<&str>) -> Option<newborn_domain::ids::IdNumber> {
    claim.and_then(|c| c.parse().ok())
}

/// The face verification a token's `amr` and `auth_time` claims report (RFC 8176 `face`).
pub fn face_verified_at(amr: &[String], auth_time: Option<i64>) -> Option<DateTime<Utc>> {
    amr.iter()
        .any(|m| m == "face")
        .then(|| auth_time.and_then(|t| DateTime::from_timestamp(t, 0)))
        .flatten()
}

/// Authenticates requests.
pub trait Authenticator: Send + Sync {
    /// The caller of a request (its head: headers, and extensions such as the request context
    /// of API Gateway's JWT authorizer), or a 401 problem.
    fn authenticate(&self, request: &Parts) -> Result<Identity, Problem>;
}

/// The bearer token of a request's `Authorization` header, if it has one.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    exp: i64,
    #[serde(default = "applicant")]
    newborn_role: Role,
    /// Authentication methods (RFC 8176): `face` where the sign-in verified the face.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    amr: Vec<String>,
    /// When the sign-in authenticated the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
    /// The real-name identity number the sign-in verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_number: Option<String>,
}

fn applicant() -> Role {
    Role::Applicant
}

/// Clock skew allowed between the issuer and this service, in seconds.
pub const SKEW_SECS: i64 = 30;
/// The longest lifetime of a token accepted by default (`exp - iat`): 12 hours.
pub const MAX_TOKEN_LIFETIME: TimeDelta = TimeDelta::hours(12);

/// Whether a token's times can be believed at `now`: issued (`iat`) and valid from (`nbf`) not
/// later than `now` plus the skew, not expired, and living no longer than `max_lifetime`.
/// Returns why not, in both languages.
pub fn check_token_times(
    iat: Option<i64>,
    nbf: Option<i64>,
    exp: Option<i64>,
    now: DateTime<Utc>,
    max_lifetime: TimeDelta,
) -> Result<(), Problem> {
    let now = now.timestamp();
    let (Some(iat), Some(exp)) = (iat, exp) else {
        return Err(unauthorized(
            "登录凭证缺少签发或过期时间",
            "the token lacks its issue or expiry time",
        ));
    };
    if iat > now.saturating_add(SKEW_SECS) || nbf.is_some_and(|n| n > now.saturating_add(SKEW_SECS))
    {
        return Err(unauthorized(
            "登录凭证尚未生效",
            "the token is not valid yet",
        ));
    }
    if exp < now.saturating_sub(SKEW_SECS) {
        return Err(unauthorized(
            "登录凭证已过期，请重新登录",
            "the token has expired; sign in again",
        ));
    }
    if exp.saturating_sub(iat) > max_lifetime.num_seconds() {
        return Err(unauthorized(
            "登录凭证有效期过长，请重新登录",
            "the token lives longer than allowed; sign in again",
        ));
    }
    Ok(())
}

/// The development identity provider of the local runtime: HS256 tokens with issuer, audience,
/// issue time, not-before, expiry and lifetime checked. The secret never appears in `Debug`
/// output.
#[derive(Clone)]
pub struct DevIssuer {
    issuer: String,
    audience: String,
    secret: Vec<u8>,
    max_lifetime: TimeDelta,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DevIssuer({}, {}, ****)", self.issuer, self.audience)
    }
}

fn unauthorized(zh: &str, en: &str) -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        &Invalid::new("unauthenticated", zh, en),
    )
}

impl DevIssuer {
    /// An issuer with its name, audience and HMAC secret.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, secret: Vec<u8>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            secret,
            max_lifetime: MAX_TOKEN_LIFETIME,
        }
    }

    /// The same issuer accepting tokens living up to `max_lifetime`.
    pub fn with_max_lifetime(mut self, max_lifetime: TimeDelta) -> Self {
        self.max_lifetime = max_lifetime;
        self
    }

    /// Mints a token for `subject` valid for `ttl` from `now`.
    pub fn mint(
        &self,
        subject: &str,
        role: Role,
        ttl: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<String, String> {
        self.mint_real_name(subject, role, None, ttl, now)
    }

    /// Mints a token for `subject` whose real-name identity number the sign-in verified.
    pub fn mint_real_name(
        &self,
        subject: &str,
        role: Role,
        id_number: Option<&str>,
        ttl: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<String, String> {
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: subject.to_owned(),
            iat: now.timestamp(),
            nbf: Some(now.timestamp()),
            exp: (now + ttl).timestamp(),
            newborn_role: role,
            // The development sign-in stands for the province's, which verifies a parent's face
            // (附件4 八); staff sign in otherwise.
            amr: match role {
                Role::Applicant => vec!["face".into()],
                _ => vec!["pwd".into()],
            },
            auth_time: Some(now.timestamp()),
            id_number: id_number.map(str::to_owned),
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.secret),
        )
        .map_err(|e| e.to_string())
    }
}

impl Authenticator for DevIssuer {
    fn authenticate(&self, request: &Parts) -> Result<Identity, Problem> {
        let token = bearer_token(&request.headers).ok_or_else(|| {
            unauthorized(
                "请先登录（缺少Bearer令牌）",
                "sign in first (no bearer token)",
            )
        })?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = SKEW_SECS as u64;
        let data = jsonwebtoken::decode::<Claims>(
            token.trim(),
            &DecodingKey::from_secret(&self.secret),
            &validation,
        )
        .map_err(|e| {
            tracing::info!(error = %e, "token refused");
            unauthorized(
                "登录凭证无效或已过期，请重新登录",
                "the token is invalid or expired; sign in again",
            )
        })?;
        check_token_times(
            Some(data.claims.iat),
            data.claims.nbf,
            Some(data.claims.exp),
            Utc::now(),
            self.max_lifetime,
        )?;
        let sub = data.claims.sub;
        if sub.is_empty() || sub.len() > 128 || !sub.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(unauthorized(
                "登录凭证的主体无效",
                "the token's subject is not valid",
            ));
        }
        Ok(Identity {
            subject: sub,
            role: data.claims.newborn_role,
            face_verified_at: face_verified_at(&data.claims.amr, data.claims.auth_time),
            id_number: real_name(data.claims.id_number.as_deref()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(token: &str) -> Parts {
        let (parts, ()) = axum::http::Request::builder()
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap_or_default()
            .into_parts();
        parts
    }

    #[test]
    fn tokens_are_checked_for_signature_issuer_audience_and_expiry() {
        let now = Utc::now();
        let issuer = DevIssuer::new("dev", "newborn", b"secret".to_vec());
        let good = issuer
            .mint("mum-1", Role::Applicant, TimeDelta::hours(1), now)
            .unwrap_or_default();
        assert_eq!(
            issuer.authenticate(&headers(&good)).map(|i| i.subject).ok(),
            Some("mum-1".into())
        );
        let staff = issuer
            .mint("staff-7", Role::CounterStaff, TimeDelta::hours(1), now)
            .unwrap_or_default();
        assert_eq!(
            issuer.authenticate(&headers(&staff)).map(|i| i.role).ok(),
            Some(Role::CounterStaff)
        );
        let expired = issuer
            .mint(
                "mum-1",
                Role::Applicant,
                TimeDelta::hours(1),
                now - TimeDelta::hours(3),
            )
            .unwrap_or_default();
        assert!(issuer.authenticate(&headers(&expired)).is_err());
        let forged = DevIssuer::new("dev", "newborn", b"other".to_vec())
            .mint("mum-1", Role::Applicant, TimeDelta::hours(1), now)
            .unwrap_or_default();
        assert!(issuer.authenticate(&headers(&forged)).is_err());
        let wrong_aud = DevIssuer::new("dev", "elsewhere", b"secret".to_vec())
            .mint("mum-1", Role::Applicant, TimeDelta::hours(1), now)
            .unwrap_or_default();
        assert!(issuer.authenticate(&headers(&wrong_aud)).is_err());
        assert!(
            issuer
                .authenticate(&axum::http::Request::new(()).into_parts().0)
                .is_err()
        );
        assert!(!format!("{issuer:?}").contains("secret"));
    }

    #[test]
    fn token_times_are_believed_only_within_skew_and_lifetime() {
        let now = Utc::now();
        let t = now.timestamp();
        let check = |iat, nbf, exp| {
            check_token_times(iat, nbf, exp, now, MAX_TOKEN_LIFETIME)
                .err()
                .map(|p| p.0.detail_en.clone())
        };
        assert_eq!(check(Some(t), Some(t), Some(t + 3600)), None);
        assert_eq!(
            check(Some(t + 20), None, Some(t + 3600)),
            None,
            "within the skew"
        );
        for (iat, nbf, exp, why) in [
            (Some(t + 120), None, Some(t + 3600), "not valid yet"),
            (Some(t), Some(t + 120), Some(t + 3600), "not valid yet"),
            (Some(t - 7200), None, Some(t - 3600), "expired"),
            (Some(t), None, Some(t + 13 * 3600), "longer than allowed"),
            (None, None, Some(t + 3600), "lacks"),
            (Some(t), None, Some(i64::MAX), "longer than allowed"),
        ] {
            let got = check(iat, nbf, exp).unwrap_or_default();
            assert!(got.contains(why), "{iat:?} {nbf:?} {exp:?}: {got}");
        }
        let issuer = DevIssuer::new("dev", "newborn", b"secret".to_vec());
        let long = issuer
            .mint("mum-1", Role::Applicant, TimeDelta::hours(13), now)
            .unwrap_or_default();
        assert!(issuer.authenticate(&headers(&long)).is_err(), "13 h");
        let future = issuer
            .mint(
                "mum-1",
                Role::Applicant,
                TimeDelta::hours(1),
                now + TimeDelta::hours(1),
            )
            .unwrap_or_default();
        assert!(
            issuer.authenticate(&headers(&future)).is_err(),
            "issued later"
        );
        let supervisor = issuer
            .mint("sup-1", Role::Supervisor, TimeDelta::hours(1), now)
            .unwrap_or_default();
        assert_eq!(
            issuer
                .authenticate(&headers(&supervisor))
                .map(|i| i.role)
                .ok(),
            Some(Role::Supervisor)
        );
    }
}
