//! The HTTP surface of the service: axum route groups per caller, put together by [`api`] into
//! the router each function serves, the same on Lambda (under `lambda_http`) and locally (under `axum::serve`), plus
//! the outbound [`HttpDispatcher`] that signs and posts dispatches to agency systems.

mod auth;
mod directory;
mod dispatcher;
mod extract;
mod middleware;
mod outbound;
mod problem;
pub mod routes;
mod uploads;

pub use auth::{
    Authenticator, DevIssuer, Identity, MAX_TOKEN_LIFETIME, Role, SKEW_SECS, bearer_token,
    check_token_times, face_verified_at, real_name,
};
pub use directory::HttpLicenceDirectory;
pub use dispatcher::{HttpDispatcher, HttpNotifier, HttpRatingPlatform};
pub use extract::{AppId, Applicant, Authenticated, Mother, Staff, Supervisor};
pub use middleware::{Edge, IDEMPOTENCY_KEY};
pub use outbound::{TrustedRoots, client, client_builder, system_roots_pem};
pub use problem::{Problem, ProblemDetails};
pub use routes::operator::OPENAPI;
pub use routes::{
    agency::AgencyRoutes, api, applicant::ApplicantRoutes, results::ResultRoutes,
    supervision::SupervisionRoutes, uploads::UploadRoutes,
};
pub use uploads::SignedUploadUrls;
