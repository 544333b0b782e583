//! End to end over real HTTP against the embedded runtime: the applicant API, the stage workers
//! fed through the Lambda handlers, the simulated agencies calling back with real signatures,
//! and the SLA monitor under the controllable clock.

mod support;

use anyhow::Result;
use newborn_domain::ids::{BirthCertificateNumber, IdNumber};
use serde_json::{Value, json};
use support::*;

/// The sample as a case-2 family (附件1 三(二): it holds the full birth certificate) choosing
/// every later service; submit it with the certificate's scan.
fn as_case_2(form: &mut Value) {
    form["case"] = json!("has_birth_certificate");
    form["services"] = json!([
        "household_registration",
        "maternity_benefit",
        "medical_insurance_enrolment",
        "social_security_card"
    ]);
    form["existing"] =
        json!({"birth_certificate_number": "Q350012345", "full_certificate_held": true});
}

fn completed(view: &Value, stages: &[&str]) {
    for s in stages {
        assert_eq!(status(view, s), "completed", "{s}: {:#}", stage(view, s));
    }
}

/// 闽卫政法〔2024〕40号 附件1 三(一): all four agencies, forms confirmed by the applicant.
/// Rules: FJ2-HC-CHECK, FJ2-CARD, FJ2-ACCEPTED-NOTICE, FJ2-INSURANCE-NOTICE, FJ2-EMS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_1_completes_every_stage_with_the_forms_confirmed_by_the_applicant() -> Result<()> {
    let t = TestService::start().await?;
    let id = t
        .submit("mum-1", &[], &["household_booklet_newborn"], |_| {})
        .await?;
    let view = t.drive("mum-1", &id).await?;
    assert_eq!(view["outcome"], "completed");
    completed(
        &view,
        &[
            "pre_review",
            "health_check",
            "police",
            "insurance",
            "social_security_card",
        ],
    );
    let hc = &stage(&view, "health_check")["status"]["result"];
    assert!(
        hc["birth_certificate_number"]
            .as_str()
            .unwrap_or("")
            .parse::<BirthCertificateNumber>()
            .is_ok(),
        "{hc}"
    );
    let newborn = stage(&view, "police")["status"]["result"]["newborn_id_number"]
        .as_str()
        .unwrap_or("")
        .parse::<IdNumber>()?;
    assert_eq!(newborn.birth_date().to_string(), "2025-11-10");
    assert!(newborn.is_male());
    let timeline = t.timeline("mum-1", &id).await?;
    let events: Vec<(&str, &str, &str)> = timeline
        .iter()
        .map(|e| {
            (
                e["stage"].as_str().unwrap_or(""),
                e["event"].as_str().unwrap_or(""),
                e["actor"]["kind"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let confirm = events
        .iter()
        .position(|e| *e == ("health_check", "request_confirmation", "agency"));
    let confirmed = events
        .iter()
        .position(|e| *e == ("health_check", "confirmed", "applicant"));
    assert!(confirm.is_some() && confirmed > confirm, "{events:?}");
    // What the family is told as the notice words it: accepted at pre-review (附件1 三(一)1
    // 自动受理); after the enrolment, until when paying covers from the birth and how to bind the
    // insurance e-voucher (附件2 一(五)(六)).
    let notes = t.notifications("mum-1", &id).await?;
    let said = |kind: &str, text: &str| {
        notes
            .iter()
            .any(|n| n["kind"] == kind && n["message"]["zh"].as_str().unwrap_or("").contains(text))
    };
    assert!(said("pre_review_accepted", "自动受理"), "{notes:#?}");
    // The sample mails the booklet to the station: EMS both ways, at the family's cost (附件2 一(四)).
    assert!(said("stage_done", "EMS双向邮递"), "{notes:#?}");
    assert!(
        said("stage_done", "出生后90天内（2026-02-08前）缴费的") && said("stage_done", "亲情账户"),
        "{notes:#?}"
    );
    Ok(())
}

/// 附件1 三(二), 三(三): the half flows skip the stages already done.
/// Rules: FJ2-CASES, FJ2-CASE2-POLICE-NOTICE, FJ2-CARD-ACTIVATION.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_2_and_3_complete_from_where_the_family_already_is() -> Result<()> {
    let t = TestService::start().await?;
    let case2 = t
        .submit(
            "mum-2",
            &[],
            &["birth_certificate", "household_booklet_newborn"],
            as_case_2,
        )
        .await?;
    let case3 = t
        .submit("mum-3", &[], &["household_booklet_newborn"], |f| {
            f["case"] = json!("has_household_booklet");
            f["services"] = json!([
                "maternity_benefit",
                "medical_insurance_enrolment",
                "social_security_card"
            ]);
            f["existing"] = json!({"newborn_id_number": "350102202511100032"});
        })
        .await?;
    let v2 = t.drive("mum-2", &case2).await?;
    completed(
        &v2,
        &["pre_review", "police", "insurance", "social_security_card"],
    );
    assert_eq!(stage(&v2, "health_check"), &Value::Null);
    // 附件1 三(二)2: the case-2 family is told to bring the full certificate with the booklet.
    let notes = t.notifications("mum-2", &case2).await?;
    assert!(
        notes.iter().any(|n| n["kind"] == "stage_done"
            && n["message"]["zh"]
                .as_str()
                .unwrap_or("")
                .contains("正、副页完全版的《出生医学证明》")),
        "{notes:#?}"
    );
    // 附件1 三(一)5: the card's financial functions are activated at the bank.
    assert!(
        notes.iter().any(|n| n["message"]["zh"]
            .as_str()
            .unwrap_or("")
            .contains("金融功能须到发卡银行营业网点激活")),
        "{notes:#?}"
    );
    let v3 = t.drive("mum-3", &case3).await?;
    completed(&v3, &["pre_review", "insurance", "social_security_card"]);
    assert_eq!(v3["stages"].as_array().map(Vec::len), Some(3));
    Ok(())
}

/// 附件1 三(一)2: "申请人未选择通过平台办理出生户口登记业务的，业务办理流程结束".
/// Rules: FJ2-NO-POLICE-ENDS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn choosing_fewer_services_ends_the_flow_early_and_successfully() -> Result<()> {
    let t = TestService::start().await?;
    let id = t
        .submit("mum-4", &[], &[], |f| {
            f["services"] = json!([
                "birth_certificate",
                "vaccination_certificate",
                "parenting_guidance"
            ])
        })
        .await?;
    let view = t.drive("mum-4", &id).await?;
    assert_eq!(view["outcome"], "completed");
    completed(&view, &["health_check"]);
    for s in ["police", "insurance", "social_security_card"] {
        assert_eq!(
            stage(&view, s)["status"],
            json!({"status": "skipped", "reason": "not_chosen"})
        );
    }
    let notes = t.notifications("mum-4", &id).await?;
    assert!(notes.iter().any(|n| n["kind"] == "all_done"), "{notes:?}");
    Ok(())
}

/// 附件1 三(一)1: missing materials → 补件, and the application continues without re-entry.
/// Rules: FJ2-PRE-SUPPLEMENT, FJ2-BOOKLET-PAGES.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supplement_at_pre_review_resumes_once_the_missing_scan_is_uploaded() -> Result<()> {
    let t = TestService::start().await?;
    let id = t
        .submit(
            "mum-5",
            &["household_booklet_head"],
            &["household_booklet_newborn"],
            |_| {},
        )
        .await?;
    let v = t
        .wait_for("mum-5", &id, "the pre-review supplement request", |v| {
            status(v, "pre_review") == "awaiting_applicant"
        })
        .await?;
    assert_eq!(
        stage(&v, "pre_review")["status"]["items"],
        json!([{"type": "document", "kind": "household_booklet_head"}])
    );
    let notes = t.notifications("mum-5", &id).await?;
    assert!(
        notes.iter().any(|n| n["kind"] == "supplement_needed"
            && n["message"]["zh"]
                .as_str()
                .unwrap_or("")
                .contains("户口簿户主页")),
        "{notes:?}"
    );
    let done = t.drive("mum-5", &id).await?;
    assert_eq!(done["outcome"], "completed");
    assert_eq!(
        stage(&done, "pre_review")["clock"],
        Value::Null,
        "pre-review has no agency clock"
    );
    Ok(())
}

/// The age limit applies when the application is made (闽卫政法〔2024〕40号 附件1 二(一) "未满一年";
/// Yongfu 三(六) "出生1个月内提出申请"; docs/rules.md FJ2-AGE): a family that applied three days
/// before the first birthday and answers the pre-review supplement five days later is not sent
/// offline for the age.
/// Rules: FJ2-AGE, YF-AGE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supplement_answered_after_the_age_limit_passed_is_still_accepted() -> Result<()> {
    let t = TestService::start().await?;
    let id = t
        .submit(
            "mum-age",
            &["household_booklet_head"],
            &["household_booklet_newborn"],
            |form| form["newborn"]["birth_time"] = json!("2024-11-20T08:30:00+08:00"),
        )
        .await?;
    t.wait_for("mum-age", &id, "the pre-review supplement request", |v| {
        status(v, "pre_review") == "awaiting_applicant"
    })
    .await?;
    t.advance(5 * 86_400).await?;
    let done = t.drive("mum-age", &id).await?;
    assert_eq!(done["outcome"], "completed", "{done:#}");
    Ok(())
}

/// 附件1 三(一)3 and 四(五): the police ask for materials; the clock stops while the applicant
/// supplements, however long that takes, and resumes when she answers.
/// Rules: FJ2-POLICE-SUPPLEMENT, FJ2-CLOCK-PAUSE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_police_supplement_pauses_the_clock_until_the_applicant_answers() -> Result<()> {
    let t = TestService::start().await?;
    let id = t
        .submit("mum-6", &[], &["household_booklet_newborn"], |_| {})
        .await?;
    t.script(&id, "police", &["supplement", "approve"]).await?;
    let v = t
        .drive_until("mum-6", &id, "the police supplement request", |v| {
            status(v, "police") == "awaiting_applicant"
        })
        .await?;
    let before = stage(&v, "police")["clock"].clone();
    assert_eq!(before["state"], "paused");
    t.advance(2 * 86_400).await?;
    let later = t.client.view("mum-6", &id).await?;
    let after = &stage(&later, "police")["clock"];
    assert_eq!(after["state"], "paused");
    assert_eq!(
        after["remaining_secs"], before["remaining_secs"],
        "no working time passes while paused"
    );
    assert_eq!(after["level"], "on_track");
    let done = t.drive("mum-6", &id).await?;
    assert_eq!(done["outcome"], "completed");
    let police = &stage(&done, "police")["clock"];
    assert!(
        police["elapsed_secs"].as_i64().unwrap_or(i64::MAX) < 3600,
        "two days of supplement were not counted: {police}"
    );
    Ok(())
}

/// 附件1 三(一)4: the insurance office ends the package; the applicant sees why.
/// Rules: FJ2-INSURANCE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn going_offline_ends_the_flow_and_tells_the_applicant_why() -> Result<()> {
    let t = TestService::start().await?;
    let id = t
        .submit("mum-7", &[], &["household_booklet_newborn"], |_| {})
        .await?;
    t.script(&id, "insurance", &["offline"]).await?;
    let view = t.drive("mum-7", &id).await?;
    assert_eq!(view["outcome"], "terminated");
    let ins = &stage(&view, "insurance")["status"];
    assert_eq!(ins["status"], "terminated");
    assert!(
        ins["reason"]["zh"]
            .as_str()
            .unwrap_or("")
            .contains("生育保险"),
        "{ins}"
    );
    assert_eq!(
        stage(&view, "social_security_card")["status"],
        json!({"status": "skipped", "reason": "flow_terminated"})
    );
    let notes = t.notifications("mum-7", &id).await?;
    assert!(
        notes.iter().any(|n| n["kind"] == "gone_offline"),
        "{notes:?}"
    );
    Ok(())
}

/// 附件4 七: each finished stage can be rated, once.
/// Rules: FJ2-RATING.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_finished_stage_is_rated_once() -> Result<()> {
    let t = TestService::start().await?;
    let id = t
        .submit("mum-8", &[], &["household_booklet_newborn"], |_| {})
        .await?;
    let view = t.drive("mum-8", &id).await?;
    assert_eq!(
        t.client
            .rate_finished("mum-8", &id, &view, "very_satisfied")
            .await?,
        5,
        "the four agency stages and the hospital's release"
    );
    let again = t
        .client
        .rate_finished("mum-8", &id, &view, "satisfied")
        .await;
    assert!(again.is_err_and(|e| e.to_string().contains("409")));
    let rated = t.client.view("mum-8", &id).await?;
    assert_eq!(rated["ratings"].as_array().map(Vec::len), Some(5));
    Ok(())
}

/// 附件4 九 (办件监察): a stage past its deadline is flagged — warning then breach — once each,
/// however often the monitor runs; the agency's supervisor is told and the breach is counted.
/// Rules: FJ2-SUPERVISION, OURS-WARNING-75.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_stage_is_flagged_once_by_the_sla_monitor() -> Result<()> {
    let t = TestService::start().await?;
    let id = t
        .submit("mum-9", &[], &["household_booklet_newborn"], |_| {})
        .await?;
    t.script(&id, "police", &["hold"]).await?;
    t.drive_until("mum-9", &id, "the dispatch to the police", |v| {
        status(v, "police") == "awaiting_agency"
    })
    .await?;
    let quiet = t.sweep().await?;
    assert_eq!(
        (quiet["warnings"].as_u64(), quiet["breaches"].as_u64()),
        (Some(0), Some(0)),
        "{quiet}"
    );
    // Monday morning + 3 days: the police had one working day.
    t.advance(3 * 86_400).await?;
    let first = t.sweep().await?;
    assert_eq!(
        (first["warnings"].as_u64(), first["breaches"].as_u64()),
        (Some(1), Some(1)),
        "{first}"
    );
    let second = t.sweep().await?;
    assert_eq!(
        (second["warnings"].as_u64(), second["breaches"].as_u64()),
        (Some(0), Some(0)),
        "{second}"
    );
    let alerts = t.alerts().await?;
    assert_eq!(alerts["counts"], json!({"warning": 1, "overdue": 1}));
    let view = t.client.view("mum-9", &id).await?;
    assert_eq!(stage(&view, "police")["clock"]["level"], "overdue");
    // The police's supervisor was told once per level, signed, without personal data.
    let escalations = t.escalations().await?;
    let keys: Vec<&str> = escalations
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["key"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        keys,
        [
            format!("{id}:police:warning"),
            format!("{id}:police:overdue")
        ]
    );
    let overdue = &escalations[1];
    assert_eq!(
        (overdue["agency"].as_str(), overdue["deliveries"].as_u64()),
        (Some("police"), Some(1))
    );
    assert_eq!(overdue["body"]["level"], "overdue");
    assert!(
        overdue["body"]["message"]["zh"]
            .as_str()
            .is_some_and(|m| m.contains("已超过办理时限")),
        "{overdue}"
    );
    let body = overdue["body"].to_string();
    assert!(
        !body.contains("35010219940315002X") && !body.contains("林"),
        "{body}"
    );
    // And counted: the operator's metrics show the breach for the police.
    let metrics = t
        .http
        .get(format!("{}/metrics", t.api))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        metrics.contains(
            "newborn_sla_breach_total{agency=\"police_station\",region=\"fujian-2.0\",stage=\"police\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "newborn_escalation_sent_total{agency=\"police_station\",stage=\"police\"} 2"
        ),
        "{metrics}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_applicant_sees_nothing_and_bad_input_gets_a_bilingual_problem() -> Result<()> {
    let t = TestService::start().await?;
    let id = t.submit("mum-10", &[], &[], |_| {}).await?;
    let res = t
        .http
        .get(format!("{}/applications/{id}", t.api))
        .bearer_auth(t.client.token("someone-else"))
        .send()
        .await?;
    assert_eq!(res.status(), 404);
    let res = t
        .http
        .post(format!("{}/applications/{id}/withdraw", t.api))
        .bearer_auth(t.client.token("someone-else"))
        .send()
        .await?;
    assert_eq!(res.status(), 404);
    let res = t
        .http
        .post(format!("{}/applications", t.api))
        .bearer_auth(t.client.token("mum-10"))
        .header("content-type", "application/json")
        .body("{\"case\": ")
        .send()
        .await?;
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let body: Value = res.json().await?;
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty())
            && body["detail_en"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    let mut form = t
        .form("mum-10", &[], &[], |f| {
            f["mother"]["id_number"] = json!("350102199403150021")
        })
        .await?;
    let res = t
        .http
        .post(format!("{}/applications", t.api))
        .bearer_auth(t.client.token("mum-10"))
        .json(&form)
        .send()
        .await?;
    let body: Value = res.json().await?;
    assert_eq!(
        (body["code"].as_str(), body["errors"][0]["field"].as_str()),
        (Some("id_number_check_digit"), Some("mother.id_number")),
        "{body}"
    );
    form["documents"][0]["sha256"] = json!("0".repeat(64));
    form["mother"]["id_number"] = json!("35010219940315002X");
    let res = t
        .http
        .post(format!("{}/applications", t.api))
        .bearer_auth(t.client.token("mum-10"))
        .json(&form)
        .send()
        .await?;
    let body: Value = res.json().await?;
    assert_eq!(body["code"], "unknown_document", "{body}");
    Ok(())
}

/// 闽卫政法〔2024〕40号 附件4 七 (分环节“好差评”): a bad rating opens a follow-up for the rated
/// stage's agency, due after the policy's working days; the agency reports it done, signed, and
/// only for its own stage; the supervisors' list follows.
/// Rules: OURS-FOLLOW-UP-5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_rating_opens_a_follow_up_that_the_agency_closes() -> Result<()> {
    use newborn_domain::stage::Agency;
    let t = TestService::start().await?;
    let id = t
        .submit("mum-fu", &[], &["household_booklet_newborn"], |_| {})
        .await?;
    t.drive("mum-fu", &id).await?;
    for (stage, level) in [("police", "very_dissatisfied"), ("insurance", "satisfied")] {
        t.client
            .json(
                t.client
                    .post("mum-fu", &format!("/applications/{id}/ratings"))
                    .json(&json!({"stage": stage, "level": level})),
            )
            .await?;
    }
    // The evaluation stage opens the follow-up of the bad rating, and of it alone.
    t.wait_for("mum-fu", &id, "the police follow-up", |v| {
        v["follow_ups"].as_array().map(Vec::len) == Some(1)
    })
    .await?;
    let list = t
        .client
        .json(
            t.http
                .get(format!("{}/supervision/follow-ups", t.api))
                .bearer_auth(t.supervisor_token()),
        )
        .await?;
    assert_eq!(
        (list["open"].as_u64(), list["overdue"].as_u64()),
        (Some(1), Some(0)),
        "{list}"
    );
    let open = &list["follow_ups"][0];
    assert_eq!(open["application_id"], id.as_str());
    assert_eq!(open["follow_up"]["stage"], "police");
    assert_eq!(open["follow_up"]["agency"], "police_station");
    // Rated on Monday 2025-11-17 (service time): five working days later is Monday 11-24.
    let due = open["follow_up"]["due_at"].as_str().unwrap_or_default();
    assert!(due.starts_with("2025-11-24T"), "{due}");

    let body = json!({
        "application_id": id, "stage": "police",
        "note": "已电话回访申请人，落户告知流程已改进"
    });
    let (hospital, police) = (
        t.agency_key(Agency::Hospital)?,
        t.agency_key(Agency::PoliceStation)?,
    );
    let wrong = t
        .post_signed_with(&hospital, "/agency/follow-ups", &body)
        .await?;
    assert_eq!(
        wrong.status(),
        403,
        "the hospital cannot close the police's follow-up"
    );
    let done = t
        .post_signed_with(&police, "/agency/follow-ups", &body)
        .await?;
    assert_eq!(done.status(), 200);
    assert_eq!(done.json::<Value>().await?["result"], "applied");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let again = t
        .post_signed_with(&police, "/agency/follow-ups", &body)
        .await?;
    assert_eq!(again.json::<Value>().await?["result"], "already_applied");
    let list = t
        .client
        .json(
            t.http
                .get(format!("{}/supervision/follow-ups", t.api))
                .bearer_auth(t.supervisor_token()),
        )
        .await?;
    assert_eq!(list["open"].as_u64(), Some(0), "{list}");
    let events: Vec<String> = t
        .timeline("mum-fu", &id)
        .await?
        .iter()
        .map(|e| e["event"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        events.contains(&"follow_up_opened".to_owned()),
        "{events:?}"
    );
    assert!(
        events.contains(&"follow_up_closed".to_owned()),
        "{events:?}"
    );
    Ok(())
}

/// 闽卫政法〔2024〕40号 附件1 三(一)2 and 泉卫综〔2024〕252号 附件: a birth registered online
/// leaves its certificate's counterfoil with the hospital; the county's staff hand the ready
/// counterfoils to the police in a batch whose register exports as CSV and reads back the same.
/// Rules: FJ2-COUNTERFOIL-HANDOVER.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counterfoils_of_online_registrations_are_handed_over_in_a_register_that_round_trips_as_csv()
-> Result<()> {
    use newborn_domain::handover::{CSV_HEADER, parse_csv};
    let t = TestService::start().await?;
    let id = t
        .submit("mum-ho", &[], &["household_booklet_newborn"], |_| {})
        .await?;
    let done = t.drive("mum-ho", &id).await?;
    let certificate = stage(&done, "health_check")["status"]["result"]["birth_certificate_number"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!certificate.is_empty(), "{done:#}");
    let staff = t.staff_token("staff-gl")?;
    let as_staff = |req: reqwest::RequestBuilder| req.bearer_auth(&staff).send();
    let ready: Value = as_staff(
        t.http
            .get(format!("{}/supervision/counterfoils?county=350102", t.api)),
    )
    .await?
    .json()
    .await?;
    assert_eq!(ready["count"], 1, "{ready}");
    assert_eq!(
        ready["counterfoils"][0]["certificate_number"],
        certificate.as_str()
    );
    assert_eq!(
        ready["counterfoils"][0]["institution"],
        "福州市妇幼保健院（示例）"
    );
    let parent = t
        .http
        .get(format!("{}/supervision/counterfoils?county=350102", t.api))
        .bearer_auth(t.client.token("mum-ho"))
        .send()
        .await?;
    assert_eq!(parent.status(), 403, "a parent cannot see the register");

    let parties = json!({
        "county": "350102",
        "handing_unit": "鼓楼区卫生健康局", "handing_person": "陈丽",
        "receiving_unit": "福州市公安局鼓楼分局", "receiving_person": "林强"
    });
    let created = as_staff(
        t.http
            .post(format!("{}/supervision/handovers", t.api))
            .json(&parties),
    )
    .await?;
    assert_eq!(created.status(), 201);
    let batch: Value = created.json().await?;
    let number = batch["number"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        number, "350102-20251117-1",
        "county, service date, first of the day"
    );
    let again = as_staff(
        t.http
            .post(format!("{}/supervision/handovers", t.api))
            .json(&parties),
    )
    .await?;
    assert_eq!(again.status(), 409, "nothing left to hand over");

    let csv = as_staff(t.http.get(format!(
        "{}/supervision/handovers/{number}?format=csv",
        t.api
    )))
    .await?;
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/csv")
    );
    let rows = parse_csv(&csv.text().await?).map_err(anyhow::Error::msg)?;
    assert_eq!(rows[0], CSV_HEADER.map(str::to_owned).to_vec());
    assert_eq!(rows.len(), 2, "{rows:?}");
    let row = &rows[1];
    let item = &batch["items"][0];
    assert_eq!(
        row.as_slice(),
        [
            number.as_str(),
            "350102",
            "2025-11-17",
            "1",
            item["institution"].as_str().unwrap_or_default(),
            certificate.as_str(),
            item["reason"].as_str().unwrap_or_default(),
            "鼓楼区卫生健康局",
            "陈丽",
            "福州市公安局鼓楼分局",
            "林强"
        ],
        "the CSV reads back as the batch"
    );
    Ok(())
}

/// Every notification an application produces reaches the app's push / SMS gateway once, in
/// Chinese, through the notification queue (retried until delivered, de-duplicated by id).
/// Rules: FJ2-NOTICES.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_notification_reaches_the_applicant_gateway_once() -> Result<()> {
    let t = TestService::start().await?;
    let id = t
        .submit("mum-nt", &[], &["household_booklet_newborn"], |_| {})
        .await?;
    t.drive("mum-nt", &id).await?;
    let notes = t.notifications("mum-nt", &id).await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let delivered = loop {
        let all = t
            .client
            .json(t.http.get(format!("{}/notifications", t.sim)))
            .await?;
        let mine: Vec<Value> = all
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["body"]["application_id"] == id.as_str())
            .cloned()
            .collect();
        if mine.len() >= notes.len() || std::time::Instant::now() > deadline {
            break mine;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let kinds: Vec<&str> = delivered
        .iter()
        .map(|d| {
            d["body"]["notification"]["kind"]
                .as_str()
                .unwrap_or_default()
        })
        .collect();
    let expected: Vec<&str> = notes
        .iter()
        .map(|n| n["kind"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, expected, "each notification, in order");
    assert!(
        delivered
            .iter()
            .all(|d| d["deliveries"] == 1 && d["body"]["owner"] == "mum-nt")
    );
    assert!(
        delivered[0]["body"]["notification"]["message"]["zh"]
            .as_str()
            .is_some_and(|m| m.contains("申请已提交")),
        "{:#}",
        delivered[0]
    );
    // What is ready and how it reaches the family (附件1 五), per the form's delivery choices.
    let texts: Vec<&str> = delivered
        .iter()
        .filter(|d| d["body"]["notification"]["kind"] == "stage_done")
        .map(|d| {
            d["body"]["notification"]["message"]["zh"]
                .as_str()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(texts.len(), 5, "{texts:#?}");
    assert!(texts[0].contains("《出生医学证明》已签发"), "{}", texts[0]);
    assert!(
        texts[1].contains("新生儿户口已登记") && texts[1].contains("户口簿"),
        "{}",
        texts[1]
    );
    // After the registration the release runs beside insurance and the card, in any order.
    let after: Vec<&str> = texts[2..].to_vec();
    assert!(
        after.iter().any(|t| t.contains("医保参保登记"))
            && after.iter().any(|t| t.contains("《出生医学证明》正页"))
            && after
                .iter()
                .any(|t| t.contains("社会保障卡已由") && t.contains("起")),
        "{after:#?}"
    );
    Ok(())
}

/// 闽卫政法〔2024〕40号 附件1 四(五) counts working days; 国办发明电〔2024〕12号 makes 2025-10-01..08
/// holidays. A police stage dispatched on Tuesday 09-30 at 09:00 has one working day: 15 hours that
/// day and 9 on Thursday 10-09. The monitor stays quiet across the holiday, warns and breaches only
/// on 10-09 (a calendar without the holiday would have flagged it on 10-01).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_crossing_the_national_day_holiday_is_not_flagged_early() -> Result<()> {
    let t = TestService::start_at("2025-09-30T08:30:00+08:00").await?;
    let id = t
        .submit("mum-hol", &[], &["household_booklet_newborn"], |form| {
            form["newborn"]["birth_time"] = json!("2025-09-23T08:30:00+08:00");
        })
        .await?;
    t.script(&id, "police", &["hold"]).await?;
    let view = t
        .drive_until("mum-hol", &id, "the dispatch to the police", |v| {
            status(v, "police") == "awaiting_agency"
        })
        .await?;
    let deadline = stage(&view, "police")["clock"]["deadline"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(deadline.starts_with("2025-10-09T0"), "{deadline}");
    // To Wednesday 10-08 23:30 China time: eight and a half holiday days later.
    t.advance(8 * 86_400 + 15 * 3600).await?;
    let holiday = t.sweep().await?;
    assert_eq!(
        (holiday["warnings"].as_u64(), holiday["breaches"].as_u64()),
        (Some(0), Some(0)),
        "nothing flagged across the holiday: {holiday}"
    );
    // To Thursday 10-09 10:30: the working day is used up.
    t.advance(11 * 3600).await?;
    let after = t.sweep().await?;
    assert_eq!(
        (after["warnings"].as_u64(), after["breaches"].as_u64()),
        (Some(1), Some(1)),
        "{after}"
    );
    Ok(())
}

/// The dispatch the hospital received for `id`'s certificate release, if any.
async fn release_dispatch(t: &TestService, id: &str) -> Result<Option<Value>> {
    Ok(t.received()
        .await?
        .into_iter()
        .find(|d| d["key"] == format!("{id}:certificate_release:1"))
        .map(|d| d["body"].clone()))
}

/// 闽卫政法〔2024〕40号 附件1 三(一)2 (docs/rules.md FJ2-RELEASE): once the police registered the
/// newborn, the platform reports it to the hospital, signed like any dispatch and on its own
/// supervised clock; the hospital releases the main page and the family is told so.
/// Rules: FJ2-RELEASE, OURS-RELEASE-DEADLINE, OURS-CHECKED-RESULTS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hospital_learns_a_successful_registration_and_releases_the_main_page() -> Result<()> {
    let t = TestService::start().await?;
    let id = t
        .submit("mum-rel", &[], &["household_booklet_newborn"], |_| {})
        .await?;
    t.script(&id, "certificate_release", &["hold"]).await?;
    let held = t
        .drive_until("mum-rel", &id, "the hospital holding the release", |v| {
            status(v, "certificate_release") == "awaiting_agency"
        })
        .await?;
    let clock = &stage(&held, "certificate_release")["clock"];
    assert!(
        clock["deadline"].as_str().is_some(),
        "the release has a supervised clock: {clock}"
    );
    let dispatch = release_dispatch(&t, &id)
        .await?
        .expect("the hospital got the result");
    assert_eq!(dispatch["registration"]["registered"], true, "{dispatch:#}");
    assert_eq!(dispatch["release"]["version"], "main_page");
    assert!(dispatch["registration"]["newborn_id_number"].is_string());
    // The overdue release is flagged like any stage's (1 working day).
    t.advance(3 * 86_400).await?;
    let swept = t.sweep().await?;
    assert!(
        swept["breaches"].as_u64() >= Some(1),
        "the release's clock is supervised: {swept}"
    );
    let overdue = t.client.view("mum-rel", &id).await?;
    assert_eq!(
        stage(&overdue, "certificate_release")["clock"]["level"],
        "overdue",
        "{overdue:#}"
    );
    // The hospital reports the release; the full certificate cannot be right after a
    // successful registration.
    let release = |version: &str| {
        json!({"application_id": id, "stage": "certificate_release", "round": 1,
            "outcome": {"type": "approve", "result": {"stage": "certificate_release", "version": version}}})
    };
    let hospital = newborn_domain::stage::Agency::Hospital;
    let wrong = t.signed_callback(hospital, &release("full")).await?;
    assert_eq!(wrong.status(), 422);
    let res = t.signed_callback(hospital, &release("main_page")).await?;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let done = t.drive("mum-rel", &id).await?;
    assert_eq!(done["outcome"], "completed", "{done:#}");
    let release = stage(&done, "certificate_release");
    assert_eq!(release["status"]["result"]["version"], "main_page");
    let notes = t.notifications("mum-rel", &id).await?;
    assert!(
        notes.iter().any(|n| n["kind"] == "stage_done"
            && n["message"]["zh"]
                .as_str()
                .unwrap_or("")
                .contains("《出生医学证明》正页")),
        "{notes:#?}"
    );
    Ok(())
}

/// 附件1 三(一)3 (FJ2-RELEASE, FJ2-CASE1-POLICE-FAIL): when the police refuse, the package ends
/// (insurance and the card are skipped) but the hospital still learns it and releases the full
/// certificate with its counterfoil; the family's go-offline notice says so at once.
/// Rules: FJ2-RELEASE, FJ2-CASE1-POLICE-FAIL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_registration_reaches_the_hospital_which_releases_the_full_certificate()
-> Result<()> {
    let t = TestService::start().await?;
    let id = t
        .submit("mum-ref", &[], &["household_booklet_newborn"], |_| {})
        .await?;
    t.script(&id, "police", &["offline"]).await?;
    let done = t.drive("mum-ref", &id).await?;
    assert_eq!(done["outcome"], "terminated", "{done:#}");
    assert_eq!(status(&done, "insurance"), "skipped");
    assert_eq!(status(&done, "social_security_card"), "skipped");
    assert_eq!(
        stage(&done, "certificate_release")["status"]["result"]["version"],
        "full"
    );
    let dispatch = release_dispatch(&t, &id)
        .await?
        .expect("the hospital got the result");
    assert_eq!(
        dispatch["registration"]["registered"], false,
        "{dispatch:#}"
    );
    assert_eq!(dispatch["release"]["version"], "full");
    assert!(dispatch["registration"]["reason"]["zh"].is_string());
    let notes = t.notifications("mum-ref", &id).await?;
    assert!(
        notes.iter().any(|n| n["kind"] == "gone_offline"
            && n["message"]["zh"]
                .as_str()
                .unwrap_or("")
                .contains("完整无裁切")),
        "{notes:#?}"
    );
    Ok(())
}

/// 附件1 三(一)3: a family that chooses to finish at the police station (转线下 while asked for a
/// supplement) also gets the full certificate from the hospital.
/// Rules: FJ2-RELEASE, FJ2-CASE1-POLICE-FAIL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_family_going_offline_at_the_police_gets_the_full_certificate() -> Result<()> {
    let t = TestService::start().await?;
    let owner = "mum-off";
    let id = t
        .submit(owner, &[], &["household_booklet_newborn"], |_| {})
        .await?;
    t.script(&id, "police", &["supplement"]).await?;
    t.drive_until(owner, &id, "the police supplement request", |v| {
        status(v, "police") == "awaiting_applicant"
    })
    .await?;
    t.client
        .json(t.client.post(owner, &format!("/applications/{id}/offline")))
        .await?;
    let done = t
        .wait_for(owner, &id, "the release", |v| v["outcome"] != "in_progress")
        .await?;
    assert_eq!(
        stage(&done, "certificate_release")["status"]["result"]["version"],
        "full",
        "{done:#}"
    );
    Ok(())
}

/// 附件1 三(二)2 (FJ2-CASE2-POLICE-FAIL): in case 2 a police failure ends only that stage
/// ("终止本环节服务"); insurance and the card still run, and no release is needed (the family
/// holds the full certificate).
/// Rules: FJ2-CASE2-POLICE-FAIL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_case_2_a_police_failure_leaves_insurance_and_the_card_running() -> Result<()> {
    let t = TestService::start().await?;
    let id = t
        .submit(
            "mum-c2",
            &[],
            &["household_booklet_newborn", "birth_certificate"],
            as_case_2,
        )
        .await?;
    t.script(&id, "police", &["offline"]).await?;
    let done = t.drive("mum-c2", &id).await?;
    assert_eq!(status(&done, "police"), "terminated", "{done:#}");
    assert_eq!(status(&done, "insurance"), "completed", "{done:#}");
    assert_eq!(status(&done, "social_security_card"), "completed");
    assert!(
        done["stages"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|s| s["stage"] != "certificate_release"),
        "case 2 has no release"
    );
    Ok(())
}

/// The sample family as born in Yongfu county (Guangxi) with Yongfu household registrations,
/// submitted; returns the application's id.
async fn submit_in_yongfu(t: &TestService, owner: &str) -> Result<String> {
    let form = t.yongfu_form(owner, &["household_booklet_newborn"]).await?;
    t.client.submit(owner, &form).await
}

/// Yongfu 六(二)5 and 六(一) (YF-DEADLINES, YF-OVERALL-33): the 1-working-day enrolment inside the
/// 15-day insurance stage and the 33-working-day promise for the whole matter are supervised
/// like stages: the sweep raises the enrolment to the insurance office's supervisor and the
/// matter to the platform's, once each, and supervisors list both. The counterfoil register says
/// by when the hospital hands the counterfoil to the station.
/// Rules: YF-DEADLINES, YF-OVERALL-33, YF-COUNTERFOIL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_guangxi_a_late_enrolment_and_a_late_matter_are_raised_to_their_supervisors()
-> Result<()> {
    let t = TestService::start().await?;
    let owner = "mum-gx-late";
    let id = submit_in_yongfu(&t, owner).await?;
    t.script(&id, "insurance", &["hold"]).await?;
    t.script(&id, "social_security_card", &["hold"]).await?;
    let held = t
        .drive_until(owner, &id, "insurance holding the case", |v| {
            status(v, "insurance") == "awaiting_agency"
        })
        .await?;
    assert!(held["matter_clock"]["deadline"].is_string(), "{held:#}");
    let alerts = |watch: &'static str| {
        let t = &t;
        let id = id.clone();
        async move {
            let all = t.alerts().await?;
            let mut levels: Vec<String> = all["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["application_id"] == id.as_str() && a["watch"] == watch)
                .map(|a| a["level"].as_str().unwrap_or_default().to_owned())
                .collect();
            levels.sort();
            anyhow::Ok(levels)
        }
    };
    // Three days on: the enrolment's one working day has passed; the 15-day reimbursement and the
    // 33-day matter have not.
    t.advance(3 * 86_400).await?;
    t.sweep().await?;
    assert_eq!(
        alerts("service:medical_insurance_enrolment").await?,
        ["overdue", "warning"]
    );
    assert!(alerts("insurance").await?.is_empty());
    assert!(alerts("matter").await?.is_empty());
    // Sixty days on (past 33 working days, the new-year holiday included): the matter is overdue
    // and raised to the platform; a second sweep raises nothing again.
    t.advance(57 * 86_400).await?;
    t.sweep().await?;
    assert_eq!(alerts("matter").await?, ["overdue", "warning"]);
    let again = t.sweep().await?;
    assert_eq!(again["breaches"], 0, "raised once: {again}");
    let escalations = t.escalations().await?;
    let raised: Vec<(String, String)> = escalations
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["body"]["application_id"] == id.as_str() && e["body"]["level"] == "overdue")
        .map(|e| {
            (
                e["agency"].as_str().unwrap_or_default().to_owned(),
                e["body"]["watch"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("insurance", "service:medical_insurance_enrolment"),
        ("platform", "matter"),
    ] {
        assert!(
            raised
                .iter()
                .any(|(a, w)| (a.as_str(), w.as_str()) == expected),
            "{expected:?} not raised: {raised:?}"
        );
    }
    let view = t.client.view(owner, &id).await?;
    assert_eq!(view["matter_clock"]["level"], "overdue", "{view:#}");
    // 一(二)1(4): the hospital hands the counterfoil to the station by the 30th of the quarter's
    // last month: the register says by when.
    let staff = t.staff_token("staff-yf")?;
    let register = t
        .client
        .json(
            t.http
                .get(format!("{}/supervision/counterfoils?county=450326", t.api))
                .bearer_auth(&staff),
        )
        .await?;
    assert_eq!(
        register["counterfoils"][0]["hand_over_by"], "2025-12-30",
        "{register:#}"
    );
    Ok(())
}

/// Yongfu 五(三)3(1) (YF-PARALLEL): the police send their result to insurance and the
/// social-security office at once, so the card is made while the 15-day reimbursement is still
/// with the insurance office.
/// Rules: YF-PARALLEL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_guangxi_the_card_does_not_wait_for_the_reimbursement() -> Result<()> {
    let t = TestService::start().await?;
    let owner = "mum-gx";
    let id = submit_in_yongfu(&t, owner).await?;
    t.script(&id, "insurance", &["hold"]).await?;
    let view = t
        .drive_until(
            owner,
            &id,
            "the card made while insurance holds the case",
            |v| status(v, "social_security_card") == "completed",
        )
        .await?;
    assert!(
        view["policy"]
            .as_str()
            .unwrap_or("")
            .starts_with("guangxi-yongfu"),
        "{view:#}"
    );
    assert_eq!(status(&view, "insurance"), "awaiting_agency", "{view:#}");
    Ok(())
}

/// The birth chooses the policy, not the caller (issue 18, 6): a Xiamen birth today runs under the
/// province-wide 2.0 notice, and the ended 2021 Fuzhou pilot cannot start an application.
/// Rules: XM-VERSION, FZ21-ENDED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_birth_chooses_the_policy_and_an_ended_pilot_starts_nothing() -> Result<()> {
    let t = TestService::start().await?;
    let form = t.form("mum-pol", &[], &[], |_| {}).await?;
    let res = t
        .client
        .post("mum-pol", "/applications?policy=fuzhou-pilot-2021")
        .json(&form)
        .send()
        .await?;
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await?;
    assert_eq!(problem["code"], "policy_not_applicable", "{problem}");
    assert!(
        problem["detail"].as_str().unwrap_or("").contains("福建省")
            && problem["detail_en"].as_str().is_some(),
        "{problem}"
    );
    let xiamen = t
        .form("mum-pol", &[], &[], |form| {
            form["newborn"]["birthplace"] = json!("350203");
        })
        .await?;
    let id = t.client.submit("mum-pol", &xiamen).await?;
    let view = t.client.view("mum-pol", &id).await?;
    assert!(
        view["policy"]
            .as_str()
            .unwrap_or("")
            .starts_with("fujian-2.0"),
        "{view:#}"
    );
    Ok(())
}

/// Twins (附件1 三(一)4 胎儿数; docs/rules.md FJ2-TWINS): the second twin's application may not
/// claim the delivery's maternity benefit again (422 naming the first application); without it
/// the application goes in, and each twin's flow ends on its own — the first twin's refused
/// registration does not touch the second's.
/// Rules: FJ2-TWINS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twins_claim_the_maternity_benefit_once_and_each_flow_ends_on_its_own() -> Result<()> {
    let t = TestService::start().await?;
    let owner = "mum-twins";
    let twins = |name: &'static str| {
        move |form: &mut Value| {
            form["newborn"]["name"] = json!(name);
            form["maternity"]["births"] = json!({"kind": "multiple", "count": 2});
        }
    };
    let first = t
        .submit(owner, &[], &["household_booklet_newborn"], twins("林一"))
        .await?;
    t.script(&first, "police", &["offline"]).await?;
    let second = t
        .form(owner, &[], &["household_booklet_newborn"], twins("林二"))
        .await?;
    let res = t
        .client
        .post(owner, "/applications")
        .json(&second)
        .send()
        .await?;
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await?;
    assert_eq!(problem["code"], "maternity_benefit_claimed", "{problem}");
    assert!(
        problem["detail"].as_str().unwrap_or("").contains(&first),
        "names the first twin's application: {problem}"
    );
    let mut without = second.clone();
    without["services"] = json!([
        "birth_certificate",
        "vaccination_certificate",
        "parenting_guidance",
        "household_registration",
        "medical_insurance_enrolment",
        "social_security_card"
    ]);
    without.as_object_mut().map(|f| f.remove("maternity"));
    let id2 = t.client.submit(owner, &without).await?;
    let done1 = t.drive(owner, &first).await?;
    let done2 = t.drive(owner, &id2).await?;
    assert_eq!(done1["outcome"], "terminated", "{done1:#}");
    assert_eq!(done2["outcome"], "completed", "{done2:#}");
    assert_eq!(status(&done2, "insurance"), "completed");
    Ok(())
}

/// 闽卫政法〔2024〕40号 附件1 三(一)2: the parent registers parenting guidance by opening the
/// knowledge base in the app, while the hospital works on the certificates; the hospital is not
/// asked for it; a repeat changes nothing. The hospital's dispatch carries the signed form.
/// Rules: FJ2-PARENTING, FJ2-SIGNED-FORM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parent_registers_parenting_guidance_by_reading_the_knowledge_base() -> Result<()> {
    let t = TestService::start().await?;
    let owner = "mum-pg";
    let id = t
        .submit(owner, &[], &["household_booklet_newborn"], |_| {})
        .await?;
    t.script(&id, "health_check", &["hold"]).await?;
    t.wait_for(owner, &id, "the hospital holding the case", |v| {
        status(v, "health_check") == "awaiting_agency"
    })
    .await?;
    let path = format!("/applications/{id}/parenting-guidance");
    let read = t.client.json(t.client.post(owner, &path)).await?;
    let at = read["parenting_guidance_read_at"].clone();
    assert!(at.is_string(), "{read:#}");
    let again = t.client.json(t.client.post(owner, &path)).await?;
    assert_eq!(again["parenting_guidance_read_at"], at, "registered once");
    let stranger = t.client.post("someone-else", &path).send().await?;
    assert_eq!(stranger.status(), 404);
    let timeline = t.timeline(owner, &id).await?;
    assert_eq!(
        timeline
            .iter()
            .filter(|e| e["event"] == "parenting_guidance_done")
            .count(),
        1,
        "{timeline:#?}"
    );
    let hospital = t
        .received()
        .await?
        .into_iter()
        .find(|d| d["key"] == format!("{id}:health_check:1"))
        .map(|d| d["body"].clone())
        .expect("the hospital's dispatch");
    assert!(
        !hospital["services"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s == "parenting_guidance"),
        "not the hospital's to register: {hospital:#}"
    );
    // The agencies receive the signed form (含有电子签名的申请表, 附件1 三(一)2) with the pledge
    // the applicant affirmed (附件2 一(八)).
    let declaration = &hospital["declaration"];
    assert_eq!(
        declaration["form_sha256"].as_str().map(str::len),
        Some(64),
        "{hospital:#}"
    );
    assert_eq!(declaration["signed_by"], format!("applicant:{owner}"));
    // The sign-in verified her face (附件4 八, the token's amr and auth_time).
    assert!(declaration["face_verified_at"].is_string(), "{declaration}");
    assert_eq!(declaration["signer_id_number"], "35010219940315002X");
    assert!(
        declaration["pledge"]["zh"]
            .as_str()
            .unwrap_or("")
            .contains("真实")
    );
    Ok(())
}

/// The subjects of a view's rating invitations, sorted.
fn invited(view: &Value) -> Vec<String> {
    let mut subjects: Vec<String> = view["invitations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| i["subject"].as_str().unwrap_or_default().to_owned())
        .collect();
    subjects.sort();
    subjects
}

/// 闽卫政法〔2024〕40号 附件4 七 (分环节“好差评”): each step its agency finishes is open for
/// rating from that moment, for the policy's window, and the step's 办结 notice says so; Fujian
/// invites no rating of the whole matter. A rating reaches the provincial 好差评 platform once,
/// whatever the evaluation stage receives twice; a bad one opens its follow-up once, and the
/// month's report counts both.
/// Rules: FJ2-RATING, OURS-RATING-WINDOW, OURS-RATING-PLATFORM, OURS-FOLLOW-UP-5, OURS-REPORTS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_step_is_open_for_rating_and_its_rating_reaches_the_platform_once() -> Result<()>
{
    use newborn_embedded::{Database, SqliteQueue};
    let t = TestService::start().await?;
    let id = t
        .submit("mum-rate", &[], &["household_booklet_newborn"], |_| {})
        .await?;
    let view = t.drive("mum-rate", &id).await?;
    assert_eq!(
        invited(&view),
        [
            "certificate_release",
            "health_check",
            "insurance",
            "police",
            "social_security_card"
        ],
        "every finished agency step, no pre-review and no matter: {view:#}"
    );
    for i in view["invitations"].as_array().into_iter().flatten() {
        let (at, closes) = (
            chrono::DateTime::parse_from_rfc3339(i["at"].as_str().unwrap_or_default())?,
            chrono::DateTime::parse_from_rfc3339(i["closes_at"].as_str().unwrap_or_default())?,
        );
        assert_eq!((closes - at).num_days(), 15, "the policy's window: {i}");
    }
    let notes = t.notifications("mum-rate", &id).await?;
    let invitations: Vec<&str> = notes
        .iter()
        .filter(|n| n["kind"] == "stage_done")
        .filter_map(|n| n["message"]["zh"].as_str())
        .filter(|zh| zh.contains("进行评价（好差评）"))
        .collect();
    assert_eq!(invitations.len(), 5, "{notes:#?}");
    assert!(
        invitations
            .iter()
            .any(|zh| zh.contains("欢迎在2025-12-0") && zh.contains("公安")),
        "{invitations:#?}"
    );

    let timeline = t.timeline("mum-rate", &id).await?;
    let invitations: Vec<&Value> = timeline
        .iter()
        .filter(|e| e["event"] == "rating_invited")
        .collect();
    assert_eq!(invitations.len(), 5, "{timeline:#?}");
    assert!(
        invitations.iter().all(|e| e["actor"]["kind"] == "platform"),
        "the platform invites, not the agency whose answer finished the step: {invitations:#?}"
    );
    let (status, _) = t
        .rate("mum-rate", &id, "police", "very_dissatisfied")
        .await?;
    assert_eq!(status, 201);
    let (status, body) = t.rate("mum-rate", &id, "matter", "satisfied").await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("matter_rating_not_offered")),
        "{body}"
    );
    let police = t.wait_for_rating(&format!("{id}:police"), |_| true).await?;
    assert_eq!(police["body"]["department"], "police_station", "{police}");
    assert_eq!(police["body"]["level"], "very_dissatisfied");
    assert_eq!(police["body"]["region"], "fujian-2.0");
    assert!(police["body"]["invited_at"].is_string(), "{police}");
    t.wait_for("mum-rate", &id, "the follow-up", |v| {
        v["follow_ups"].as_array().map(Vec::len) == Some(1)
    })
    .await?;

    // The evaluation queue delivers the same task again (SQS is at least once).
    let queue = SqliteQueue::new(Database::open(&t.dir.path().join("newborn.db"))?);
    let task = json!({"task": "forward", "application_id": id, "subject": "police"}).to_string();
    queue
        .send("evaluation", &task, std::time::Duration::ZERO)
        .await
        .map_err(anyhow::Error::msg)?;
    t.wait_for_rating(&format!("{id}:police"), |x| x["deliveries"] == 2)
        .await?;
    let got = t.ratings_received().await?;
    let mine: Vec<&Value> = got
        .iter()
        .filter(|x| x["key"].as_str().is_some_and(|k| k.starts_with(&id)))
        .collect();
    assert_eq!(mine.len(), 1, "one rating, recorded once: {mine:#?}");
    let opened = t
        .timeline("mum-rate", &id)
        .await?
        .iter()
        .filter(|e| e["event"] == "follow_up_opened")
        .count();
    assert_eq!(opened, 1, "the follow-up opened once");

    let report = t.report("2025-11").await?;
    let row = report_row(&report, "police_station");
    assert_eq!(row["stages_completed"], 1, "{report:#}");
    assert_eq!(row["ratings"]["very_dissatisfied"], 1, "{report:#}");
    assert_eq!(row["follow_ups_opened"], 1, "{report:#}");
    assert_eq!(report_row(&report, "hospital")["stages_completed"], 2);
    let csv = t
        .http
        .get(format!(
            "{}/supervision/reports?period=2025-11&agency=police_station&format=csv",
            t.api
        ))
        .bearer_auth(t.supervisor_token())
        .send()
        .await?
        .text()
        .await?;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[1].starts_with("2025-11,police_station,1,1,1.0000,"),
        "{csv}"
    );
    assert!(
        lines[1].ends_with(",0,1,0,0"),
        "not rated, follow-ups: {csv}"
    );
    Ok(())
}

/// No document says what happens when a family does not rate: the window closes, "not rated" is
/// recorded (on the timeline and in the report), no level is assumed, and a late rating is
/// refused with the reason.
/// Rules: OURS-NOT-RATED, OURS-RATING-WINDOW.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_that_closes_unrated_is_recorded_as_not_rated() -> Result<()> {
    let t = TestService::start().await?;
    let id = t
        .submit("mum-quiet", &[], &["household_booklet_newborn"], |_| {})
        .await?;
    t.drive("mum-quiet", &id).await?;
    t.advance(14 * 86_400).await?;
    assert_eq!(t.sweep().await?["not_rated"], 0, "the windows are open");
    t.advance(86_400 + 60).await?;
    assert_eq!(t.sweep().await?["not_rated"], 5, "five windows closed");
    assert_eq!(t.sweep().await?["not_rated"], 0, "and once only");
    let view = t.client.view("mum-quiet", &id).await?;
    assert!(
        view["invitations"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|i| i["ended"]["how"] == "not_rated"),
        "{view:#}"
    );
    assert_eq!(view["ratings"], json!([]), "no rating is assumed");
    let timeline = t.timeline("mum-quiet", &id).await?;
    assert_eq!(
        timeline
            .iter()
            .filter(|e| e["event"] == "not_rated")
            .count(),
        5
    );
    let (status, body) = t.rate("mum-quiet", &id, "police", "satisfied").await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("rating_window_closed")),
        "{body}"
    );
    let report = t.report("2025-11-01..2025-12-31").await?;
    assert_eq!(
        report_row(&report, "hospital")["not_rated"],
        2,
        "{report:#}"
    );
    assert_eq!(report_row(&report, "police_station")["not_rated"], 1);
    assert_eq!(
        report_row(&report, "police_station")["ratings"]["satisfied"],
        0
    );
    Ok(())
}

/// 永福县 附件2 八(一) (一事一评): once the matter is done the family is invited to rate it as a
/// whole, once; the rating reaches the 好差评 platform for the platform that answers for it.
/// Rules: YF-RATING.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_yongfu_the_whole_matter_is_rated_once_after_it_ends() -> Result<()> {
    let t = TestService::start().await?;
    let id = submit_in_yongfu(&t, "mum-yf-rate").await?;
    let view = t.drive("mum-yf-rate", &id).await?;
    assert_eq!(view["outcome"], "completed", "{view:#}");
    assert!(invited(&view).contains(&"matter".to_owned()), "{view:#}");
    let notes = t.notifications("mum-yf-rate", &id).await?;
    assert!(
        notes.iter().any(|n| n["kind"] == "all_done"
            && n["message"]["zh"]
                .as_str()
                .is_some_and(|zh| zh.contains("整体办理”进行评价"))),
        "{notes:#?}"
    );
    let (status, body) = t.rate("mum-yf-rate", &id, "matter", "satisfied").await?;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["matter_rating"]["level"], "satisfied");
    let (status, body) = t
        .rate("mum-yf-rate", &id, "matter", "very_satisfied")
        .await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("already_rated")),
        "{body}"
    );
    let matter = t.wait_for_rating(&format!("{id}:matter"), |_| true).await?;
    assert_eq!(matter["body"]["department"], "platform", "{matter}");
    assert_eq!(matter["body"]["region"], "guangxi-yongfu");
    Ok(())
}

/// The predicted completion in the view, at the moment it is read.
fn p50(view: &Value) -> chrono::DateTime<chrono::Utc> {
    view["forecast"]["p50"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no forecast in {view}"))
}

/// The view and each step's notice say when the whole is expected to be done. While the police
/// wait for the family, the prediction counts from its answer: it moves later as working time
/// passes, stands still across the National Day holiday, and its dates skip the holiday.
/// Rules: OURS-FORECAST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_view_predicts_completion_and_a_supplement_or_a_holiday_moves_it() -> Result<()> {
    let t = TestService::start_at("2025-09-30T08:30:00+08:00").await?;
    let id = t
        .submit("mum-fc", &[], &["household_booklet_newborn"], |form| {
            form["newborn"]["birth_time"] = json!("2025-09-23T08:30:00+08:00");
        })
        .await?;
    t.script(&id, "police", &["supplement", "approve"]).await?;
    let asked = t
        .drive_until("mum-fc", &id, "the police supplement request", |v| {
            status(v, "police") == "awaiting_applicant"
        })
        .await?;
    let f = &asked["forecast"];
    assert_eq!(f["waits_for_applicant"], true, "{f}");
    assert!(
        f["message"]["zh"]
            .as_str()
            .is_some_and(|m| m.starts_with("预计") && m.contains("补正材料的时间不计入")),
        "{f}"
    );
    let police = f["stages"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["stage"] == "police"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        police["basis"], "deadline",
        "a new service has no history: {f}"
    );
    // The police's working day runs from the answer: 15.5 hours of Tuesday 09-30, then the
    // holiday (10-01 to 10-08), so it ends on 10-09 at the earliest.
    let holiday_end: chrono::DateTime<chrono::Utc> = "2025-10-08T16:00:00Z".parse()?;
    let first = p50(&asked);
    assert!(first > holiday_end, "{first}");
    // Two days later (Thursday 10-02, a holiday) the family has not answered: Tuesday's
    // remaining working hours are gone, so the prediction is 15.5 working hours later.
    t.advance(2 * 86_400).await?;
    let second = p50(&t.client.view("mum-fc", &id).await?);
    let moved = second - first;
    assert!(
        moved >= chrono::TimeDelta::hours(15) && moved <= chrono::TimeDelta::days(9),
        "{first} then {second}"
    );
    // Two more holiday days pass no working time: the prediction stands still.
    t.advance(2 * 86_400).await?;
    let third = p50(&t.client.view("mum-fc", &id).await?);
    assert_eq!(third, second);
    // Each step's notice carried the prediction.
    let notes = t.notifications("mum-fc", &id).await?;
    let predicted = notes
        .iter()
        .filter(|n| {
            n["message"]["zh"]
                .as_str()
                .is_some_and(|m| m.contains("前全部办结"))
        })
        .count();
    assert!(predicted >= 3, "{notes:?}");
    // Once it is done there is nothing left to predict.
    let done = t.drive("mum-fc", &id).await?;
    assert_eq!(done["outcome"], "completed");
    assert!(done.get("forecast").is_none(), "{done}");
    Ok(())
}

/// A finished application's signed result (办件结果通知): its owner gets a compact JWS and its
/// QR code, which decodes to the public verification page; the page (no sign-in) verifies it
/// against the published key and refuses it with one byte changed; `newborn verify` checks it
/// offline against the saved key. Nothing is signed before the end, nor for another parent.
/// Rules: OURS-SIGNED-RESULT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_application_gets_a_signed_result_anyone_can_verify() -> Result<()> {
    let t = TestService::start().await?;
    let id = t
        .submit("mum-res", &[], &["household_booklet_newborn"], |_| {})
        .await?;
    let early = t
        .client
        .get("mum-res", &format!("/applications/{id}/result"))
        .send()
        .await?;
    assert_eq!(early.status(), 409, "nothing to certify while it runs");
    let done = t.drive("mum-res", &id).await?;
    assert_eq!(done["outcome"], "completed");
    let signed = t
        .client
        .json(
            t.client
                .get("mum-res", &format!("/applications/{id}/result")),
        )
        .await?;
    let token = signed["token"].as_str().unwrap_or_default().to_owned();
    assert_eq!(token.split('.').count(), 3, "{signed}");
    assert_eq!(signed["result"]["application"], id.as_str());
    let items: Vec<&str> = signed["result"]["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["stage"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        items,
        [
            "health_check",
            "police",
            "certificate_release",
            "insurance",
            "social_security_card"
        ]
    );
    // Masked: no full identity or certificate number, no full name.
    let police_id = done["stages"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["stage"] == "police"))
        .and_then(|s| s["status"]["result"]["newborn_id_number"].as_str())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(police_id.len(), 18);
    let text = signed.to_string();
    assert!(!text.contains(&police_id), "{text}");
    assert!(text.contains(&format!(
        "{}**********{}",
        &police_id[..4],
        &police_id[14..]
    )));
    // Another parent gets nothing.
    let other = t
        .client
        .get("mum-other", &format!("/applications/{id}/result"))
        .send()
        .await?;
    assert_eq!(other.status(), 404);
    // The QR code decodes to the verification page of this token.
    let png = t
        .client
        .get("mum-res", &format!("/applications/{id}/result.png"))
        .send()
        .await?
        .bytes()
        .await?;
    let image = image::load_from_memory(&png)?.to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, decoded) = grids[0].decode()?;
    assert_eq!(decoded, signed["verify_url"].as_str().unwrap_or_default());
    assert!(
        decoded.ends_with(&format!("/verify?token={token}")),
        "{decoded}"
    );
    // The public page verifies it without a sign-in, and refuses an altered one.
    let page = newborn_http::client()
        .get(format!("{}/verify?token={token}", t.api))
        .send()
        .await?;
    assert_eq!(page.status(), 200);
    let html = page.text().await?;
    assert!(
        html.contains("data-verified=\"true\"") && html.contains(&id),
        "{html}"
    );
    let mut altered = token.clone().into_bytes();
    let at = token.find('.').unwrap_or(0) + 10;
    altered[at] = if altered[at] == b'x' { b'y' } else { b'x' };
    let altered = String::from_utf8(altered)?;
    let refused = newborn_http::client()
        .get(format!("{}/verify?token={altered}", t.api))
        .send()
        .await?;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await?;
    assert!(
        html.contains("data-verified=\"false\"") && !html.contains(&id),
        "{id}: {html}"
    );
    // Offline: the published key saved to a file, and the CLI.
    let jwks = newborn_http::client()
        .get(format!("{}/.well-known/jwks.json", t.api))
        .send()
        .await?
        .text()
        .await?;
    let file = t.dir.path().join("jwks.json");
    std::fs::write(&file, &jwks)?;
    let verify = |token: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_newborn"))
            .args(["verify", "--jwks"])
            .arg(&file)
            .arg(token)
            .output()
    };
    let ok = verify(&decoded)?;
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains(&id));
    let bad = verify(&altered)?;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not verified"));
    Ok(())
}

/// The agency watchdog: an agency whose system stops acknowledging dispatches (no 2xx) is
/// escalated to its supervisor once the policy's minutes pass, long before its deadline; when
/// it answers again the watch ends. Per agency it counts the open dispatches past
/// their deadline and names the one due first, on `GET /supervision/watchdog`.
/// Rules: OURS-WATCHDOG.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agency_that_stops_answering_is_escalated_by_the_watchdog() -> Result<()> {
    let t = TestService::start().await?;
    let outage = |down: bool| {
        t.http
            .post(format!("{}/outages", t.sim))
            .json(&json!({"agency": "police", "down": down}))
            .send()
    };
    assert!(outage(true).await?.status().is_success());
    let id = t
        .submit("mum-wd", &[], &["household_booklet_newborn"], |_| {})
        .await?;
    t.script(&id, "police", &["hold"]).await?;
    t.drive_until("mum-wd", &id, "the dispatch to the police", |v| {
        status(v, "police") == "awaiting_agency"
    })
    .await?;
    let police = |report: &Value| {
        report["watchdog"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["agency"] == "police_station"))
            .cloned()
            .unwrap_or_default()
    };
    // The first failed attempt is recorded; before the policy's minutes nothing is escalated.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let early = loop {
        let early = t.sweep().await?;
        if police(&early)["unacknowledged"] == 1 || std::time::Instant::now() > deadline {
            break early;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(police(&early)["unacknowledged"], 1, "{early}");
    assert_eq!(early["unacknowledged"], 0, "{early}");
    // Eleven minutes later (the policy gives ten) the watchdog escalates it, once.
    t.advance(11 * 60).await?;
    let late = t.sweep().await?;
    assert_eq!(late["unacknowledged"], 1, "{late}");
    assert_eq!(police(&late)["unacknowledged_late"], 1, "{late}");
    assert_eq!(t.sweep().await?["unacknowledged"], 0, "escalated once");
    let escalations = t.escalations().await?;
    let ours: Vec<&Value> = escalations
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|e| e["body"]["application_id"] == id.as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(ours.len(), 1, "{escalations}");
    assert_eq!(ours[0]["body"]["level"], "unacknowledged");
    assert_eq!(ours[0]["agency"], "police");
    let alerts = t.alerts().await?;
    assert!(alerts.to_string().contains("delivery:police"), "{alerts}");
    // The agency's system comes back: a retry of the dispatch reaches it and the watch ends.
    assert!(outage(false).await?.status().is_success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let back = loop {
        let back = t.sweep().await?;
        if police(&back)["unacknowledged"] == 0 || std::time::Instant::now() > deadline {
            break back;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(police(&back)["unacknowledged"], 0, "{back}");
    assert_eq!(police(&back)["open"], 1, "{back}");
    // Two days on the police hold it past its deadline: the watchdog counts it and names it.
    t.advance(2 * 86_400).await?;
    let overdue = t.sweep().await?;
    assert_eq!(police(&overdue)["beyond_sla"], 1, "{overdue}");
    assert_eq!(police(&overdue)["due_first"]["application_id"], id.as_str());
    let watchdog = t
        .client
        .json(
            t.http
                .get(format!("{}/supervision/watchdog", t.api))
                .bearer_auth(t.supervisor_token()),
        )
        .await?;
    let row = watchdog["agencies"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["agency"] == "police_station"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(row["beyond_sla"], 1, "{watchdog}");
    Ok(())
}

/// The hospital's record of the sample family's twins (the sample's birth, a second child ten
/// minutes later).
fn twins_record() -> Value {
    json!({
        "delivery_id": "FD-2025-110045",
        "hospital": {"name": "福州市妇幼保健院（示例）", "credit_code": "12350100488099123X"},
        "birthplace": "350102",
        "mother": {"name": "陈晓梅", "id_number": "35010219940315002X", "phone": "13812345678"},
        "father": {"name": "林志强", "id_number": "350203199207080011"},
        "delivery_mode": "caesarean",
        "newborns": [
            {"name": "林𠈌", "sex": "male", "birth_time": "2025-11-10T08:30:00+08:00",
             "gestational_weeks": 37, "weight_grams": 2650, "length_cm": 47,
             "medical_record_number": "ZY2025110045"},
            {"name": "林双宁", "sex": "female", "birth_time": "2025-11-10T08:41:00+08:00",
             "gestational_weeks": 37, "weight_grams": 2480, "length_cm": 46,
             "medical_record_number": "ZY2025110046"},
        ],
    })
}

/// What the mother adds to a draft: her choices and what the hospital does not hold, taken from
/// the sample form; the household booklet's pages as scans (the directory holds her identity
/// card, the father's authorised to her, and their marriage certificate).
async fn draft_answer(t: &TestService, owner: &str, maternity: bool) -> Result<Value> {
    let sample: Value = serde_json::from_str(newborn::demo::SAMPLE)?;
    let details = |p: &Value, phone: bool| {
        let mut d = json!({
            "ethnicity": p["ethnicity"], "household_address": p["household_address"],
            "household_region": p["household_region"], "household_kind": p["household_kind"],
            "marriage_certificate": p["marriage_certificate"],
        });
        if phone {
            d["phone"] = p["phone"].clone();
        }
        d
    };
    let mut docs = vec![];
    for kind in [
        "household_booklet_front",
        "household_booklet_registering_parent",
        "household_booklet_head",
    ] {
        docs.push(t.client.upload(owner, kind).await?);
    }
    let mut services = sample["services"].clone();
    if !maternity && let Some(list) = services.as_array_mut() {
        list.retain(|s| s != "maternity_benefit");
    }
    let mut answer = json!({
        "services": services,
        "mother": details(&sample["mother"], false),
        "father": details(&sample["father"], true),
        "household": sample["household"],
        "insurance": sample["insurance"],
        "card": sample["card"],
        "delivery": sample["delivery"],
        "documents": docs,
        "pledge": {"truthful": true},
    });
    if maternity {
        answer["maternity_payout"] = sample["maternity"]["payout"].clone();
    }
    Ok(answer)
}

/// Every byte of the service's own database files (the database and its write-ahead log).
fn database_bytes(dir: &std::path::Path) -> Result<Vec<u8>> {
    let mut all = vec![];
    for name in ["newborn.db", "newborn.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.join(name)) {
            all.extend(bytes);
        }
    }
    Ok(all)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// 无感申办 (docs/rules.md OURS-DRAFT): the hospital's signed birth record of twins makes two
/// linked drafts and tells the mother by SMS; she alone sees them, completes one with her
/// choices (nothing the hospital sent is typed, and an answer that tries to change it is
/// refused), and it runs like any application; the twin's draft cannot claim the maternity
/// benefit again, and once its window passes it is deleted and nothing of it is left in the
/// database files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_birth_record_becomes_drafts_the_mother_confirms_and_an_expired_one_leaves_nothing()
-> Result<()> {
    use newborn_domain::stage::Agency;
    let t = TestService::start().await?;
    let post = |agency: Agency, record: &Value| {
        let record = record.clone();
        let t = &t;
        async move {
            let res = t.signed_post(agency, "/agency/births", &record).await?;
            let status = res.status().as_u16();
            anyhow::Ok((status, res.json::<Value>().await.unwrap_or(Value::Null)))
        }
    };
    // Only a hospital posts births; a record that is not one delivery is refused.
    let (status, body) = post(Agency::PoliceStation, &twins_record()).await?;
    assert_eq!((status, body["code"].as_str()), (403, Some("wrong_agency")));
    let mut apart = twins_record();
    apart["newborns"][1]["birth_time"] = json!("2025-11-13T08:41:00+08:00");
    let (status, body) = post(Agency::Hospital, &apart).await?;
    assert_eq!(status, 422, "{body:#}");
    assert!(body.to_string().contains("not_one_delivery"), "{body:#}");
    // A child past the policy's online age (Fujian: under 12 months) gets no draft.
    let mut old = twins_record();
    old["delivery_id"] = json!("FD-2024-OLD");
    old["newborns"][0]["birth_time"] = json!("2024-10-01T08:30:00+08:00");
    old["newborns"][1]["birth_time"] = json!("2024-10-01T08:41:00+08:00");
    let (status, body) = post(Agency::Hospital, &old).await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("beyond_online_age")),
        "{body:#}"
    );

    let (status, made) = post(Agency::Hospital, &twins_record()).await?;
    assert_eq!(status, 201, "{made:#}");
    let ids: Vec<String> = made["drafts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids.len(), 2, "{made:#}");
    assert!(
        !made.to_string().contains("陈晓梅"),
        "the answer carries no personal data"
    );
    // The same record again (a retry, newly signed) makes nothing new.
    let (status, again) = post(Agency::Hospital, &twins_record()).await?;
    assert_eq!((status, &again["drafts"]), (200, &made["drafts"]));

    // The mother is told by SMS at the phone the hospital recorded, without names.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let sms = loop {
        let all = t
            .client
            .json(t.http.get(format!("{}/notifications", t.sim)))
            .await?;
        let found = all.as_array().into_iter().flatten().find(|d| {
            d["body"]["owner"] == "sms:13812345678"
                && d["body"]["notification"]["kind"] == "draft_ready"
        });
        if let Some(found) = found {
            break found.clone();
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "no SMS: {all:#}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(sms.to_string().contains("2份"), "{sms:#}");
    assert!(!sms.to_string().contains("陈晓梅") && !sms.to_string().contains("林双宁"));

    // She alone sees them: by her real-name identity number.
    let now = chrono::Utc::now();
    let token = |sub: &str, id: Option<&str>| {
        t.running
            .issuer
            .mint_real_name(
                sub,
                newborn_http::Role::Applicant,
                id,
                chrono::TimeDelta::hours(1),
                now,
            )
            .unwrap_or_default()
    };
    let mum = token("mum-draft", Some("35010219940315002X"));
    let dad = token("dad-draft", Some("350203199207080011"));
    let anon = token("someone", None);
    let get = |token: &str, path: &str| {
        t.http
            .get(format!("{}{path}", t.api))
            .bearer_auth(token)
            .send()
    };
    let res = get(&anon, "/drafts").await?;
    assert_eq!(res.status(), 403);
    assert_eq!(
        res.json::<Value>().await?["code"],
        "real_name_required",
        "no real name, no drafts"
    );
    let theirs: Value = get(&dad, "/drafts").await?.json().await?;
    assert_eq!(theirs, json!([]), "the father is not the mother");
    assert_eq!(
        get(&dad, &format!("/drafts/{}", ids[0])).await?.status(),
        404
    );
    let drafts: Value = get(&mum, "/drafts").await?.json().await?;
    let drafts = drafts.as_array().cloned().unwrap_or_default();
    assert_eq!(drafts.len(), 2, "{drafts:#?}");
    assert_eq!(drafts[0]["siblings"], json!([ids[1]]), "twins are linked");
    assert_eq!(drafts[1]["births"], json!({"kind": "multiple", "count": 2}));
    let on_file: Vec<&str> = drafts[0]["licences_on_file"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["kind"].as_str())
        .collect();
    for kind in ["mother_id_card", "father_id_card", "marriage_certificate"] {
        assert!(on_file.contains(&kind), "{kind} on file: {on_file:?}");
    }

    // An answer that re-types or changes what the hospital sent is refused under its field.
    let confirm = |token: &str, id: &str, answer: &Value| {
        t.http
            .post(format!("{}/drafts/{id}/confirmation", t.api))
            .bearer_auth(token)
            .json(answer)
            .send()
    };
    let answer = draft_answer(&t, "mum-draft", true).await?;
    for (field, value) in [
        ("newborn", json!({"name": "王五"})),
        ("case", json!("full")),
    ] {
        let mut forged = answer.clone();
        forged[field] = value;
        let res = confirm(&mum, &ids[0], &forged).await?;
        assert_eq!(res.status(), 422);
        let body: Value = res.json().await?;
        assert_eq!(body["errors"][0]["field"], field, "{body:#}");
    }
    let mut forged = answer.clone();
    forged["mother"]["name"] = json!("王五");
    assert_eq!(confirm(&mum, &ids[0], &forged).await?.status(), 422);
    // Another parent cannot confirm it.
    assert_eq!(confirm(&dad, &ids[0], &answer).await?.status(), 404);

    // Confirmed: the application has the draft's id and the hospital's facts, and runs.
    let res = confirm(&mum, &ids[0], &answer).await?;
    assert_eq!(res.status(), 201);
    let view: Value = res.json().await?;
    assert_eq!(view["id"], ids[0].as_str(), "{view:#}");
    let done = t.drive("mum-draft", &ids[0]).await?;
    assert_eq!(done["outcome"], "completed", "{done:#}");
    // The agencies received the hospital's facts, never typed by the mother.
    let received = t.received().await?;
    let sent_to = |agency: &str| {
        received
            .iter()
            .filter(|r| r["agency"] == agency && r.to_string().contains(ids[0].as_str()))
            .map(|r| r.to_string())
            .collect::<String>()
    };
    let hospital = sent_to("hospital");
    for fact in ["林𠈌", "ZY2025110045", "2650", "13812345678"] {
        assert!(
            hospital.contains(fact),
            "{fact} not sent to the hospital: {hospital}"
        );
    }
    let insurance = sent_to("insurance");
    for fact in ["caesarean", "\"count\":2"] {
        assert!(
            insurance.contains(fact),
            "{fact} not sent to insurance: {insurance}"
        );
    }
    for licence in ["350102-ID-0001", "350203-ID-0002", "J350102-2020-000123"] {
        assert!(
            hospital.contains(licence),
            "{licence} on file not used: {hospital}"
        );
    }
    let left: Value = get(&mum, "/drafts").await?.json().await?;
    assert_eq!(
        left.as_array().map(Vec::len),
        Some(1),
        "the confirmed draft is gone"
    );
    // The record posted again makes no draft for the child already applied for.
    let (status, again) = post(Agency::Hospital, &twins_record()).await?;
    assert_eq!((status, &again["drafts"]), (200, &made["drafts"]));
    let left: Value = get(&mum, "/drafts").await?.json().await?;
    assert_eq!(left.as_array().map(Vec::len), Some(1), "{left:#}");

    // The twin's draft may not claim the delivery's maternity benefit again.
    let twin = draft_answer(&t, "mum-draft", true).await?;
    let res = confirm(&mum, &ids[1], &twin).await?;
    assert_eq!(res.status(), 422);
    assert!(
        res.text().await?.contains("maternity_benefit_claimed"),
        "the benefit is paid once per delivery"
    );

    // Unconfirmed, the twin's draft is deleted when its 30 days end, with its data.
    let before = database_bytes(t.dir.path())?;
    assert!(
        contains(&before, "ZY2025110046"),
        "the twin's record is in the database before it expires"
    );
    t.advance(29 * 86_400).await?;
    assert_eq!(
        t.sweep().await?["drafts_expired"],
        0,
        "not before its window ends"
    );
    t.advance(2 * 86_400).await?;
    assert_eq!(
        get(&mum, "/drafts").await?.json::<Value>().await?,
        json!([]),
        "past its window it is gone for her even before the sweep"
    );
    assert_eq!(t.sweep().await?["drafts_expired"], 1);
    assert_eq!(
        get(&mum, "/drafts").await?.json::<Value>().await?,
        json!([])
    );
    assert_eq!(
        get(&mum, &format!("/drafts/{}", ids[1])).await?.status(),
        404
    );
    let after = database_bytes(t.dir.path())?;
    for trace in ["ZY2025110046", "林双宁"] {
        assert!(
            !contains(&after, trace),
            "{trace} is left in the database files after the draft expired"
        );
    }
    Ok(())
}

/// A child the family already applied for with the full form gets no second application from
/// the hospital's draft (docs/rules.md OURS-DRAFT).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_of_a_child_already_applied_for_is_not_confirmed_twice() -> Result<()> {
    use newborn_domain::stage::Agency;
    let t = TestService::start().await?;
    let typed = t.submit("mum-typed", &[], &[], |_| {}).await?;
    let mut record = twins_record();
    if let Some(children) = record["newborns"].as_array_mut() {
        children.truncate(1);
    }
    let made: Value = t
        .signed_post(Agency::Hospital, "/agency/births", &record)
        .await?
        .json()
        .await?;
    let draft = made["drafts"][0].as_str().unwrap_or_default().to_owned();
    let mum = t.running.issuer.mint_real_name(
        "mum-typed",
        newborn_http::Role::Applicant,
        Some("35010219940315002X"),
        chrono::TimeDelta::hours(1),
        chrono::Utc::now(),
    );
    let answer = draft_answer(&t, "mum-typed", false).await?;
    let res = t
        .http
        .post(format!("{}/drafts/{draft}/confirmation", t.api))
        .bearer_auth(mum.unwrap_or_default())
        .json(&answer)
        .send()
        .await?;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await?;
    assert_eq!(body["code"], "already_applied", "{body:#}");
    assert!(body["detail"].as_str().unwrap_or_default().contains(&typed));
    Ok(())
}
