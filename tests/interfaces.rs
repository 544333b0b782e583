//! The applicant and agency interfaces: sign-in, ownership, counter staff, Idempotency-Key, and
//! the refusal of forged, expired, replayed and wrong-agency callbacks.

mod support;

use anyhow::{Context, Result};
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

/// Guangxi 附件2 五(一)2 (一窗受理): counter staff submit for a Yongfu parent and the timeline
/// says who; where the policy offers no counter intake (Fujian 2.0: the family applies online
/// itself, 附件1 三(一)1) counter staff are refused with the reason.
/// Rules: YF-COUNTER-INTAKE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_staff_submit_for_a_parent_and_the_timeline_records_them() -> Result<()> {
    let t = TestService::start().await?;
    let fujian = t.form("parent-9", &[], &[], |_| {}).await?;
    let form = t.yongfu_form("parent-9", &[]).await?;
    let staff = t.staff_token("staff-7")?;
    let missing = t
        .http
        .post(format!("{}/applications", t.api))
        .bearer_auth(&staff)
        .json(&form)
        .send()
        .await?;
    assert_eq!(missing.status(), 422, "counter staff must say for whom");
    let not_offered = t
        .http
        .post(format!("{}/applications?on_behalf_of=parent-9", t.api))
        .bearer_auth(&staff)
        .json(&fujian)
        .send()
        .await?;
    assert_eq!(not_offered.status(), 403);
    let problem: Value = not_offered.json().await?;
    assert_eq!(problem["code"], "counter_intake_not_offered", "{problem}");
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

/// 闽卫政法〔2024〕40号 附件1 三(一)1 (材料缺失→补件), 附件2 一(三), 附件3: a father who applies
/// without the mother's letter is not refused at the door: pre-review asks for the letter and its
/// term in one supplement, and his answer carries the application on.
/// Rules: FJ2-FATHER-LETTER-SUPPLEMENT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_father_without_the_authorisation_letter_is_asked_to_supplement_it() -> Result<()> {
    let t = TestService::start().await?;
    let owner = "dad-1";
    // The mother authorises her identity-card licence to the father in the app, as the father
    // authorised his to her (the applicant must be authorised to use another's licence).
    t.client
        .json(
            t.http
                .post(format!("{}/licences/authorisations", t.sim))
                .json(
                    &json!({"kind": "mother_id_card", "number": "350102-ID-0001",
                    "grantee_id_number": "350203199207080011", "valid_until": "2099-12-31"}),
                ),
        )
        .await?;
    let id = t
        .submit(owner, &[], &["household_booklet_newborn"], |f| {
            f["applicant"] = json!("father");
        })
        .await?;
    let asked = t
        .wait_for(owner, &id, "the letter asked for", |v| {
            status(v, "pre_review") == "awaiting_applicant"
        })
        .await?;
    assert_eq!(
        stage(&asked, "pre_review")["status"]["items"],
        json!([
            {"type": "document", "kind": "authorisation_letter"},
            {"type": "field", "field": "authorisation"}
        ]),
        "{asked:#}"
    );
    // An answer with the letter but no term is refused, naming what is missing; nothing changes.
    let letter = t.client.upload(owner, "authorisation_letter").await?;
    let half = t
        .client
        .post(owner, &format!("/applications/{id}/supplement"))
        .json(&json!({"documents": [letter.clone()], "form_patch": {}}))
        .send()
        .await?;
    assert_eq!(half.status(), 422);
    let problem: Value = half.json().await?;
    assert!(
        problem.to_string().contains("authorisation"),
        "names the term: {problem}"
    );
    let answer = json!({
        "documents": [letter],
        "form_patch": {"authorisation": {"valid_from": "2025-11-12", "valid_until": "2026-02-12"}}
    });
    t.client
        .json(
            t.client
                .post(owner, &format!("/applications/{id}/supplement"))
                .json(&answer),
        )
        .await?;
    let on = t
        .wait_for(owner, &id, "pre-review accepting the answer", |v| {
            status(v, "pre_review") == "completed"
        })
        .await?;
    assert_eq!(on["outcome"], "in_progress", "{on:#}");
    Ok(())
}

/// 闽卫政法〔2024〕40号 附件2 一(二) "暂不支持单亲母亲和未婚公民进行申请": a single mother's form (no
/// father, no marriage certificate) is taken, and pre-review ends it offline with the reason in
/// Chinese and English — not a parse error about a missing field.
/// Rules: FJ2-MARRIED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_mother_is_told_to_apply_offline_with_the_reason() -> Result<()> {
    let t = TestService::start().await?;
    let owner = "mum-single";
    let mut form = t
        .form(
            owner,
            &["marriage_certificate"],
            &["household_booklet_newborn"],
            |f| {
                if let Some(o) = f.as_object_mut() {
                    o.remove("father");
                }
                // Only the mother's identity-card licence: there is no father.
                if let Some(l) = f["licences"].as_array_mut() {
                    l.retain(|x| x["kind"] == "mother_id_card");
                }
                if let Some(m) = f["mother"].as_object_mut() {
                    m.remove("marriage_certificate");
                }
            },
        )
        .await?;
    form["household"]["registering_parent"] = json!("mother");
    let id = t.client.submit(owner, &form).await?;
    let ended = t
        .wait_for(owner, &id, "the offline ending", |v| {
            v["outcome"] != "in_progress"
        })
        .await?;
    assert_eq!(ended["outcome"], "terminated", "{ended:#}");
    let reason = &stage(&ended, "pre_review")["status"]["reason"];
    assert!(
        reason["zh"].as_str().unwrap_or("").contains("单亲母亲")
            && reason["en"]
                .as_str()
                .unwrap_or("")
                .contains("single mother"),
        "{ended:#}"
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
        police.algorithm,
        b"guessed".to_vec(),
    );
    assert_eq!(
        send(
            forged.headers(
                &newborn_service::signing::new_message_id(),
                Utc::now(),
                &body
            ),
            body.clone()
        )
        .await?
        .status(),
        401,
        "forged"
    );
    assert_eq!(
        send(
            police.headers(
                &newborn_service::signing::new_message_id(),
                Utc::now() - TimeDelta::minutes(6),
                &body
            ),
            body.clone()
        )
        .await?
        .status(),
        401,
        "expired"
    );
    let mut tampered = police.headers(
        &newborn_service::signing::new_message_id(),
        Utc::now(),
        &body,
    );
    tampered[0].1 = newborn_service::signing::new_message_id();
    assert_eq!(
        send(tampered, body.clone()).await?.status(),
        401,
        "the message id is signed: another id does not verify"
    );
    assert_eq!(
        send(
            hospital.headers(
                &newborn_service::signing::new_message_id(),
                Utc::now(),
                &body
            ),
            body.clone()
        )
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

    let signed = police.headers(
        &newborn_service::signing::new_message_id(),
        Utc::now(),
        &body,
    );
    let ok = send(signed.clone(), body.clone()).await?;
    assert_eq!(ok.status(), 200);
    let replay = send(signed.clone(), body.clone()).await?;
    assert_eq!(replay.status(), 409, "the same message twice is a replay");
    assert_eq!(replay.json::<Value>().await?["code"], "replayed_message");
    // The same message with its signature header spelled otherwise (a second, bogus signature
    // before the real one, extra spaces) is still the same message id: refused.
    let mut respelled = signed.clone();
    respelled[2].1 = format!("v1,AAAA  {} ", signed[2].1);
    let replay = send(respelled, body.clone()).await?;
    assert_eq!(
        replay.status(),
        409,
        "a re-spelled signature is still a replay"
    );
    // A fresh signature over the same answer is a retry: acknowledged, applied once.
    let retry = send(
        police.headers(
            &newborn_service::signing::new_message_id(),
            Utc::now() + TimeDelta::seconds(1),
            &body,
        ),
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
    let png = newborn_service::scans::sample_png("scan");
    // A PNG declared as a PDF ("renamed to .pdf") is refused by its content.
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
    // Bytes without the SHA-256 declared for the slot are refused, and verify nothing.
    let declared = "ab".repeat(32);
    let slot = t
        .client
        .json(t.client.post("mum-u", "/uploads").json(&json!({
            "kind": "marriage_certificate", "content_type": "image/png",
            "size": png.len(), "sha256": declared
        })))
        .await?;
    let res = t
        .http
        .put(slot["upload_url"].as_str().unwrap_or_default())
        .body(png.clone())
        .send()
        .await?;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await?["code"], "checksum_mismatch");
    let bad = t
        .client
        .post("mum-u", "/uploads")
        .json(
            &json!({"kind": "marriage_certificate", "content_type": "image/png",
            "size": png.len(), "sha256": "not-a-digest"}),
        )
        .send()
        .await?;
    let status = bad.status();
    let body: Value = bad.json().await?;
    assert_eq!(status, 422, "a malformed digest is named: {body}");
    assert_eq!(body["errors"][0]["field"], "sha256", "{body}");
    assert_eq!(body["errors"][0]["code"], "sha256", "{body}");
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
    // The good URL takes one file: the same file again (a retry) is the same upload, another
    // file is refused.
    let first: Value = t
        .http
        .put(&good)
        .body(png.clone())
        .send()
        .await?
        .json()
        .await?;
    let again = t.http.put(&good).body(png.clone()).send().await?;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await?["sha256"], first["sha256"]);
    let other = newborn_service::scans::sample_png("another scan");
    let res = t.http.put(&good).body(other).send().await?;
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await?["code"], "upload_used");

    // Eight different files PUT to one URL at once: one is kept, and only its file is stored.
    let slot = t
        .client
        .open_upload("mum-u", "marriage_certificate", "image/png", 4096)
        .await?;
    let url = slot["upload_url"].as_str().unwrap_or_default().to_owned();
    let scans_before = scan_files(t.dir.path());
    let mut puts = tokio::task::JoinSet::new();
    for i in 0..8 {
        let req = t
            .http
            .put(&url)
            .body(newborn_service::scans::sample_png(&format!("race {i}")));
        puts.spawn(async move { req.send().await.map(|r| r.status().as_u16()) });
    }
    let mut statuses = vec![];
    while let Some(r) = puts.join_next().await {
        statuses.push(r??);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409, 409, 409]);
    assert_eq!(
        scan_files(t.dir.path()) - scans_before,
        1,
        "one file for one upload URL"
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

/// What a test's own agency endpoint received: path, headers and raw body of each POST.
type Captured = std::sync::Arc<std::sync::Mutex<Vec<(String, Value, String)>>>;

/// An agency endpoint on loopback that records every request and answers 200.
async fn capturing_agency() -> Result<(String, Captured)> {
    let captured: Captured = Default::default();
    let log = captured.clone();
    let app = axum::Router::new().fallback(
        move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let log = log.clone();
            async move {
                let headers: serde_json::Map<String, Value> = headers
                    .iter()
                    .filter_map(|(k, v)| Some((k.to_string(), json!(v.to_str().ok()?))))
                    .collect();
                if let Ok(mut l) = log.lock() {
                    l.push((
                        uri.path().to_owned(),
                        Value::Object(headers),
                        String::from_utf8_lossy(&body).into_owned(),
                    ));
                }
                axum::Json(json!({"status": "received"}))
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, captured))
}

/// Runs tests/interop/standard_webhooks.py with the `standardwebhooks` library of `.venv`.
fn standard_webhooks(args: &[&str], stdin: &str) -> Result<(bool, String)> {
    use std::io::Write;
    let root = env!("CARGO_MANIFEST_DIR");
    let python = format!("{root}/.venv/bin/python");
    anyhow::ensure!(
        std::path::Path::new(&python).exists(),
        "{python} is missing: run ./scripts/test.sh, which installs standardwebhooks into .venv"
    );
    let mut child = std::process::Command::new(python)
        .arg(format!("{root}/tests/interop/standard_webhooks.py"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(stdin.as_bytes())?;
    let out = child.wait_with_output()?;
    anyhow::ensure!(
        out.status.code().is_some_and(|c| c <= 1),
        "the interop script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
    ))
}

/// Interop with a real client: the maintained `standardwebhooks` library (PyPI), not our code,
/// verifies a dispatch the service really sent and signs a hospital callback the service then
/// accepts; a tampered dispatch fails its verification and a tampered callback is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standard_webhooks_library_verifies_our_dispatches_and_signs_callbacks_we_accept()
-> Result<()> {
    let (agency, captured) = capturing_agency().await?;
    let t = TestService::start_with(|c| {
        c.agencies = newborn::runtime::Agencies::External {
            base_url: agency.clone(),
        }
    })
    .await?;
    let keys = newborn::runtime::keys::load_or_create(t.dir.path())?;
    // No licence directory takes part here: a family whose identity cards were issued outside
    // the province photographs them (闽卫政法〔2024〕40号 附件2 一(一) 省外身份证可通过拍照上传).
    let id = t
        .submit("mum-sw", &[], &["mother_id_card", "father_id_card"], |f| {
            f.as_object_mut().map(|o| o.remove("licences"));
            f["mother"]["id_number"] = json!("440104199403150024");
            f["father"]["id_number"] = json!("440104199207080014");
        })
        .await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let (headers, body) = loop {
        let hit = captured.lock().ok().and_then(|l| {
            l.iter()
                .find(|(path, _, _)| path == "/dispatch/hospital")
                .map(|(_, h, b)| (h.clone(), b.clone()))
        });
        if let Some(hit) = hit {
            break hit;
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "no hospital dispatch");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let platform = keys.platform.secret_text();
    let message = json!({"headers": headers, "body": body}).to_string();
    assert_eq!(
        standard_webhooks(&["verify", &platform], &message)?,
        (true, "verified".to_owned()),
        "the library verifies the service's dispatch"
    );
    let tampered = json!({"headers": headers, "body": body.replacen("health_check", "police", 1)});
    assert!(
        !standard_webhooks(&["verify", &platform], &tampered.to_string())?.0,
        "a tampered dispatch fails the library's verification"
    );

    // The hospital answers, signed by the library with the hospital's secret.
    let dispatch: Value = serde_json::from_str(&body)?;
    let outcome = match dispatch["confirmation_forms"].as_array() {
        Some(forms) if !forms.is_empty() => json!({"type": "confirm_forms", "forms": forms}),
        _ => json!({"type": "approve", "result": {"stage": "health_check",
            "birth_certificate_number": "Q350012345", "vaccination_certificate_issued": true,
            "parenting_guidance_registered": false}}),
    };
    let callback = json!({"application_id": id, "stage": "health_check",
        "round": dispatch["round"], "outcome": outcome})
    .to_string();
    let hospital = t.agency_key(Agency::Hospital)?.secret_text();
    let sign = |msg_id: &str, body: &str| -> Result<[(&'static str, String); 3]> {
        let (ok, out) = standard_webhooks(&["sign", &hospital, msg_id], body)?;
        anyhow::ensure!(ok, "signing failed: {out}");
        let h: Value = serde_json::from_str(&out)?;
        let get = |n: &str| h[n].as_str().map(str::to_owned).context("header");
        Ok([
            ("webhook-id", get("webhook-id")?),
            ("webhook-timestamp", get("webhook-timestamp")?),
            ("webhook-signature", get("webhook-signature")?),
        ])
    };
    let other = callback.replacen("health_check", "police", 1);
    let refused = t
        .callback(sign("msg_interop_0", &callback)?, other.into_bytes())
        .send()
        .await?;
    assert_eq!(refused.status(), 401, "a tampered callback is refused");
    let before = t.client.view("mum-sw", &id).await?;
    let accepted = t
        .callback(
            sign("msg_interop_1", &callback)?,
            callback.clone().into_bytes(),
        )
        .send()
        .await?;
    assert_eq!(accepted.status(), 200);
    assert_eq!(accepted.json::<Value>().await?["result"], "applied");
    let after = t.client.view("mum-sw", &id).await?;
    assert_ne!(
        after["version"], before["version"],
        "the callback moved the flow"
    );
    Ok(())
}

/// How many scans are stored in the data directory.
fn scan_files(dir: &std::path::Path) -> usize {
    let Ok(prefixes) = std::fs::read_dir(dir.join("documents")) else {
        return 0;
    };
    prefixes
        .flatten()
        .filter(|p| p.file_name() != "tmp")
        .filter_map(|p| std::fs::read_dir(p.path()).ok())
        .map(|files| files.count())
        .sum()
}

/// 申报须知 before applying (issue 19): the notice says what `newborn policy show` says — the
/// services offered, who may apply, that single mothers and unmarried parents apply offline, the
/// pledge, and each material with when it is needed.
/// Rules: XM-SERVICES, FJ2-PROMISE, FJ2-MARRIED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_notice_tells_a_family_what_it_needs_before_it_applies() -> Result<()> {
    let t = TestService::start().await?;
    let get = |id: &str| {
        let url = format!("{}/policies/{id}/notice", t.api);
        let http = t.http.clone();
        async move { anyhow::Ok(http.get(url).send().await?.json::<Value>().await?) }
    };
    let xiamen = get("xiamen").await?;
    assert_eq!(
        xiamen["services"].as_array().map(Vec::len),
        Some(6),
        "{xiamen:#}"
    );
    assert_eq!(xiamen["applicant"]["father_with_authorisation"], false);
    let fujian = get("fujian-2.0").await?;
    assert_eq!(fujian["services"].as_array().map(Vec::len), Some(7));
    assert_eq!(
        fujian["parenting_guidance"]["registered_by"],
        "knowledge_base"
    );
    assert!(
        fujian["pledge"]["zh"]
            .as_str()
            .unwrap_or("")
            .contains("真实")
            && fujian["married_parents_only"]["source"]
                .as_str()
                .unwrap_or("")
                .contains("附件2 一(二)"),
        "{fujian:#}"
    );
    let letter = fujian["cases"][0]["materials"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["kind"] == "authorisation_letter")
        .cloned()
        .unwrap_or_default();
    assert_eq!(letter["when_label"]["zh"], "父亲申请时", "{letter}");
    Ok(())
}
