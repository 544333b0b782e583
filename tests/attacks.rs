//! The attacks of issue 16, each reproduced against the running service and shown refused
//! (docs/reliability.md lists them): files others could read, a supplement's `form_patch`
//! bringing in another parent's scan or a hash never uploaded, a retry after a client
//! disconnected, a formula in the handover register, supervision routes without the
//! supervisor's token, and every route of the router refusing what its group refuses.

mod support;

use anyhow::{Context, Result};
use chrono::Utc;
use newborn_domain::handover::parse_csv;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use support::*;

/// Every file and folder of the data directory, with its mode.
fn modes(dir: &std::path::Path) -> Result<Vec<(String, u32)>> {
    let mut out = vec![];
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let mode = e.metadata()?.permissions().mode() & 0o777;
            out.push((e.path().display().to_string(), mode));
            if e.file_type()?.is_dir() {
                stack.push(e.path());
            }
        }
    }
    Ok(out)
}

/// Row 1: nothing of the data directory is readable by others — keys, the issuer secret, both
/// databases with their WAL, every scan — and start-up refuses a secret others may read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_is_owner_only_and_exposed_secrets_stop_start_up() -> Result<()> {
    let t = TestService::start().await?;
    let id = t.submit("mum-files", &[], &[], |_| {}).await?;
    t.wait_for("mum-files", &id, "the hospital dispatch", |v| {
        status(v, "health_check") != "queued" && status(v, "pre_review") == "completed"
    })
    .await?;
    let all = modes(t.dir.path())?;
    for name in [
        "keys.json",
        "dev-issuer.json",
        "newborn.db",
        "newborn.db-wal",
        "agencies.db",
        "documents",
    ] {
        assert!(
            all.iter().any(|(p, _)| p.ends_with(name)),
            "{name} was not written: {all:?}"
        );
    }
    let scans = all
        .iter()
        .filter(|(p, _)| p.contains("/documents/"))
        .count();
    assert!(scans > 6, "the scans are in the walk: {all:?}");
    let open: Vec<_> = all.iter().filter(|(_, m)| m & 0o077 != 0).collect();
    assert!(open.is_empty(), "readable by others: {open:?}");
    println!("{} files and folders, all owner-only", all.len());

    let keys = t.dir.path().join("keys.json");
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644))?;
    let again = newborn::runtime::start(config(t.dir.path())).await;
    let refused = again.err().map(|e| format!("{e:#}")).unwrap_or_default();
    assert!(
        refused.contains("keys.json") && refused.contains("chmod 600"),
        "start-up names the file and the fix: {refused}"
    );
    Ok(())
}

/// Rows 3: a supplement's `form_patch` is checked like `documents`: another parent's scan and a
/// hash never uploaded are refused under the field that gave them, and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_patch_cannot_bring_in_another_parents_scan_or_an_unknown_hash() -> Result<()> {
    let t = TestService::start().await?;
    let id = t
        .submit(
            "mum-fp",
            &["household_booklet_head"],
            &["household_booklet_newborn"],
            |_| {},
        )
        .await?;
    let before = t
        .wait_for("mum-fp", &id, "the pre-review supplement request", |v| {
            status(v, "pre_review") == "awaiting_applicant"
        })
        .await?;
    let theirs = t
        .client
        .upload("someone-else", "household_booklet_head")
        .await?;
    // The scans the application holds, as the family's client sees them (its materials).
    let stored: Vec<Value> = before["materials"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["source"] == "scan")
        .map(|m| json!({"kind": m["kind"], "sha256": m["sha256"]}))
        .collect();
    assert!(!stored.is_empty(), "the application holds scans: {before}");
    let never = json!({"kind": "household_booklet_head", "sha256": "ab".repeat(32)});
    for (what, scan) in [
        ("another parent's scan", theirs),
        ("a hash never uploaded", never),
    ] {
        let mut docs = stored.clone();
        docs.push(scan);
        let at = docs.len() - 1;
        let res = t
            .client
            .post("mum-fp", &format!("/applications/{id}/supplement"))
            .json(&json!({"form_patch": {"documents": docs}}))
            .send()
            .await?;
        assert_eq!(res.status(), 422, "{what}");
        let problem: Value = res.json().await?;
        assert_eq!(problem["code"], "unknown_document", "{what}: {problem}");
        let field = format!("form_patch.documents[{at}]");
        assert!(
            problem.to_string().contains(&field),
            "{what}: the problem names {field}: {problem}"
        );
    }
    let after = t.client.view("mum-fp", &id).await?;
    assert_eq!(after["version"], before["version"], "nothing changed");
    // The applicant's own upload in the same place goes through.
    let mine = t.client.upload("mum-fp", "household_booklet_head").await?;
    let mut docs = stored;
    docs.push(mine);
    let res = t
        .client
        .post("mum-fp", &format!("/applications/{id}/supplement"))
        .json(&json!({"form_patch": {"documents": docs}}))
        .send()
        .await?;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    Ok(())
}

/// Row 5: a client that sends its application and disconnects before the answer, then retries
/// with the same `Idempotency-Key`, gets the one application it made, never a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_disconnect_creates_no_second_application() -> Result<()> {
    use std::io::Write;
    let t = TestService::start().await?;
    // Five applications of one owner: without the maternity benefit, which one delivery claims
    // once (FJ2-TWINS).
    let form = t
        .form("mum-dc", &[], &[], |f| {
            if let Some(services) = f["services"].as_array_mut() {
                services.retain(|s| s != "maternity_benefit");
            }
            f.as_object_mut().map(|f| f.remove("maternity"));
        })
        .await?;
    let body = serde_json::to_vec(&form)?;
    let addr = t.api.trim_start_matches("http://").to_owned();
    let mut replayed = 0;
    for attempt in 0..5 {
        let key = format!("submit-dc-{attempt}");
        // The raw request, then the connection closed without reading the answer.
        let mut tcp = std::net::TcpStream::connect(&addr)?;
        let head = format!(
            "POST /applications HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\n\
             content-type: application/json\r\nidempotency-key: {key}\r\ncontent-length: {}\r\n\r\n",
            t.client.token("mum-dc"),
            body.len()
        );
        tcp.write_all(head.as_bytes())?;
        tcp.write_all(&body)?;
        tcp.flush()?;
        drop(tcp);
        // The retry: answered from the first request's record once it is done.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let retried = loop {
            let res = t
                .client
                .post("mum-dc", "/applications")
                .header("idempotency-key", &key)
                .json(&form)
                .send()
                .await?;
            if res.status() != 409 {
                break res;
            }
            anyhow::ensure!(std::time::Instant::now() < deadline, "still in progress");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert_eq!(retried.status(), 201);
        // The first request ran to its end although its client was gone (or the server never
        // started it, and the retry made the application): either way one per key, below.
        replayed += usize::from(retried.headers().contains_key("idempotent-replayed"));
    }
    println!("{replayed} of 5 retries answered from the disconnected request's record");
    let mine = t
        .client
        .json(t.client.get("mum-dc", "/applications"))
        .await?;
    assert_eq!(
        mine.as_array().map(Vec::len),
        Some(5),
        "one application per key: {mine}"
    );
    Ok(())
}

/// Row 6: a hospital name typed as a formula reaches the staff's register as text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_formula_typed_by_a_parent_is_text_in_the_handover_register() -> Result<()> {
    let t = TestService::start().await?;
    let formula = "=HYPERLINK(\"http://evil.example\",\"点击\")";
    let id = t
        .submit("mum-csv", &[], &[], |f| {
            f["newborn"]["hospital"]["name"] = json!(formula);
        })
        .await?;
    let done = t.drive("mum-csv", &id).await?;
    assert_eq!(done["outcome"], "completed", "{done:#}");
    let staff = t.staff_token("staff-csv")?;
    let parties = json!({
        "county": "350102",
        "handing_unit": "鼓楼区卫生健康局", "handing_person": "-陈丽",
        "receiving_unit": "@福州市公安局鼓楼分局", "receiving_person": "林强"
    });
    let res = t
        .http
        .post(format!("{}/supervision/handovers", t.api))
        .bearer_auth(&staff)
        .json(&parties)
        .send()
        .await?;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let batch: Value = res.json().await?;
    let number = batch["number"].as_str().context("number")?;
    let csv = t
        .http
        .get(format!(
            "{}/supervision/handovers/{number}?format=csv",
            t.api
        ))
        .bearer_auth(&staff)
        .send()
        .await?
        .text()
        .await?;
    let rows = parse_csv(&csv).map_err(anyhow::Error::msg)?;
    let cells: Vec<&String> = rows.iter().skip(1).flatten().collect();
    assert!(
        cells.iter().any(|c| *c == &format!("'{formula}")),
        "the formula is prefixed with ': {cells:?}"
    );
    for c in &cells {
        assert!(
            !c.starts_with(['=', '+', '-', '@']),
            "no cell starts a formula: {c}"
        );
    }
    Ok(())
}

/// Rows 9 and 10: every route of the router, taken from the OpenAPI document the router is
/// checked against, refuses what its group refuses: applicant routes a missing token (401),
/// supervisors' routes a missing token (401) and an applicant's (403), staff routes an
/// applicant's (403), agency routes an unsigned request (401), and the upload URL an unsigned PUT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_callers_outside_its_group() -> Result<()> {
    let t = TestService::start().await?;
    let doc: Value = serde_json::from_str(newborn_http::OPENAPI)?;
    let applicant = t.client.token("mum-route");
    let supervisor = t.supervisor_token();
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().context("paths")? {
        for method in ops.as_object().context("ops")?.keys() {
            let url = format!(
                "{}{}",
                t.api,
                path.replace(
                    "{id}",
                    if path.starts_with("/policies/") {
                        "fujian-2.0"
                    } else {
                        "NB20251117ABCDEF0123"
                    },
                )
                .replace("{stage}", "police")
                .replace("{number}", "350102-20251117-1")
            );
            let send = |token: Option<&str>| {
                let mut req = t
                    .http
                    .request(method.to_uppercase().parse().unwrap_or_default(), &url);
                if method == "post" {
                    req = req.header("content-type", "application/json").body("{}");
                }
                if let Some(token) = token {
                    req = req.bearer_auth(token);
                }
                req.send()
            };
            let anonymous = send(None).await?.status().as_u16();
            let as_applicant = send(Some(&applicant)).await?.status().as_u16();
            let group = match path.as_str() {
                "/health"
                | "/openapi.json"
                | "/policies/{id}"
                | "/policies/{id}/notice"
                | "/.well-known/jwks.json"
                | "/verify" => "public",
                p if p.starts_with("/supervision/alerts")
                    || p.starts_with("/supervision/watchdog")
                    || p.starts_with("/supervision/follow-ups")
                    || p.starts_with("/supervision/reports") =>
                {
                    "supervisors"
                }
                p if p.starts_with("/supervision/") => "staff",
                p if p.starts_with("/agency/") => "agencies",
                "/uploads/{id}" => "signed upload URL",
                _ => "applicants",
            };
            match group {
                "public" => assert!(anonymous < 400, "{method} {path}: {anonymous}"),
                "supervisors" => {
                    assert_eq!((anonymous, as_applicant), (401, 403), "{method} {path}");
                    let as_supervisor = send(Some(&supervisor)).await?.status().as_u16();
                    assert_eq!(as_supervisor, 200, "{method} {path}");
                }
                "staff" => {
                    assert_eq!((anonymous, as_applicant), (401, 403), "{method} {path}")
                }
                "agencies" => {
                    assert_eq!((anonymous, as_applicant), (401, 401), "{method} {path}")
                }
                "signed upload URL" => {
                    assert_eq!((anonymous, as_applicant), (403, 403), "{method} {path}")
                }
                _ => assert_eq!(anonymous, 401, "{method} {path}"),
            }
            checked += 1;
        }
    }
    println!("{checked} routes checked against their group's refusals");
    assert!(checked >= 28, "every documented route: {checked}");
    Ok(())
}

/// Rows 2 and 7 at the HTTP boundary: a timestamp at the edge of i64 is refused as outside the
/// window (no overflow, no panic), and the service still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extreme_timestamp_is_refused_without_overflow() -> Result<()> {
    let t = TestService::start().await?;
    let (id, _) = t.held_by_police("mum-ts").await?;
    let police = t.agency_key(newborn_domain::stage::Agency::PoliceStation)?;
    let body = serde_json::to_vec(&police_approval(&id))?;
    for ts in [i64::MIN, i64::MAX, -1] {
        let headers = [
            ("webhook-id", "msg_extreme".to_owned()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", police.sign("msg_extreme", ts, &body)),
        ];
        let res = t.callback(headers, body.clone()).send().await?;
        assert_eq!(res.status(), 401, "timestamp {ts}");
    }
    assert_eq!(t.client.health().await?["status"], "ok");
    Ok(())
}

/// Row 10: the operator routes need the operator token (an applicant's sign-in token is not
/// one), and the simulated agencies' `/received` (full dispatches) needs the simulator's token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_routes_and_the_simulators_dispatch_list_need_their_own_tokens() -> Result<()> {
    let t = TestService::start().await?;
    let applicant = t.client.token("mum-op");
    for (method, path) in [
        ("GET", "/admin/queues"),
        ("GET", "/admin/clock"),
        ("POST", "/admin/sla-sweep"),
        ("POST", "/admin/queues/police/redrive"),
        ("GET", "/operations"),
        ("POST", "/operations/redrive/police"),
    ] {
        let req = |token: Option<&str>| {
            let mut r = t.http.request(
                method.parse().unwrap_or_default(),
                format!("{}{path}", t.api),
            );
            if let Some(token) = token {
                r = r.bearer_auth(token);
            }
            r.send()
        };
        assert_eq!(req(None).await?.status(), 401, "{method} {path}");
        assert_eq!(
            req(Some(&applicant)).await?.status(),
            401,
            "{method} {path}"
        );
        assert_eq!(
            req(Some(&"0".repeat(64))).await?.status(),
            401,
            "{method} {path}: a guessed token"
        );
        let ok = req(Some(&t.running.operator_token)).await?.status();
        assert!(
            ok.is_success() || ok.is_redirection(),
            "{method} {path}: {ok}"
        );
    }
    let open = t.http.get(format!("{}/received", t.sim)).send().await?;
    assert_eq!(
        open.status(),
        401,
        "the dispatch list needs the simulator token"
    );
    assert!(t.received().await.is_ok());
    Ok(())
}

/// Row 10: an agency's reason has a bounded length (it is shown to the parent), and an oversized
/// header is a bilingual 431 problem, not an empty answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlong_agency_reason_and_an_oversized_token_are_refused_clearly() -> Result<()> {
    let t = TestService::start().await?;
    let (id, before) = t.held_by_police("mum-long").await?;
    let police = t.agency_key(newborn_domain::stage::Agency::PoliceStation)?;
    let body = serde_json::to_vec(&json!({"application_id": id, "stage": "police", "round": 1,
        "outcome": {"type": "go_offline", "reason": {"zh": "很".repeat(15_000), "en": "long"}}}))?;
    let res = t
        .callback(
            police.headers(
                &newborn_service::signing::new_message_id(),
                Utc::now(),
                &body,
            ),
            body,
        )
        .send()
        .await?;
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await?;
    assert_eq!(problem["code"], "text_length", "{problem}");
    assert!(
        !problem.to_string().contains("很很很"),
        "the value is not echoed"
    );
    let after = t.client.view("mum-long", &id).await?;
    assert_eq!(after["version"], before["version"]);

    let res = t
        .http
        .get(format!("{}/applications", t.api))
        .bearer_auth("x".repeat(100_000))
        .send()
        .await?;
    assert_eq!(res.status(), 431);
    let problem: Value = res.json().await?;
    assert_eq!(problem["code"], "headers_too_large");
    assert!(problem["detail"].as_str().is_some_and(|d| !d.is_ascii()));
    Ok(())
}

/// Row 10: a value typed into the wrong field does not come back in the error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_the_field_but_never_echo_the_value() -> Result<()> {
    let t = TestService::start().await?;
    let id_number = "35010219940315002X";
    let form = t
        .form("mum-echo", &[], &[], |f| {
            f["newborn"]["weight_grams"] = json!(id_number);
        })
        .await?;
    let res = t
        .client
        .post("mum-echo", "/applications")
        .json(&form)
        .send()
        .await?;
    assert_eq!(res.status(), 422);
    let text = res.text().await?;
    assert!(text.contains("weight_grams"), "the field is named: {text}");
    assert!(!text.contains(id_number), "the value is not echoed: {text}");
    let res = t
        .client
        .post("mum-echo", "/applications/NB20251117ABCDEF0123/ratings")
        .json(&json!({"stage": id_number, "level": "satisfied"}))
        .send()
        .await?;
    let text = res.text().await?;
    assert!(!text.contains(id_number), "nor in a malformed body: {text}");
    Ok(())
}

/// Row 10: one applicant's uploads a day are bounded (slots and declared bytes); another
/// applicant is not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applicant_cannot_open_uploads_without_limit() -> Result<()> {
    let t = TestService::start_with(|c| {
        c.upload_quota = newborn_service::ports::UploadQuota {
            slots_per_day: 5,
            bytes_per_day: 1024 * 1024,
        }
    })
    .await?;
    for _ in 0..5 {
        t.client
            .open_upload("mum-quota", "mother_id_card", "image/png", 1000)
            .await?;
    }
    let res = t
        .client
        .post("mum-quota", "/uploads")
        .json(&json!({"kind": "mother_id_card", "content_type": "image/png", "size": 1000}))
        .send()
        .await?;
    assert_eq!(res.status(), 429);
    let problem: Value = res.json().await?;
    assert_eq!(problem["code"], "upload_quota", "{problem}");
    let big = t
        .client
        .post("mum-other", "/uploads")
        .json(&json!({"kind": "mother_id_card", "content_type": "image/png", "size": 1024 * 1024 + 1}))
        .send()
        .await?;
    assert_eq!(big.status(), 429, "more bytes than a day allows");
    t.client
        .open_upload("mum-other", "mother_id_card", "image/png", 1000)
        .await?;
    Ok(())
}

/// A careless agency (issue 18, 8; docs/rules.md OURS-CHECKED-RESULTS): a police approval with
/// the identity number of a woman born in 1990, for a boy born days earlier, is refused 422
/// naming the number in both languages; nothing changes and nothing goes to insurance. The
/// newborn's real number then goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_police_result_that_cannot_be_the_newborns_is_refused_and_changes_nothing() -> Result<()>
{
    let t = TestService::start().await?;
    let (id, before) = t.held_by_police("mum-bad-id").await?;
    let police = newborn_domain::stage::Agency::PoliceStation;
    let first17 = *b"35010219900315002";
    let woman = format!(
        "35010219900315002{}",
        newborn_domain::ids::IdNumber::check_char(&first17)
    );
    let mut approval = police_approval(&id);
    approval["outcome"]["result"]["newborn_id_number"] = json!(woman);
    let res = t.signed_callback(police, &approval).await?;
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await?;
    let text = problem.to_string();
    assert!(
        text.contains("result.newborn_id_number")
            && text.contains("出生日期")
            && text.contains("another sex"),
        "{problem}"
    );
    let after = t.client.view("mum-bad-id", &id).await?;
    assert_eq!(after["version"], before["version"], "nothing changed");
    assert_eq!(status(&after, "police"), "awaiting_agency");
    assert_eq!(status(&after, "insurance"), "pending");

    let res = t.signed_callback(police, &police_approval(&id)).await?;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    Ok(())
}

/// A dishonest parent (issue 18, 7; docs/rules.md OURS-SUPPLEMENT-ANSWERS): asked by the police
/// for the registering parent's booklet page after the hospital certified the birth, she sends
/// an empty answer, the rejected page again, and a page with the newborn's name and birth time
/// rewritten. Each is refused 422 naming the item, nothing changes; a new page alone is accepted
/// and replaces the rejected one in what the police receive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supplement_answer_cannot_skip_the_request_or_rewrite_certified_facts() -> Result<()> {
    let t = TestService::start().await?;
    let owner = "mum-honest";
    let id = t.submit(owner, &[], &[], |_| {}).await?;
    t.script(&id, "police", &["supplement", "approve"]).await?;
    let before = t
        .drive_until(owner, &id, "the police supplement request", |v| {
            status(v, "police") == "awaiting_applicant"
        })
        .await?;
    let kind = "household_booklet_registering_parent";
    let rejected = before["materials"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["kind"] == kind)
        .map(|m| json!({"kind": kind, "sha256": m["sha256"]}))
        .context("the rejected page")?;
    let new = t.client.upload_again(owner, kind).await?;
    let path = format!("/applications/{id}/supplement");
    for (what, answer, field, code) in [
        ("an empty answer", json!({}), "documents", "unanswered"),
        (
            "the rejected page again",
            json!({"documents": [rejected]}),
            "documents",
            "unanswered",
        ),
        (
            "a patch to the certified name",
            json!({"documents": [new], "form_patch": {"newborn": {"name": "王小明"}}}),
            "form_patch.newborn.name",
            "not_requested",
        ),
        (
            "a patch to the certified birth time",
            json!({"documents": [new], "form_patch": {"newborn": {"birth_time": "2025-11-09T08:00:00+08:00"}}}),
            "form_patch.newborn.birth_time",
            "not_requested",
        ),
    ] {
        let res = t.client.post(owner, &path).json(&answer).send().await?;
        assert_eq!(res.status(), 422, "{what}");
        let problem: Value = res.json().await?;
        let named = problem["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["field"] == field && e["code"] == code);
        assert!(named, "{what}: names {field} ({code}): {problem}");
        assert!(
            problem["detail"].as_str().is_some() && problem["detail_en"].as_str().is_some(),
            "{what}: {problem}"
        );
        let now = t.client.view(owner, &id).await?;
        assert_eq!(now["version"], before["version"], "{what}: nothing changed");
    }
    let res = t
        .client
        .post(owner, &path)
        .json(&json!({"documents": [new]}))
        .send()
        .await?;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let done = t.drive(owner, &id).await?;
    assert_eq!(done["outcome"], "completed", "{done:#}");
    let pages: Vec<&Value> = done["materials"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["kind"] == kind)
        .collect();
    assert_eq!(
        pages.len(),
        1,
        "the new page replaced the rejected one: {pages:?}"
    );
    assert_eq!(pages[0]["sha256"], new["sha256"]);
    // The police's second round received the new page only.
    let received = t.received().await?;
    let last = received
        .iter()
        .find(|d| d["key"] == format!("{id}:police:2"))
        .context("the police's second round")?;
    let sent: Vec<&Value> = last["body"]["documents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["kind"] == kind)
        .collect();
    assert_eq!(sent.len(), 1, "{last:#}");
    assert_eq!(sent[0]["sha256"], new["sha256"], "{last:#}");
    Ok(())
}
