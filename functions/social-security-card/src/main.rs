//! The social-security card stage Lambda (社保卡): SqsEvent -> SqsBatchResponse, signed dispatches.

#[tokio::main]
async fn main() -> Result<(), newborn_lambda::Error> {
    newborn_lambda::run_stage(newborn_domain::stage::Stage::SocialSecurityCard).await
}
