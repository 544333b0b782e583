//! A helper that starts the real local service on random loopback ports with a fresh data
//! directory and a controllable clock, and talks HTTP to it.

#![allow(dead_code)]

use anyhow::{Context, Result};
use newborn::demo::{ApplicantClient, SAMPLE};
use newborn::runtime::{Agencies, Running, ServeConfig, start};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Service time at start: Monday 2025-11-17 09:00 China time, a week after the sample's birth.
pub const CLOCK_START: &str = "2025-11-17T09:00:00+08:00";

/// The sample's scans.
pub use newborn::demo::SAMPLE_DOCUMENTS;

pub struct TestService {
    pub running: Running,
    pub client: ApplicantClient,
    pub http: reqwest::Client,
    pub api: String,
    pub sim: String,
    pub dir: tempfile::TempDir,
}

pub fn config(dir: &std::path::Path) -> ServeConfig {
    let mut c = ServeConfig::new(dir.to_owned());
    c.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    c.agencies = Agencies::Simulated {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        delay: Duration::from_millis(20),
        mix: Default::default(),
    };
    c.clock_start = chrono::DateTime::parse_from_rfc3339(CLOCK_START)
        .ok()
        .map(|t| t.to_utc());
    c.clock_control = true;
    c.sla_interval = Duration::from_secs(3600);
    c.workers.idle_poll = Duration::from_millis(20);
    c.workers.visibility_timeout = Duration::from_secs(5);
    c
}

impl TestService {
    pub async fn start() -> Result<Self> {
        Self::start_at(CLOCK_START).await
    }

    /// The service with its clock starting at `clock_start` (RFC 3339).
    pub async fn start_at(clock_start: &str) -> Result<Self> {
        let start = chrono::DateTime::parse_from_rfc3339(clock_start)?.to_utc();
        Self::start_with(|c| c.clock_start = Some(start)).await
    }

    /// The service with the test configuration changed by `edit`.
    pub async fn start_with(edit: impl FnOnce(&mut ServeConfig)) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut c = config(dir.path());
        edit(&mut c);
        let running = start(c).await?;
        let api = running.endpoints.api_url.clone();
        // Empty where the agencies are external (a test's own receiver).
        let sim = running.endpoints.simulator_url.clone().unwrap_or_default();
        Ok(Self {
            client: ApplicantClient::new(&api, running.issuer.clone())?,
            http: newborn_http::client(),
            api,
            sim,
            running,
            dir,
        })
    }

    /// The sample form with freshly uploaded scans (minus `withheld`, plus `extra`), edited.
    pub async fn form(
        &self,
        owner: &str,
        withheld: &[&str],
        extra: &[&str],
        edit: impl FnOnce(&mut Value),
    ) -> Result<Value> {
        let mut form: Value = serde_json::from_str(SAMPLE)?;
        let mut docs = vec![];
        for kind in SAMPLE_DOCUMENTS
            .iter()
            .filter(|k| !withheld.contains(k))
            .chain(extra)
        {
            docs.push(self.client.upload(owner, kind).await?);
        }
        form["documents"] = Value::Array(docs);
        edit(&mut form);
        Ok(form)
    }

    pub async fn submit(
        &self,
        owner: &str,
        withheld: &[&str],
        extra: &[&str],
        edit: impl FnOnce(&mut Value),
    ) -> Result<String> {
        let form = self.form(owner, withheld, extra, edit).await?;
        self.client.submit(owner, &form).await
    }

    /// The simulated agencies' `GET /received` (full dispatches), with the simulator's token.
    pub async fn received(&self) -> Result<Vec<Value>> {
        let token = newborn::runtime::keys::token(self.dir.path(), "simulator-token")?;
        let res = self
            .http
            .get(format!("{}/received", self.sim))
            .bearer_auth(token)
            .send()
            .await?;
        anyhow::ensure!(res.status() == 200, "GET /received: {}", res.status());
        Ok(res.json().await?)
    }

    /// A supervisor's token (the `/supervision/alerts` and `/follow-ups` group).
    pub fn supervisor_token(&self) -> String {
        self.running
            .issuer
            .mint(
                "supervisor-1",
                newborn_http::Role::Supervisor,
                chrono::TimeDelta::hours(1),
                chrono::Utc::now(),
            )
            .unwrap_or_default()
    }

    /// A counter staff member's token (一窗受理; the counterfoil register).
    pub fn staff_token(&self, subject: &str) -> Result<String> {
        self.running
            .issuer
            .mint(
                subject,
                newborn_http::Role::CounterStaff,
                chrono::TimeDelta::hours(1),
                chrono::Utc::now(),
            )
            .map_err(anyhow::Error::msg)
    }

    /// `GET /supervision/alerts`, as a supervisor.
    pub async fn alerts(&self) -> Result<Value> {
        self.client
            .json(
                self.http
                    .get(format!("{}/supervision/alerts", self.api))
                    .bearer_auth(self.supervisor_token()),
            )
            .await
    }

    /// The escalations the simulated supervisors received (`GET /escalations`).
    pub async fn escalations(&self) -> Result<Value> {
        self.client
            .json(self.http.get(format!("{}/escalations", self.sim)))
            .await
    }

    /// The sample family as born and registered in Yongfu county (Guangxi), with `extra` scans:
    /// its identity cards as scans (Yongfu takes no electronic licences), the delivery record and
    /// the other parent's booklet pages, and the conditions it declares (永福县 附件2 三, 四).
    pub async fn yongfu_form(&self, owner: &str, extra: &[&str]) -> Result<Value> {
        let papers = [
            "delivery_record",
            "household_booklet_other_parent",
            "mother_id_card",
            "father_id_card",
        ];
        let extra: Vec<&str> = extra.iter().copied().chain(papers).collect();
        self.form(owner, &[], &extra, |form| {
            form.as_object_mut().map(|f| f.remove("licences"));
            for field in [
                "/newborn/birthplace",
                "/mother/household_region",
                "/father/household_region",
            ] {
                if let Some(v) = form.pointer_mut(field) {
                    *v = json!("450326");
                }
            }
            form["declarations"] = json!([
                "insured_in_guangxi",
                "no_card_elsewhere",
                "not_overseas_chinese"
            ]);
        })
        .await
    }

    /// The signing key of `agency` (from the service's key file).
    pub fn agency_key(
        &self,
        agency: newborn_domain::stage::Agency,
    ) -> Result<newborn_service::signing::SigningKey> {
        let keys = newborn::runtime::keys::load_or_create(self.dir.path())?;
        keys.agencies
            .key_of(agency)
            .cloned()
            .with_context(|| format!("no key of {agency:?}"))
    }

    /// `POST /agency/callbacks` with `body` and the given signature headers.
    pub fn callback(
        &self,
        headers: [(&'static str, String); 3],
        body: Vec<u8>,
    ) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .post(format!("{}/agency/callbacks", self.api))
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.body(body)
    }

    /// `POST <path>` with `body`, signed by `agency`'s key as the agency would.
    pub async fn signed_post(
        &self,
        agency: newborn_domain::stage::Agency,
        path: &str,
        body: &Value,
    ) -> Result<reqwest::Response> {
        self.post_signed_with(&self.agency_key(agency)?, path, body)
            .await
    }

    /// `POST <path>` with `body`, signed with `key` (an agency's, or one the service must refuse).
    pub async fn post_signed_with(
        &self,
        key: &newborn_service::signing::SigningKey,
        path: &str,
        body: &Value,
    ) -> Result<reqwest::Response> {
        let url = format!("{}{path}", self.api);
        Ok(
            newborn_lambda_harness::signed_post(&self.http, &url, key, body)
                .send()
                .await?,
        )
    }

    /// `POST /agency/callbacks` with `callback`, signed by `agency`'s key as the agency would.
    pub async fn signed_callback(
        &self,
        agency: newborn_domain::stage::Agency,
        callback: &Value,
    ) -> Result<reqwest::Response> {
        let body = serde_json::to_vec(callback)?;
        let headers = self.agency_key(agency)?.headers(
            &newborn_service::signing::new_message_id(),
            chrono::Utc::now(),
            &body,
        );
        Ok(self.callback(headers, body).send().await?)
    }

    /// A submitted sample application that the police hold (their script: never answer), driven
    /// until it waits for them; returns its id and the view.
    pub async fn held_by_police(&self, owner: &str) -> Result<(String, Value)> {
        let id = self.submit(owner, &[], &[], |_| {}).await?;
        self.script(&id, "police", &["hold"]).await?;
        let view = self
            .drive_until(owner, &id, "the police holding the case", |v| {
                status(v, "police") == "awaiting_agency"
            })
            .await?;
        Ok((id, view))
    }

    pub async fn script(&self, id: &str, stage: &str, outcomes: &[&str]) -> Result<()> {
        self.client
            .json(
                self.http
                    .post(format!("{}/scripts", self.sim))
                    .json(&json!({"application_id": id, "stage": stage, "outcomes": outcomes})),
            )
            .await?;
        Ok(())
    }

    /// Polls until `pred` holds of the application's view (without acting for the applicant).
    pub async fn wait_for(
        &self,
        owner: &str,
        id: &str,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.client.view(owner, id).await?;
            if pred(&v) {
                return Ok(v);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "timed out waiting for {what}; last view: {v:#}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Acts for the applicant until `pred` holds of the view (checked before each action).
    pub async fn drive_until(
        &self,
        owner: &str,
        id: &str,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.client.view(owner, id).await?;
            if pred(&v) {
                return Ok(v);
            }
            anyhow::ensure!(
                v["outcome"] == "in_progress" && Instant::now() < deadline,
                "never reached {what}; last view: {v:#}"
            );
            // Act on the view just checked: a fresh read could act on the state sought.
            self.client.act_on(owner, id, v).await?;
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Acts for the applicant until the flow ends; returns the final view.
    pub async fn drive(&self, owner: &str, id: &str) -> Result<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.client.act(owner, id).await?;
            if v["outcome"] != "in_progress" {
                return Ok(v);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "timed out driving {id}; last view: {v:#}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn advance(&self, seconds: i64) -> Result<Value> {
        self.client
            .json(
                self.http
                    .post(format!("{}/admin/clock", self.api))
                    .bearer_auth(&self.running.operator_token)
                    .json(&json!({"seconds": seconds})),
            )
            .await
    }

    pub async fn sweep(&self) -> Result<Value> {
        self.client
            .json(
                self.http
                    .post(format!("{}/admin/sla-sweep", self.api))
                    .bearer_auth(&self.running.operator_token),
            )
            .await
    }

    pub async fn timeline(&self, owner: &str, id: &str) -> Result<Vec<Value>> {
        let t = self
            .client
            .json(
                self.client
                    .get(owner, &format!("/applications/{id}/timeline")),
            )
            .await?;
        Ok(t.as_array().cloned().unwrap_or_default())
    }

    pub async fn notifications(&self, owner: &str, id: &str) -> Result<Vec<Value>> {
        let t = self
            .client
            .json(
                self.client
                    .get(owner, &format!("/applications/{id}/notifications")),
            )
            .await?;
        Ok(t.as_array().cloned().unwrap_or_default())
    }
}

/// The stage of a view.
pub fn stage<'a>(view: &'a Value, name: &str) -> &'a Value {
    view["stages"]
        .as_array()
        .and_then(|s| s.iter().find(|x| x["stage"] == name))
        .unwrap_or(&Value::Null)
}

/// The status name of a stage of a view.
pub fn status<'a>(view: &'a Value, name: &str) -> &'a str {
    stage(view, name)["status"]["status"].as_str().unwrap_or("")
}

/// A free port of the loopback interface.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A `newborn serve` child process, killed when dropped: a test that fails half-way leaves no
/// server behind.
pub struct Served(std::process::Child);

impl std::ops::Deref for Served {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Served {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // Already ended (the test killed it) or killed now; either way reaped.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `newborn serve` as a child process over `data`, its API on `api`, with `args` added; its log
/// (level `warn`) goes to `log`. The process is killed when the returned guard is dropped.
pub fn serve_process(
    data: &std::path::Path,
    api: u16,
    args: &[&str],
    log: &std::path::Path,
) -> Result<Served> {
    Ok(Served(
        std::process::Command::new(env!("CARGO_BIN_EXE_newborn"))
            .args(["serve", "--data-dir"])
            .arg(data)
            .args(["--listen", &format!("127.0.0.1:{api}")])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(log)?)
            .spawn()?,
    ))
}

/// Waits (up to 30 s) until the service answers its health check.
pub async fn wait_healthy(client: &ApplicantClient) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.health().await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "the service did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The police's approval of round 1 of `id` (the callback body).
pub fn police_approval(id: &str) -> Value {
    json!({"application_id": id, "stage": "police", "round": 1,
        "outcome": {"type": "approve", "result": {"stage": "police", "newborn_id_number": "350102202511100032"}}})
}

impl TestService {
    /// Rates `stage` (a step, or `matter`) of `id` for `owner`: the HTTP status and body.
    pub async fn rate(
        &self,
        owner: &str,
        id: &str,
        stage: &str,
        level: &str,
    ) -> Result<(u16, Value)> {
        let res = self
            .client
            .post(owner, &format!("/applications/{id}/ratings"))
            .json(&json!({"stage": stage, "level": level}))
            .send()
            .await?;
        Ok((res.status().as_u16(), res.json().await?))
    }

    /// What the simulated 好差评 platform received: one entry per rating id, with how often it
    /// came.
    pub async fn ratings_received(&self) -> Result<Vec<Value>> {
        let v: Value = self
            .http
            .get(format!("{}/ratings", self.sim))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// Polls the 好差评 platform until `pred` holds of what it received.
    pub async fn wait_for_ratings(
        &self,
        what: &str,
        pred: impl Fn(&[Value]) -> bool,
    ) -> Result<Vec<Value>> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.ratings_received().await?;
            if pred(&got) {
                return Ok(got);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "timed out waiting for {what}; received: {got:#?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Polls the 好差评 platform until it holds the rating `key` (`<application>:<subject>`) and
    /// `pred` holds of its record; returns the record.
    pub async fn wait_for_rating(&self, key: &str, pred: impl Fn(&Value) -> bool) -> Result<Value> {
        let find = |r: &[Value]| r.iter().find(|x| x["key"] == key).cloned();
        let got = self
            .wait_for_ratings(key, |r| find(r).is_some_and(|x| pred(&x)))
            .await?;
        Ok(find(&got).unwrap_or_default())
    }

    /// The efficiency report of `period` (JSON), as a supervisor reads it.
    pub async fn report(&self, period: &str) -> Result<Value> {
        self.client
            .json(
                self.http
                    .get(format!("{}/supervision/reports?period={period}", self.api))
                    .bearer_auth(self.supervisor_token()),
            )
            .await
    }
}

/// The row of `agency` in an efficiency report.
pub fn report_row<'a>(report: &'a Value, agency: &str) -> &'a Value {
    report["agencies"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["agency"] == agency))
        .unwrap_or(&Value::Null)
}
