//! The medical-insurance stage Lambda (医保参保): SqsEvent -> SqsBatchResponse, signed dispatches.

#[tokio::main]
async fn main() -> Result<(), newborn_lambda::Error> {
    newborn_lambda::run_stage(newborn_domain::stage::Stage::Insurance).await
}
