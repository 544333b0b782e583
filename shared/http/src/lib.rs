//! The HTTP surface of the service: one axum [`Router`](axum::Router) for applicants and agency
//! callbacks, the same on Lambda (under `lambda_http`) and locally (under `axum::serve`), plus
//! the outbound [`HttpDispatcher`] that signs and posts dispatches to agency systems.

mod api;
mod auth;
mod directory;
mod dispatcher;
mod outbound;
mod problem;
mod uploads;

pub use api::{ApiState, IDEMPOTENCY_KEY, OPENAPI, router};
pub use auth::{
    Authenticator, DevIssuer, Identity, MAX_TOKEN_LIFETIME, Role, SKEW_SECS, bearer_token,
    check_token_times,
};
pub use directory::HttpLicenceDirectory;
pub use dispatcher::{HttpDispatcher, HttpNotifier};
pub use outbound::TrustedRoots;
pub use problem::{Problem, ProblemDetails};
pub use uploads::SignedUploadUrls;
