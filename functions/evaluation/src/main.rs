//! The evaluation Lambda (评价): SqsEvent of evaluation tasks -> rating invitations in the store, ratings signed to the 好差评 platform; SqsBatchResponse.

#[tokio::main]
async fn main() -> Result<(), newborn_lambda::Error> {
    newborn_lambda::run_evaluation().await
}
