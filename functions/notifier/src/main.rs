//! The notification Lambda: SqsEvent of deliveries -> the applicant gateway (the app's push / SMS service), signed; SqsBatchResponse.

#[tokio::main]
async fn main() -> Result<(), newborn_lambda::Error> {
    newborn_lambda::run_notifier().await
}
