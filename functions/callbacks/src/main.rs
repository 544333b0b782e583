//! The agency callback Lambda: the same router, signatures verified with the webhook keys from Secrets Manager.

#[tokio::main]
async fn main() -> Result<(), newborn_lambda::Error> {
    newborn_lambda::run_callbacks().await
}
