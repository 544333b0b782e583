//! The hospital stage Lambda (出生医学证明): SqsEvent -> SqsBatchResponse, signed dispatches.

#[tokio::main]
async fn main() -> Result<(), newborn_lambda::Error> {
    newborn_lambda::run_stage(newborn_domain::stage::Stage::HealthCheck).await
}
