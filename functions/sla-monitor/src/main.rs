//! The scheduled SLA monitor Lambda (办件监察): the SLA sweep over the open-clock index, then the outbox relay sweep.

#[tokio::main]
async fn main() -> Result<(), newborn_lambda::Error> {
    newborn_lambda::run_sla_monitor().await
}
