//! The contracts of the storage ports ([`ApplicationStore`], [`RequestLog`], [`UploadStore`]), run against every adapter (SQLite here,
//! DynamoDB in the AWS adapter's tests), so both obey one behaviour. Each check panics with a
//! sentence saying what the adapter got wrong.

pub mod emulator;

use chrono::{DateTime, TimeDelta, Utc};
use newborn_domain::application::{DocumentKind, Sha256Hex, parse_form};
use newborn_domain::flow::{Application, ApplicationId, FollowUp, RatingLevel, TimelineEvent};
use newborn_domain::kinds::{Service, Watch};
use newborn_domain::policy::PolicyRegistry;
use newborn_domain::sla::SlaLevel;
use newborn_domain::stage::{Agency, Stage, StageEvent, StatusKind};
use newborn_service::ports::{
    Actor, Alert, ApplicationStore, Claim, Fact, FactKind, HandoverRegister, Notification,
    OpenClock, OpenFollowUp, RequestLog, StoreError, TimelineEntry, UploadSlot, UploadStore, Write,
};

/// The sample form of `events/api/submit-application.json`.
pub const SAMPLE: &str = include_str!("../../../events/api/submit-application.json");

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// A fresh application with a unique id.
pub fn application(id: &str) -> Application {
    let registry = PolicyRegistry::builtin();
    let policy = registry
        .default_policy()
        .unwrap_or_else(|| panic!("no default policy"));
    let form = parse_form(SAMPLE.as_bytes()).unwrap_or_else(|e| panic!("sample: {}", e.error));
    let id: ApplicationId = id.parse().unwrap_or_else(|e| panic!("{e}"));
    Application::submit(id, form, policy, at("2025-11-17T09:00:00+08:00"))
        .unwrap_or_else(|e| panic!("{e}"))
        .0
}

/// The timeline event a write named `e<n>` records (its notification is of kind `e<n>`).
fn event_of(name: &str) -> TimelineEvent {
    use newborn_domain::stage::EventKind;
    let events = [
        EventKind::Queue,
        EventKind::Dispatch,
        EventKind::Supplied,
        EventKind::Confirmed,
        EventKind::Complete,
    ];
    let n: usize = name.trim_start_matches('e').parse().unwrap_or(1);
    TimelineEvent::Stage(events[(n - 1) % events.len()])
}

fn entry(stage: Stage, event: &str) -> TimelineEntry {
    TimelineEntry {
        at: at("2025-11-17T09:00:00+08:00"),
        stage,
        from: StatusKind::Pending,
        to: StatusKind::Queued,
        event: event_of(event),
        actor: Actor::Platform,
    }
}

/// The `n`th of a long history's timeline entries (each a minute after the last).
pub fn timeline_entry(stage: Stage, n: usize) -> TimelineEntry {
    TimelineEntry {
        at: at("2025-11-17T09:00:00+08:00") + TimeDelta::minutes(n as i64),
        ..entry(stage, "queue")
    }
}

/// The `n`th of a long history's notifications, each with text of its own (a number spelt out
/// in a way compression cannot fold into the previous one).
pub fn notification(n: usize) -> Notification {
    let noise: String = (0..24)
        .map(|i| {
            let x = (n * 7919 + i * 104_729) % 2_147_483_647;
            char::from_digit(((x * x) % 36) as u32, 36).unwrap_or('0')
        })
        .collect();
    Notification {
        at: at("2025-11-17T09:00:00+08:00") + TimeDelta::minutes(n as i64),
        kind: "stage_done".into(),
        message: newborn_domain::text::Bilingual::new(
            format!("第{n}号通知：您的申请已进入下一环节（{noise}）"),
            format!("notice {n}: your application moved on ({noise})"),
        ),
    }
}

fn write<'a>(
    app: &'a Application,
    owner: &'a str,
    events: &[&str],
    clocks: Vec<OpenClock>,
) -> Write<'a> {
    Write {
        application: app,
        owner,
        timeline: events.iter().map(|e| entry(Stage::PreReview, e)).collect(),
        outbox: vec![],
        evaluations: vec![],
        facts: vec![],
        clocks,
        follow_ups: vec![],
        deliveries: vec![],
        response: None,
        accepted: None,
        notifications: events
            .iter()
            .map(|e| Notification {
                at: at("2025-11-17T09:00:00+08:00"),
                kind: (*e).into(),
                message: newborn_domain::text::Bilingual::new("通知", "notice"),
            })
            .collect(),
    }
}

/// What a store needs after a write before everything the write carried can be read back:
/// nothing on SQLite (one transaction); on DynamoDB, the stream relay's run (report facts and
/// idempotency records are written by it, after the commit).
pub type Settle<'a> =
    &'a (dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Sync);

/// A [`Settle`] for a store that needs none.
pub fn settled() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {})
}

/// Runs every check against `store`. `prefix` keeps ids unique when the store is shared.
pub async fn store_contract(store: &dyn ApplicationStore, prefix: &str, settle: Settle<'_>) {
    let id = format!("{prefix}A1");
    let app = application(&id);
    store
        .insert(&write(&app, "owner-1", &["e1"], vec![]))
        .await
        .unwrap_or_else(|e| panic!("insert: {e}"));
    let got = store
        .get(&app.id)
        .await
        .unwrap_or_else(|e| panic!("get: {e}"))
        .unwrap_or_else(|| panic!("an inserted application must be found"));
    assert_eq!(
        (got.application.clone(), got.owner.as_str(), got.version),
        (app.clone(), "owner-1", 1),
        "get returns what was inserted, at version 1"
    );

    assert!(
        matches!(
            store.insert(&write(&app, "owner-2", &[], vec![])).await,
            Err(StoreError::Conflict)
        ),
        "a second insert of one id is a conflict"
    );
    assert_eq!(
        store.get(&app.id).await.ok().flatten().map(|s| s.owner),
        Some("owner-1".into()),
        "a refused insert changes nothing"
    );

    // Optimistic locking.
    let mut changed = app.clone();
    let registry = PolicyRegistry::builtin();
    let policy = registry
        .default_policy()
        .unwrap_or_else(|| panic!("policy"));
    changed
        .apply(
            Stage::PreReview,
            StageEvent::Dispatch,
            policy,
            at("2025-11-17T09:01:00+08:00"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = at("2025-11-18T09:01:00+08:00");
    let clock = OpenClock {
        application_id: app.id.clone(),
        watch: Watch::Stage(Stage::HealthCheck),
        warning_at: Some(deadline - TimeDelta::hours(6)),
        deadline: Some(deadline),
    };
    // A service's own clock due with it, and the whole matter's, due days later.
    let part = OpenClock {
        watch: Watch::Service(Service::MedicalInsuranceEnrolment),
        ..clock.clone()
    };
    let matter = OpenClock {
        watch: Watch::Matter,
        warning_at: Some(deadline + TimeDelta::days(3)),
        deadline: Some(deadline + TimeDelta::days(4)),
        ..clock.clone()
    };
    let clocks = vec![clock.clone(), part.clone(), matter.clone()];
    store
        .update(&write(&changed, "owner-1", &["e2"], clocks), 1)
        .await
        .unwrap_or_else(|e| panic!("update at the current version: {e}"));
    let stale = store
        .update(&write(&app, "owner-1", &["stale"], vec![]), 1)
        .await;
    assert!(
        matches!(stale, Err(StoreError::Conflict)),
        "an update at a stale version is a conflict"
    );
    let now = store
        .get(&app.id)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("gone"));
    assert_eq!(
        (now.version, now.application),
        (2, changed.clone()),
        "the stale update changed nothing"
    );
    let timeline: Vec<TimelineEvent> = store
        .timeline(&app.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        timeline,
        [event_of("e1"), event_of("e2")],
        "the timeline keeps every committed entry in order, and none of a refused write"
    );
    let notes: Vec<String> = store
        .notifications(&app.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|n| n.kind)
        .collect();
    assert_eq!(notes, ["e1", "e2"], "notifications likewise");

    // Owners see only their own.
    let other = application(&format!("{prefix}B1"));
    store
        .insert(&write(&other, "owner-2", &[], vec![]))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mine: Vec<String> = store
        .list_by_owner("owner-1")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|s| s.application.id.as_str().to_owned())
        .collect();
    assert_eq!(
        mine,
        vec![id.clone()],
        "list_by_owner returns only the owner's applications"
    );

    // The open-clock index.
    let due = |until: DateTime<Utc>| async move {
        store
            .due_clocks(until)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .filter(|c| c.application_id.as_str().starts_with(prefix))
            .map(|c| c.watch)
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert!(
        due(deadline - TimeDelta::hours(7)).await.is_empty(),
        "nothing is due before the warning"
    );
    assert_eq!(
        due(deadline - TimeDelta::hours(6)).await,
        [clock.watch, part.watch].into(),
        "a clock is due from its warning instant, whatever it watches"
    );
    assert_eq!(
        due(deadline + TimeDelta::days(3)).await,
        [clock.watch, part.watch, matter.watch].into(),
        "the matter's clock is due from its own warning instant"
    );
    store
        .update(&write(&changed, "owner-1", &["e3"], vec![]), 2)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        due(deadline + TimeDelta::days(1)).await.is_empty(),
        "a write without the clock removes it from the index"
    );

    // Alerts are recorded once per watch and level.
    let record = |alert: Alert| async move {
        store
            .record_alert(&alert)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let alert = Alert {
        application_id: app.id.clone(),
        watch: Watch::Stage(Stage::HealthCheck),
        level: SlaLevel::Overdue,
        at: deadline,
        deadline: Some(deadline),
    };
    assert!(record(alert.clone()).await, "the first alert is new");
    assert!(!record(alert.clone()).await, "the same alert again is not");
    let warning = Alert {
        level: SlaLevel::Warning,
        ..alert.clone()
    };
    assert!(record(warning).await, "another level is a new alert");
    let whole = Alert {
        watch: Watch::Matter,
        ..alert.clone()
    };
    assert!(record(whole).await, "the matter's alert is not the stage's");
    let alerts = store.alerts().await.unwrap_or_else(|e| panic!("{e}"));
    let mut watched: Vec<(Watch, SlaLevel)> = alerts
        .iter()
        .filter(|a| a.application_id == app.id)
        .map(|a| (a.watch, a.level))
        .collect();
    watched.sort();
    assert_eq!(
        watched,
        [
            (Watch::Stage(Stage::HealthCheck), SlaLevel::Warning),
            (Watch::Stage(Stage::HealthCheck), SlaLevel::Overdue),
            (Watch::Matter, SlaLevel::Overdue),
        ]
    );

    // The open follow-up index: written with the application, replaced by the next write.
    let follow_up = OpenFollowUp {
        application_id: app.id.clone(),
        follow_up: FollowUp {
            stage: Stage::Police,
            agency: Stage::Police.agency(),
            level: RatingLevel::VeryDissatisfied,
            opened_at: deadline,
            due_at: deadline + TimeDelta::days(7),
            closed: None,
        },
    };
    let mut with_follow_up = write(&changed, "owner-1", &["e4"], vec![]);
    with_follow_up.follow_ups = vec![follow_up.clone()];
    store
        .update(&with_follow_up, 3)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mine = |all: Vec<OpenFollowUp>| {
        all.into_iter()
            .filter(|f| f.application_id.as_str().starts_with(prefix))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        mine(
            store
                .open_follow_ups()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        ),
        vec![follow_up],
        "an open follow-up is listed"
    );
    store
        .update(&write(&changed, "owner-1", &["e5"], vec![]), 4)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        mine(
            store
                .open_follow_ups()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        )
        .is_empty(),
        "a write without it (closed) removes it from the index"
    );

    // Facts: written with the change, read back per agency and half-open period, in time
    // order; an overdue alert's fact is written once with the alert.
    let fact = |at_: &str, agency: Agency, kind: FactKind| Fact {
        at: at(at_),
        application_id: app.id.clone(),
        agency,
        kind,
    };
    let january = fact(
        "2026-01-31T23:59:59.999Z",
        Agency::PoliceStation,
        FactKind::Completed {
            working_secs: 3600,
            on_time: true,
            stage: Some(newborn_domain::stage::Stage::Police),
        },
    );
    let february = fact(
        "2026-02-01T00:00:00Z",
        Agency::PoliceStation,
        FactKind::Rated {
            level: RatingLevel::Dissatisfied,
        },
    );
    let hospital = fact(
        "2026-02-10T08:00:00Z",
        Agency::Hospital,
        FactKind::SupplementRequested,
    );
    let mut with_facts = write(&changed, "owner-1", &["e6"], vec![]);
    with_facts.facts = vec![february.clone(), january.clone(), hospital.clone()];
    store
        .update(&with_facts, 5)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    settle().await;
    let mine_id = &app.id;
    let facts = |agency: Agency, from: &str, to: &str| {
        let (from, to) = (at(from), at(to));
        async move {
            store
                .facts(agency, from, to)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .into_iter()
                .filter(|f| &f.application_id == mine_id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        facts(
            Agency::PoliceStation,
            "2026-01-01T00:00:00Z",
            "2026-03-01T00:00:00Z"
        )
        .await,
        vec![january.clone(), february.clone()],
        "an agency's facts over two months, oldest first"
    );
    assert_eq!(
        facts(
            Agency::PoliceStation,
            "2026-02-01T00:00:00Z",
            "2026-03-01T00:00:00Z"
        )
        .await,
        vec![february],
        "the period's start is in it"
    );
    assert_eq!(
        facts(
            Agency::PoliceStation,
            "2025-12-01T00:00:00Z",
            "2026-01-31T23:59:59.999Z"
        )
        .await,
        vec![],
        "the period's end is not"
    );
    assert_eq!(
        facts(
            Agency::Hospital,
            "2026-02-01T00:00:00Z",
            "2026-03-01T00:00:00Z"
        )
        .await,
        vec![hospital],
        "another agency's facts are its own"
    );
    let overdue: Vec<Fact> = facts(
        Agency::Hospital,
        &(deadline - TimeDelta::days(40)).to_rfc3339(),
        &(deadline + TimeDelta::days(40)).to_rfc3339(),
    )
    .await
    .into_iter()
    .filter(|f| f.kind == FactKind::Overdue)
    .collect();
    assert_eq!(
        overdue.len(),
        1,
        "the overdue alert counted once, the repeated alert not again: {overdue:?}"
    );
}

/// An application written with the response of the `Idempotency-Key` that created it: the
/// record is complete in the same transaction, so a retry whose first attempt died right after
/// the commit is answered from it ([`RequestLog::claim`] on the same backing store).
pub async fn idempotent_write_contract(
    store: &dyn ApplicationStore,
    log: &dyn RequestLog,
    prefix: &str,
    settle: Settle<'_>,
) {
    let id = format!("{prefix}I1");
    let app = application(&id);
    let claim = newborn_service::ports::IdempotencyClaim {
        scope: "owner-i".into(),
        key: format!("{prefix}-submit-1"),
        request_hash: "h1".into(),
    };
    let mut w = write(&app, "owner-i", &["submitted"], vec![]);
    w.response = Some(newborn_service::ports::IdempotentResponse {
        claim: claim.clone(),
        status: 201,
        body: br#"{"id":"the view"}"#.to_vec(),
    });
    store
        .insert(&w)
        .await
        .unwrap_or_else(|e| panic!("insert: {e}"));
    settle().await;
    let now = at("2025-11-17T09:00:01+08:00");
    let again = log
        .claim(&claim.scope, &claim.key, &claim.request_hash, now)
        .await
        .unwrap_or_else(|e| panic!("claim: {e}"));
    assert_eq!(
        again,
        Claim::Replay {
            status: 201,
            body: br#"{"id":"the view"}"#.to_vec()
        },
        "the record written with the application answers the retry"
    );
    assert_eq!(
        log.claim(&claim.scope, &claim.key, "another request", now)
            .await
            .ok(),
        Some(Claim::Mismatch)
    );
}

/// The contract of the [`RequestLog`] port: idempotency claims and callback nonces.
pub async fn request_log_contract(log: &dyn RequestLog, prefix: &str) {
    let now = at("2025-11-17T09:00:00+08:00");
    let (scope, key) = (format!("{prefix}mum-1"), format!("{prefix}key-1"));
    let claim = |hash: &'static str| {
        let (scope, key) = (scope.clone(), key.clone());
        async move {
            log.claim(&scope, &key, hash, now)
                .await
                .unwrap_or_else(|e| panic!("claim: {e}"))
        }
    };
    assert_eq!(claim("h1").await, Claim::New, "a new key is claimed");
    assert_eq!(
        claim("h1").await,
        Claim::InProgress,
        "the same request again while the first runs is in progress"
    );
    assert_eq!(
        claim("h2").await,
        Claim::Mismatch,
        "the key with another request is a mismatch"
    );
    log.release(&scope, &key)
        .await
        .unwrap_or_else(|e| panic!("release: {e}"));
    assert_eq!(
        claim("h1").await,
        Claim::New,
        "a released claim (our failure) may run again"
    );
    log.complete(&scope, &key, 201, b"{\"id\":1}")
        .await
        .unwrap_or_else(|e| panic!("complete: {e}"));
    assert_eq!(
        claim("h1").await,
        Claim::Replay {
            status: 201,
            body: b"{\"id\":1}".to_vec()
        },
        "a completed request is replayed with its first response"
    );
    log.release(&scope, &key)
        .await
        .unwrap_or_else(|e| panic!("release: {e}"));
    assert!(
        matches!(claim("h1").await, Claim::Replay { status: 201, .. }),
        "release never forgets a completed response"
    );
    assert_eq!(
        log.claim(&format!("{prefix}dad-1"), &key, "h9", now)
            .await
            .ok(),
        Some(Claim::New),
        "keys are scoped to the caller"
    );
}

/// The replay guard kept with an application: the id of a signed message a write accepts reads
/// back with the application, and a write carrying it again is refused (a conflict: the
/// service reloads and sees the replay).
pub async fn accepted_message_contract(store: &dyn ApplicationStore, prefix: &str) {
    let id = format!("{prefix}M1");
    let app = application(&id);
    let app_id = app.id.clone();
    store
        .insert(&write(&app, "owner-m", &["submitted"], vec![]))
        .await
        .unwrap_or_else(|e| panic!("insert: {e}"));
    let read = || async {
        store
            .get(&app_id)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("{app_id} is gone"))
    };
    assert!(read().await.accepted.is_empty(), "nothing accepted yet");
    let mut w = write(&app, "owner-m", &["dispatch"], vec![]);
    w.accepted = Some(format!("{prefix}police-1:msg-1"));
    store
        .update(&w, 1)
        .await
        .unwrap_or_else(|e| panic!("update: {e}"));
    let stored = read().await;
    assert_eq!(
        (stored.version, stored.accepted.clone()),
        (2, vec![format!("{prefix}police-1:msg-1")]),
        "the message id is kept with the application"
    );
    assert!(
        matches!(store.update(&w, 2).await, Err(StoreError::Conflict)),
        "the same message in a later write is refused"
    );
    let mut other = write(&app, "owner-m", &["complete"], vec![]);
    other.accepted = Some(format!("{prefix}police-1:msg-2"));
    store
        .update(&other, 2)
        .await
        .unwrap_or_else(|e| panic!("another message: {e}"));
    let stored = read().await;
    assert_eq!(stored.version, 3);
    assert_eq!(
        stored.accepted,
        [
            format!("{prefix}police-1:msg-1"),
            format!("{prefix}police-1:msg-2")
        ],
        "oldest first"
    );
}

/// The contract of the [`UploadStore`] port: slots counted against their owner's daily
/// allowance, read only by their owner, completed once, verified uploads by owner and kind.
pub async fn upload_contract(uploads: &dyn UploadStore, prefix: &str) {
    let day = chrono::NaiveDate::from_ymd_opt(2025, 11, 17).unwrap_or_default();
    let slot = |n: u32, owner: &str, size: u64| UploadSlot {
        declared_sha256: None,
        id: format!("{prefix}{n:032x}"),
        owner: owner.to_owned(),
        kind: DocumentKind::MotherIdCard,
        content_type: "image/png".into(),
        size,
        expires_at: at("2025-11-17T09:15:00+08:00"),
        sha256: None,
    };
    let open = |s: UploadSlot, day: chrono::NaiveDate, quota| async move {
        uploads
            .open(s, day, quota)
            .await
            .unwrap_or_else(|e| panic!("open: {e}"))
    };

    // The day's allowance: three slots or 3,000 bytes, whichever comes first, per owner and day.
    let quota = newborn_service::ports::UploadQuota {
        slots_per_day: 3,
        bytes_per_day: 3000,
    };
    let owner = format!("{prefix}quota-mum");
    let mut granted = vec![];
    for (n, size) in [1000, 1500, 600, 1].into_iter().enumerate() {
        let opened = open(slot(n as u32, &owner, size), day, quota).await;
        if let Some(o) = &opened {
            assert_eq!(
                uploads.get(&owner, &o.id).await.ok().flatten().as_ref(),
                Some(o),
                "an opened slot reads back as opened"
            );
        }
        granted.push(opened.is_some());
    }
    assert_eq!(
        granted,
        [true, true, false, true],
        "600 more bytes would pass 3,000; one byte fits as the third slot"
    );
    assert!(
        open(slot(9, &owner, 1), day, quota).await.is_none(),
        "a fourth slot is refused"
    );
    assert!(
        open(slot(10, &format!("{prefix}other-mum"), 1000), day, quota)
            .await
            .is_some(),
        "another owner has an allowance of its own"
    );
    assert!(
        open(slot(11, &owner, 1000), day.succ_opt().unwrap_or(day), quota)
            .await
            .is_some(),
        "and so has the next day"
    );

    // Concurrent opens never pass the allowance, and each granted slot is recorded.
    let racer = format!("{prefix}racing-mum");
    let race = |n: u32| open(slot(20 + n, &racer, 100), day, quota);
    let racing = tokio::join!(race(0), race(1), race(2), race(3), race(4), race(5));
    let racing = [racing.0, racing.1, racing.2, racing.3, racing.4, racing.5];
    let won: Vec<UploadSlot> = racing.into_iter().flatten().collect();
    assert_eq!(won.len(), 3, "six opens at once, three slots a day");
    for s in &won {
        assert!(
            uploads.get(&racer, &s.id).await.ok().flatten().is_some(),
            "each granted slot is recorded"
        );
    }

    let roomy = newborn_service::ports::UploadQuota::default();
    let mum = format!("{prefix}mum-1");
    let slot = open(slot(30, &mum, 1024), day, roomy)
        .await
        .unwrap_or_else(|| panic!("a slot within the allowance"));
    assert_eq!(slot.owner, mum);
    assert!(
        slot.id.ends_with(&format!("{prefix}{:032x}", 30)),
        "the id keeps the slot's random part: {}",
        slot.id
    );
    assert_eq!(
        uploads.get(&format!("{prefix}dad-1"), &slot.id).await.ok(),
        Some(None),
        "another account's slot is absent"
    );
    assert_eq!(
        uploads.get(&mum, &format!("{prefix}none")).await.ok(),
        Some(None),
        "an unknown slot is absent"
    );
    let digest: Sha256Hex = "ab".repeat(32).parse().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !uploads
            .verified(&slot.owner, slot.kind, &digest)
            .await
            .unwrap_or(true),
        "nothing is verified before the upload completes"
    );
    assert!(
        !uploads
            .complete(&format!("{prefix}dad-1"), &slot.id, &digest)
            .await
            .unwrap_or(true),
        "another account cannot complete it"
    );
    assert!(
        uploads
            .complete(&mum, &slot.id, &digest)
            .await
            .unwrap_or(false),
        "the first completion counts"
    );
    assert!(
        !uploads
            .complete(&mum, &slot.id, &digest)
            .await
            .unwrap_or(true),
        "a slot completes once"
    );
    assert_eq!(
        uploads
            .get(&mum, &slot.id)
            .await
            .ok()
            .flatten()
            .and_then(|s| s.sha256),
        Some(digest.clone()),
        "the completed slot carries its digest"
    );
    assert!(
        uploads
            .verified(&slot.owner, slot.kind, &digest)
            .await
            .unwrap_or(false),
        "the owner's upload is verified for its kind"
    );
    assert!(
        !uploads
            .verified(&format!("{prefix}dad-1"), slot.kind, &digest)
            .await
            .unwrap_or(true),
        "another account cannot reference it"
    );
    assert!(
        !uploads
            .verified(&slot.owner, DocumentKind::FatherIdCard, &digest)
            .await
            .unwrap_or(true),
        "nor can it stand for another kind of document"
    );
}

/// The contract of the [`HandoverRegister`] port: counterfoils kept once, listed pending per
/// county, handed over in all-or-nothing batches.
pub async fn handover_contract(register: &dyn HandoverRegister, prefix: &str) {
    use newborn_domain::handover::{Counterfoil, HandoverBatch, HandoverParties};
    let county: newborn_domain::region::RegionCode =
        "350102".parse().unwrap_or_else(|e| panic!("{e:?}"));
    let other: newborn_domain::region::RegionCode =
        "350203".parse().unwrap_or_else(|e| panic!("{e:?}"));
    let foil = |n: u32, county: &newborn_domain::region::RegionCode| Counterfoil {
        certificate_number: format!("{prefix}Q35{n:07}"),
        application_id: format!("{prefix}NB{n}")
            .parse()
            .unwrap_or_else(|e| panic!("{e}")),
        institution: "福州市妇幼保健院".into(),
        county: county.clone(),
        issued_at: at("2025-11-17T09:00:00+08:00") + TimeDelta::hours(i64::from(10 - n)),
        hand_over_by: None,
    };
    let (a, b, c) = (foil(1, &county), foil(2, &county), foil(3, &other));
    for f in [&a, &b, &b, &c] {
        register
            .keep(f)
            .await
            .unwrap_or_else(|e| panic!("keep: {e}"));
    }
    let pending = register
        .pending(&county)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        pending,
        vec![b.clone(), a.clone()],
        "each counterfoil once, oldest issued first, only the county's"
    );
    let text = |s: &str| s.parse().unwrap_or_else(|e| panic!("{e:?}"));
    let parties = HandoverParties {
        handing_unit: text("鼓楼区卫生健康局"),
        handing_person: text("陈丽"),
        receiving_unit: text("福州市公安局鼓楼分局"),
        receiving_person: text("林强"),
    };
    let batch = HandoverBatch::new(
        format!("{prefix}350102-20251230-1"),
        county.clone(),
        at("2025-12-30T10:00:00+08:00"),
        parties.clone(),
        &pending,
    );
    assert!(
        register.hand_over(&batch).await.unwrap_or(false),
        "the batch is recorded"
    );
    assert!(
        register
            .pending(&county)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty(),
        "its counterfoils are no longer pending"
    );
    assert_eq!(
        register.batch(&batch.number).await.ok().flatten(),
        Some(batch.clone()),
        "the batch reads back"
    );
    let again = HandoverBatch::new(
        format!("{prefix}350102-20251230-2"),
        county.clone(),
        at("2025-12-30T11:00:00+08:00"),
        parties,
        std::slice::from_ref(&a),
    );
    assert!(
        !register.hand_over(&again).await.unwrap_or(true),
        "a counterfoil is handed over once"
    );
    assert_eq!(
        register.batch(&again.number).await.ok(),
        Some(None),
        "a refused batch leaves nothing behind"
    );
}

/// The hospital's record of twins born at `born` (RFC 3339) and ten minutes later, whose drafts
/// the draft contract stores; `marker` is the second child's medical record number, which only
/// its draft holds.
pub fn twins_record(prefix: &str, marker: &str, born: &str) -> newborn_domain::draft::BirthRecord {
    let born = DateTime::parse_from_rfc3339(born).unwrap_or_else(|e| panic!("{born}: {e}"));
    let second = born + TimeDelta::minutes(10);
    serde_json::from_value(serde_json::json!({
        "delivery_id": format!("{prefix}FD-1"),
        "hospital": {"name": "福州市妇幼保健院（示例）", "credit_code": "12350100488099123X"},
        "birthplace": "350102",
        "mother": {"name": "陈晓梅", "id_number": "35010219940315002X", "phone": "13812345678"},
        "father": {"name": "林志强", "id_number": "350203199207080011"},
        "delivery_mode": "spontaneous",
        "newborns": [
            {"name": "林一", "sex": "male", "birth_time": born,
             "gestational_weeks": 38, "weight_grams": 3000, "length_cm": 49,
             "medical_record_number": format!("{prefix}ZY-TWIN-1")},
            {"name": "林二", "sex": "female", "birth_time": second,
             "gestational_weeks": 38, "weight_grams": 2900, "length_cm": 48,
             "medical_record_number": marker},
        ],
    }))
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The contract of the [`newborn_service::ports::DraftStore`] port: a delivery's drafts are
/// written all or nothing, read back whole, found by the mother and by expiry through indexes,
/// and gone once deleted.
pub async fn draft_contract(store: &dyn newborn_service::ports::DraftStore, prefix: &str) {
    use newborn_service::ports::Delivery;
    let record = twins_record(
        prefix,
        &format!("{prefix}ZY-TWIN-2"),
        "2025-11-10T08:30:00+08:00",
    );
    let created = at("2025-11-17T09:00:00+08:00");
    let expires = created + TimeDelta::days(30);
    let id = |i: usize| -> ApplicationId {
        format!("{prefix}NBDRAFT{i}")
            .parse()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let drafts = record.drafts(id, "fujian-2.0", created, expires);
    let sms = Delivery {
        id: format!("{}:draft", drafts[0].id),
        application_id: drafts[0].id.clone(),
        owner: "sms:13812345678".into(),
        notification: notification(0),
    };
    assert!(
        store
            .create(&drafts, std::slice::from_ref(&sms))
            .await
            .unwrap_or_else(|e| panic!("create: {e}")),
        "a delivery's drafts are created"
    );
    assert!(
        !store
            .create(&drafts, &[])
            .await
            .unwrap_or_else(|e| panic!("create again: {e}")),
        "the same drafts again are not created twice"
    );
    let mut newer = record.drafts(id, "fujian-2.0", created, expires);
    newer[0].id = id(7);
    assert!(
        !store.create(&newer, &[]).await.unwrap_or(true),
        "one existing draft refuses the delivery"
    );
    assert_eq!(
        store.get(&id(7)).await.ok().flatten(),
        None,
        "all or nothing: the new one of a refused delivery is not written"
    );
    assert_eq!(
        store.get(&drafts[1].id).await.ok().flatten().as_ref(),
        Some(&drafts[1]),
        "a draft reads back whole"
    );
    let mothers = store
        .of_mother(&drafts[0].mother.id_number)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        mothers.len(),
        2,
        "the mother's drafts are found by her number"
    );
    let father = drafts[0]
        .father
        .as_ref()
        .map(|f| f.id_number.clone())
        .unwrap_or_else(|| panic!("the record names the father"));
    assert!(
        store
            .of_mother(&father)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty(),
        "nobody else finds them"
    );
    assert!(
        store
            .expiring(expires - TimeDelta::seconds(1))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .all(|d| !d.as_str().starts_with(prefix)),
        "nothing expires before its window ends"
    );
    let mut due = store
        .expiring(expires)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    due.retain(|d| d.as_str().starts_with(prefix));
    due.sort();
    assert_eq!(due, vec![id(0), id(1)], "both expire at the window's end");
    store
        .delete(&id(1))
        .await
        .unwrap_or_else(|e| panic!("delete: {e}"));
    store
        .delete(&id(1))
        .await
        .unwrap_or_else(|e| panic!("deleting again is harmless: {e}"));
    assert_eq!(
        store.get(&id(1)).await.ok().flatten(),
        None,
        "a deleted draft is gone"
    );
    assert_eq!(
        store
            .of_mother(&drafts[0].mother.id_number)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .len(),
        1,
        "and no longer found by the mother"
    );
    assert!(
        !store
            .expiring(expires)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .contains(&id(1)),
        "nor by expiry"
    );
}
