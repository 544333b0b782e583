//! `newborn-aws`: the operator's command for a deployed stack. It reads the same environment as
//! the functions (AWS credentials and region the usual way; `AWS_ENDPOINT_URL` for an emulator;
//! `NEWBORN_QUEUE_<STAGE>` and `NEWBORN_TABLE` as `template.yaml` outputs them).
//!
//! ```text
//! newborn-aws queues                      depth of every stage queue and its dead-letter queue
//! newborn-aws redrive --stage police      moves dead letters back (receive, send, delete)
//! newborn-aws relay                       sends hand-offs a failure left pending in the table
//! ```

use clap::{Parser, Subcommand};
use newborn_aws::{DynamoStore, Relay, SqsQueues};
use newborn_domain::stage::Stage;
use newborn_lambda::settings::queue_variable;
use newborn_service::ports::NOTIFICATIONS_QUEUE;
use std::collections::HashMap;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "newborn-aws",
    about = "Operator commands for the deployed newborn one-stop service (AWS, incl. the China regions)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prints the depth of every stage queue and its dead-letter queue.
    Queues,
    /// Moves the dead-lettered messages of one stage back to its queue, after the fault is fixed.
    /// SQS's managed redrive is not available in the China regions; this moves them itself.
    Redrive {
        /// The stage: pre_review, health_check, police, insurance or social_security_card.
        #[arg(long)]
        stage: Stage,
        /// Move at most this many messages.
        #[arg(long, default_value_t = 10_000)]
        max: usize,
    },
    /// Sends the hand-offs still pending in the table (the SLA monitor does this every run).
    Relay,
}

fn queue_urls() -> Result<HashMap<Stage, String>, String> {
    Stage::ALL
        .into_iter()
        .map(|stage| {
            let var = queue_variable(stage);
            std::env::var(&var)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|url| (stage, url))
                .ok_or_else(|| {
                    format!("environment variable {var} is not set (the stack's {stage} queue URL)")
                })
        })
        .collect()
}

async fn run(cli: Cli) -> Result<(), String> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let queues = SqsQueues::new(aws_sdk_sqs::Client::new(&sdk));
    let urls = queue_urls()?;
    match cli.command {
        Command::Queues => {
            println!(
                "{:<22} {:>8} {:>9} {:>12}",
                "queue", "waiting", "in flight", "dead letters"
            );
            for stage in Stage::ALL {
                let q = queues
                    .with_dead_letter(&urls[&stage])
                    .await
                    .map_err(|e| e.to_string())?;
                let (waiting, in_flight) = queues.depth(&q.url).await.map_err(|e| e.to_string())?;
                let (dead, _) = queues
                    .depth(&q.dead_letter_url)
                    .await
                    .map_err(|e| e.to_string())?;
                println!(
                    "{:<22} {waiting:>8} {in_flight:>9} {dead:>12}",
                    stage.as_str()
                );
            }
        }
        Command::Redrive { stage, max } => {
            let q = queues
                .with_dead_letter(&urls[&stage])
                .await
                .map_err(|e| e.to_string())?;
            let moved = queues.redrive(&q, max).await.map_err(|e| e.to_string())?;
            println!("moved {moved} dead-lettered message(s) back to the {stage} queue");
        }
        Command::Relay => {
            let table = std::env::var("NEWBORN_TABLE")
                .map_err(|_| "environment variable NEWBORN_TABLE is not set".to_owned())?;
            let notifications = std::env::var("NEWBORN_QUEUE_NOTIFICATIONS").map_err(|_| {
                "environment variable NEWBORN_QUEUE_NOTIFICATIONS is not set".to_owned()
            })?;
            let urls = urls
                .into_iter()
                .map(|(stage, url)| (stage.as_str().to_owned(), url))
                .chain([(NOTIFICATIONS_QUEUE.to_owned(), notifications)])
                .collect();
            let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table)
                .with_relay(Relay { queues, urls });
            let sent = store
                .relay_pending(chrono::Utc::now())
                .await
                .map_err(|e| e.to_string())?;
            println!("relayed {sent} pending hand-off(s)");
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("newborn-aws: {e}");
            ExitCode::FAILURE
        }
    }
}
