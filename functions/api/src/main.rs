//! The applicant API Lambda: the axum router under lambda_http, callers identified by API Gateway's JWT authorizer.

#[tokio::main]
async fn main() -> Result<(), newborn_lambda::Error> {
    newborn_lambda::run_api().await
}
