//! The contract of the [`ApplicationStore`] port, run against every adapter (SQLite here,
//! DynamoDB in the AWS adapter's tests), so both obey one behaviour. Each check panics with a
//! sentence saying what the adapter got wrong.

use chrono::{DateTime, TimeDelta, Utc};
use newborn_domain::application::parse_form;
use newborn_domain::flow::{Application, ApplicationId};
use newborn_domain::policy::PolicyRegistry;
use newborn_domain::sla::SlaLevel;
use newborn_domain::stage::{Stage, StageEvent};
use newborn_service::ports::{
    Actor, Alert, ApplicationStore, Notification, OpenClock, StoreError, TimelineEntry, Write,
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

fn entry(stage: Stage, event: &str) -> TimelineEntry {
    TimelineEntry {
        at: at("2025-11-17T09:00:00+08:00"),
        stage,
        from: "pending".into(),
        to: "queued".into(),
        event: event.into(),
        actor: Actor::Platform,
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
        clocks,
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

/// Runs every check against `store`. `prefix` keeps ids unique when the store is shared.
pub async fn store_contract(store: &dyn ApplicationStore, prefix: &str) {
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
        application_id: id.clone(),
        stage: Stage::HealthCheck,
        warning_at: Some(deadline - TimeDelta::hours(6)),
        deadline: Some(deadline),
    };
    store
        .update(&write(&changed, "owner-1", &["e2"], vec![clock.clone()]), 1)
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
    let timeline: Vec<String> = store
        .timeline(&app.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        timeline,
        ["e1", "e2"],
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
            .filter(|c| c.application_id.starts_with(prefix))
            .collect::<Vec<_>>()
    };
    assert!(
        due(deadline - TimeDelta::hours(7)).await.is_empty(),
        "nothing is due before the warning"
    );
    assert_eq!(
        due(deadline - TimeDelta::hours(6)).await,
        vec![clock.clone()],
        "a clock is due from its warning instant"
    );
    store
        .update(&write(&changed, "owner-1", &["e3"], vec![]), 2)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        due(deadline + TimeDelta::days(1)).await.is_empty(),
        "a write without the clock removes it from the index"
    );

    // Alerts are recorded once per stage and level.
    let alert = Alert {
        application_id: id.clone(),
        stage: Stage::HealthCheck,
        level: SlaLevel::Overdue,
        at: deadline,
        deadline: Some(deadline),
    };
    assert!(
        store
            .record_alert(&alert)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        "the first alert is new"
    );
    assert!(
        !store
            .record_alert(&alert)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        "the same alert again is not"
    );
    let warning = Alert {
        level: SlaLevel::Warning,
        ..alert
    };
    assert!(
        store
            .record_alert(&warning)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        "another level is a new alert"
    );
    let alerts = store.alerts().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(alerts.iter().filter(|a| a.application_id == id).count(), 2);
}
