//! Hostile input: malformed and truncated JSON, wrong types, huge bodies, invalid identity check
//! digits, future and impossible dates, control characters in names, path-traversal document
//! names, wrong content types, forged, expired, unsigned and replayed callback signatures. Each
//! gets a 4xx with a stable code and a Chinese and an English explanation, and the stored state
//! (every table of the service's database) is byte-for-byte what it was before.

mod support;

use anyhow::Result;
use chrono::{TimeDelta, Utc};
use newborn_domain::stage::Agency;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use support::*;

/// Every row of every table of the service's database, in a stable order.
fn snapshot(t: &TestService) -> Result<BTreeMap<String, Vec<String>>> {
    let conn = rusqlite::Connection::open_with_flags(
        t.dir.path().join("newborn.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = BTreeMap::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\""))?;
        let columns = stmt.column_count();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| {
                let mut row = vec![];
                for i in 0..columns {
                    row.push(format!("{:?}", r.get_ref(i)?));
                }
                Ok(row.join("|"))
            })?
            .collect::<Result<_, _>>()?;
        rows.sort();
        out.insert(table, rows);
    }
    Ok(out)
}

struct Case {
    name: &'static str,
    request: reqwest::RequestBuilder,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_a_clear_4xx_and_changes_nothing() -> Result<()> {
    let t = TestService::start().await?;
    // State to protect: an application held by the police, one already approved by signed
    // callback (whose request is replayed below), scans and an open upload slot of a second parent.
    let (held, _) = t.held_by_police("mum-h").await?;
    let police = t.agency_key(Agency::PoliceStation)?;
    let (approved, _) = t.held_by_police("mum-r").await?;
    let approve = |id: &str| serde_json::to_vec(&police_approval(id)).unwrap_or_default();
    let callback = |headers, body| t.callback(headers, body);
    let used = police.headers(
        &newborn_service::signing::new_message_id(),
        Utc::now(),
        &approve(&approved),
    );
    let first = callback(used.clone(), approve(&approved)).send().await?;
    assert_eq!(first.status(), 200, "{:?}", first.text().await);
    let form = t.form("mum-x", &[], &[], |_| {}).await?;
    let slot = t
        .client
        .open_upload("mum-x", "mother_id_card", "image/png", 16)
        .await?;
    // The signed URL names its owner; the same URL naming another account is refused by its
    // signature (checked here, as the case below only shows a 4xx).
    let url = slot["upload_url"].as_str().unwrap_or_default();
    assert!(url.contains("owner=mum-x&"), "{url}");
    let swapped = t
        .http
        .put(url.replace("owner=mum-x&", "owner=mum-h&"))
        .header("content-type", "image/png")
        .body(vec![0u8; 16])
        .send()
        .await?;
    assert_eq!(swapped.status(), 403);
    assert_eq!(
        swapped.json::<Value>().await?["code"],
        "bad_upload_signature"
    );
    // Quiet before the snapshot: no stage of the approved application is queued or with an
    // agency (it ends or waits for its applicant), and every queue is empty.
    t.wait_for("mum-r", &approved, "the approved flow to settle", |v| {
        v["stages"].as_array().into_iter().flatten().all(|s| {
            !matches!(
                s["status"]["status"].as_str(),
                Some("queued" | "awaiting_agency")
            )
        })
    })
    .await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let queues: Value = t
            .http
            .get(format!("{}/admin/queues", t.api))
            .bearer_auth(&t.running.operator_token)
            .send()
            .await?
            .json()
            .await?;
        let busy = queues.as_array().into_iter().flatten().any(|q| {
            !q["queue"].as_str().unwrap_or_default().ends_with("-dlq")
                && (q["visible"] != 0 || q["in_flight"] != 0)
        });
        if !busy {
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "queues never drained: {queues}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let before = snapshot(&t)?;

    let text = serde_json::to_string(&form)?;
    let edited = |edit: &dyn Fn(&mut Value)| {
        let mut f = form.clone();
        edit(&mut f);
        f.to_string().into_bytes()
    };
    let submit = |body: Vec<u8>| {
        t.client
            .post("mum-x", "/applications")
            .header("content-type", "application/json")
            .body(body)
    };
    let future_birth = (Utc::now() + TimeDelta::days(400)).to_rfc3339();
    let cases = vec![
        Case { name: "empty body", request: submit(vec![]) },
        Case { name: "an open brace", request: submit(b"{".to_vec()) },
        Case { name: "truncated form", request: submit(text.as_bytes()[..text.len() / 2].to_vec()) },
        Case { name: "null", request: submit(b"null".to_vec()) },
        Case { name: "an array", request: submit(b"[]".to_vec()) },
        Case { name: "weight as text", request: submit(edited(&|f| f["newborn"]["weight_grams"] = json!("heavy"))) },
        Case { name: "services as a string", request: submit(edited(&|f| f["services"] = json!("all"))) },
        Case { name: "unknown field", request: submit(edited(&|f| f["admin"] = json!(true))) },
        Case { name: "2 MB body", request: submit(edited(&|f| f["newborn"]["name"] = json!("林".repeat(700_000)))) },
        Case { name: "ID number with a wrong check digit", request: submit(edited(&|f| f["mother"]["id_number"] = json!("350102199403150021"))) },
        Case { name: "ID number with letters", request: submit(edited(&|f| f["father"]["id_number"] = json!("35020319920708AB11"))) },
        Case { name: "birth in the future", request: submit(edited(&|f| f["newborn"]["birth_time"] = json!(future_birth))) },
        Case { name: "30 February", request: submit(edited(&|f| f["newborn"]["birth_time"] = json!("2025-02-30T08:30:00+08:00"))) },
        Case { name: "NUL in a name", request: submit(edited(&|f| f["newborn"]["name"] = json!("林\u{0}强"))) },
        Case { name: "line break in a name", request: submit(edited(&|f| f["mother"]["name"] = json!("陈\n晓梅"))) },
        Case { name: "right-to-left override in a name", request: submit(edited(&|f| f["father"]["name"] = json!("林\u{202e}志强"))) },
        Case { name: "path traversal as a document kind", request: submit(edited(&|f| f["documents"][0]["kind"] = json!("../../etc/passwd"))) },
        Case { name: "path traversal as a document hash", request: submit(edited(&|f| f["documents"][0]["sha256"] = json!("../../../../etc/passwd"))) },
        Case { name: "a scan never uploaded", request: submit(edited(&|f| f["documents"][0]["sha256"] = json!("0".repeat(64)))) },
        Case { name: "form as text/plain", request: t.client.post("mum-x", "/applications").header("content-type", "text/plain").body(text.clone()) },
        Case { name: "upload slot for a traversal kind", request: t.client.post("mum-x", "/uploads").json(&json!({"kind": "../../etc/passwd", "content_type": "image/png", "size": 10})) },
        Case { name: "upload slot for an executable", request: t.client.post("mum-x", "/uploads").json(&json!({"kind": "mother_id_card", "content_type": "application/x-msdownload", "size": 10})) },
        Case { name: "upload slot of 1 GB", request: t.client.post("mum-x", "/uploads").json(&json!({"kind": "mother_id_card", "content_type": "image/png", "size": 1u64 << 30})) },
        Case { name: "scan of another type than signed", request: t.http.put(slot["upload_url"].as_str().unwrap_or_default()).header("content-type", "image/jpeg").body(vec![0u8; 16]) },
        Case { name: "scan longer than signed", request: t.http.put(slot["upload_url"].as_str().unwrap_or_default()).header("content-type", "image/png").body(vec![0u8; 64]) },
        Case { name: "signed upload URL with another owner", request: t.http.put(slot["upload_url"].as_str().unwrap_or_default().replace("owner=mum-x&", "owner=mum-h&")).header("content-type", "image/png").body(vec![0u8; 16]) },
        Case { name: "path traversal in an application id", request: t.client.get("mum-h", "/applications/..%2F..%2Fetc%2Fpasswd") },
        Case { name: "another parent's application", request: t.client.get("mum-x", &format!("/applications/{held}")) },
        Case { name: "no token", request: t.http.post(format!("{}/applications", t.api)).json(&form) },
        Case { name: "a forged token", request: t.http.post(format!("{}/applications", t.api)).bearer_auth("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl").json(&form) },
        Case { name: "forged callback signature", request: callback(newborn_service::signing::SigningKey::new(police.key_id.clone(), Agency::PoliceStation, police.algorithm, b"guessed".to_vec()).headers(&newborn_service::signing::new_message_id(), Utc::now(), &approve(&held)), approve(&held)) },
        Case { name: "expired callback signature", request: callback(police.headers(&newborn_service::signing::new_message_id(), Utc::now() - TimeDelta::hours(1), &approve(&held)), approve(&held)) },
        Case { name: "unsigned callback", request: t.http.post(format!("{}/agency/callbacks", t.api)).header("content-type", "application/json").body(approve(&held)) },
        Case { name: "signature of another body", request: callback(police.headers(&newborn_service::signing::new_message_id(), Utc::now(), &approve(&approved)), approve(&held)) },
        Case { name: "replayed callback", request: callback(used, approve(&approved)) },
        Case { name: "signed truncated callback", request: { let b = approve(&held)[..40].to_vec(); callback(police.headers(&newborn_service::signing::new_message_id(), Utc::now(), &b), b) } },
    ];

    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    let n = cases.len();
    for case in cases {
        let res = case.request.send().await?;
        let code = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert!(
            (400..500).contains(&code),
            "{}: HTTP {code} {body}",
            case.name
        );
        for field in ["code", "detail", "detail_en"] {
            assert!(
                body[field].as_str().is_some_and(|s| !s.is_empty()),
                "{}: HTTP {code} without a {field}: {body}",
                case.name
            );
        }
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_ascii()),
            "{}: the detail is in Chinese: {body}",
            case.name
        );
        *by_status.entry(code).or_default() += 1;
    }
    let after = snapshot(&t)?;
    for (table, rows) in &before {
        assert_eq!(
            Some(rows),
            after.get(table),
            "table {table} changed after hostile input"
        );
    }
    assert_eq!(before.len(), after.len());
    println!(
        "{n} hostile requests, all refused with a bilingual 4xx: {by_status:?}; {} tables, {} rows unchanged",
        before.len(),
        before.values().map(Vec::len).sum::<usize>()
    );
    Ok(())
}
