//! End to end over real HTTP: electronic licences instead of scans (verified in the simulated
//! licence directory with signed look-ups), the missing-licence registration with its own review
//! clock, and proactive offers of declined follow-up services (闽卫政法〔2024〕40号 附件2 一(一),
//! 一(五); Xiamen guide 办理材料(三)).

mod support;

use anyhow::{Context, Result};
use serde_json::{Value, json};
use support::*;

const MOTHER: &str = "35010219940315002X";
const FATHER: &str = "350203199207080011";
const MARRIAGE: &str = "J350102-2020-000123";

/// The three licences of the sample family, as the form references them.
fn licence_refs() -> Value {
    json!([
        {"kind": "mother_id_card", "holder_id_number": MOTHER, "number": "350102-ID-0001", "issuer": "福州市公安局鼓楼分局"},
        {"kind": "father_id_card", "holder_id_number": FATHER, "number": "350203-ID-0002", "issuer": "厦门市公安局思明分局"},
        {"kind": "marriage_certificate", "holder_id_number": MOTHER, "number": MARRIAGE, "issuer": "福州市鼓楼区民政局"},
    ])
}

impl TestService {
    /// The service whose simulated directory holds only what each test files.
    async fn without_sample_licences() -> Result<Self> {
        Self::start_with(|c| c.sample_licences = false).await
    }

    /// Puts a licence record into the simulated directory.
    async fn licence(&self, reference: &Value, valid_until: &str) -> Result<()> {
        let record = json!({
            "kind": reference["kind"], "number": reference["number"], "issuer": reference["issuer"],
            "holder_id_number": reference["holder_id_number"], "valid_until": valid_until,
        });
        self.client
            .json(
                self.http
                    .post(format!("{}/licences", self.sim))
                    .json(&record),
            )
            .await?;
        Ok(())
    }

    /// The father authorises his identity-card licence to the mother (in the app).
    async fn authorise_father(&self) -> Result<()> {
        self.client
            .json(
                self.http
                    .post(format!("{}/licences/authorisations", self.sim))
                    .json(&json!({
                        "kind": "father_id_card", "number": "350203-ID-0002",
                        "grantee_id_number": MOTHER, "valid_until": "2026-12-31",
                    })),
            )
            .await?;
        Ok(())
    }

    /// Every licence of the family in the directory, the father's authorised to the mother.
    async fn family_licences(&self) -> Result<()> {
        for r in licence_refs().as_array().into_iter().flatten() {
            self.licence(r, "2035-01-01").await?;
        }
        self.authorise_father().await
    }

    /// The sample form with the licences instead of the identity-card and marriage scans.
    async fn licence_form(&self, owner: &str, edit: impl FnOnce(&mut Value)) -> Result<Value> {
        self.form(
            owner,
            &["mother_id_card", "father_id_card", "marriage_certificate"],
            &[],
            |f| {
                f["licences"] = licence_refs();
                edit(f)
            },
        )
        .await
    }

    /// The directory's decision on a registration, signed with `key`: status and body.
    async fn decide(
        &self,
        key: &newborn_service::signing::SigningKey,
        decision: &Value,
    ) -> Result<(u16, Value)> {
        let res = self
            .post_signed_with(key, "/agency/licence-registrations", decision)
            .await?;
        Ok((res.status().as_u16(), res.json().await.unwrap_or_default()))
    }

    async fn dispatches(&self) -> Result<Vec<Value>> {
        self.received().await
    }

    /// The dispatch with idempotency key `key`, once the agency received it: the view shows a
    /// stage handed on when its write commits, the dispatch follows from the queue.
    async fn dispatch(&self, key: &str) -> Result<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Some(d) = self
                .dispatches()
                .await?
                .into_iter()
                .find(|d| d["key"] == key)
            {
                return Ok(d);
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "no dispatch {key} reached the agency"
            );
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }
}

fn material<'a>(view: &'a Value, kind: &str) -> &'a Value {
    view["materials"]
        .as_array()
        .and_then(|m| m.iter().find(|x| x["kind"] == kind))
        .unwrap_or(&Value::Null)
}

fn waiting_items(view: &Value, stage_name: &str) -> Vec<Value> {
    stage(view, stage_name)["status"]["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// 附件2 一(一): identity cards and the marriage certificate given as electronic licences, not
/// one of them scanned, carry the application to the end; each agency learns which material is a
/// verified licence and which a scan, and the applicant sees the same.
#[tokio::test]
async fn an_application_with_licences_instead_of_scans_completes() -> Result<()> {
    let t = TestService::without_sample_licences().await?;
    t.family_licences().await?;
    let form = t.licence_form("lin", |_| {}).await?;
    let id = t.client.submit("lin", &form).await?;
    let view = t.drive("lin", &id).await?;
    assert_eq!(view["outcome"], "completed", "{view:#}");

    for kind in ["mother_id_card", "father_id_card", "marriage_certificate"] {
        let m = material(&view, kind);
        assert_eq!(m["source"], "licence", "{kind}: {m}");
        assert_eq!(m["verified"], true, "{kind}: {m}");
        assert!(m["sha256"].is_null());
    }
    assert_eq!(material(&view, "household_booklet_front")["source"], "scan");
    let scans: Vec<&Value> = view["materials"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["source"] == "scan")
        .collect();
    assert!(
        scans.iter().all(|m| m["kind"]
            .as_str()
            .is_some_and(|k| k.starts_with("household_booklet"))),
        "only the booklet pages are scans, which 附件2 asks to photograph: {scans:#?}"
    );

    let dispatches = t.dispatches().await?;
    let to_hospital = dispatches
        .iter()
        .find(|d| {
            d["body"]["application_id"] == id.as_str() && d["body"]["stage"] == "health_check"
        })
        .context("no hospital dispatch")?;
    let docs = to_hospital["body"]["documents"]
        .as_array()
        .context("documents")?;
    assert_eq!(docs.len(), 3, "{docs:#?}");
    for d in docs {
        assert_eq!(d["source"], "licence", "{d}");
        assert_eq!(d["verified"], true, "{d}");
        assert!(d["verified_at"].is_string(), "{d}");
    }
    let father = docs
        .iter()
        .find(|d| d["kind"] == "father_id_card")
        .context("father's card")?;
    assert!(
        father["authorised_at"].is_string(),
        "the father's authorisation is on record: {father}"
    );
    let to_police = dispatches
        .iter()
        .find(|d| d["body"]["application_id"] == id.as_str() && d["body"]["stage"] == "police")
        .context("no police dispatch")?;
    let sources: Vec<(String, String)> = to_police["body"]["documents"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d["kind"].as_str().unwrap_or("").to_owned(),
                d["source"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        sources.contains(&("marriage_certificate".into(), "licence".into())),
        "{sources:?}"
    );
    assert!(
        sources.contains(&("household_booklet_front".into(), "scan".into())),
        "{sources:?}"
    );
    Ok(())
}

/// A licence the father has not authorised to the mother, and a marriage certificate the
/// directory does not know, are each named in the pre-review's supplement request; once he
/// authorises it and she gives the right number, the same application goes on.
/// Rules: FJ2-LICENCES.
#[tokio::test]
async fn a_wrong_licence_leads_to_a_supplement_request_naming_it() -> Result<()> {
    let t = TestService::without_sample_licences().await?;
    let refs = licence_refs();
    for r in refs.as_array().into_iter().flatten().take(2) {
        t.licence(r, "2035-01-01").await?;
    }
    let mut wrong_marriage = refs[2].clone();
    wrong_marriage["number"] = json!("J350102-2020-000999");
    t.licence(&wrong_marriage, "2035-01-01").await?;
    let form = t.licence_form("wu", |_| {}).await?;
    let id = t.client.submit("wu", &form).await?;
    let view = t
        .wait_for("wu", &id, "the supplement request", |v| {
            status(v, "pre_review") == "awaiting_applicant"
        })
        .await?;
    let items = waiting_items(&view, "pre_review");
    assert_eq!(
        items,
        vec![
            json!({"type": "licence", "kind": "father_id_card", "problem": "not_authorised"}),
            json!({"type": "licence", "kind": "marriage_certificate", "problem": "not_found"}),
        ]
    );
    let reason = stage(&view, "pre_review")["status"]["reason"]["zh"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("父亲居民身份证电子证照") && reason.contains("授权"),
        "{reason}"
    );
    assert_eq!(material(&view, "father_id_card")["verified"], false);
    assert_eq!(material(&view, "mother_id_card")["verified"], true);
    let notes = t.notifications("wu", &id).await?;
    assert!(notes.iter().any(|n| {
        n["kind"] == "supplement_needed"
            && n["message"]["zh"]
                .as_str()
                .unwrap_or("")
                .contains("结婚证电子证照")
    }));

    t.authorise_father().await?;
    t.licence(&refs[2], "2035-01-01").await?;
    t.client
        .json(
            t.client
                .post("wu", &format!("/applications/{id}/supplement"))
                .json(&json!({"licences": [refs[2]]})),
        )
        .await?;
    let view = t.drive("wu", &id).await?;
    assert_eq!(view["outcome"], "completed", "{view:#}");
    assert_eq!(material(&view, "father_id_card")["verified"], true);
    assert_eq!(
        material(&view, "marriage_certificate")["licence_number"],
        MARRIAGE
    );
    Ok(())
}

/// 附件2 一(一): the mother's identity-card licence is missing; a photo is refused until her
/// missing-licence registration is approved (the directory reviews it well within its one
/// working day, on its own clock); then the photo goes in with the supplement and the same
/// application continues, nothing re-entered.
#[tokio::test]
async fn the_missing_licence_path_registers_approves_uploads_and_continues() -> Result<()> {
    let t = TestService::without_sample_licences().await?;
    let refs = licence_refs();
    for r in refs.as_array().into_iter().flatten().skip(1) {
        t.licence(r, "2035-01-01").await?;
    }
    t.authorise_father().await?;
    let form = t.licence_form("zheng", |_| {}).await?;
    let id = t.client.submit("zheng", &form).await?;
    t.wait_for("zheng", &id, "the supplement request", |v| {
        waiting_items(v, "pre_review")
            == vec![json!({"type": "licence", "kind": "mother_id_card", "problem": "not_found"})]
    })
    .await?;

    // A photo before any registration is refused, in both languages, and changes nothing.
    let photo = t.client.upload("zheng", "mother_id_card").await?;
    let res = t
        .client
        .post("zheng", &format!("/applications/{id}/supplement"))
        .json(&json!({"documents": [photo]}))
        .send()
        .await?;
    assert_eq!(res.status(), 409);
    let problem: Value = res.json().await?;
    assert_eq!(problem["code"], "registration_required", "{problem}");
    // The same photo inside the form patch meets the same gate (issue 16, row 4).
    let res = t
        .client
        .post("zheng", &format!("/applications/{id}/supplement"))
        .json(&json!({"form_patch": {
            "documents": form["documents"].as_array().into_iter().flatten().chain([&photo]).collect::<Vec<_>>(),
            "licences": form["licences"].as_array().into_iter().flatten().filter(|l| l["kind"] != "mother_id_card").collect::<Vec<_>>(),
        }}))
        .send()
        .await?;
    let (code, body) = (res.status(), res.json::<Value>().await?);
    assert_eq!(code, 409, "a photo in form_patch skips no gate: {body}");
    assert_eq!(body["code"], "registration_required");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("授权缺失登记")
    );
    assert!(
        problem["detail_en"]
            .as_str()
            .unwrap_or("")
            .contains("registration")
    );

    // The directory holds its review: the registration waits on its own clock.
    t.client
        .json(
            t.http
                .post(format!("{}/licences/registration-scripts", t.sim))
                .json(&json!({"application_id": id, "review": "hold"})),
        )
        .await?;
    let filed = t
        .client
        .json(
            t.client
                .post(
                    "zheng",
                    &format!("/applications/{id}/licence-registrations"),
                )
                .json(&json!({"kinds": ["mother_id_card"], "reason": "missing"})),
        )
        .await?;
    let r = &filed["registrations"][0];
    assert_eq!(r["status"], "under_review", "{r}");
    assert_eq!(r["clock"]["state"], "running");
    let instant = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default());
    assert_eq!(
        instant(&r["clock"]["deadline"])? - instant(&r["filed_at"])?,
        chrono::TimeDelta::hours(24),
        "one working day, Monday to Tuesday: {r}"
    );
    let again = t
        .client
        .post(
            "zheng",
            &format!("/applications/{id}/licence-registrations"),
        )
        .json(&json!({"kinds": ["mother_id_card"], "reason": "missing"}))
        .send()
        .await?;
    assert_eq!(
        again.status(),
        409,
        "one registration under review at a time"
    );

    // Supervision sees the review running late like any stage: warning, then overdue, escalated
    // to the directory's supervisor once each.
    t.advance(25 * 3600).await?;
    let swept = t.sweep().await?;
    assert_eq!(
        (swept["warnings"].as_u64(), swept["breaches"].as_u64()),
        (Some(1), Some(1)),
        "{swept}"
    );
    assert_eq!(t.sweep().await?["breaches"], 0, "raised once");
    let alerts = t.alerts().await?;
    assert!(
        alerts["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["application_id"] == id.as_str()
                && a["watch"] == "pre_review"
                && a["level"] == "overdue")
    );
    let escalations = t.escalations().await?;
    assert!(
        escalations
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["agency"] == "licences"
                && e["body"]["application_id"] == id.as_str()
                && e["body"]["level"] == "overdue"),
        "{escalations:#}"
    );

    // The directory approves after all (signed with its key); the applicant is told. Another
    // agency's key may not decide registrations.
    let police = t.agency_key(newborn_domain::stage::Agency::PoliceStation)?;
    let rejection = json!({"application_id": id, "number": 1, "approved": false});
    assert_eq!(t.decide(&police, &rejection).await?.0, 403);
    let directory = t.agency_key(newborn_domain::stage::Agency::LicenceDirectory)?;
    let approval = json!({"application_id": id, "number": 1, "approved": true});
    let (code, ack) = t.decide(&directory, &approval).await?;
    assert_eq!(
        (code, ack["result"].as_str()),
        (200, Some("applied")),
        "{ack}"
    );
    // A retry (a new signature over the same decision) is acknowledged and changes nothing.
    let retry = json!({"application_id": id, "number": 1, "approved": true, "reason": null});
    let (_, again) = t.decide(&directory, &retry).await?;
    assert_eq!(again["result"], "already_applied", "{again}");

    let view = t.client.view("zheng", &id).await?;
    let r = &view["registrations"][0];
    assert_eq!(r["status"], "approved", "{r}");
    assert_eq!(r["clock"]["state"], "stopped");
    let notes = t.notifications("zheng", &id).await?;
    assert!(
        notes
            .iter()
            .any(|n| n["kind"] == "licence_registration_approved")
    );
    assert_eq!(stage(&view, "pre_review")["status"]["round"], 1);

    // Now the photo is taken, replaces the missing licence, and the flow goes on.
    let photo = t.client.upload("zheng", "mother_id_card").await?;
    t.client
        .json(
            t.client
                .post("zheng", &format!("/applications/{id}/supplement"))
                .json(&json!({"documents": [photo]})),
        )
        .await?;
    let view = t.drive("zheng", &id).await?;
    assert_eq!(view["outcome"], "completed", "{view:#}");
    assert_eq!(material(&view, "mother_id_card")["source"], "scan");
    assert_eq!(material(&view, "father_id_card")["source"], "licence");
    let timeline = t.timeline("zheng", &id).await?;
    let submitted = timeline
        .iter()
        .filter(|e| e["event"] == "queue" && e["stage"] == "pre_review")
        .count();
    assert_eq!(submitted, 1, "one application, never re-entered");
    Ok(())
}

/// With the directory answering as usual, the applicant's own driver files the registration,
/// waits for the approval (within the clock) and uploads the photo: one application end to end.
#[tokio::test]
async fn an_approved_registration_is_decided_within_its_clock() -> Result<()> {
    let t = TestService::without_sample_licences().await?;
    let refs = licence_refs();
    t.licence(&refs[0], "2035-01-01").await?;
    t.licence(&refs[2], "2035-01-01").await?;
    // The father's licence expired: he is told, and the registration path lets a photo in.
    t.licence(&refs[1], "2025-01-01").await?;
    t.authorise_father().await?;
    let form = t.licence_form("huang", |_| {}).await?;
    let id = t.client.submit("huang", &form).await?;
    let view = t.drive("huang", &id).await?;
    assert_eq!(view["outcome"], "completed", "{view:#}");
    let r = &view["registrations"][0];
    assert_eq!(r["status"], "approved", "{r}");
    assert_eq!(r["kinds"], json!(["father_id_card"]));
    assert_eq!(
        r["clock"]["level"], "on_track",
        "decided within one working day: {r}"
    );
    assert!(r["clock"]["elapsed_secs"].as_i64().unwrap_or(i64::MAX) < 24 * 3600);
    let received = t
        .client
        .json(t.http.get(format!("{}/licences/registrations", t.sim)))
        .await?;
    let sent = received
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["id"] == format!("{id}:1"))
        .context("the directory never received the registration")?;
    assert_eq!(sent["body"]["licences"][0]["holder_id_number"], FATHER);
    assert_eq!(sent["state"], "answered");
    Ok(())
}

/// The parent chose only the certificates and the registration; when the flow ends the service
/// offers the newborn's medical-insurance enrolment, and then the card; accepting each continues
/// the same application on the data on file — no form submitted again.
#[tokio::test]
async fn a_declined_follow_up_accepted_from_the_offer_completes_without_a_new_form() -> Result<()> {
    let t = TestService::without_sample_licences().await?;
    let id = t
        .submit("xu", &[], &[], |f| {
            f["services"] = json!([
                "birth_certificate",
                "vaccination_certificate",
                "parenting_guidance",
                "household_registration"
            ]);
            for section in ["insurance", "maternity", "card"] {
                f.as_object_mut().map(|o| o.remove(section));
            }
            f["delivery"]
                .as_object_mut()
                .map(|d| d.remove("social_security_card"));
        })
        .await?;
    let view = t.drive("xu", &id).await?;
    assert_eq!(view["outcome"], "completed");
    assert_eq!(status(&view, "insurance"), "skipped");
    assert_eq!(view["offers"][0]["stage"], "insurance", "{view:#}");
    assert_eq!(
        view["offers"][0]["services"],
        json!(["medical_insurance_enrolment"])
    );
    let notes = t.notifications("xu", &id).await?;
    let offer = notes
        .iter()
        .find(|n| n["kind"] == "offer")
        .context("no offer notification")?;
    assert!(
        offer["message"]["zh"]
            .as_str()
            .unwrap_or("")
            .contains("城乡居民基本医疗保险参保登记")
    );
    // Delivered to the app's gateway by the notification worker, shortly after the commit.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let gateway = t
            .client
            .json(t.http.get(format!("{}/notifications", t.sim)))
            .await?;
        let offered = gateway.as_array().into_iter().flatten().any(|d| {
            d["body"]["application_id"] == id.as_str()
                && d["body"]["notification"]["kind"] == "offer"
        });
        if offered {
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the offer never reached the app's gateway"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }

    // An offer that was never made cannot be accepted.
    let res = t
        .client
        .post(
            "xu",
            &format!("/applications/{id}/offers/social_security_card/accept"),
        )
        .send()
        .await?;
    assert_eq!(res.status(), 409);

    let accepted = t
        .client
        .json(
            t.client
                .post("xu", &format!("/applications/{id}/offers/insurance/accept")),
        )
        .await?;
    assert_eq!(accepted["outcome"], "in_progress");
    let view = t
        .drive_until("xu", &id, "the next offer", |v| {
            v["outcome"] == "completed" && v["offers"].as_array().is_some_and(|o| o.len() == 2)
        })
        .await?;
    assert_eq!(status(&view, "insurance"), "completed");
    assert_eq!(view["offers"][1]["stage"], "social_security_card");
    let to_insurance = t
        .dispatches()
        .await?
        .into_iter()
        .find(|d| d["body"]["application_id"] == id.as_str() && d["body"]["stage"] == "insurance")
        .context("no insurance dispatch")?;
    assert_eq!(
        to_insurance["body"]["insurance"]["address"], "福州市鼓楼区东街街道示例路1号",
        "enrolled at the registered address on file"
    );
    assert_eq!(
        to_insurance["body"]["newborn"]["id_number"]
            .as_str()
            .map(str::len),
        Some(18),
        "the police's result on file"
    );

    t.client
        .json(t.client.post(
            "xu",
            &format!("/applications/{id}/offers/social_security_card/accept"),
        ))
        .await?;
    let view = t.drive("xu", &id).await?;
    assert_eq!(view["outcome"], "completed", "{view:#}");
    assert_eq!(status(&view, "social_security_card"), "completed");
    let timeline = t.timeline("xu", &id).await?;
    let accepted: Vec<&str> = timeline
        .iter()
        .filter(|e| e["event"] == "accept_offer")
        .filter_map(|e| e["stage"].as_str())
        .collect();
    assert_eq!(accepted, ["insurance", "social_security_card"]);
    let mine = t.client.json(t.client.get("xu", "/applications")).await?;
    assert_eq!(
        mine.as_array().map(Vec::len),
        Some(1),
        "one application, one form"
    );
    Ok(())
}

/// The directory rejects a registration: the applicant is told why, the photo stays refused, and
/// she may register again (a second registration, on a fresh clock) or go to a counter.
#[tokio::test]
async fn a_rejected_registration_keeps_the_photo_refused_and_may_be_filed_again() -> Result<()> {
    let t = TestService::without_sample_licences().await?;
    let refs = licence_refs();
    for r in refs.as_array().into_iter().flatten().skip(1) {
        t.licence(r, "2035-01-01").await?;
    }
    t.authorise_father().await?;
    let form = t.licence_form("lan", |_| {}).await?;
    let id = t.client.submit("lan", &form).await?;
    t.wait_for("lan", &id, "the supplement request", |v| {
        status(v, "pre_review") == "awaiting_applicant"
    })
    .await?;
    t.client
        .json(
            t.http
                .post(format!("{}/licences/registration-scripts", t.sim))
                .json(&json!({"application_id": id, "review": "reject"})),
        )
        .await?;
    let register = || {
        t.client
            .post("lan", &format!("/applications/{id}/licence-registrations"))
            .json(&json!({"kinds": ["mother_id_card"], "reason": "wrong"}))
    };
    t.client.json(register()).await?;
    let view = t
        .wait_for("lan", &id, "the rejection", |v| {
            v["registrations"][0]["status"] == "rejected"
        })
        .await?;
    assert_eq!(
        view["registrations"][0]["rejection"]["zh"], "户籍信息核对不一致",
        "{view:#}"
    );
    assert_eq!(view["registrations"][0]["reason"], "wrong");
    let notes = t.notifications("lan", &id).await?;
    let told = notes
        .iter()
        .find(|n| n["kind"] == "licence_registration_rejected")
        .context("no rejection notice")?;
    assert!(
        told["message"]["zh"]
            .as_str()
            .unwrap_or("")
            .contains("户籍信息核对不一致")
    );

    let photo = t.client.upload("lan", "mother_id_card").await?;
    let res = t
        .client
        .post("lan", &format!("/applications/{id}/supplement"))
        .json(&json!({"documents": [photo]}))
        .send()
        .await?;
    assert_eq!(
        res.status(),
        409,
        "a rejected registration lets no photo in"
    );

    let again = t.client.json(register()).await?;
    assert_eq!(again["registrations"][1]["number"], 2);
    assert_eq!(again["registrations"][1]["status"], "under_review");
    assert_eq!(status(&again, "pre_review"), "awaiting_applicant");
    Ok(())
}

/// An agency may find a material wrong too: the police ask for the marriage certificate again,
/// naming its licence; a licence given with the answer is verified at once (a still-wrong one is
/// refused with what is wrong, nothing changed), and the police receive it verified.
#[tokio::test]
async fn a_licence_given_in_answer_to_an_agency_is_verified_before_it_is_sent() -> Result<()> {
    let t = TestService::without_sample_licences().await?;
    let refs = licence_refs();
    t.licence(&refs[2], "2035-01-01").await?;
    let (id, _) = t.held_by_police("gao").await?;
    let police = t.agency_key(newborn_domain::stage::Agency::PoliceStation)?;
    let ask = json!({"application_id": id, "stage": "police", "round": 1, "outcome": {
        "type": "supplement",
        "items": [{"type": "licence", "kind": "marriage_certificate", "problem": "number_mismatch"}],
        "reason": {"zh": "结婚证扫描件不清晰，请提供结婚证电子证照", "en": "the marriage certificate scan is unreadable; give its electronic licence"},
    }});
    let body = serde_json::to_vec(&ask)?;
    let res = t
        .callback(
            police.headers(
                &newborn_service::signing::new_message_id(),
                chrono::Utc::now(),
                &body,
            ),
            body,
        )
        .send()
        .await?;
    assert_eq!(res.status(), 200);
    t.wait_for("gao", &id, "the police's request", |v| {
        status(v, "police") == "awaiting_applicant"
    })
    .await?;

    let mut unknown = refs[2].clone();
    unknown["number"] = json!("J350102-2020-000124");
    let res = t
        .client
        .post("gao", &format!("/applications/{id}/supplement"))
        .json(&json!({"licences": [unknown]}))
        .send()
        .await?;
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await?;
    let error = &problem["errors"][0];
    assert_eq!(error["field"], "licences[0]", "{problem}");
    assert_eq!(error["code"], "licence_not_found", "{problem}");
    assert!(
        error["message"]["zh"]
            .as_str()
            .unwrap_or("")
            .contains("结婚证电子证照"),
        "{problem}"
    );
    assert_eq!(
        status(&t.client.view("gao", &id).await?, "police"),
        "awaiting_applicant"
    );

    t.client
        .json(
            t.client
                .post("gao", &format!("/applications/{id}/supplement"))
                .json(&json!({"licences": [refs[2]]})),
        )
        .await?;
    let view = t
        .wait_for("gao", &id, "the police's second round", |v| {
            status(v, "police") == "awaiting_agency" && stage(v, "police")["status"]["round"] == 2
        })
        .await?;
    assert_eq!(material(&view, "marriage_certificate")["source"], "licence");
    assert_eq!(material(&view, "marriage_certificate")["verified"], true);
    let round_two = t
        .dispatch(&format!("{id}:police:2"))
        .await
        .context("no second police dispatch")?;
    let marriage = round_two["body"]["documents"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["kind"] == "marriage_certificate")
        .cloned()
        .context("no marriage certificate")?;
    assert_eq!(marriage["source"], "licence", "{marriage}");
    assert_eq!(marriage["verified"], true, "{marriage}");
    Ok(())
}

/// 闽卫政法〔2024〕40号 附件2 一(一): a family that photographs its identity cards instead of giving
/// the licences is asked for the licence of each card issued in the province — the father's,
/// issued in Guangdong, may simply be photographed; once the mother's missing-licence
/// registration is approved, the photo already on file answers the request (nothing uploaded
/// twice) and the application goes on.
/// Rules: FJ2-PHOTO-NEEDS-REGISTRATION, FJ2-OUT-OF-PROVINCE-ID.
#[tokio::test]
async fn a_photo_first_counts_once_its_registration_is_approved() -> Result<()> {
    let t = TestService::without_sample_licences().await?;
    let owner = "photo-first";
    let id = t
        .submit(
            owner,
            &[],
            &[
                "mother_id_card",
                "father_id_card",
                "household_booklet_newborn",
            ],
            |f| {
                f.as_object_mut().map(|o| o.remove("licences"));
                f["father"]["id_number"] = json!("440104199207080014");
            },
        )
        .await?;
    let asked = t
        .wait_for(owner, &id, "the licence asked for", |v| {
            status(v, "pre_review") == "awaiting_applicant"
        })
        .await?;
    assert_eq!(
        waiting_items(&asked, "pre_review"),
        vec![
            json!({"type": "licence", "kind": "mother_id_card", "problem": "registration_required"})
        ],
        "only the card issued in the province: {asked:#}"
    );
    // Before a registration the photo on file answers nothing.
    let early = t
        .client
        .post(owner, &format!("/applications/{id}/supplement"))
        .json(&json!({}))
        .send()
        .await?;
    assert_eq!(early.status(), 409);
    assert_eq!(
        early.json::<Value>().await?["code"],
        "registration_required"
    );
    t.client
        .json(
            t.client
                .post(owner, &format!("/applications/{id}/licence-registrations"))
                .json(&json!({"kinds": ["mother_id_card"], "reason": "missing"})),
        )
        .await?;
    t.wait_for(owner, &id, "the registration approved", |v| {
        v["registrations"][0]["status"] == "approved"
    })
    .await?;
    let answered = t
        .client
        .json(
            t.client
                .post(owner, &format!("/applications/{id}/supplement"))
                .json(&json!({})),
        )
        .await?;
    assert_eq!(
        answered["materials"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["kind"] == "mother_id_card")
            .count(),
        1,
        "the same photo, not a second one: {answered:#}"
    );
    let done = t.drive(owner, &id).await?;
    assert_eq!(done["outcome"], "completed", "{done:#}");
    Ok(())
}
