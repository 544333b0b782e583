//! `newborn`: the operator command-line tool and local runtime of the newborn one-stop service.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = newborn::commands::Cli::parse();
    match newborn::commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // An operator needs the reason chain, not a stack trace.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
