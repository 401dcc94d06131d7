//! The `dev-health` binary: parses the command line, loads configuration, wires the concrete
//! storage backend into the application and runs the chosen role.

mod cli;
mod commands;
mod config;
mod error;
mod logging;
mod output;
mod shutdown;
mod startup;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::CliError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return fail(&CliError::failure(
                format!("cannot start the async runtime: {e}"),
                None,
            ));
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &CliError) -> ExitCode {
    tracing::debug!(error = %e.message, "command failed");
    output::error(e);
    ExitCode::from(e.code)
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let file = cli.config.as_deref();
    match cli.command {
        Command::Version { json } => commands::version::run(json),
        Command::Config(cmd) => commands::config_show::run(file, cmd),
        Command::Migrate => commands::migrate::run(file).await,
        Command::Serve(args) => commands::serve::run(file, args).await,
        Command::Worker => commands::worker::run(file).await,
        Command::Jobs(cmd) => commands::jobs::run(file, cmd).await,
        Command::Admin(cmd) => commands::admin::run(file, cmd).await,
        Command::Sync(cmd) => commands::sync::run(file, cmd).await,
        Command::Metrics(cmd) => commands::metrics::run(file, cmd).await,
        Command::License(cmd) => commands::license::run(cmd),
        Command::LicenseSvc(cmd) => commands::license_svc::run(file, cmd).await,
    }
}
