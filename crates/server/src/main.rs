//! The `strongroom` binary: parses the command line, loads configuration and runs a command.
//! Exit codes: 0 success, 1 a check or the command failed, 2 usage or configuration error.

mod cli;
mod config;
mod init;
mod listener;
mod pki;
mod serve;
mod telemetry;
mod tls;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, PkiCommand};
use crate::config::{Config, ConfigError};

const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run(cli.command)),
        Err(error) => Err(anyhow::Error::from(error)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let usage = error.downcast_ref::<ConfigError>().is_some()
                || error.downcast_ref::<init::WouldOverwrite>().is_some();
            if usage {
                eprintln!("strongroom: configuration error: {error}");
                ExitCode::from(EXIT_USAGE)
            } else {
                eprintln!("strongroom: {error:#}");
                ExitCode::from(EXIT_FAILED)
            }
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Init { dir, force } => {
            init::run(&dir, force)?;
            println!(
                "initialised {}; start with: strongroom serve --config {}",
                dir.display(),
                dir.join("strongroom.toml").display()
            );
            Ok(())
        }
        Command::Serve { config } => {
            let config = Config::load(&config)?;
            telemetry::init_logging();
            serve::run(config).await
        }
        Command::Migrate { config } => {
            let config = Config::load(&config)?;
            telemetry::init_logging();
            let store = store::Store::connect(&config.database).await?;
            store.migrate().await?;
            let version = store.schema_version().await?.unwrap_or(0);
            store.close().await;
            println!(
                "migrated {} store to schema version {version}",
                store.backend().name()
            );
            Ok(())
        }
        Command::Pki {
            command: PkiCommand::IssueClient { config, name },
        } => {
            let config = Config::load(&config)?;
            issue_client(&config, &name)
        }
    }
}

fn issue_client(config: &Config, name: &str) -> anyhow::Result<()> {
    if !pki::is_valid_service_name(name) {
        return Err(ConfigError {
            key: "--name".into(),
            reason: "use 1-64 characters of a-z, 0-9, - and _".into(),
        }
        .into());
    }
    let ca_key_path = config.tls.internal_client_ca.with_extension("key");
    let ca_key = std::fs::read_to_string(&ca_key_path).map_err(|_| ConfigError {
        key: "tls.internal_client_ca".into(),
        reason: format!("the CA key {} cannot be read", ca_key_path.display()),
    })?;
    let issued = pki::issue_client(&ca_key, name)?;
    let dir = config.base_dir.join("pki/clients");
    std::fs::create_dir_all(&dir)?;
    let cert_path = dir.join(format!("{name}.pem"));
    let key_path = dir.join(format!("{name}.key"));
    init::write_file(&cert_path, issued.cert_pem.as_bytes(), 0o644)?;
    init::write_file(&key_path, issued.key_pem.as_bytes(), 0o600)?;
    print_issued(&cert_path, &key_path);
    Ok(())
}

fn print_issued(cert: &Path, key: &Path) {
    println!(
        "certificate {}\nprivate key {}",
        cert.display(),
        key.display()
    );
}
