//! Who is calling, as axum extractors: a route that names [`Applicant`], [`Mother`], [`Staff`]
//! or [`Supervisor`] cannot run for anyone else, and [`AppId`] refuses an id that cannot be one
//! where it enters (as absent, like another family's).

use crate::auth::{Authenticator, Role};
use crate::problem::Problem;
use crate::routes::problem;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use newborn_domain::flow::ApplicationId;
use newborn_service::ServiceError;
use std::sync::Arc;

/// A route group's state that can tell who is calling.
pub trait Authenticated {
    /// The authenticator.
    fn authenticator(&self) -> &Arc<dyn Authenticator>;
}

/// A refusal of a route to a signed-in caller of another role: code, Chinese, English.
type Refusal = (&'static str, &'static str, &'static str);

/// The caller, signed in with `role`: no token is a 401, another role's token a 403 `refusal`.
fn signed_in_as<S: Authenticated>(
    parts: &Parts,
    state: &S,
    role: Role,
    (code, zh, en): Refusal,
) -> Result<crate::auth::Identity, Problem> {
    let who = state.authenticator().authenticate(parts)?;
    if who.role != role {
        return Err(problem(StatusCode::FORBIDDEN, code, zh, en));
    }
    Ok(who)
}

/// The account of a signed-in caller (a parent, or staff acting on an account of their own).
#[derive(Debug, Clone)]
pub struct Applicant(pub String);

impl<S: Authenticated + Send + Sync> FromRequestParts<S> for Applicant {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        Ok(Self(state.authenticator().authenticate(parts)?.subject))
    }
}

/// Counter staff (the counterfoil register is kept by the county health bureau's staff).
#[derive(Debug, Clone)]
pub struct Staff(pub String);

impl<S: Authenticated + Send + Sync> FromRequestParts<S> for Staff {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        Ok(Self(
            signed_in_as(
                parts,
                state,
                Role::CounterStaff,
                ("staff_only", "仅限工作人员操作", "for staff only"),
            )?
            .subject,
        ))
    }
}

/// A parent signed in as herself (no staff, no supervisor), with all her sign-in says: the
/// drafts of hospitals' birth records are hers by the real-name identity number in it.
#[derive(Debug, Clone)]
pub struct Mother(pub crate::auth::Identity);

impl<S: Authenticated + Send + Sync> FromRequestParts<S> for Mother {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        Ok(Self(signed_in_as(
            parts,
            state,
            Role::Applicant,
            (
                "not_an_applicant",
                "只有新生儿母亲本人可以查看和确认预填申请",
                "only the mother herself sees and confirms drafts",
            ),
        )?))
    }
}

/// A supervisor: no token is a 401, another role's token a 403.
#[derive(Debug, Clone)]
pub struct Supervisor(pub String);

impl<S: Authenticated + Send + Sync> FromRequestParts<S> for Supervisor {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        Ok(Self(
            signed_in_as(
                parts,
                state,
                Role::Supervisor,
                (
                    "supervisors_only",
                    "仅限监督人员查看",
                    "for supervisors only",
                ),
            )?
            .subject,
        ))
    }
}

/// The application a route's path names. An id that cannot be one is reported as absent (404),
/// exactly like an application of another family.
#[derive(Debug, Clone)]
pub struct AppId(pub ApplicationId);

impl<S: Send + Sync> FromRequestParts<S> for AppId {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let axum::extract::Path(params): axum::extract::Path<Vec<(String, String)>> =
            axum::extract::Path::from_request_parts(parts, state)
                .await
                .map_err(|_| Problem::from(ServiceError::NotFound))?;
        params
            .iter()
            .find(|(k, _)| k == "id")
            .and_then(|(_, v)| v.parse().ok())
            .map(Self)
            .ok_or_else(|| Problem::from(ServiceError::NotFound))
    }
}
