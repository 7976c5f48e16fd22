//! The `ally-idp` binary: parse the command line, load configuration, run the command.

use std::process::ExitCode;

use ally_idp::cli::{self, Cli};
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// jemalloc instead of glibc's malloc, for the whole process (SQLite and OpenSSL included:
/// the crate exports it as `malloc`). Under load most memory is freed by another thread than
/// the one that allocated it (a request's buffers cross the tokio workers and sqlx's SQLite
/// threads), which glibc serves by locking the owning arena; jemalloc's thread caches and
/// background purging measured 20-35% more requests per second in every `bench/` scenario
/// (README, Benchmarks).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
