//! The applicant desk: what a parent (or counter staff on her behalf, 一窗受理) does — submit,
//! read, answer a supplement, confirm the generated forms, choose the card's bank, go offline,
//! withdraw, rate, register a missing licence, accept an offer. Served by the `api` function
//! and the local server; it holds the store, the upload register (a form may name only the
//! applicant's own verified scans) and the licence directory (a supplement's licences are
//! looked up before it is accepted).

use crate::attestation::ResultKey;
use crate::core::{Core, applicant, deliveries, marker, markers};
use crate::error::ServiceError;
use crate::licences::Licences;
use crate::metric::{Dim, Metric};
use crate::notices;
use crate::ports::{
    Actor, IdempotencyClaim, IdempotentResponse, Notification, StoreError, Stored, TimelineEntry,
    UploadStore,
};
use crate::view::ApplicationView;
use chrono::{DateTime, Utc};
use newborn_domain::application::{DocumentKind, DocumentRef, FieldIssue, Text, parse_form};
use newborn_domain::calendar::CHINA;
use newborn_domain::flow::{
    Application, ApplicationId, Applied, Effect, RatingLevel, TimelineEvent,
};
use newborn_domain::ids::IdNumber;
use newborn_domain::kinds::RatingSubject;
use newborn_domain::licence::{LicenceCheck, LicenceProblem, RegistrationReason};
use newborn_domain::result_notice::ResultNotice;
use newborn_domain::stage::{ApplicantWait, Stage, StageEvent, StageStatus, SupplementItem};
use newborn_domain::supplement::{Additions, SupplementAnswer};
use newborn_domain::text::{Bilingual, Invalid};
use std::sync::Arc;

/// Who submits a form and how: the owner, the actor, the bytes signed, the face check and the
/// request's `Idempotency-Key` claim.
struct Signed<'a> {
    owner: &'a str,
    actor: Actor,
    body: &'a [u8],
    face_verified_at: Option<DateTime<Utc>>,
    claim: Option<IdempotencyClaim>,
}

/// The caller's real-name identity number, which drafts are kept under.
fn real_name_of(real_name: Option<&IdNumber>) -> Result<&IdNumber, ServiceError> {
    real_name.ok_or_else(|| {
        ServiceError::Forbidden(Invalid::new(
            "real_name_required",
            "查看和确认预填申请需使用实名认证的账号登录",
            "drafts are shown only to an account signed in with a verified real name",
        ))
    })
}

/// The applicant's use cases.
#[derive(Clone)]
pub struct ApplicantDesk {
    core: Core,
    uploads: Arc<dyn UploadStore>,
    licences: Licences,
    results: Option<ResultKey>,
    drafts: Option<crate::drafts::Drafts>,
}

/// A draft as its mother sees it: what the hospital recorded, and the licences on file that
/// will stand for her materials unless she gives a scan instead.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DraftView {
    /// The draft.
    #[serde(flatten)]
    pub draft: newborn_domain::draft::Draft,
    /// The licences found for her (hers, and those authorised to her).
    pub licences_on_file: Vec<newborn_domain::licence::LicenceRef>,
}

/// A finished application's signed result (办件结果通知).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SignedResult {
    /// The compact JWS anyone can check against the platform's published key.
    pub token: String,
    /// What it says.
    pub result: ResultNotice,
    /// The key that signed it.
    pub key_id: String,
}

impl ApplicantDesk {
    /// The desk over the core, the upload register and the licence directory.
    pub fn new(core: Core, uploads: Arc<dyn UploadStore>, licences: Licences) -> Self {
        Self {
            core,
            uploads,
            licences,
            results: None,
            drafts: None,
        }
    }

    /// The desk offering the mother the drafts made from hospitals' birth records.
    pub fn with_drafts(mut self, drafts: crate::drafts::Drafts) -> Self {
        self.drafts = Some(drafts);
        self
    }

    /// The desk signing finished applications' results with `key` (without one, asking for a
    /// result is answered as unavailable).
    pub fn with_results(mut self, key: Option<ResultKey>) -> Self {
        self.results = key;
        self
    }

    /// The public half of the result key, as a JWK set, where the desk has one.
    pub fn published_keys(&self) -> Option<jsonwebtoken::jwk::JwkSet> {
        self.results.as_ref().map(ResultKey::jwks)
    }

    /// The signed result of an application of `owner` that has ended with something done.
    pub async fn result(
        &self,
        owner: &str,
        id: &ApplicationId,
    ) -> Result<SignedResult, ServiceError> {
        let s = self.get(owner, id).await?;
        let result = ResultNotice::of(&s.application).ok_or_else(|| {
            ServiceError::conflict(
                "no_result_yet",
                "申请尚未办结（或未办成任何事项），暂无办件结果通知",
                "the application has not ended, or ended with nothing done: there is no result to sign yet",
            )
        })?;
        let key = self.results.as_ref().ok_or_else(|| {
            ServiceError::Transient("this installation has no result key in its key file".into())
        })?;
        Ok(SignedResult {
            token: key.sign(&result).map_err(ServiceError::Transient)?,
            key_id: key.key_id().to_owned(),
            result,
        })
    }

    /// The core (time, rules) this desk runs on.
    pub fn core(&self) -> &Core {
        &self.core
    }

    /// An application may reference only verified uploads of its own applicant, of the right kind:
    /// each of `docs` is checked and refused under the field it was given in.
    async fn require_documents(
        &self,
        owner: &str,
        docs: &[(String, DocumentRef)],
    ) -> Result<(), ServiceError> {
        let mut issues = vec![];
        for (field, d) in docs {
            if !self.uploads.verified(owner, d.kind, &d.sha256).await? {
                issues.push(FieldIssue {
                    field: field.clone(),
                    error: Invalid::new(
                        "unknown_document",
                        "未找到该材料，请先上传",
                        "no such uploaded document; upload it first",
                    ),
                });
            }
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::BadInput(issues))
        }
    }

    fn new_id(&self, now: DateTime<Utc>) -> ApplicationId {
        let date = now.with_timezone(&CHINA).format("%Y%m%d");
        let random: u64 = rand::random::<u64>() & 0xFF_FFFF_FFFF;
        format!("NB{date}{random:010X}")
            .parse()
            .unwrap_or_else(|_| unreachable!("generated ids are well formed"))
    }

    /// 申请: validates the form, creates the application and queues its pre-review.
    /// With `claim`, the request's `Idempotency-Key` record and its response (the `201` view) are
    /// written in the same transaction as the application.
    pub async fn submit(
        &self,
        owner: &str,
        actor: Actor,
        body: &[u8],
        policy_id: Option<&str>,
        face_verified_at: Option<DateTime<Utc>>,
        claim: Option<IdempotencyClaim>,
    ) -> Result<Stored, ServiceError> {
        let form = parse_form(body).map_err(|issue| ServiceError::BadInput(vec![issue]))?;
        let id = self.new_id(self.core.now());
        let signed = Signed {
            owner,
            actor,
            body,
            face_verified_at,
            claim,
        };
        self.submit_form(signed, form, policy_id, id).await
    }

    /// Creates application `id` from `form`, which the applicant signed as `signed.body`: the
    /// one path every application takes (typed, or confirmed from a draft).
    async fn submit_form(
        &self,
        signed: Signed<'_>,
        form: newborn_domain::application::ApplicationForm,
        policy_id: Option<&str>,
        id: ApplicationId,
    ) -> Result<Stored, ServiceError> {
        let Signed {
            owner,
            actor,
            body,
            face_verified_at,
            claim,
        } = signed;
        let docs: Vec<_> = form
            .documents
            .iter()
            .enumerate()
            .map(|(i, d)| (format!("documents[{i}]"), d.clone()))
            .collect();
        self.require_documents(owner, &docs).await?;
        let policy = self.policy_for(&form, policy_id)?;
        // 一窗受理 (counter staff submitting for the family) only where the policy offers it
        // (永福县 附件2 五(一)2); elsewhere the family applies online itself.
        if matches!(actor, Actor::CounterStaff { .. })
            && !policy.eligibility.applicant.counter_intake
        {
            return Err(ServiceError::Forbidden(Invalid::new(
                "counter_intake_not_offered",
                format!(
                    "{}不提供窗口代办（一窗受理），请由新生儿父母在网上办事大厅或闽政通APP自行申请",
                    policy.name.zh
                ),
                format!(
                    "{} offers no counter intake: the parents apply online themselves",
                    policy.name.en
                ),
            )));
        }
        self.claim_once_per_delivery(owner, &form).await?;
        let now = self.core.now();
        let (mut app, applied) = Application::submit(id, form, policy, now)?;
        // The applicant's electronic signature of the form as submitted, with the pledge
        // (闽卫政法〔2024〕40号 附件1 三(一)2 "含有电子签名的申请表"; 附件2 一(八)).
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body))
            .parse()
            .map_err(|_| ServiceError::Transient("form digest".into()))?;
        let signed_by = match &actor {
            Actor::CounterStaff { subject } => format!("counter_staff:{subject}"),
            _ => format!("applicant:{owner}"),
        };
        app.declare(digest, &signed_by, face_verified_at, now);
        let mut write = self.core.write_for(&app, owner, &actor, &applied, now);
        let forecast = self.core.forecast(&app).await;
        let mut submitted = notices::submitted(now);
        if let Some(f) = &forecast {
            submitted.message = submitted.message.then(&f.message);
        }
        write.notifications.insert(0, submitted);
        write.deliveries = deliveries(&app, owner, &write.notifications, now);
        if let Some(claim) = claim {
            let view = ApplicationView::of(&app, 1, self.core.calendar_of(&app), now)
                .with_forecast(forecast);
            write.response = Some(IdempotentResponse {
                claim,
                status: 201,
                body: serde_json::to_vec(&view)
                    .map_err(|e| ServiceError::Transient(e.to_string()))?,
            });
        }
        self.core.store.insert(&write).await.map_err(|e| match e {
            StoreError::Conflict => {
                ServiceError::Transient("application id collision; retry".into())
            }
            other => other.into(),
        })?;
        self.core.count(
            Metric::ApplicationsSubmitted,
            &[(Dim::Region, &policy.id)],
            1.0,
        );
        Ok(Stored {
            application: app,
            owner: owner.to_owned(),
            version: 1,
            accepted: vec![],
        })
    }

    /// The drafts waiting for the mother whose real-name identity number is `real_name`.
    pub async fn drafts(
        &self,
        real_name: Option<&IdNumber>,
    ) -> Result<Vec<DraftView>, ServiceError> {
        let (drafts, mother) = (self.draft_store()?, real_name_of(real_name)?);
        let now = self.core.now();
        // One past its window but not yet swept is already gone for her.
        let mut waiting = drafts.store.of_mother(mother).await?;
        waiting.retain(|d| !d.expired(now));
        if waiting.is_empty() {
            return Ok(vec![]);
        }
        // Her licences, asked once for all her drafts.
        let records = self.held_by(mother).await?;
        Ok(waiting
            .into_iter()
            .map(|d| DraftView {
                licences_on_file: self.on_file(&d, &records),
                draft: d,
            })
            .collect())
    }

    /// One of the mother's drafts; another's is not found.
    pub async fn draft(
        &self,
        real_name: Option<&IdNumber>,
        id: &ApplicationId,
    ) -> Result<DraftView, ServiceError> {
        let d = self.own_draft(real_name, id).await?;
        let records = self.held_by(&d.mother.id_number).await?;
        Ok(DraftView {
            licences_on_file: self.on_file(&d, &records),
            draft: d,
        })
    }

    /// The mother confirms a draft with her answer (`body`, a [`DraftAnswer`]): the form is the
    /// hospital's record completed by the answer and the licences on file, signed by her, and
    /// takes the path of every application. The draft is deleted once the application exists;
    /// confirming again answers the application.
    ///
    /// [`DraftAnswer`]: newborn_domain::draft::DraftAnswer
    pub async fn confirm_draft(
        &self,
        owner: &str,
        real_name: Option<&IdNumber>,
        id: &ApplicationId,
        body: &[u8],
        face_verified_at: Option<DateTime<Utc>>,
        claim: Option<IdempotencyClaim>,
    ) -> Result<Stored, ServiceError> {
        let drafts = self.draft_store()?;
        let mother = real_name_of(real_name)?;
        let Some(d) = drafts.store.get(id).await? else {
            // Confirmed before (the draft went with it): the application answers.
            return self.get(owner, id).await;
        };
        if let Some(done) = self.settled(drafts, owner, mother, &d).await? {
            return Ok(done);
        }
        let form = self.completed_form(&d, body).await?;
        // She signs the whole form as built: the hospital's record with her answer.
        let signed_form =
            serde_json::to_vec(&form).map_err(|e| ServiceError::Transient(e.to_string()))?;
        let signed = Signed {
            owner,
            actor: applicant(owner),
            body: &signed_form,
            face_verified_at,
            claim,
        };
        let stored = self.submit_form(signed, form, None, d.id.clone()).await?;
        drafts.store.delete(id).await?;
        self.core.count(
            Metric::DraftsConfirmed,
            &[(Dim::Region, &stored.application.policy.id)],
            1.0,
        );
        Ok(stored)
    }

    /// Whether draft `d` can still be confirmed by `owner`, the mother `mother`: `Some` with the
    /// application it already became (a crash after that write; the draft is deleted now), an
    /// error when it is not hers, past its window (deleted now) or its child was already applied
    /// for with the full form, `None` when it waits for her.
    async fn settled(
        &self,
        drafts: &crate::drafts::Drafts,
        owner: &str,
        mother: &IdNumber,
        d: &newborn_domain::draft::Draft,
    ) -> Result<Option<Stored>, ServiceError> {
        if !d.belongs_to(mother) {
            return Err(ServiceError::NotFound);
        }
        if d.expired(self.core.now()) {
            drafts.store.delete(&d.id).await?;
            return Err(ServiceError::conflict(
                "draft_expired",
                "预填申请已过确认期限，预填信息已删除；请通过“出生一件事”普通申请办理",
                "the draft passed its confirmation window and was deleted: apply with the full form",
            ));
        }
        if let Some(existing) = self.core.store.get(&d.id).await? {
            drafts.store.delete(&d.id).await?;
            return if existing.owner == owner {
                Ok(Some(existing))
            } else {
                Err(ServiceError::NotFound)
            };
        }
        let earlier = self.core.store.list_by_owner(owner).await?;
        let twice = earlier.iter().find(|s| {
            let form = &s.application.form;
            form.same_delivery_as(&d.mother.id_number, &d.newborn)
                && form.newborn.name == d.newborn.name
                && s.application.outcome() != newborn_domain::flow::Outcome::Withdrawn
        });
        match twice {
            Some(earlier) => Err(ServiceError::conflict(
                "already_applied",
                format!(
                    "已为该新生儿提交过申请 {}，无需再确认预填申请",
                    earlier.application.id
                ),
                format!(
                    "application {} was already made for this child: the draft is not needed",
                    earlier.application.id
                ),
            )),
            None => Ok(None),
        }
    }

    /// The form of draft `d` completed by the mother's answer `body` and the licences on file.
    async fn completed_form(
        &self,
        d: &newborn_domain::draft::Draft,
        body: &[u8],
    ) -> Result<newborn_domain::application::ApplicationForm, ServiceError> {
        let answer = newborn_domain::draft::parse_answer(body)
            .map_err(|issue| ServiceError::BadInput(vec![issue]))?;
        let records = self.held_by(&d.mother.id_number).await?;
        d.form(answer, self.on_file(d, &records))
            .map_err(ServiceError::BadInput)
    }

    fn draft_store(&self) -> Result<&crate::drafts::Drafts, ServiceError> {
        self.drafts
            .as_ref()
            .ok_or_else(|| ServiceError::Transient("this installation keeps no drafts".into()))
    }

    async fn own_draft(
        &self,
        real_name: Option<&IdNumber>,
        id: &ApplicationId,
    ) -> Result<newborn_domain::draft::Draft, ServiceError> {
        let (drafts, mother) = (self.draft_store()?, real_name_of(real_name)?);
        match drafts.store.get(id).await? {
            Some(d) if d.belongs_to(mother) && !d.expired(self.core.now()) => Ok(d),
            _ => Err(ServiceError::NotFound),
        }
    }

    /// The directory's licences held by or authorised to `mother`.
    async fn held_by(
        &self,
        mother: &IdNumber,
    ) -> Result<Vec<newborn_domain::licence::LicenceRecord>, ServiceError> {
        self.licences
            .directory
            .held_by(mother)
            .await
            .map_err(|e| ServiceError::Transient(e.to_string()))
    }

    /// Those of `records` that can stand for draft `d`'s materials today.
    fn on_file(
        &self,
        d: &newborn_domain::draft::Draft,
        records: &[newborn_domain::licence::LicenceRecord],
    ) -> Vec<newborn_domain::licence::LicenceRef> {
        let today = self.core.now().with_timezone(&CHINA).date_naive();
        self.core
            .policies()
            .latest(&d.policy)
            .map(|policy| d.licences_on_file(records, policy, today))
            .unwrap_or_default()
    }

    /// The policy a new application runs under: the one governing a birth at the hospital's
    /// county on the birth date (docs/rules.md XM-VERSION, FZ21-ENDED), or the default where none
    /// does (its pre-review then says why the birth is outside online handling). A caller that
    /// names a policy must name that one: a superseded or another region's policy cannot start
    /// an application.
    fn policy_for(
        &self,
        form: &newborn_domain::application::ApplicationForm,
        asked: Option<&str>,
    ) -> Result<&newborn_domain::policy::Policy, ServiceError> {
        let policies = self.core.policies();
        if let Some(id) = asked
            && policies.latest(id).is_none()
        {
            return Err(ServiceError::bad(
                "policy",
                Invalid::new(
                    "unknown_policy",
                    format!("未知的地区政策“{id}”"),
                    format!("unknown policy \"{id}\""),
                ),
            ));
        }
        let governing = policies
            .for_birth(&form.newborn.birthplace, form.birth_date())
            .or_else(|| policies.latest(self.core.rules().default_policy()))
            .ok_or_else(|| ServiceError::Transient("no default policy".into()))?;
        match asked {
            Some(id) if id != governing.id => Err(ServiceError::bad(
                "policy",
                Invalid::new(
                    "policy_not_applicable",
                    format!(
                        "该出生地点和出生日期适用“{}”，不能按“{id}”申请",
                        governing.name.zh
                    ),
                    format!(
                        "a birth at this place and date is handled under \"{}\", not \"{id}\"",
                        governing.name.en
                    ),
                ),
            )),
            _ => Ok(governing),
        }
    }

    /// The maternity benefit is paid once per delivery (附件1 三(一)4: the insurance office
    /// judges the delivery's 胎儿数): a twin's application made after one that claims it for the
    /// same delivery may not claim it again. Twins' applications are otherwise independent, and
    /// each flow ends on its own (docs/rules.md FJ2-TWINS).
    async fn claim_once_per_delivery(
        &self,
        owner: &str,
        form: &newborn_domain::application::ApplicationForm,
    ) -> Result<(), ServiceError> {
        use newborn_domain::application::Service;
        if !form.services.contains(&Service::MaternityBenefit) {
            return Ok(());
        }
        let earlier = self.core.store.list_by_owner(owner).await?;
        let claimed = earlier.iter().find(|s| {
            let app = &s.application;
            app.form.same_delivery(form)
                && app.form.services.contains(&Service::MaternityBenefit)
                && app.outcome() != newborn_domain::flow::Outcome::Withdrawn
        });
        match claimed {
            Some(twin) => Err(ServiceError::bad(
                "services",
                Invalid::new(
                    "maternity_benefit_claimed",
                    format!(
                        "本次分娩的生育保险待遇已在申请 {} 中申领，每次分娩只能申领一次；请取消“生育保险待遇核准支付”后再提交",
                        twin.application.id
                    ),
                    format!(
                        "the maternity benefit of this delivery is claimed in application {}; it is paid once per delivery: leave it out",
                        twin.application.id
                    ),
                ),
            )),
            None => Ok(()),
        }
    }

    /// Reads an application for its owner.
    pub async fn get(&self, owner: &str, id: &ApplicationId) -> Result<Stored, ServiceError> {
        self.core.load(id, Some(owner)).await
    }

    /// The view of an application for its owner.
    pub async fn view(
        &self,
        owner: &str,
        id: &ApplicationId,
    ) -> Result<ApplicationView, ServiceError> {
        let s = self.get(owner, id).await?;
        Ok(self.core.view(&s).await)
    }

    /// An owner's applications.
    pub async fn list(&self, owner: &str) -> Result<Vec<ApplicationView>, ServiceError> {
        let mut views = vec![];
        for s in self.core.store.list_by_owner(owner).await? {
            views.push(self.core.view(&s).await);
        }
        Ok(views)
    }

    /// The timeline of an application for its owner.
    pub async fn timeline(
        &self,
        owner: &str,
        id: &ApplicationId,
    ) -> Result<Vec<TimelineEntry>, ServiceError> {
        let s = self.get(owner, id).await?;
        Ok(self.core.store.timeline(&s.application.id).await?)
    }

    /// The notifications of an application for its owner.
    pub async fn notifications(
        &self,
        owner: &str,
        id: &ApplicationId,
    ) -> Result<Vec<Notification>, ServiceError> {
        let s = self.get(owner, id).await?;
        Ok(self.core.store.notifications(&s.application.id).await?)
    }

    /// 授权缺失登记: the applicant registers licences as missing or wrong; the directory reviews
    /// the registration within the policy's working days. It is sent through the pre-review
    /// queue, so a crash between the write and the send loses nothing.
    pub async fn file_registration(
        &self,
        owner: &str,
        id: &ApplicationId,
        kinds: &[DocumentKind],
        reason: RegistrationReason,
    ) -> Result<Stored, ServiceError> {
        let actor = applicant(owner);
        let stored = self
            .core
            .mutate(id, Some(owner), &actor, |app, policy, now| {
                let r = app.file_registration(kinds, reason, policy, now)?;
                let days = policy
                    .licences
                    .as_ref()
                    .map(|l| l.registration_review_working_days)
                    .unwrap_or(1);
                let (number, kinds) = (r.number, r.kinds.clone());
                let round = app
                    .stage(Stage::PreReview)
                    .and_then(|s| s.status.round())
                    .unwrap_or(0);
                Ok(Some((
                    Applied {
                        transitions: vec![marker(
                            app,
                            Stage::PreReview,
                            TimelineEvent::LicenceRegistrationFiled,
                            now,
                        )],
                        effects: vec![Effect::Enqueue {
                            stage: Stage::PreReview,
                            round,
                        }],
                    },
                    vec![notices::registration_filed(now, number, &kinds, days)],
                )))
            })
            .await?
            .ok_or(ServiceError::NotFound)?;
        self.core.count(Metric::LicenceRegistrationFiled, &[], 1.0);
        Ok(stored)
    }

    /// Accepts the proactive offer of `stage`: the declined stage starts on the data on file.
    pub async fn accept_offer(
        &self,
        owner: &str,
        id: &ApplicationId,
        stage: Stage,
    ) -> Result<Stored, ServiceError> {
        let actor = applicant(owner);
        let stored = self
            .core
            .mutate(id, Some(owner), &actor, |app, policy, now| {
                Ok(Some((app.accept_offer(stage, policy, now)?, vec![])))
            })
            .await?
            .ok_or(ServiceError::NotFound)?;
        self.core.count(
            Metric::OfferAccepted,
            &[
                (Dim::Stage, stage.as_str()),
                (Dim::Region, &stored.application.policy.id),
            ],
            1.0,
        );
        Ok(stored)
    }

    fn waiting(app: &Application, pred: impl Fn(&ApplicantWait) -> bool) -> Option<Stage> {
        app.stages.iter().find_map(|s| match &s.status {
            StageStatus::AwaitingApplicant { wait, .. } if pred(wait) => Some(s.stage),
            _ => None,
        })
    }

    fn nothing_waiting(what_zh: &str, what_en: &str) -> ServiceError {
        ServiceError::conflict(
            "nothing_waiting",
            format!("当前没有等待您{what_zh}的事项"),
            format!("nothing is waiting for you to {what_en}"),
        )
    }

    /// 补件: the applicant supplies documents and/or corrects the form. The answer is checked as
    /// a whole before anything is written ([`Self::check_supplement`]), and the write itself
    /// accepts only the additions that were checked.
    pub async fn supplement(
        &self,
        owner: &str,
        id: &ApplicationId,
        answer: &SupplementAnswer,
    ) -> Result<Stored, ServiceError> {
        let stored = self.get(owner, id).await?;
        let checked = self
            .check_supplement(owner, &stored.application, answer)
            .await?;
        let actor = Actor::Applicant {
            subject: owner.to_owned(),
        };
        self.core
            .mutate(
                &stored.application.id,
                Some(owner),
                &actor,
                |app, policy, now| {
                    let (stage, request) = app
                        .supplement_request()
                        .ok_or_else(|| Self::nothing_waiting("补件", "supplement"))?;
                    let next = answer
                        .corrected(&app.form, request, policy, now)
                        .map_err(ServiceError::BadInput)?;
                    let added = Additions::between(&app.form, &next, answer);
                    if !checked.covers(&added) {
                        return Err(ServiceError::Transient(
                            "the application changed while the answer was checked; retry".into(),
                        ));
                    }
                    for (_, d) in &added.scans {
                        app.scan_allowed(d.kind, policy)
                            .map_err(ServiceError::Conflict)?;
                    }
                    app.form = next;
                    app.record_licence_checks(&checked.licences);
                    Ok(Some((
                        app.apply(stage, StageEvent::Supplied, policy, now)?,
                        vec![],
                    )))
                },
            )
            .await?
            .ok_or_else(|| Self::nothing_waiting("补件", "supplement"))
    }

    /// Checks a supplement answer as a whole, whichever part of it adds a material: every scan
    /// the corrected form gains (in `documents` or inside `form_patch`) must be a verified upload
    /// of this applicant and pass the missing-licence registration gate, and every licence it
    /// gains is looked up now (the parent learns at once if one is still wrong, and the agency
    /// receives it verified).
    async fn check_supplement(
        &self,
        owner: &str,
        app: &Application,
        answer: &SupplementAnswer,
    ) -> Result<Additions<LicenceCheck>, ServiceError> {
        let policy = self.core.policy_of(app)?;
        let (_, request) = app
            .supplement_request()
            .ok_or_else(|| Self::nothing_waiting("补件", "supplement"))?;
        let next = answer
            .corrected(&app.form, request, policy, self.core.now())
            .map_err(ServiceError::BadInput)?;
        let mut added = Additions::between(&app.form, &next, answer);
        added.licences.extend(answer.reauthorised(request, &next));
        self.require_documents(owner, &added.scans).await?;
        for (_, d) in &added.scans {
            app.scan_allowed(d.kind, policy)
                .map_err(ServiceError::Conflict)?;
        }
        // A photo kept on file answers a request for its licence only once its registration
        // was approved (闽卫政法〔2024〕40号 附件2 一(一)).
        for item in request {
            if let SupplementItem::Licence {
                kind,
                problem: LicenceProblem::RegistrationRequired,
            } = item
                && next.licence(*kind).is_none()
            {
                app.scan_allowed(*kind, policy)
                    .map_err(ServiceError::Conflict)?;
            }
        }
        let checks = self
            .licences
            .check(&added.references(), &next, policy)
            .await?;
        let refused: Vec<FieldIssue> = checks
            .iter()
            .zip(&added.licences)
            .filter_map(|(c, (field, _))| {
                let problem = c.problem?;
                let code = serde_json::to_value(problem).unwrap_or_default();
                let message = problem.message(c.reference.kind);
                Some(FieldIssue {
                    field: field.clone(),
                    error: Invalid::new(
                        &format!("licence_{}", code.as_str().unwrap_or("refused")),
                        message.zh,
                        message.en,
                    ),
                })
            })
            .collect();
        if !refused.is_empty() {
            return Err(ServiceError::BadInput(refused));
        }
        Ok(Additions {
            scans: added.scans,
            licences: checks,
        })
    }

    /// 确认签字: the applicant confirms the generated forms.
    pub async fn confirm(&self, owner: &str, id: &ApplicationId) -> Result<Stored, ServiceError> {
        self.applicant_event(
            owner,
            id,
            |w| matches!(w, ApplicantWait::ConfirmForms { .. }),
            StageEvent::Confirmed,
            ("确认", "confirm"),
        )
        .await
    }

    /// 转线下办理: the applicant ends the online flow while it waits for her.
    pub async fn go_offline(
        &self,
        owner: &str,
        id: &ApplicationId,
    ) -> Result<Stored, ServiceError> {
        let reason = Bilingual::new(
            "申请人选择到线下窗口办理",
            "the applicant chose to continue at a counter",
        );
        self.applicant_event(
            owner,
            id,
            |_| true,
            StageEvent::GoOffline { reason },
            ("处理", "act on"),
        )
        .await
    }

    async fn applicant_event(
        &self,
        owner: &str,
        id: &ApplicationId,
        pred: impl Fn(&ApplicantWait) -> bool,
        event: StageEvent,
        what: (&str, &str),
    ) -> Result<Stored, ServiceError> {
        let actor = applicant(owner);
        self.core
            .mutate(id, Some(owner), &actor, |app, policy, now| {
                let stage = Self::waiting(app, &pred)
                    .ok_or_else(|| Self::nothing_waiting(what.0, what.1))?;
                Ok(Some((
                    app.apply(stage, event.clone(), policy, now)?,
                    vec![],
                )))
            })
            .await?
            .ok_or_else(|| Self::nothing_waiting(what.0, what.1))
    }

    /// 选择合作银行: records the card's partner bank (the card's clock starts then).
    pub async fn choose_partner_bank(
        &self,
        owner: &str,
        id: &ApplicationId,
        bank: &str,
    ) -> Result<Stored, ServiceError> {
        let bank: Text = bank
            .parse()
            .map_err(|e| ServiceError::bad("partner_bank", e))?;
        let actor = applicant(owner);
        self.core
            .mutate(id, Some(owner), &actor, |app, policy, now| {
                Ok(Some((
                    app.choose_partner_bank(bank.clone(), policy, now)?,
                    vec![],
                )))
            })
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// 撤回: withdraws the application.
    pub async fn withdraw(&self, owner: &str, id: &ApplicationId) -> Result<Stored, ServiceError> {
        let actor = applicant(owner);
        self.core
            .mutate(id, Some(owner), &actor, |app, policy, now| {
                Ok(Some((app.withdraw(policy, now)?, vec![])))
            })
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// 好差评: rates a finished step once (一次一评), or the ended matter once where the policy
    /// invites it (一事一评). The evaluation stage, queued in the same write, forwards the rating
    /// to the 好差评 platform and opens the follow-up a bad step rating needs.
    pub async fn rate(
        &self,
        owner: &str,
        id: &ApplicationId,
        subject: RatingSubject,
        level: RatingLevel,
        comment: Option<Text>,
    ) -> Result<Stored, ServiceError> {
        let actor = applicant(owner);
        let stored = self
            .core
            .mutate(id, Some(owner), &actor, |app, policy, now| {
                let entry = match subject {
                    RatingSubject::Step(stage) => {
                        let rating = app.rate(stage, level, comment.clone(), now)?;
                        marker(app, stage, TimelineEvent::Rated(rating.level), now)
                    }
                    RatingSubject::Matter => {
                        let rating = app.rate_matter(level, comment.clone(), policy, now)?;
                        marker(
                            app,
                            crate::evaluation::entry_stage(subject),
                            TimelineEvent::MatterRated(rating.level),
                            now,
                        )
                    }
                };
                Ok(Some((markers(vec![entry]), vec![])))
            })
            .await?
            .ok_or(ServiceError::NotFound)?;
        let stage = crate::evaluation::entry_stage(subject);
        let dims = [
            (Dim::Stage, stage.as_str()),
            (Dim::Agency, subject.agency().as_str()),
            (Dim::Level, level.as_str()),
        ];
        self.core.count(Metric::Rating, &dims, 1.0);
        Ok(stored)
    }

    /// 科学育儿指导服务登记 where the parent registers it herself: the app reports that she opened
    /// the knowledge base (闽卫政法〔2024〕40号 附件1 三(一)2 "点击阅读后即登记成功"). A repeat
    /// changes nothing and answers the application as it is.
    pub async fn read_parenting_guidance(
        &self,
        owner: &str,
        id: &ApplicationId,
    ) -> Result<Stored, ServiceError> {
        let actor = applicant(owner);
        let done = self
            .core
            .mutate(id, Some(owner), &actor, |app, policy, now| {
                if !app.read_parenting_guidance(policy, now)? {
                    return Ok(None);
                }
                let service = newborn_domain::application::Service::ParentingGuidance;
                let entry = marker(
                    app,
                    Stage::HealthCheck,
                    TimelineEvent::ServiceDone(service),
                    now,
                );
                Ok(Some((
                    markers(vec![entry]),
                    vec![notices::parenting_guidance_registered(now)],
                )))
            })
            .await?;
        match done {
            Some(stored) => Ok(stored),
            None => self.core.load(id, Some(owner)).await,
        }
    }
}
