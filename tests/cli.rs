//! The operator command-line tool, run as a process the way an operator runs it.

use std::process::{Command, Output};

fn newborn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_newborn"))
        .args(args)
        .env_remove("NEWBORN_HOLIDAYS_FILE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run newborn: {e}"))
}

fn stdout(args: &[&str]) -> String {
    let out = newborn(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// 闽卫政法〔2024〕40号 附件1 四(二): police within one working day; 国办发明电〔2024〕12号: 10-01..08 off.
#[test]
fn deadline_crosses_the_2025_national_day_break() {
    let out = stdout(&[
        "deadline",
        "--policy",
        "fujian-2.0",
        "--stage",
        "police",
        "--start",
        "2025-09-30T12:00:00+08:00",
    ]);
    assert!(out.contains("deadline  2025-10-09T12:00:00+08:00"), "{out}");
    assert!(!out.contains("PROVISIONAL"), "{out}");
}

/// 附件1 四(四): three working days for the card; the 2026 Spring Festival (02-15..23) is off.
#[test]
fn deadline_crosses_the_2026_spring_festival() {
    let out = stdout(&[
        "deadline",
        "--stage",
        "social_security_card",
        "--start",
        "2026-02-12T09:00:00+08:00",
    ]);
    // Thu 15 h + Fri 24 h + make-up Sat 02-14 24 h = 63 h; then 9 h on Tue 02-24.
    assert!(out.contains("deadline  2026-02-24T09:00:00+08:00"), "{out}");
}

/// Guangxi's own holiday (壮族三月三, 2025-03-31 and 04-01, 自治区人民政府令第98号 and the 2025
/// notice) is not working time for Yongfu's deadlines (永福县 六(二)3: 出生登记2个工作日), while
/// the same start under Fujian's policy runs on the national calendar; a year whose regional
/// notice is not loaded is provisional.
/// Rules: YF-REGIONAL-HOLIDAYS.
#[test]
fn yongfu_deadlines_skip_guangxis_sanyuesan_holiday() {
    let args = |policy| {
        [
            "deadline",
            "--policy",
            policy,
            "--stage",
            "police",
            "--start",
            "2025-03-28T09:00:00+08:00",
        ]
    };
    // Fri 15 h, then Mon and Tue are 三月三: Wed 24 h and Thu 9 h make the 48 h.
    let yongfu = stdout(&args("guangxi-yongfu"));
    assert!(
        yongfu.contains("deadline  2025-04-03T09:00:00+08:00"),
        "{yongfu}"
    );
    assert!(!yongfu.contains("PROVISIONAL"), "{yongfu}");
    let national = stdout(&args("fujian-2.0"));
    assert!(
        national.contains("deadline  2025-03-31T09:00:00+08:00"),
        "{national}"
    );
    let later = stdout(&[
        "deadline",
        "--policy",
        "guangxi-yongfu",
        "--stage",
        "police",
        "--start",
        "2026-04-16T09:00:00+08:00",
    ]);
    assert!(later.contains("PROVISIONAL"), "{later}");
}

#[test]
fn a_deadline_in_an_uncovered_year_is_provisional_until_the_operator_adds_the_year() {
    let out = stdout(&[
        "deadline",
        "--stage",
        "police",
        "--start",
        "2027-03-05T12:00:00+08:00",
    ]);
    assert!(out.contains("PROVISIONAL"), "{out}");
    assert!(out.contains("deadline  2027-03-08T12:00:00+08:00"), "{out}");

    let dir = std::env::temp_dir().join(format!("newborn-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let file = dir.join("2027.json");
    let year = r#"{"source":"test notice for 2027","years":{"2027":{"holidays":[{"date":"2027-03-08","name":"Test"}],"makeup_working_days":[{"date":"2027-03-06","name":"Test"}]}}}"#;
    std::fs::write(&file, year).unwrap_or_else(|e| panic!("{e}"));
    let path = file.to_string_lossy().into_owned();
    let out = stdout(&[
        "--holidays-file",
        &path,
        "deadline",
        "--stage",
        "police",
        "--start",
        "2027-03-05T12:00:00+08:00",
    ]);
    assert!(!out.contains("PROVISIONAL"), "{out}");
    // Fri 12 h, make-up Sat 03-06 12 h → Saturday noon.
    assert!(out.contains("deadline  2027-03-06T12:00:00+08:00"), "{out}");
    std::fs::write(&file, "{ not json").unwrap_or_else(|e| panic!("{e}"));
    let bad = newborn(&["--holidays-file", &path, "calendar"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("2027.json"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_policy_shows_its_routes_deadlines_materials_and_sources() {
    let list = stdout(&["policy", "list"]);
    for id in [
        "fujian-2.0",
        "xiamen",
        "fuzhou-pilot-2021",
        "putian-2022",
        "guangxi-yongfu",
    ] {
        assert!(list.contains(id), "{list}");
        let out = stdout(&["policy", "show", id]);
        for part in [
            "Services (办理事项)",
            "Collection (送达方式)",
            "Counterfoil (副页)",
            "Eligibility",
            "Cases and routes",
            "Stages",
            "Materials",
            " after pre_review completed ",
            "working day",
            "[",
        ] {
            assert!(out.contains(part), "{id}: no {part}");
        }
    }
    let fujian = stdout(&["policy", "show", "fujian-2.0"]);
    assert!(
        fujian
            .contains("missing-licence registration (授权缺失登记) reviewed within 1 working day")
            && fujian.contains(
                "insurance: medical-insurance enrolment, while the newborn is under 12 months"
            ),
        "{fujian}"
    );
    // The route as a graph, with what each failure ends (FJ2-RELEASE, FJ2-CASE2-POLICE-FAIL).
    let graph = |out: &str, stage: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(&format!("{stage} ")))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    assert_eq!(
        graph(&fujian, "certificate_release"),
        "certificate_release after police ended failure ends only this stage (终止本环节服务)",
        "{fujian}"
    );
    let lines: Vec<String> = fujian
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(
        lines.iter().any(|l| l
            == "police after pre_review completed failure ends only this stage (终止本环节服务)"),
        "case 2: a police failure ends only that stage: {fujian}"
    );
    assert!(stdout(&["policy", "show", "putian-2022"]).contains("not taken; scans only"));
    let yongfu = stdout(&["policy", "show", "guangxi-yongfu"]);
    assert!(
        yongfu.contains("30 working days") && yongfu.contains("33 working days"),
        "{yongfu}"
    );
    // YF-PARENTING, YF-REGIONAL-HOLIDAYS, YF-COLLECTION, YF-NOTICES: the services, Guangxi's own
    // holidays, the ways to collect and the notices are shown.
    assert!(
        yongfu.contains("parenting guidance registered by the hospital")
            && yongfu.contains("2025-03-31 壮族三月三")
            && yongfu.contains("社会保障卡: 自行领取 / collected in person\n")
            && yongfu.contains("不予受理通知书")
            && yongfu.contains("each quarter by day 30 of its last month"),
        "{yongfu}"
    );
    assert!(
        !stdout(&["policy", "show", "xiamen"]).contains("  - 科学育儿"),
        "Xiamen offers six services"
    );
    // YF-PARALLEL: insurance and the card both start from the police result.
    assert_eq!(
        graph(&yongfu, "social_security_card"),
        "social_security_card after police completed failure ends the package (终止套餐服务)"
    );
}

#[test]
fn unknown_policies_and_stages_get_a_clear_error_and_no_stack_trace() {
    let out = newborn(&["policy", "show", "beijing"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no policy \"beijing\"; known: fujian-2.0"),
        "{err}"
    );
    assert!(!err.contains("backtrace"), "{err}");
    let out = newborn(&[
        "deadline",
        "--stage",
        "evaluation",
        "--start",
        "2025-09-30T12:00:00+08:00",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown stage"));
}

/// Rules: XM-SERVICES.
#[test]
fn review_accepts_the_sample_and_names_what_a_bad_form_lacks() {
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/events/api/submit-application.json"
    );
    let out = stdout(&["review", sample, "--at", "2025-11-17T09:00:00+08:00"]);
    assert!(out.contains("ACCEPTED"), "{out}");
    // Two years later the newborn is too old (附件1 二(一)).
    let out = stdout(&["review", sample, "--at", "2027-11-17T09:00:00+08:00"]);
    assert!(out.contains("OFFLINE") && out.contains("12个月"), "{out}");
    // Under Xiamen's guide the form itself is refused: it chose parenting guidance, which
    // Xiamen does not offer (XM-SERVICES), named in words.
    let out = newborn(&[
        "review",
        sample,
        "--policy",
        "xiamen",
        "--at",
        "2025-11-17T09:00:00+08:00",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("REJECTED  services") && text.contains("不提供科学育儿指导服务登记"),
        "{text}"
    );
}

#[test]
fn calendar_lists_covered_years_and_explains_a_date() {
    let out = stdout(&["calendar"]);
    assert!(
        out.contains("2024") && out.contains("2026") && out.contains("provisional"),
        "{out}"
    );
    let out = stdout(&["calendar", "2025-09-28", "2027-01-01"]);
    assert!(
        out.contains("2025-09-28 Sun  working day (National Day)"),
        "{out}"
    );
    assert!(
        out.contains("2027-01-01 Fri  rest day (New Year's Day)  [provisional"),
        "{out}"
    );
}

/// The `sign` command produces headers the platform's key ring accepts.
#[test]
fn sign_prints_headers_that_verify_with_the_agency_key() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().to_string_lossy().into_owned();
    let body = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/events/callbacks/police-approve.json"
    );
    let out = stdout(&[
        "sign",
        "--data-dir",
        &data,
        "--agency",
        "police_station",
        body,
    ]);
    let header = |name: &str| {
        out.split(&format!("-H '{name}: "))
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .map(str::to_owned)
    };
    let keys = newborn::runtime::keys::load_or_create(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let bytes = std::fs::read(body).unwrap_or_default();
    let now = chrono::Utc::now();
    let key = keys.agencies.verify(
        header("webhook-id").as_deref(),
        header("webhook-timestamp").as_deref(),
        header("webhook-signature").as_deref(),
        &bytes,
        now,
    );
    assert_eq!(
        key.map(|v| v.key.owner),
        Ok(newborn_domain::stage::Agency::PoliceStation),
        "{out}"
    );
    let wrong = newborn(&["sign", "--data-dir", &data, "--agency", "tax_bureau", body]);
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("unknown agency"));
}

/// A message that keeps failing is dead-lettered; `newborn redrive` puts it back into the stage
/// queue of the local store (the same SQLite file the running service uses).
#[tokio::test]
async fn redrive_moves_dead_letters_back_to_the_local_stage_queue() {
    use newborn_embedded::{Database, SqliteQueue};
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().to_str().unwrap_or_default().to_owned();
    let no_data = newborn(&["redrive", "--data-dir", &data, "--stage", "police"]);
    assert!(
        !no_data.status.success(),
        "a directory without a store is refused"
    );
    assert!(String::from_utf8_lossy(&no_data.stderr).contains("newborn serve"));
    let queue = SqliteQueue::new(
        Database::open(&dir.path().join("newborn.db")).unwrap_or_else(|e| panic!("{e}")),
    );
    queue
        .send("police", "poison", Duration::ZERO)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..3 {
        let _ = queue.receive("police", 10, Duration::ZERO, 2).await;
    }
    let before = stdout(&["queues", "--data-dir", &data]);
    assert!(
        before
            .lines()
            .any(|l| l.starts_with("police-dlq") && l.contains(" 1 ")),
        "{before}"
    );
    let out = stdout(&["redrive", "--data-dir", &data, "--stage", "police"]);
    assert!(out.contains("moved 1 "), "{out}");
    let back = queue
        .receive("police", 10, Duration::from_secs(30), 2)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        back.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["poison"]
    );
}

/// `newborn report` reads the local store: with nothing there it says how to start the service;
/// a period it cannot read is refused naming the forms it takes; on a fresh store every agency
/// has a row of zeros (as a table and as CSV).
/// Rules: OURS-REPORTS.
#[test]
fn the_report_command_names_what_is_wrong_and_prints_every_agency() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().join("data");
    let data = data.to_str().unwrap_or_default();
    let missing = newborn(&["report", "--data-dir", data]);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("newborn serve --data-dir"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    std::fs::create_dir_all(dir.path().join("data")).unwrap_or_else(|e| panic!("{e}"));
    newborn_embedded::Database::open(&dir.path().join("data/newborn.db"))
        .unwrap_or_else(|e| panic!("{e}"));
    let bad = newborn(&["report", "--data-dir", data, "--period", "2025-13"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("2026-Q4"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let table = stdout(&["report", "--data-dir", data, "--period", "2025-Q4"]);
    for agency in [
        "platform",
        "hospital",
        "police_station",
        "medical_insurance",
        "social_security",
        "licence_directory",
    ] {
        assert!(table.contains(agency), "{table}");
    }
    assert!(
        table.contains("2025-10-01 00:00 .. 2026-01-01 00:00"),
        "{table}"
    );
    let csv = stdout(&[
        "report",
        "--data-dir",
        data,
        "--period",
        "2025-11-01..2025-11-30",
        "--agency",
        "police_station",
        "--csv",
    ]);
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(
        csv.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("2025-11-01..2025-11-30,police_station,0,0,,,,0,0")),
        "{csv}"
    );
}
