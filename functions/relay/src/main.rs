//! The relay Lambda: the table's stream (new images) -> what each application write hands on,
//! sent to the queues (stage messages, evaluation tasks, notification deliveries) and written to
//! the table (report facts, the completed idempotency record). A failed batch fails whole.

#[tokio::main]
async fn main() -> Result<(), newborn_lambda::Error> {
    newborn_lambda::run_relay().await
}
