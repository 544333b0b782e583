//! The applicants' routes: a parent's (or counter staff's, 一窗受理) applications and what she
//! does with them. Served by the `api` function and the local server, from the
//! [`ApplicantDesk`].

use crate::auth::{Authenticator, Role};
use crate::extract::{AppId, Applicant, Authenticated, Mother};
use crate::problem::Problem;
use crate::routes::{ApiResult, json_group, ok, parse, problem, view};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use newborn_domain::application::{DocumentKind, Text};
use newborn_domain::flow::RatingLevel;
use newborn_domain::stage::Stage;
use newborn_domain::text::Invalid;
use newborn_service::ApplicantDesk;
use newborn_service::SupplementAnswer;
use newborn_service::ports::{Actor, IdempotencyClaim, Stored};
use serde::Deserialize;
use std::sync::Arc;

/// The applicants' routes' state.
#[derive(Clone)]
pub struct ApplicantRoutes {
    /// The use cases.
    pub desk: ApplicantDesk,
    /// Who is calling.
    pub auth: Arc<dyn Authenticator>,
}

impl Authenticated for ApplicantRoutes {
    fn authenticator(&self) -> &Arc<dyn Authenticator> {
        &self.auth
    }
}

/// The applicants' routes.
pub fn routes(state: ApplicantRoutes) -> Router {
    json_group(
        Router::new()
            .route("/applications", post(submit).get(list))
            .route("/applications/{id}", get(read))
            .route("/applications/{id}/timeline", get(timeline))
            .route("/applications/{id}/result", get(result))
            .route("/applications/{id}/result.png", get(result_png))
            .route("/applications/{id}/notifications", get(notifications))
            .route("/applications/{id}/supplement", post(supplement))
            .route("/applications/{id}/confirmation", post(confirm))
            .route("/applications/{id}/partner-bank", post(partner_bank))
            .route("/applications/{id}/offline", post(offline))
            .route("/applications/{id}/withdraw", post(withdraw))
            .route("/applications/{id}/ratings", post(rate))
            .route(
                "/applications/{id}/licence-registrations",
                post(file_registration),
            )
            .route(
                "/applications/{id}/offers/{stage}/accept",
                post(accept_offer),
            )
            .route(
                "/applications/{id}/parenting-guidance",
                post(parenting_guidance),
            )
            .route("/drafts", get(drafts))
            .route("/drafts/{id}", get(draft))
            .route("/drafts/{id}/confirmation", post(confirm_draft)),
    )
    .with_state(state)
}

type S = State<ApplicantRoutes>;

#[derive(Deserialize)]
struct SubmitQuery {
    policy: Option<String>,
    /// For counter staff (一窗受理): the parent's account the application belongs to.
    on_behalf_of: Option<String>,
}

async fn submit(
    State(s): State<ApplicantRoutes>,
    parts: Parts,
    Query(q): Query<SubmitQuery>,
    body: Bytes,
) -> ApiResult {
    let claim = parts.extensions.get::<IdempotencyClaim>().cloned();
    let who = s.auth.authenticate(&parts)?;
    let face_verified_at = who.face_verified_at;
    let (owner, actor) = match (who.role, q.on_behalf_of) {
        (Role::Applicant, None) => (
            who.subject.clone(),
            Actor::Applicant {
                subject: who.subject,
            },
        ),
        (Role::CounterStaff, Some(parent))
            if (1..=128).contains(&parent.len())
                && parent.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            (
                parent,
                Actor::CounterStaff {
                    subject: who.subject,
                },
            )
        }
        (Role::CounterStaff, _) => {
            return Err(problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "on_behalf_of_missing",
                "窗口代办须注明申请人账号（on_behalf_of）",
                "counter staff must name the parent's account (on_behalf_of)",
            ));
        }
        (Role::Supervisor, _) => {
            return Err(problem(
                StatusCode::FORBIDDEN,
                "not_an_applicant",
                "监督人员不能提交申请",
                "supervisors do not submit applications",
            ));
        }
        (Role::Applicant, Some(_)) => {
            return Err(problem(
                StatusCode::FORBIDDEN,
                "not_counter_staff",
                "只有窗口工作人员可以代为申请",
                "only counter staff may apply on someone's behalf",
            ));
        }
    };
    let stored = s
        .desk
        .submit(
            &owner,
            actor,
            &body,
            q.policy.as_deref(),
            face_verified_at,
            claim,
        )
        .await?;
    created(&s, &stored).await
}

/// The drafts the hospitals' birth records made for the signed-in mother.
async fn drafts(State(s): S, Mother(who): Mother) -> ApiResult {
    ok(StatusCode::OK, s.desk.drafts(who.id_number.as_ref()).await?)
}

/// One of her drafts.
async fn draft(State(s): S, Mother(who): Mother, AppId(id): AppId) -> ApiResult {
    ok(
        StatusCode::OK,
        s.desk.draft(who.id_number.as_ref(), &id).await?,
    )
}

/// She confirms a draft with her choices: the application is created (201, like a submission).
async fn confirm_draft(
    State(s): S,
    claim: Option<Extension<IdempotencyClaim>>,
    Mother(who): Mother,
    AppId(id): AppId,
    body: Bytes,
) -> ApiResult {
    let stored = s
        .desk
        .confirm_draft(
            &who.subject,
            who.id_number.as_ref(),
            &id,
            &body,
            who.face_verified_at,
            claim.map(|Extension(c)| c),
        )
        .await?;
    created(&s, &stored).await
}

/// `201 Created` with the new application's view and its address.
async fn created(s: &ApplicantRoutes, stored: &Stored) -> ApiResult {
    let mut res = (StatusCode::CREATED, Json(view(s.desk.core(), stored).await)).into_response();
    if let Ok(loc) = format!("/applications/{}", stored.application.id.as_str()).parse() {
        res.headers_mut().insert("location", loc);
    }
    Ok(res)
}

async fn list(State(s): S, Applicant(owner): Applicant) -> ApiResult {
    ok(StatusCode::OK, s.desk.list(&owner).await?)
}

async fn read(State(s): S, Applicant(owner): Applicant, AppId(id): AppId) -> ApiResult {
    ok(StatusCode::OK, s.desk.view(&owner, &id).await?)
}

/// The signed result of a finished application (办件结果通知), with its verification address.
async fn result(
    State(s): S,
    Applicant(owner): Applicant,
    AppId(id): AppId,
    headers: axum::http::HeaderMap,
) -> ApiResult {
    let signed = s.desk.result(&owner, &id).await?;
    let verify_url = crate::routes::results::verify_url(&headers, &signed.token);
    ok(
        StatusCode::OK,
        serde_json::json!({
            "token": signed.token,
            "key_id": signed.key_id,
            "result": signed.result,
            "verify_url": verify_url,
        }),
    )
}

/// The QR code of the result's verification address, as a PNG.
async fn result_png(
    State(s): S,
    Applicant(owner): Applicant,
    AppId(id): AppId,
    headers: axum::http::HeaderMap,
) -> ApiResult {
    let signed = s.desk.result(&owner, &id).await?;
    let url = crate::routes::results::verify_url(&headers, &signed.token);
    let png = newborn_service::attestation::qr_png(&url)
        .map_err(|e| Problem::from(newborn_service::ServiceError::Transient(e)))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "image/png")], png).into_response())
}

async fn timeline(State(s): S, Applicant(owner): Applicant, AppId(id): AppId) -> ApiResult {
    ok(StatusCode::OK, s.desk.timeline(&owner, &id).await?)
}

async fn notifications(State(s): S, Applicant(owner): Applicant, AppId(id): AppId) -> ApiResult {
    ok(StatusCode::OK, s.desk.notifications(&owner, &id).await?)
}

async fn supplement(
    State(s): S,
    Applicant(owner): Applicant,
    AppId(id): AppId,
    body: Bytes,
) -> ApiResult {
    let answer: SupplementAnswer = parse(&body)?;
    let stored = s.desk.supplement(&owner, &id, &answer).await?;
    ok(StatusCode::OK, view(s.desk.core(), &stored).await)
}

async fn confirm(State(s): S, Applicant(owner): Applicant, AppId(id): AppId) -> ApiResult {
    let stored = s.desk.confirm(&owner, &id).await?;
    ok(StatusCode::OK, view(s.desk.core(), &stored).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BankChoice {
    partner_bank: String,
}

async fn partner_bank(
    State(s): S,
    Applicant(owner): Applicant,
    AppId(id): AppId,
    body: Bytes,
) -> ApiResult {
    let choice: BankChoice = parse(&body)?;
    let stored = s
        .desk
        .choose_partner_bank(&owner, &id, &choice.partner_bank)
        .await?;
    ok(StatusCode::OK, view(s.desk.core(), &stored).await)
}

async fn offline(State(s): S, Applicant(owner): Applicant, AppId(id): AppId) -> ApiResult {
    let stored = s.desk.go_offline(&owner, &id).await?;
    ok(StatusCode::OK, view(s.desk.core(), &stored).await)
}

/// 科学育儿指导服务登记: the app reports that the parent opened the knowledge base.
async fn parenting_guidance(
    State(s): S,
    Applicant(owner): Applicant,
    AppId(id): AppId,
) -> ApiResult {
    let stored = s.desk.read_parenting_guidance(&owner, &id).await?;
    ok(StatusCode::OK, view(s.desk.core(), &stored).await)
}

async fn withdraw(State(s): S, Applicant(owner): Applicant, AppId(id): AppId) -> ApiResult {
    let stored = s.desk.withdraw(&owner, &id).await?;
    ok(StatusCode::OK, view(s.desk.core(), &stored).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RatingRequest {
    /// A finished step, or `matter` for the whole matter.
    stage: newborn_domain::kinds::RatingSubject,
    level: RatingLevel,
    #[serde(default)]
    comment: Option<Text>,
}

async fn rate(
    State(s): S,
    Applicant(owner): Applicant,
    AppId(id): AppId,
    body: Bytes,
) -> ApiResult {
    let r: RatingRequest = parse(&body)?;
    let stored = s
        .desk
        .rate(&owner, &id, r.stage, r.level, r.comment)
        .await?;
    ok(StatusCode::CREATED, view(s.desk.core(), &stored).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistrationRequest {
    kinds: Vec<DocumentKind>,
    reason: newborn_domain::licence::RegistrationReason,
}

/// 授权缺失登记: the applicant registers missing or wrong electronic licences for review.
async fn file_registration(
    State(s): S,
    Applicant(owner): Applicant,
    AppId(id): AppId,
    body: Bytes,
) -> ApiResult {
    let r: RegistrationRequest = parse(&body)?;
    let stored = s
        .desk
        .file_registration(&owner, &id, &r.kinds, r.reason)
        .await?;
    ok(StatusCode::CREATED, view(s.desk.core(), &stored).await)
}

/// Accepts the proactive offer of a declined stage: it starts on the data on file.
async fn accept_offer(
    State(s): S,
    Applicant(owner): Applicant,
    AppId(id): AppId,
    Path((_, stage)): Path<(String, String)>,
) -> ApiResult {
    let stage: Stage = stage.parse().map_err(|e: String| {
        Problem::new(
            StatusCode::NOT_FOUND,
            &Invalid::new("unknown_stage", "没有这个办理环节", e),
        )
    })?;
    let stored = s.desk.accept_offer(&owner, &id, stage).await?;
    ok(StatusCode::OK, view(s.desk.core(), &stored).await)
}
