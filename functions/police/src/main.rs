//! The police stage Lambda (户口登记): SqsEvent -> SqsBatchResponse, signed dispatches.

#[tokio::main]
async fn main() -> Result<(), newborn_lambda::Error> {
    newborn_lambda::run_stage(newborn_domain::stage::Stage::Police).await
}
