//! `newborn demo`: submits a realistic batch to a running service — all three cases, a
//! supplement loop, a father applying with the authorisation letter, a go-offline ending — acts
//! as each applicant (uploads, confirms forms, supplies, chooses the bank, rates), and prints a
//! readable timeline per application and a summary.

use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use newborn_agency_sim::Scripted;
use newborn_domain::calendar::CHINA;
use newborn_domain::stage::Stage;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The sample application (case 1, mother applies), the base of every scenario.
pub const SAMPLE: &str = include_str!("../events/api/submit-application.json");

/// The document kinds the sample references as scans (the parents' identity cards are electronic
/// licences the simulated directory holds: a photo of a Fujian card counts only after a
/// missing-licence registration, 闽卫政法〔2024〕40号 附件2 一(一)).
pub const SAMPLE_DOCUMENTS: [&str; 4] = [
    "marriage_certificate",
    "household_booklet_front",
    "household_booklet_registering_parent",
    "household_booklet_head",
];

/// One demo scenario.
pub struct Scenario {
    /// What it shows.
    pub name: &'static str,
    /// Changes to the sample form.
    pub edit: fn(&mut Value),
    /// Documents to add beyond the sample's.
    pub extra_documents: &'static [&'static str],
    /// Sample documents withheld at submission (pre-review asks for them).
    pub withheld: &'static [&'static str],
    /// Agency scripts per stage.
    pub scripts: &'static [(Stage, &'static [Scripted])],
    /// Electronic licences instead of the identity-card and marriage scans.
    pub licences: Licences,
    /// Take up the follow-up services offered when the flow ends.
    pub accept_offers: bool,
}

/// Which electronic licences a scenario gives, and what the (simulated) directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Licences {
    /// Scans only.
    None,
    /// All three licences, each in the directory; the father authorised his to the mother.
    OnFile,
    /// All three referenced, but the mother's identity card is missing from the directory: she
    /// files a missing-licence registration and uploads a photo once it is approved.
    MotherMissing,
}

/// The sample family's licences as the form references them (the numbers are the simulated
/// directory's).
pub fn licence_refs() -> Value {
    newborn_agency_sim::sample_licences()
}

/// The materials the licences stand for.
const LICENCE_KINDS: [&str; 3] = ["mother_id_card", "father_id_card", "marriage_certificate"];

fn set(v: &mut Value, path: &[&str], new: Value) {
    let mut cur = v;
    for (i, key) in path.iter().enumerate() {
        if i + 1 == path.len() {
            cur[*key] = new;
            return;
        }
        cur = &mut cur[*key];
    }
}

/// The scenarios, cycled through for the requested count.
pub fn scenarios() -> Vec<Scenario> {
    use Scripted::*;
    vec![
        Scenario {
            name: "情形一 全流程，母亲申请 / case 1, full flow, mother applies",
            edit: |_| {},
            extra_documents: &[],
            withheld: &[],
            scripts: &[],
            licences: Licences::None,
            accept_offers: false,
        },
        Scenario {
            name: "情形二 已有出生医学证明 / case 2, holds the birth certificate",
            edit: |v| {
                set(v, &["case"], json!("has_birth_certificate"));
                set(
                    v,
                    &["services"],
                    json!([
                        "household_registration",
                        "maternity_benefit",
                        "medical_insurance_enrolment",
                        "social_security_card"
                    ]),
                );
                set(
                    v,
                    &["existing"],
                    json!({"birth_certificate_number": "Q350012345", "full_certificate_held": true}),
                );
            },
            extra_documents: &["birth_certificate"],
            withheld: &[],
            scripts: &[],
            licences: Licences::None,
            accept_offers: false,
        },
        Scenario {
            name: "情形三 已有户口簿 / case 3, holds the household booklet",
            edit: |v| {
                set(v, &["case"], json!("has_household_booklet"));
                set(
                    v,
                    &["services"],
                    json!([
                        "maternity_benefit",
                        "medical_insurance_enrolment",
                        "social_security_card"
                    ]),
                );
                set(
                    v,
                    &["existing"],
                    json!({"newborn_id_number": "__NEWBORN_ID__"}),
                );
            },
            extra_documents: &["household_booklet_newborn"],
            withheld: &[],
            scripts: &[],
            licences: Licences::None,
            accept_offers: false,
        },
        Scenario {
            name: "只办出生医学证明 / certificates only: the flow ends after the hospital",
            edit: |v| {
                set(
                    v,
                    &["services"],
                    json!([
                        "birth_certificate",
                        "vaccination_certificate",
                        "parenting_guidance"
                    ]),
                )
            },
            extra_documents: &[],
            withheld: &[],
            scripts: &[],
            licences: Licences::None,
            accept_offers: false,
        },
        Scenario {
            name: "预审补件 / pre-review asks for a missing scan",
            edit: |_| {},
            extra_documents: &[],
            withheld: &["household_booklet_head"],
            scripts: &[],
            licences: Licences::None,
            accept_offers: false,
        },
        Scenario {
            name: "派出所补件 / the police ask for a supplement",
            edit: |_| {},
            extra_documents: &[],
            withheld: &[],
            scripts: &[(Stage::Police, &[Supplement, Approve])],
            licences: Licences::None,
            accept_offers: false,
        },
        Scenario {
            name: "父亲申请（母亲授权） / the father applies with the authorisation letter",
            edit: |v| {
                set(v, &["applicant"], json!("father"));
                set(
                    v,
                    &["authorisation"],
                    json!({"valid_from": "__TODAY__", "valid_until": "__IN_90_DAYS__"}),
                );
                set(v, &["card"], Value::Null);
            },
            extra_documents: &["authorisation_letter"],
            withheld: &[],
            scripts: &[],
            licences: Licences::None,
            accept_offers: false,
        },
        Scenario {
            name: "医保转线下 / medical insurance ends online handling",
            edit: |_| {},
            extra_documents: &[],
            withheld: &[],
            scripts: &[(Stage::Insurance, &[Offline])],
            licences: Licences::None,
            accept_offers: false,
        },
        Scenario {
            name: "电子证照（父亲已授权） / electronic licences instead of scans, the father's authorised",
            edit: |_| {},
            extra_documents: &[],
            withheld: &[],
            scripts: &[],
            licences: Licences::OnFile,
            accept_offers: false,
        },
        Scenario {
            name: "授权缺失登记 / the mother's licence is missing: registration, approval, photo",
            edit: |_| {},
            extra_documents: &[],
            withheld: &[],
            scripts: &[],
            licences: Licences::MotherMissing,
            accept_offers: false,
        },
        Scenario {
            name: "主动服务 / enrolment and card declined, then taken up from the offers",
            edit: |v| {
                set(
                    v,
                    &["services"],
                    json!([
                        "birth_certificate",
                        "vaccination_certificate",
                        "parenting_guidance",
                        "household_registration"
                    ]),
                );
                for section in ["insurance", "maternity", "card"] {
                    set(v, &[section], Value::Null);
                }
                set(v, &["delivery", "social_security_card"], Value::Null);
            },
            extra_documents: &[],
            withheld: &[],
            scripts: &[],
            licences: Licences::None,
            accept_offers: true,
        },
    ]
}

/// An HTTP client of the service acting as applicants: what the provincial app would do.
pub struct ApplicantClient {
    http: reqwest::Client,
    api: String,
    issuer: newborn_http::DevIssuer,
}

impl ApplicantClient {
    /// A client of the API at `api`, signing in with tokens of the development issuer.
    pub fn new(api: &str, issuer: newborn_http::DevIssuer) -> Result<Self> {
        Ok(Self {
            http: newborn_http::client_builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            api: api.trim_end_matches('/').to_owned(),
            issuer,
        })
    }

    /// A fresh one-hour applicant token for `owner`.
    pub fn token(&self, owner: &str) -> String {
        self.issuer
            .mint(
                owner,
                newborn_http::Role::Applicant,
                TimeDelta::hours(1),
                Utc::now(),
            )
            .unwrap_or_default()
    }

    /// Sends a request; the JSON body of a success, the problem's detail as the error otherwise.
    pub async fn json(&self, req: reqwest::RequestBuilder) -> Result<Value> {
        let res = req.send().await?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!(
                "HTTP {status}: {}",
                body.get("detail")
                    .and_then(Value::as_str)
                    .unwrap_or(&body.to_string())
            );
        }
        Ok(body)
    }

    /// A GET as `owner`.
    pub fn get(&self, owner: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.api))
            .bearer_auth(self.token(owner))
    }

    /// A POST as `owner`.
    pub fn post(&self, owner: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.api))
            .bearer_auth(self.token(owner))
    }

    /// The service's health answer (with its current time).
    pub async fn health(&self) -> Result<Value> {
        self.json(self.http.get(format!("{}/health", self.api)))
            .await
            .with_context(|| format!("no service at {}; start it with `newborn serve`", self.api))
    }

    /// Uploads a small real PNG standing for the scan of `kind`; returns the document reference.
    pub async fn upload(&self, owner: &str, kind: &str) -> Result<Value> {
        let png = newborn_service::scans::sample_png(&format!("demo scan of {kind} for {owner}"));
        self.upload_bytes(owner, kind, "image/png", png).await
    }

    /// Uploads a new scan of `kind` (a fresh photo, not the one an agency rejected), as a parent
    /// answering a supplement does.
    pub async fn upload_again(&self, owner: &str, kind: &str) -> Result<Value> {
        let taken = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let png = newborn_service::scans::sample_png(&format!(
            "demo scan of {kind} for {owner}, taken again at {taken}"
        ));
        self.upload_bytes(owner, kind, "image/png", png).await
    }

    /// Opens an upload slot declaring the bytes' SHA-256 (as the app does, so that on S3 they
    /// land at their content address) and PUTs `bytes` to its signed URL; returns the document
    /// reference.
    pub async fn upload_bytes(
        &self,
        owner: &str,
        kind: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<Value> {
        use sha2::Digest as _;
        let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
        let slot = self
            .json(self.post(owner, "/uploads").json(&json!({
                "kind": kind, "content_type": content_type, "size": bytes.len(), "sha256": sha256
            })))
            .await?;
        let url = slot["upload_url"].as_str().context("no upload URL")?;
        // Send exactly the headers of the ticket (on S3 they are signed into the URL).
        let mut put = self.http.put(url).body(bytes);
        for (name, value) in slot["headers"].as_object().into_iter().flatten() {
            put = put.header(name.as_str(), value.as_str().unwrap_or_default());
        }
        let res = put.send().await?;
        anyhow::ensure!(
            res.status().is_success(),
            "upload of {kind}: HTTP {}",
            res.status()
        );
        // Completing is what verifies an upload sent to object storage; here it is a no-op.
        let complete = slot["complete_url"].as_str().context("no complete URL")?;
        let done = self.json(self.post(owner, complete)).await?;
        Ok(json!({"kind": kind, "sha256": done["sha256"]}))
    }

    /// Asks for an upload slot (the signed URL to PUT one scan to).
    pub async fn open_upload(
        &self,
        owner: &str,
        kind: &str,
        content_type: &str,
        size: u64,
    ) -> Result<Value> {
        self.json(
            self.post(owner, "/uploads")
                .json(&json!({"kind": kind, "content_type": content_type, "size": size})),
        )
        .await
    }

    /// Submits a form; returns the application id.
    pub async fn submit(&self, owner: &str, form: &Value) -> Result<String> {
        let created = self
            .json(self.post(owner, "/applications").json(form))
            .await?;
        Ok(created["id"]
            .as_str()
            .context("no id in the answer")?
            .to_owned())
    }

    /// The application as its owner sees it.
    pub async fn view(&self, owner: &str, id: &str) -> Result<Value> {
        self.json(self.get(owner, &format!("/applications/{id}")))
            .await
    }

    /// Does what the application waits for from its applicant, if anything: confirms the
    /// generated forms, chooses the partner bank, or uploads the requested scans (and corrects
    /// a known field) and answers the supplement. Returns the view it acted on.
    pub async fn act(&self, owner: &str, id: &str) -> Result<Value> {
        let view = self.view(owner, id).await?;
        self.act_on(owner, id, view).await
    }

    /// Does what `view` (just read) shows the application waiting for from its applicant, if
    /// anything; returns `view`. Acting on the view a caller has already checked keeps the
    /// caller's decision and the action about the same state.
    pub async fn act_on(&self, owner: &str, id: &str, view: Value) -> Result<Value> {
        let waiting = view["stages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["status"]["status"] == "awaiting_applicant")
            .cloned();
        let Some(s) = waiting else { return Ok(view) };
        match s["status"]["wait"].as_str().unwrap_or_default() {
            "confirm_forms" => {
                self.json(self.post(owner, &format!("/applications/{id}/confirmation")))
                    .await?;
            }
            "partner_bank" => {
                self.json(
                    self.post(owner, &format!("/applications/{id}/partner-bank"))
                        .json(&json!({"partner_bank": "中国建设银行"})),
                )
                .await?;
            }
            "supplement" => {
                let mut documents = vec![];
                let mut patch = json!({});
                // A refused licence: file a missing-licence registration, and once it is approved
                // upload a photo instead (闽卫政法〔2024〕40号 附件2 一(一)).
                let licences: Vec<&str> = s["status"]["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|i| i["type"] == "licence")
                    .filter_map(|i| i["kind"].as_str())
                    .collect();
                let approved = |kind: &str| {
                    view["registrations"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|r| {
                            r["status"] == "approved"
                                && r["kinds"]
                                    .as_array()
                                    .into_iter()
                                    .flatten()
                                    .any(|k| k == kind)
                        })
                };
                if licences.iter().any(|k| !approved(k)) {
                    let reviewing = view["registrations"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|r| r["status"] == "under_review");
                    if !reviewing {
                        self.json(
                            self.post(owner, &format!("/applications/{id}/licence-registrations"))
                                .json(&json!({"kinds": licences, "reason": "missing"})),
                        )
                        .await?;
                    }
                    return Ok(view);
                }
                for kind in licences {
                    documents.push(self.upload(owner, kind).await?);
                }
                for item in s["status"]["items"].as_array().into_iter().flatten() {
                    match item["type"].as_str() {
                        Some("document") => documents.push(
                            self.upload_again(owner, item["kind"].as_str().unwrap_or_default())
                                .await?,
                        ),
                        Some("field") if item["field"] == "insurance.community" => {
                            patch = json!({"insurance": {"community": "东街社区居委会"}})
                        }
                        _ => {}
                    }
                }
                self.json(
                    self.post(owner, &format!("/applications/{id}/supplement"))
                        .json(&json!({"documents": documents, "form_patch": patch})),
                )
                .await?;
            }
            _ => {}
        }
        Ok(view)
    }

    /// The form of scenario `sc` for `owner`, for a baby born at `birth` and dated `today`,
    /// with every scan it references uploaded (nothing is submitted yet).
    pub async fn prepare(
        &self,
        sc: &Scenario,
        owner: &str,
        birth: DateTime<Utc>,
        today: NaiveDate,
    ) -> Result<Value> {
        let mut form: Value = serde_json::from_str(SAMPLE)?;
        set(
            &mut form,
            &["newborn", "birth_time"],
            json!(birth.with_timezone(&CHINA).to_rfc3339()),
        );
        (sc.edit)(&mut form);
        let text = form
            .to_string()
            .replace("__NEWBORN_ID__", &newborn_id(birth))
            .replace("__TODAY__", &today.to_string())
            .replace(
                "__IN_90_DAYS__",
                &(today + chrono::Days::new(90)).to_string(),
            );
        form = serde_json::from_str(&text)?;
        let licensed: &[&str] = if sc.licences == Licences::None {
            &[]
        } else {
            form["licences"] = licence_refs();
            if sc.licences == Licences::MotherMissing {
                // A number the directory has never issued: her licence is not found.
                form["licences"][0]["number"] = json!("350102-ID-0404");
            }
            &LICENCE_KINDS
        };
        let mut docs = vec![];
        for kind in SAMPLE_DOCUMENTS
            .iter()
            .filter(|k| !sc.withheld.contains(k) && !licensed.contains(k))
            .chain(sc.extra_documents)
        {
            docs.push(self.upload(owner, kind).await?);
        }
        form["documents"] = Value::Array(docs);
        Ok(form)
    }

    /// Puts the scenario's licences into the simulated directory (and the father's authorisation
    /// of his card to the mother, as he would give it in the app).
    pub async fn seed_licences(&self, sim: &str, licences: Licences) -> Result<()> {
        if licences == Licences::None {
            return Ok(());
        }
        for r in licence_refs().as_array().into_iter().flatten() {
            let mut record = r.clone();
            record["valid_until"] = json!("2035-01-01");
            self.json(self.http.post(format!("{sim}/licences")).json(&record))
                .await?;
        }
        self.json(
            self.http
                .post(format!("{sim}/licences/authorisations"))
                .json(&json!({
                    "kind": "father_id_card", "number": "350203-ID-0002",
                    "grantee_id_number": "35010219940315002X", "valid_until": "2099-12-31",
                })),
        )
        .await?;
        Ok(())
    }

    /// Submits a prepared form of scenario `sc` and registers the scenario's agency scripts
    /// with the simulator; returns the application id.
    pub async fn submit_scenario(
        &self,
        simulator_url: Option<&str>,
        sc: &Scenario,
        owner: &str,
        form: &Value,
    ) -> Result<String> {
        if let Some(sim) = simulator_url {
            self.seed_licences(sim, sc.licences).await?;
        }
        let id = self
            .submit(owner, form)
            .await
            .with_context(|| format!("submitting \"{}\"", sc.name))?;
        if let Some(sim) = simulator_url {
            for (stage, outcomes) in sc.scripts {
                self.json(
                    self.http
                        .post(format!("{sim}/scripts"))
                        .json(&json!({"application_id": id, "stage": stage, "outcomes": outcomes})),
                )
                .await?;
            }
        }
        Ok(id)
    }

    /// Rates every stage its agency finished (好差评), once each.
    pub async fn rate_finished(
        &self,
        owner: &str,
        id: &str,
        view: &Value,
        level: &str,
    ) -> Result<usize> {
        let mut n = 0;
        for s in view["stages"].as_array().into_iter().flatten() {
            let done = s["status"]["status"] == "completed"
                || (s["status"]["status"] == "terminated" && s["status"]["by"] == "agency");
            if done && s["stage"] != "pre_review" {
                self.json(
                    self.post(owner, &format!("/applications/{id}/ratings"))
                        .json(&json!({"stage": s["stage"], "level": level})),
                )
                .await?;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// A valid newborn identity number for the sample's birth date (case 3 already holds one).
fn newborn_id(birth: DateTime<Utc>) -> String {
    let first = format!("350102{}003", birth.with_timezone(&CHINA).format("%Y%m%d"));
    let mut digits = [0u8; 17];
    digits.copy_from_slice(first.as_bytes());
    format!(
        "{first}{}",
        newborn_domain::ids::IdNumber::check_char(&digits)
    )
}

struct Tracked {
    owner: String,
    id: String,
    scenario: &'static str,
    accept_offers: bool,
    rated: bool,
    outcome: String,
}

/// Where to find the service.
pub struct DemoConfig {
    /// API base URL.
    pub api_url: String,
    /// Simulator base URL (for scripts).
    pub simulator_url: Option<String>,
    /// How many applications.
    pub count: usize,
    /// Give up after this long.
    pub timeout: Duration,
    /// The service's development identity provider.
    pub issuer: newborn_http::DevIssuer,
}

/// Runs the demo; returns the outcome counts.
pub async fn run(
    cfg: DemoConfig,
    out: &mut impl std::io::Write,
) -> Result<BTreeMap<String, usize>> {
    let client = ApplicantClient::new(&cfg.api_url, cfg.issuer.clone())?;
    let health = client.health().await?;
    let now: DateTime<Utc> = serde_json::from_value(health["now"].clone())
        .context("the service did not say its time")?;
    let birth = now - TimeDelta::days(5);
    let today = now.with_timezone(&CHINA).date_naive();
    let run_id = format!("{:06x}", rand::random::<u32>() & 0xFF_FFFF);
    let all = scenarios();
    let bar = ProgressBar::new(cfg.count as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} applications finished  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );

    let mut tracked = vec![];
    for i in 0..cfg.count {
        let sc = &all[i % all.len()];
        let owner = format!("demo-{run_id}-{i}");
        let form = client.prepare(sc, &owner, birth, today).await?;
        let id = client
            .submit_scenario(cfg.simulator_url.as_deref(), sc, &owner, &form)
            .await?;
        tracked.push(Tracked {
            owner,
            id,
            scenario: sc.name,
            accept_offers: sc.accept_offers,
            rated: false,
            outcome: String::new(),
        });
    }

    let started = Instant::now();
    while tracked.iter().any(|t| !t.rated) {
        if started.elapsed() > cfg.timeout {
            bar.abandon_with_message("timed out");
            bail!(
                "{} application(s) did not finish within {} s",
                tracked.iter().filter(|t| !t.rated).count(),
                cfg.timeout.as_secs()
            );
        }
        for t in tracked.iter_mut().filter(|t| !t.rated) {
            let view = client.act(&t.owner, &t.id).await?;
            let outcome = view["outcome"].as_str().unwrap_or_default().to_owned();
            let open_offer = view["offers"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|o| o["accepted_at"].is_null())
                .and_then(|o| o["stage"].as_str());
            if let (true, "completed", Some(stage)) =
                (t.accept_offers, outcome.as_str(), open_offer)
            {
                client
                    .json(client.post(
                        &t.owner,
                        &format!("/applications/{}/offers/{stage}/accept", t.id),
                    ))
                    .await?;
                continue;
            }
            if outcome != "in_progress" {
                client
                    .rate_finished(&t.owner, &t.id, &view, "satisfied")
                    .await?;
                t.rated = true;
                t.outcome = outcome;
                bar.inc(1);
            }
        }
        bar.set_message(format!("{:.0} s", started.elapsed().as_secs_f64()));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bar.finish_with_message("done");

    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut durations: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for t in &tracked {
        *outcomes.entry(t.outcome.clone()).or_default() += 1;
        let timeline = client
            .json(client.get(&t.owner, &format!("/applications/{}/timeline", t.id)))
            .await?;
        writeln!(out, "\n{}  {}  → {}", t.id, t.scenario, t.outcome)?;
        let mut started_at: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
        for e in timeline.as_array().into_iter().flatten() {
            let at: DateTime<Utc> = serde_json::from_value(e["at"].clone()).unwrap_or(now);
            let stage = e["stage"].as_str().unwrap_or_default().to_owned();
            let actor = match e["actor"]["kind"].as_str() {
                Some("agency") => e["actor"]["agency"].as_str().unwrap_or("agency").to_owned(),
                Some(k) => k.to_owned(),
                None => String::new(),
            };
            writeln!(
                out,
                "  {}  {:<21} {:<19} → {:<19} {:<29} by {}",
                at.with_timezone(&CHINA).format("%m-%d %H:%M:%S"),
                stage,
                e["from"].as_str().unwrap_or(""),
                e["to"].as_str().unwrap_or(""),
                e["event"].as_str().unwrap_or(""),
                actor
            )?;
            if e["event"] == "dispatch" {
                started_at.entry(stage.clone()).or_insert(at);
            }
            if e["event"] == "complete"
                && let Some(s) = started_at.get(&stage)
            {
                durations
                    .entry(stage)
                    .or_default()
                    .push((at - *s).num_milliseconds());
            }
        }
    }
    writeln!(out, "\nSummary of {} applications", tracked.len())?;
    for (o, n) in &outcomes {
        writeln!(out, "  {o:<12} {n}")?;
    }
    writeln!(
        out,
        "  stage time from dispatch to completion (service time):"
    )?;
    for (stage, d) in &durations {
        let avg = d.iter().sum::<i64>() as f64 / d.len().max(1) as f64 / 1000.0;
        let max = d.iter().max().copied().unwrap_or(0) as f64 / 1000.0;
        writeln!(
            out,
            "    {stage:<21} n={:<3} mean {avg:>7.1} s  max {max:>7.1} s",
            d.len()
        )?;
    }
    Ok(outcomes)
}
