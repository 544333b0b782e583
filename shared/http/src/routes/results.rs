//! Everyone's routes for signed results (办件结果通知): the platform's published key,
//! `GET /.well-known/jwks.json`, and the verification page, `GET /verify?token=…`, which checks a
//! result against that key and shows what it certifies, with its QR code. No sign-in: a bank, a
//! kindergarten or a counter checks what a family shows it. Served by the `api` function (the
//! template routes both paths without the JWT authorizer) and the local server.

use crate::routes::problem;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use newborn_domain::calendar::CHINA;
use newborn_domain::flow::Outcome;
use newborn_domain::kinds::CertificateVersion;
use newborn_domain::result_notice::{ResultItem, ResultNotice};
use newborn_service::attestation::{self, MAX_TOKEN_LEN, Refused};
use serde::Deserialize;
use std::fmt::Write as _;
use std::sync::Arc;

/// The published keys results are checked against (none: this installation signs none).
#[derive(Clone)]
pub struct ResultRoutes {
    /// The platform's public result keys.
    pub keys: Option<Arc<JwkSet>>,
}

/// The routes.
pub fn routes(state: ResultRoutes) -> Router {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/verify", get(verify_page))
        .with_state(state)
}

async fn jwks(State(s): State<ResultRoutes>) -> Response {
    match &s.keys {
        Some(keys) => (
            [(header::CACHE_CONTROL, "public, max-age=3600")],
            axum::Json(keys.as_ref().clone()),
        )
            .into_response(),
        None => problem(
            StatusCode::NOT_FOUND,
            "no_result_key",
            "本平台未配置办件结果签名密钥",
            "this installation publishes no result key",
        )
        .into_response(),
    }
}

#[derive(Deserialize)]
struct VerifyQuery {
    token: Option<String>,
}

/// The address of the verification page of `token` on the host that served `headers`.
pub fn verify_url(headers: &HeaderMap, token: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https" || *p == "http")
        .unwrap_or(
            if host.starts_with("127.") || host.starts_with("localhost") {
                "http"
            } else {
                "https"
            },
        );
    format!("{scheme}://{host}/verify?token={token}")
}

async fn verify_page(
    State(s): State<ResultRoutes>,
    headers: HeaderMap,
    Query(q): Query<VerifyQuery>,
) -> Response {
    let token = q.token.map(|t| t.trim().to_owned()).unwrap_or_default();
    let (status, body) = if token.is_empty() {
        (StatusCode::OK, form())
    } else {
        match &s.keys {
            None => (
                StatusCode::SERVICE_UNAVAILABLE,
                refused_section(
                    "本平台未配置办件结果签名密钥",
                    "this installation publishes no result key",
                ),
            ),
            Some(keys) => match attestation::verify(&token, keys) {
                Ok(notice) => (
                    StatusCode::OK,
                    verified_section(&notice, &verify_url(&headers, &token)),
                ),
                Err(why) => (StatusCode::UNPROCESSABLE_ENTITY, refused(&why)),
            },
        }
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'self'",
            ),
        ],
        page(&body),
    )
        .into_response()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>办件结果核验 · Result verification</title><style>\
         body{{font-family:sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}}\
         h1{{font-size:1.4rem}} .ok{{background:#e6f4ea;border-left:6px solid #1e8e3e;padding:.8rem}}\
         .no{{background:#fce8e6;border-left:6px solid #c5221f;padding:.8rem}}\
         table{{border-collapse:collapse;width:100%;margin:1rem 0}} td,th{{border:1px solid #ccc;padding:.4rem;text-align:left}}\
         .en{{color:#555;font-size:.9em}} img{{image-rendering:pixelated;width:420px;height:420px}}\
         input{{width:100%;font-family:monospace}}</style></head><body>\
         <h1>出生一件事 · 办件结果核验<br><span class=\"en\">Newborn one-stop service · result verification</span></h1>\
         {body}</body></html>"
    )
}

fn form() -> String {
    format!(
        "<p>请输入办件结果通知上的核验码，或扫描其二维码。<br><span class=\"en\">Paste the code of a \
         result notice, or scan its QR code.</span></p><form method=\"get\" action=\"/verify\">\
         <input name=\"token\" maxlength=\"{MAX_TOKEN_LEN}\" autofocus> <button>核验 · Verify</button></form>"
    )
}

fn refused(why: &Refused) -> String {
    let (zh, en) = match why {
        Refused::Malformed => ("这不是有效的办件结果核验码", "this is not a signed result"),
        Refused::UnknownKey(_) => (
            "签名密钥不是本平台公布的密钥",
            "it is signed with a key this platform has not published",
        ),
        Refused::BadSignature => (
            "签名不符：内容被改动过，或并非本平台签发",
            "the signature does not match: it was altered, or not issued by this platform",
        ),
    };
    refused_section(zh, en)
}

fn refused_section(zh: &str, en: &str) -> String {
    format!(
        "<div class=\"no\" id=\"verdict\" data-verified=\"false\"><strong>✗ 核验未通过：{}</strong><br>\
         <span class=\"en\">Not verified: {}</span></div>{}",
        esc(zh),
        esc(en),
        form()
    )
}

fn date(t: DateTime<Utc>) -> String {
    t.with_timezone(&CHINA).format("%Y-%m-%d %H:%M").to_string()
}

fn when(done: Option<DateTime<Utc>>) -> String {
    done.map(date).unwrap_or_default()
}

/// One item as a row: its name, when it was done, and what it produced.
fn row(item: &ResultItem) -> (String, String) {
    let yes_no = |b: bool, zh: &str, en: &str| {
        if b {
            format!("{zh} · {en}")
        } else {
            format!("未{zh} · not {en}")
        }
    };
    match item {
        ResultItem::HealthCheck {
            done,
            certificate,
            vaccination,
        } => (
            when(*done),
            format!(
                "出生医学证明编号 · certificate no. {}；{}",
                certificate,
                yes_no(
                    *vaccination,
                    "发放预防接种证",
                    "vaccination certificate issued"
                )
            ),
        ),
        ResultItem::Police { done, id_number } => (
            when(*done),
            format!("公民身份号码 · identity no. {id_number}"),
        ),
        ResultItem::CertificateRelease { done, version } => (
            when(*done),
            match version {
                CertificateVersion::MainPage => "发放出生医学证明正页 · main page released".into(),
                CertificateVersion::Full => {
                    "发放完整出生医学证明 · full certificate released".into()
                }
            },
        ),
        ResultItem::Insurance {
            done,
            enrolled,
            maternity_benefit,
        } => (
            when(*done),
            format!(
                "{}{}",
                yes_no(*enrolled, "参保", "enrolled"),
                match maternity_benefit {
                    Some(true) => "；生育保险待遇核准 · maternity benefit approved",
                    Some(false) => "；生育保险待遇未核准 · maternity benefit refused",
                    None => "",
                }
            ),
        ),
        ResultItem::SocialSecurityCard { done, ready_on } => (
            when(*done),
            format!("社保卡可领取日期 · card ready on {ready_on}"),
        ),
    }
}

fn verified_section(n: &ResultNotice, url: &str) -> String {
    let outcome = match n.outcome {
        Outcome::Completed => "全部办结 · completed",
        Outcome::Terminated => "部分办结，余项转线下 · partly done, the rest offline",
        Outcome::Withdrawn => "已撤回 · withdrawn",
        Outcome::InProgress => "办理中 · in progress",
    };
    let mut rows = String::new();
    for item in &n.items {
        let label = item.stage().label();
        let (at, what) = row(item);
        let _ = write!(
            rows,
            "<tr><td>{}<br><span class=\"en\">{}</span></td><td>{}</td><td>{}</td></tr>",
            esc(&label.zh),
            esc(&label.en),
            esc(&at),
            esc(&what)
        );
    }
    let qr = attestation::qr_png(url)
        .map(|png| {
            format!(
                "<p><img alt=\"核验二维码 · verification QR code\" src=\"data:image/png;base64,{}\"></p>",
                base64::engine::general_purpose::STANDARD.encode(png)
            )
        })
        .unwrap_or_default();
    format!(
        "<div class=\"ok\" id=\"verdict\" data-verified=\"true\"><strong>✓ 核验通过：本结果由出生一件事平台签发，内容未被改动。</strong><br>\
         <span class=\"en\">Verified: issued by the platform and unaltered.</span></div>\
         <table><tr><th>办件编号 · application</th><td colspan=\"2\">{}</td></tr>\
         <tr><th>新生儿 · newborn</th><td colspan=\"2\">{}</td></tr>\
         <tr><th>结果 · outcome</th><td colspan=\"2\">{}</td></tr>\
         <tr><th>办结时间 · ended</th><td colspan=\"2\">{}</td></tr></table>\
         <table><tr><th>事项 · item</th><th>办结时间 · done</th><th>结果 · result</th></tr>{}</table>{}",
        esc(&n.application),
        esc(&n.newborn),
        esc(outcome),
        esc(&date(n.ended_at)),
        rows,
        qr
    )
}
