//! `newborn`: the operator command-line tool of the newborn one-stop service.
//!
//! It grows with the service; for now it shows policies, computes deadlines on the working-day
//! calendar, and pre-reviews a form file.

mod commands;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    let mut out = std::io::stdout().lock();
    match commands::run(cli, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // An operator needs the reason chain, not a stack trace.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
