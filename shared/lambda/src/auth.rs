//! The caller on AWS: API Gateway's JWT authorizer has already checked the token's signature,
//! issuer, audience and expiry (`template.yaml`, `OidcAuthorizer`); the function reads the
//! verified claims from the request context that `lambda_http` attaches to the request. A
//! request without that context (or without a subject) is refused, so the function never trusts
//! a token it did not see verified.

use axum::http::StatusCode;
use axum::http::request::Parts;
use lambda_http::request::RequestContext;
use newborn_domain::text::Invalid;
use newborn_http::{Authenticator, Identity, Problem, Role};

/// The claim naming a caller's role; absent means an applicant.
pub const ROLE_CLAIM: &str = "newborn_role";

/// Identities from API Gateway's JWT authorizer.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiGatewayJwt;

fn unauthorized(zh: &str, en: &str) -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        &Invalid::new("unauthenticated", zh, en),
    )
}

impl Authenticator for ApiGatewayJwt {
    fn authenticate(&self, request: &Parts) -> Result<Identity, Problem> {
        let claims = match request.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx
                .authorizer
                .as_ref()
                .and_then(|a| a.jwt.as_ref())
                .map(|j| &j.claims),
            _ => None,
        }
        .ok_or_else(|| {
            unauthorized(
                "请先登录（缺少经验证的令牌）",
                "sign in first (no verified token)",
            )
        })?;
        let subject = claims
            .get("sub")
            .filter(|s| (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                unauthorized("登录凭证的主体无效", "the token's subject is not valid")
            })?;
        let role = match claims.get(ROLE_CLAIM).map(String::as_str) {
            None => Role::Applicant,
            Some(claim) => Role::parse(claim).ok_or_else(|| {
                unauthorized("登录凭证的角色无效", "the token's role is not known")
            })?,
        };
        // API Gateway's authorizer checks the signature, issuer, audience and expiry; the times
        // it does not check (a future iat or nbf, a lifetime over the maximum) are checked here.
        let time = |name: &str| claims.get(name).and_then(|v| v.parse::<i64>().ok());
        newborn_http::check_token_times(
            time("iat"),
            time("nbf"),
            time("exp"),
            chrono::Utc::now(),
            newborn_http::MAX_TOKEN_LIFETIME,
        )?;
        // API Gateway passes an array claim as "[a b]"; a single method as itself.
        let amr: Vec<String> = claims
            .get("amr")
            .map(|v| {
                v.trim_matches(['[', ']'])
                    .split([' ', ','])
                    .map(|m| m.trim_matches('"').to_owned())
                    .filter(|m| !m.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Ok(Identity {
            subject: subject.clone(),
            role,
            face_verified_at: newborn_http::face_verified_at(&amr, time("auth_time")),
            id_number: newborn_http::real_name(claims.get("id_number").map(String::as_str)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(claims: &str) -> String {
        format!(
            r#"{{"version":"2.0","routeKey":"GET /applications","rawPath":"/applications","rawQueryString":"",
            "headers":{{"host":"api.example.cn"}},
            "requestContext":{{"accountId":"1","apiId":"a","domainName":"api.example.cn","stage":"$default",
              "requestId":"r","time":"24/Nov/2026:10:00:00 +0000","timeEpoch":1,
              "http":{{"method":"GET","path":"/applications","protocol":"HTTP/1.1","sourceIp":"10.0.0.1","userAgent":"t"}}
              {claims}}},
            "isBase64Encoded":false}}"#
        )
    }

    fn parts(claims: &str) -> Parts {
        let iat = chrono::Utc::now().timestamp() - 60;
        let claims = claims.replace(
            r#""claims":{"#,
            &format!(r#""claims":{{"iat":"{iat}","exp":"{}","#, iat + 3600),
        );
        let claims = claims.as_str();
        let req = lambda_http::request::from_str(&event(claims)).unwrap_or_else(|e| panic!("{e}"));
        req.into_parts().0
    }

    #[test]
    fn the_verified_subject_and_role_come_from_the_authorizer_context() {
        let who = ApiGatewayJwt
            .authenticate(&parts(
                r#","authorizer":{"jwt":{"claims":{"sub":"mum-1","iss":"https://idp"},"scopes":null}}"#,
            ))
            .unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!((who.subject.as_str(), who.role), ("mum-1", Role::Applicant));
        assert_eq!(
            who.face_verified_at, None,
            "no amr claim: no face verification"
        );
        // 闽卫政法〔2024〕40号 附件4 八: the province's sign-in verified the face (amr, auth_time).
        let face = ApiGatewayJwt
            .authenticate(&parts(
                r#","authorizer":{"jwt":{"claims":{"sub":"mum-1","amr":"[face pwd]","auth_time":"1764000000"}}}"#,
            ))
            .unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(
            face.face_verified_at.map(|t| t.timestamp()),
            Some(1_764_000_000)
        );
        let staff = ApiGatewayJwt
            .authenticate(&parts(
                r#","authorizer":{"jwt":{"claims":{"sub":"staff-7","newborn_role":"counter_staff"}}}"#,
            ))
            .unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(staff.role, Role::CounterStaff);
    }

    #[test]
    fn without_a_verified_context_or_subject_the_caller_is_refused() {
        assert!(ApiGatewayJwt.authenticate(&parts("")).is_err());
        assert!(
            ApiGatewayJwt
                .authenticate(&parts(r#","authorizer":{"jwt":{"claims":{"iss":"x"}}}"#))
                .is_err()
        );
        assert!(
            ApiGatewayJwt
                .authenticate(&parts(
                    r#","authorizer":{"jwt":{"claims":{"sub":"x","newborn_role":"admin"}}}"#
                ))
                .is_err()
        );
        // A bearer header alone proves nothing here: the authorizer did not vouch for it.
        let (mut p, ()) = axum::http::Request::new(()).into_parts();
        p.headers.insert(
            "authorization",
            axum::http::HeaderValue::from_static("Bearer forged"),
        );
        assert!(ApiGatewayJwt.authenticate(&p).is_err());
    }

    #[test]
    fn claims_issued_in_the_future_or_living_too_long_are_refused() {
        let t = chrono::Utc::now().timestamp();
        let claims = |iat: i64, exp: i64| {
            let req = lambda_http::request::from_str(&event(&format!(
                r#","authorizer":{{"jwt":{{"claims":{{"sub":"mum-1","iat":"{iat}","exp":"{exp}"}}}}}}"#
            )))
            .unwrap_or_else(|e| panic!("{e}"));
            ApiGatewayJwt
                .authenticate(&req.into_parts().0)
                .map(|i| i.subject)
        };
        assert_eq!(claims(t - 60, t + 3600).ok(), Some("mum-1".to_owned()));
        assert!(claims(t + 600, t + 3600).is_err(), "issued in the future");
        assert!(claims(t - 60, t + 24 * 3600).is_err(), "a day-long token");
        assert!(claims(t - 7200, t - 3600).is_err(), "expired");
    }
}
