//! An optional address allow-list for the agency callback route (`CallbackAllowedCidrs` in
//! `template.yaml`): in the China regions that route has no JWT authorizer, so besides the HMAC
//! signatures a province may restrict it to the agencies' networks. The address is API Gateway's
//! `requestContext.http.sourceIp`, which a caller cannot set.

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use lambda_http::request::RequestContext;
use newborn_domain::text::Invalid;
use newborn_http::Problem;
use std::net::IpAddr;

/// CIDR ranges; empty allows every address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(Vec<(IpAddr, u8)>);

impl AllowList {
    /// Parses `10.0.0.0/8, 2001:db8::/32, 192.0.2.7` (a bare address is a single host).
    pub fn parse(text: &str) -> Result<Self, String> {
        text.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|part| {
                let (addr, bits) = part.split_once('/').unwrap_or((part, ""));
                let addr: IpAddr = addr
                    .parse()
                    .map_err(|_| format!("\"{part}\" is not an IP address or CIDR range"))?;
                let max = if addr.is_ipv4() { 32 } else { 128 };
                let bits = if bits.is_empty() {
                    max
                } else {
                    bits.parse::<u8>()
                        .ok()
                        .filter(|b| *b <= max)
                        .ok_or_else(|| {
                            format!("\"{part}\": the prefix length must be 0 to {max}")
                        })?
                };
                Ok((addr, bits))
            })
            .collect::<Result<_, String>>()
            .map(Self)
    }

    /// Whether the list is empty (every address allowed).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` falls in one of the ranges (always, for an empty list).
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.is_empty()
            || self.0.iter().any(|(net, bits)| match (net, ip) {
                (IpAddr::V4(n), IpAddr::V4(a)) => {
                    let mask = u32::MAX.checked_shl(32 - u32::from(*bits)).unwrap_or(0);
                    u32::from(*n) & mask == u32::from(a) & mask
                }
                (IpAddr::V6(n), IpAddr::V6(a)) => {
                    let mask = u128::MAX.checked_shl(128 - u32::from(*bits)).unwrap_or(0);
                    u128::from(*n) & mask == u128::from(a) & mask
                }
                _ => false,
            })
    }

    /// The router behind this allow-list (unchanged when the list is empty).
    pub fn guard(self, router: Router) -> Router {
        if self.is_empty() {
            return router;
        }
        router.layer(middleware::from_fn(move |req: Request, next: Next| {
            let list = self.clone();
            async move {
                let source = match req.extensions().get::<RequestContext>() {
                    Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
                    _ => None,
                };
                match source.and_then(|s| s.parse::<IpAddr>().ok()) {
                    Some(ip) if list.allows(ip) => next.run(req).await,
                    _ => forbidden(),
                }
            }
        }))
    }
}

fn forbidden() -> Response {
    Problem::new(
        StatusCode::FORBIDDEN,
        &Invalid::new(
            "source_not_allowed",
            "该地址不在回调来源白名单内",
            "callbacks are not accepted from this address",
        ),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn ranges_admit_their_addresses_only() {
        let list = AllowList::parse("10.20.0.0/16, 192.0.2.7, 2001:db8::/32")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(list.allows(ip("10.20.255.1")));
        assert!(!list.allows(ip("10.21.0.1")));
        assert!(list.allows(ip("192.0.2.7")));
        assert!(!list.allows(ip("192.0.2.8")));
        assert!(list.allows(ip("2001:db8:1::9")));
        assert!(!list.allows(ip("2001:db9::1")));
        assert!(
            AllowList::parse("")
                .unwrap_or_default()
                .allows(ip("203.0.113.1"))
        );
        assert!(
            AllowList::parse("0.0.0.0/0")
                .unwrap_or_default()
                .allows(ip("203.0.113.1"))
        );
    }

    async fn status_from(router: Router, source_ip: &str) -> u16 {
        use tower::ServiceExt;
        let event = serde_json::json!({
            "version": "2.0", "routeKey": "POST /agency/callbacks", "rawPath": "/agency/callbacks",
            "rawQueryString": "", "headers": {"host": "api.example.cn"},
            "requestContext": {"accountId": "1", "apiId": "a", "domainName": "api.example.cn",
                "stage": "$default", "requestId": "r", "time": "24/Nov/2026:10:00:00 +0000", "timeEpoch": 1,
                "http": {"method": "POST", "path": "/agency/callbacks", "protocol": "HTTP/1.1",
                         "sourceIp": source_ip, "userAgent": "agency"}},
            "body": "{}", "isBase64Encoded": false
        });
        let req = lambda_http::request::from_str(&event.to_string())
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|b| axum::body::Body::from(b.to_vec()));
        router
            .oneshot(req)
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or_else(|e| match e {})
    }

    #[tokio::test]
    async fn callbacks_from_outside_the_allow_list_are_refused_before_the_handler() {
        let router = || {
            Router::new().route(
                "/agency/callbacks",
                axum::routing::post(|| async { "handled" }),
            )
        };
        let list = AllowList::parse("10.20.0.0/16").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            status_from(list.clone().guard(router()), "10.20.3.4").await,
            200
        );
        assert_eq!(status_from(list.guard(router()), "203.0.113.9").await, 403);
        assert_eq!(
            status_from(AllowList::default().guard(router()), "203.0.113.9").await,
            200,
            "no list, no restriction"
        );
    }

    #[test]
    fn a_malformed_range_is_named() {
        assert!(AllowList::parse("10.0.0.0/33").is_err_and(|e| e.contains("10.0.0.0/33")));
        assert!(AllowList::parse("agency.example.cn").is_err_and(|e| e.contains("agency")));
    }
}
