//! The pre-review stage Lambda (预审): SqsEvent -> SqsBatchResponse.

#[tokio::main]
async fn main() -> Result<(), newborn_lambda::Error> {
    newborn_lambda::run_stage(newborn_domain::stage::Stage::PreReview).await
}
