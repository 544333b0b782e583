//! The applicant and agency interfaces: sign-in, ownership, counter staff, Idempotency-Key, and
//! the refusal of forged, expired, replayed and wrong-agency callbacks.

mod support;

use anyhow::Result;
use chrono::{TimeDelta, Utc};
use newborn_domain::stage::Agency;
use newborn_http::Role;
use serde_json::{Value, json};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_token_are_refused() -> Result<()> {
    let t = TestService::start().await?;
    let res = t.http.get(format!("{}/applications", t.api)).send().await?;
    assert_eq!(res.status(), 401);
    let forged = newborn_http::DevIssuer::new(
        "newborn-dev-issuer",
        "newborn-api",
        b"not the secret".to_vec(),
    )
    .mint("mum", Role::Applicant, TimeDelta::hours(1), Utc::now())
    .map_err(anyhow::Error::msg)?;
    let res = t
        .http
        .get(format!("{}/applications", t.api))
        .bearer_auth(forged)
        .send()
        .await?;
    assert_eq!(res.status(), 401);
    let expired = t
        .running
        .issuer
        .mint(
            "mum",
            Role::Applicant,
            TimeDelta::minutes(1),
            Utc::now() - TimeDelta::hours(1),
        )
        .map_err(anyhow::Error::msg)?;
    let res = t
        .http
        .get(format!("{}/applications", t.api))
        .bearer_auth(expired)
        .send()
        .await?;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await?;
    assert_eq!(body["code"], "unauthenticated");
    Ok(())
}

/// Guangxi 附件2 五(一)2 (一窗受理): counter staff submit for a parent; the timeline says who.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_staff_submit_for_a_parent_and_the_timeline_records_them() -> Result<()> {
    let t = TestService::start().await?;
    let form = t.form("parent-9", &[], &[], |_| {}).await?;
    let staff = t
        .running
        .issuer
        .mint(
            "staff-7",
            Role::CounterStaff,
            TimeDelta::hours(1),
            Utc::now(),
        )
        .map_err(anyhow::Error::msg)?;
    let missing = t
        .http
        .post(format!("{}/applications", t.api))
        .bearer_auth(&staff)
        .json(&form)
        .send()
        .await?;
    assert_eq!(missing.status(), 422, "counter staff must say for whom");
    let res = t
        .http
        .post(format!("{}/applications?on_behalf_of=parent-9", t.api))
        .bearer_auth(&staff)
        .json(&form)
        .send()
        .await?;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let timeline = t.timeline("parent-9", &id).await?;
    assert_eq!(
        timeline[0]["actor"],
        json!({"kind": "counter_staff", "subject": "staff-7"})
    );
    let parent_self = t
        .http
        .post(format!("{}/applications?on_behalf_of=someone", t.api))
        .bearer_auth(t.client.token("parent-9"))
        .json(&form)
        .send()
        .await?;
    assert_eq!(
        parent_self.status(),
        403,
        "only counter staff act on behalf"
    );
    Ok(())
}

/// 闽卫政法〔2024〕40号 附件2 一(三), 附件4 二: no letter, no application by the father.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_father_without_the_authorisation_letter_cannot_submit() -> Result<()> {
    let t = TestService::start().await?;
    let form = t
        .form("dad-1", &[], &[], |f| {
            f["applicant"] = json!("father");
            f["authorisation"] = json!({"valid_from": "2025-11-12", "valid_until": "2026-02-12"});
        })
        .await?;
    let res = t
        .http
        .post(format!("{}/applications", t.api))
        .bearer_auth(t.client.token("dad-1"))
        .json(&form)
        .send()
        .await?;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await?;
    assert_eq!(body["code"], "authorisation_letter_missing", "{body}");
    assert_eq!(
        t.client
            .json(t.client.get("dad-1", "/applications"))
            .await?,
        json!([]),
        "nothing was created"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_idempotency_key_twice_creates_one_application() -> Result<()> {
    let t = TestService::start().await?;
    let form = t.form("mum-i", &[], &[], |_| {}).await?;
    let post = |body: &Value| {
        t.http
            .post(format!("{}/applications", t.api))
            .bearer_auth(t.client.token("mum-i"))
            .header("idempotency-key", "submit-2025-11-17-1")
            .json(body)
            .send()
    };
    let first = post(&form).await?;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await?;
    let again = post(&form).await?;
    assert_eq!(again.status(), 201);
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let again: Value = again.json().await?;
    assert_eq!(again["id"], first["id"], "the first response is returned");
    let mut other = form.clone();
    other["newborn"]["weight_grams"] = json!(3400);
    let refused = post(&other).await?;
    assert_eq!(refused.status(), 422);
    assert_eq!(
        refused.json::<Value>().await?["code"],
        "idempotency_key_reused"
    );
    let mine = t
        .client
        .json(t.client.get("mum-i", "/applications"))
        .await?;
    assert_eq!(mine.as_array().map(Vec::len), Some(1), "one application");
    Ok(())
}

/// Signed callbacks (docs/agency-integration.md): each refusal changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_replayed_and_wrong_agency_callbacks_are_refused_and_change_nothing()
-> Result<()> {
    let t = TestService::start().await?;
    let (id, before) = t.held_by_police("mum-c").await?;
    let police = t.agency_key(Agency::PoliceStation)?;
    let hospital = t.agency_key(Agency::Hospital)?;
    let body = serde_json::to_vec(&police_approval(&id))?;
    let send = |headers, body| t.callback(headers, body).send();
    let forged = newborn_service::signing::SigningKey::new(
        police.key_id.clone(),
        Agency::PoliceStation,
        b"guessed".to_vec(),
    );
    assert_eq!(
        send(forged.headers(Utc::now(), &body), body.clone())
            .await?
            .status(),
        401,
        "forged"
    );
    assert_eq!(
        send(
            police.headers(Utc::now() - TimeDelta::minutes(6), &body),
            body.clone()
        )
        .await?
        .status(),
        401,
        "expired"
    );
    let mut tampered = police.headers(Utc::now(), &body);
    tampered[0].1 = "police_station-9".into();
    assert_eq!(
        send(tampered, body.clone()).await?.status(),
        401,
        "unknown key"
    );
    assert_eq!(
        send(hospital.headers(Utc::now(), &body), body.clone())
            .await?
            .status(),
        403,
        "the hospital does not own the police stage"
    );
    let after = t.client.view("mum-c", &id).await?;
    assert_eq!(
        (after["version"].clone(), status(&after, "police")),
        (before["version"].clone(), "awaiting_agency"),
        "refused callbacks changed nothing"
    );

    let signed = police.headers(Utc::now(), &body);
    let ok = send(signed.clone(), body.clone()).await?;
    assert_eq!(ok.status(), 200);
    let replay = send(signed, body.clone()).await?;
    assert_eq!(replay.status(), 401, "the same signature twice is a replay");
    assert_eq!(replay.json::<Value>().await?["code"], "replayed_signature");
    // A fresh signature over the same answer is a retry: acknowledged, applied once.
    let retry = send(
        police.headers(Utc::now() + TimeDelta::seconds(1), &body),
        body.clone(),
    )
    .await?;
    assert_eq!(retry.json::<Value>().await?["result"], "already_applied");
    let timeline = t.timeline("mum-c", &id).await?;
    assert_eq!(
        timeline
            .iter()
            .filter(|e| e["stage"] == "police" && e["event"] == "complete")
            .count(),
        1
    );
    Ok(())
}

/// Uploads go through signed URLs; only JPEG, PNG and PDF by their bytes, within the declared
/// size; an application may reference only its own applicant's verified uploads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_checked_and_only_ones_own_verified_uploads_can_be_referenced() -> Result<()> {
    let t = TestService::start().await?;
    let png = b"\x89PNG\r\n\x1a\nscan".to_vec();
    // A PNG declared as a PDF ("renamed to .pdf") is refused by its magic bytes.
    let slot = t
        .client
        .open_upload(
            "mum-u",
            "marriage_certificate",
            "application/pdf",
            png.len() as u64,
        )
        .await?;
    let url = slot["upload_url"].as_str().unwrap_or_default().to_owned();
    let res = t
        .http
        .put(&url)
        .header("content-type", "application/pdf")
        .body(png.clone())
        .send()
        .await?;
    assert_eq!(res.status(), 415);
    assert_eq!(res.json::<Value>().await?["code"], "content_type_mismatch");
    // Larger than declared, or than 10 MiB, is refused.
    let slot = t
        .client
        .open_upload("mum-u", "marriage_certificate", "image/png", 4)
        .await?;
    let res = t
        .http
        .put(slot["upload_url"].as_str().unwrap_or_default())
        .body(png.clone())
        .send()
        .await?;
    assert_eq!(res.status(), 413);
    let huge = t
        .client
        .open_upload(
            "mum-u",
            "marriage_certificate",
            "image/png",
            10 * 1024 * 1024 + 1,
        )
        .await;
    assert!(huge.is_err_and(|e| e.to_string().contains("413")));
    let exe = t
        .client
        .open_upload(
            "mum-u",
            "marriage_certificate",
            "application/x-msdownload",
            10,
        )
        .await;
    assert!(exe.is_err_and(|e| e.to_string().contains("415")));
    // A tampered signature or an expired URL is refused.
    let slot = t
        .client
        .open_upload(
            "mum-u",
            "marriage_certificate",
            "image/png",
            png.len() as u64,
        )
        .await?;
    let good = slot["upload_url"].as_str().unwrap_or_default().to_owned();
    let expires = good
        .split("expires=")
        .nth(1)
        .and_then(|r| r.split('&').next())
        .unwrap_or_default()
        .to_owned();
    let later = (expires.parse::<i64>().unwrap_or(0) + 3600).to_string();
    let res = t
        .http
        .put(good.replace(&expires, &later))
        .body(png.clone())
        .send()
        .await?;
    assert_eq!(res.status(), 403);
    // The good URL works once.
    assert_eq!(
        t.http.put(&good).body(png.clone()).send().await?.status(),
        200
    );
    assert_eq!(
        t.http.put(&good).body(png.clone()).send().await?.status(),
        409
    );

    // Another applicant's upload, or an upload of another kind, cannot be referenced.
    let theirs = t.client.upload("someone-else", "mother_id_card").await?;
    let mut form = t.form("mum-u", &[], &[], |_| {}).await?;
    form["documents"][0] = theirs;
    let res = t
        .http
        .post(format!("{}/applications", t.api))
        .bearer_auth(t.client.token("mum-u"))
        .json(&form)
        .send()
        .await?;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await?["code"], "unknown_document");
    let mut form = t.form("mum-u", &[], &[], |_| {}).await?;
    form["documents"][0]["kind"] = json!("birth_certificate");
    let res = t
        .http
        .post(format!("{}/applications", t.api))
        .bearer_auth(t.client.token("mum-u"))
        .json(&form)
        .send()
        .await?;
    assert_eq!(
        res.json::<Value>().await?["code"],
        "unknown_document",
        "an upload counts only for its declared kind"
    );
    Ok(())
}
