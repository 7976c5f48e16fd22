//! The `ally-idp` binary: parse the command line, load configuration, run the command.

use std::process::ExitCode;

use ally_idp::cli::{self, Cli};
use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match cli.load_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: configuration: {}", e.lines().next().unwrap_or(&e));
            return ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        ally_idp::config::LogFormat::Plain => logs.init(),
        ally_idp::config::LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    match cli::run(cli, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, for scripts and operators.
            let msg = e.to_string();
            eprintln!("error: {}", msg.lines().next().unwrap_or(&msg));
            ExitCode::FAILURE
        }
    }
}
