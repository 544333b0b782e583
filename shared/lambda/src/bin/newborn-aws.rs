//! `newborn-aws`: the operator's command for a deployed stack. It reads the same environment as
//! the functions (AWS credentials and region the usual way; `AWS_ENDPOINT_URL` for an emulator;
//! `NEWBORN_QUEUE_<STAGE>` and `NEWBORN_TABLE` as `template.yaml` outputs them).
//!
//! ```text
//! newborn-aws queues                      depth of every queue and its dead-letter queue
//! newborn-aws redrive --queue police      moves dead letters back (receive, send, delete)
//! ```

use clap::{Parser, Subcommand};
use newborn_aws::SqsQueues;
use newborn_lambda::settings::queue_variable;
use newborn_service::ports::QueueName;
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
    /// Prints the depth of every queue and its dead-letter queue.
    Queues,
    /// Moves the dead-lettered messages of one queue back to it, after the fault is fixed. SQS's
    /// managed redrive is not available in the China regions; this moves them itself.
    Redrive {
        /// The queue: a stage (pre_review, health_check, police, insurance,
        /// social_security_card) or notifications.
        #[arg(long, visible_alias = "stage")]
        queue: QueueName,
        /// Move at most this many messages.
        #[arg(long, default_value_t = 10_000)]
        max: usize,
    },
}

fn queue_urls() -> Result<HashMap<QueueName, String>, String> {
    QueueName::ALL
        .into_iter()
        .map(|queue| {
            let var = queue_variable(queue);
            std::env::var(&var)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|url| (queue, url))
                .ok_or_else(|| {
                    format!("environment variable {var} is not set (the stack's {queue} queue URL)")
                })
        })
        .collect()
}

async fn run(cli: Cli) -> Result<(), String> {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(newborn_lambda::https_client())
        .load()
        .await;
    let queues = SqsQueues::new(aws_sdk_sqs::Client::new(&sdk));
    let urls = queue_urls()?;
    match cli.command {
        Command::Queues => {
            println!(
                "{:<22} {:>8} {:>9} {:>12}",
                "queue", "waiting", "in flight", "dead letters"
            );
            for queue in QueueName::ALL {
                let q = queues
                    .with_dead_letter(&urls[&queue])
                    .await
                    .map_err(|e| e.to_string())?;
                let (waiting, in_flight) = queues.depth(&q.url).await.map_err(|e| e.to_string())?;
                let (dead, _) = queues
                    .depth(&q.dead_letter_url)
                    .await
                    .map_err(|e| e.to_string())?;
                println!(
                    "{:<22} {waiting:>8} {in_flight:>9} {dead:>12}",
                    queue.as_str()
                );
            }
        }
        Command::Redrive { queue, max } => {
            let q = queues
                .with_dead_letter(&urls[&queue])
                .await
                .map_err(|e| e.to_string())?;
            let moved = queues.redrive(&q, max).await.map_err(|e| e.to_string())?;
            println!("moved {moved} dead-lettered message(s) back to the {queue} queue");
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
