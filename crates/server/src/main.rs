//! The `strongroom` binary: parses the command line, loads configuration and runs a command.
//! Exit codes: 0 success, 1 a check or the command failed, 2 usage or configuration error.

/// mimalloc instead of the system allocator: request handling allocates and frees many small
/// buffers across threads, where glibc malloc spent about a tenth of the CPU of a transfer.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod audit_commands;
mod backup;
mod cli;
mod config;
mod crl;
mod hex;
mod hold_checks;
mod init;
mod limits;
mod listener;
mod pki;
mod pki_commands;
mod progress;
mod serve;
mod signing_keys;
mod telemetry;
mod tls;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{
    AuditCommand, BackupCommand, Cli, Command, KeysCommand, LedgerCommand, PkiCommand, UserCommand,
};
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
                || error
                    .downcast_ref::<store::StoreError>()
                    .is_some_and(store::StoreError::is_configuration)
                || error.downcast_ref::<init::WouldOverwrite>().is_some()
                || error.downcast_ref::<backup::Refused>().is_some();
            if usage {
                eprintln!("strongroom: configuration error: {error:#}");
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
        Command::Init { dir, ca_dir, force } => {
            let ca_dir = match ca_dir {
                Some(ca_dir) => ca_dir,
                None => init::default_ca_dir(&dir)?,
            };
            init::run(&dir, &ca_dir, force)?;
            println!(
                "initialised {}; start with: strongroom serve --config {}",
                dir.display(),
                dir.join("strongroom.toml").display()
            );
            println!(
                "CA private keys: {} and {}\n\
                 keep them offline: serve never needs them; pki issue-client and \
                 pki revoke-client do (--ca-dir {})",
                ca_dir.join(init::CA_KEY_FILE).display(),
                ca_dir.join(init::INTERNAL_CA_KEY_FILE).display(),
                ca_dir.display()
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
            audit_commands::migrate(&config).await
        }
        Command::Ledger {
            command: LedgerCommand::Verify { config },
        } => {
            let config = Config::load(&config)?;
            audit_commands::verify_ledger(&config).await
        }
        Command::Keys {
            command: KeysCommand::RotateKek { config },
        } => {
            let config = Config::load(&config)?;
            telemetry::init_logging();
            let result = rotate_kek(&config).await;
            audit_commands::audited(&config, "cli.keys_rotate_kek", "kek", result).await
        }
        Command::Keys {
            command: KeysCommand::RetireKek { config, version },
        } => {
            let config = Config::load(&config)?;
            telemetry::init_logging();
            let result = retire_kek(&config, version).await;
            let target = format!("kek:version:{version}");
            audit_commands::audited(&config, "cli.keys_retire_kek", &target, result).await
        }
        Command::Keys {
            command: KeysCommand::RotateSigning { config },
        } => {
            let config = Config::load(&config)?;
            let result = signing_keys::rotate(&config);
            audit_commands::audited(&config, "cli.keys_rotate_signing", "signing_key", result).await
        }
        Command::Backup {
            command: Some(BackupCommand::Verify { config, from }),
            ..
        } => {
            let config = Config::load(&config)?;
            backup::verify(&config, &from).await
        }
        Command::Backup {
            command: None,
            config,
            out,
        } => {
            let (Some(config), Some(out)) = (config, out) else {
                return Err(ConfigError {
                    key: "--config, --out".into(),
                    reason: "`backup` needs both".into(),
                }
                .into());
            };
            let config = Config::load(&config)?;
            let result = backup::backup(&config, &out).await;
            audit_commands::audited(&config, "cli.backup", "store", result).await
        }
        Command::Restore {
            config,
            from,
            force,
        } => {
            let config = Config::load(&config)?;
            backup::restore(&config, &from, force).await
        }
        Command::Keys {
            command: KeysCommand::RotateAudit { config },
        } => {
            let config = Config::load(&config)?;
            let result = signing_keys::rotate_audit(&config);
            audit_commands::audited(&config, "cli.keys_rotate_audit", "audit_key", result).await
        }
        Command::Keys {
            command: KeysCommand::RetireSigning { config, kid, force },
        } => {
            let config = Config::load(&config)?;
            let result = signing_keys::retire(&config, &kid, force);
            audit_commands::audited(&config, "cli.keys_retire_signing", "signing_key", result).await
        }
        Command::Pki {
            command:
                PkiCommand::IssueClient {
                    config,
                    name,
                    ca_dir,
                    days,
                    force,
                },
        } => {
            let config = Config::load(&config)?;
            pki_commands::issue_client(&config, &name, ca_dir, days, force)
        }
        Command::Pki {
            command:
                PkiCommand::RevokeClient {
                    config,
                    name,
                    ca_dir,
                },
        } => {
            let config = Config::load(&config)?;
            pki_commands::revoke_client(&config, &name, ca_dir)
        }
        Command::User {
            command:
                UserCommand::LiftQuarantine {
                    config,
                    email,
                    force,
                },
        } => {
            let config = Config::load(&config)?;
            lift_quarantine(&config, &email, force).await
        }
        Command::User {
            command:
                UserCommand::GrantRole {
                    config,
                    email,
                    role,
                },
        } => {
            let config = Config::load(&config)?;
            audit_commands::grant_role(&config, &email, &role).await
        }
        Command::Audit { command } => match command {
            AuditCommand::Verify { config, anchor } => {
                let config = Config::load(&config)?;
                audit_commands::verify_audit(&config, anchor.as_deref()).await
            }
            AuditCommand::Checkpoint { config, out } => {
                let config = Config::load(&config)?;
                audit_commands::checkpoint(&config, &out).await
            }
            AuditCommand::Export { config, since } => {
                let config = Config::load(&config)?;
                audit_commands::export(&config, since.as_deref()).await
            }
        },
    }
}

/// `user lift-quarantine`: an operator's decision, recorded as the account's security event.
async fn lift_quarantine(config: &Config, email: &str, force: bool) -> anyhow::Result<()> {
    use app::protection::OperatorLift;
    let store = crate::serve::open_store(config).await?;
    let operator = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    let outcome = app::protection::lift_quarantine_by_operator(
        &store,
        &app::Clock::System,
        email,
        &operator,
        force,
    )
    .await;
    store.close().await;
    match outcome {
        Ok(OperatorLift::Lifted { sessions_revoked }) => println!(
            "quarantine lifted for {email}; {sessions_revoked} session(s) revoked, the owner signs in afresh"
        ),
        Ok(OperatorLift::NotQuarantined) => {
            println!("{email} is not quarantined; nothing changed");
        }
        Ok(OperatorLift::HasSecondFactor) => anyhow::bail!(
            "{email} has a second factor: its owner lifts the quarantine by completing it (use --force to lift it anyway)"
        ),
        Err(app::Error::NotFound) => anyhow::bail!("no account with email {email}"),
        Err(app::Error::Validation { .. }) => anyhow::bail!("not an email address: {email}"),
        Err(error) => return Err(anyhow::anyhow!("cannot lift the quarantine: {error}")),
    }
    Ok(())
}

/// Appends a KEK version, then rewraps data keys in batches (compare-and-set per record, so a
/// concurrent write or shred by the running server is never overwritten). Field ciphertext is
/// untouched. Exit 1 if any wrapped key failed authentication.
async fn rotate_kek(config: &Config) -> anyhow::Result<()> {
    let (store, vault) = open_vault(config).await?;
    let provider = &vault.provider;
    provider
        .rotate()
        .await
        .map_err(|error| anyhow::anyhow!("cannot rotate the KEK: {error}"))?;
    let (kek_id, version) = provider
        .current()
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let (mut rewrapped, mut failed) = (0_u64, Vec::new());
    let total: i64 = store
        .wrapped_key_versions()
        .await?
        .iter()
        .filter(|(id, used, _)| !(*id == kek_id && *used == i64::from(version)))
        .map(|(_, _, count)| *count)
        .sum();
    let bar = crate::progress::items(u64::try_from(total).unwrap_or(0), "data keys");
    loop {
        let batch = store
            .wrapped_keys_not_at(&kek_id, i64::from(version))
            .await?;
        let mut progressed = false;
        for row in batch {
            if failed.contains(&row.owner) {
                continue;
            }
            let context = match &row.owner {
                store::WrappedKeyOwner::Profile(user_id) => {
                    app::vault::profile::record_context(user_id)
                }
                store::WrappedKeyOwner::DataKey(id) => id.clone(),
            };
            let old = crypto::WrappedDek {
                kek_id: row.kek_id,
                kek_version: u32::try_from(row.kek_version)?,
                bytes: row.bytes,
            };
            let fresh = match provider.unwrap(&old, &context).await {
                Ok(dek) => provider
                    .wrap(&dek, &context)
                    .await
                    .map_err(|error| anyhow::anyhow!("{error}"))?,
                Err(error) => {
                    eprintln!("strongroom: data key {context} cannot be unwrapped: {error}");
                    failed.push(row.owner);
                    continue;
                }
            };
            if store
                .rewrap_key(
                    &row.owner,
                    &old.bytes,
                    &fresh.kek_id,
                    i64::from(fresh.kek_version),
                    &fresh.bytes,
                )
                .await?
            {
                rewrapped = rewrapped.saturating_add(1);
                bar.inc(1);
            }
            progressed = true;
        }
        if !progressed {
            break;
        }
    }
    bar.finish_and_clear();
    store.close().await;
    println!("KEK version {version} is current; rewrapped {rewrapped} data keys");
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} data keys failed authentication and were left as they were",
            failed.len()
        )
    }
}

/// The store (migrated) and the vault, with second-factor secrets sealed under the local KEK
/// file moved under the configured provider first, so nothing is left that an old KEK version
/// or the local file alone roots.
async fn open_vault(config: &Config) -> anyhow::Result<(store::Store, app::vault::Vault)> {
    let store = crate::serve::open_store(config).await?;
    let vault = serve::build_vault(config, app::Clock::System)?;
    app::vault::migrate_legacy_factor_secrets(&store, &vault, &config.keys.local_kek_file)
        .await
        .map_err(|reason| anyhow::anyhow!("second-factor secrets: {reason}"))?;
    Ok((store, vault))
}

/// `keys retire-kek --version N`: refuses while any data key is still wrapped by version N
/// (for OpenBao Transit, by N or older: retiring moves its minimum decryption version), naming
/// how many; otherwise removes the version from the provider.
async fn retire_kek(config: &Config, version: u32) -> anyhow::Result<()> {
    let (store, vault) = open_vault(config).await?;
    let provider = &vault.provider;
    let (kek_id, current) = provider
        .current()
        .await
        .map_err(|error| anyhow::anyhow!("the key service is unavailable: {error}"))?;
    if version == 0 || version > current {
        return Err(ConfigError {
            key: "--version".into(),
            reason: format!("KEK {kek_id} has versions 1 to {current}"),
        }
        .into());
    }
    // Secrets that could not be moved off the local key file would be lost with it.
    let legacy = store.legacy_totp_count().await?;
    if legacy > 0 {
        store.close().await;
        anyhow::bail!(
            "{legacy} TOTP secrets are still sealed under the local KEK file and could not be \
             converted (see the log); nothing was retired"
        );
    }
    let older_too = provider.retires_older_versions();
    let still_used: i64 = store
        .wrapped_key_versions()
        .await?
        .into_iter()
        .filter(|(id, used_version, _)| {
            *id == kek_id
                && (*used_version == i64::from(version)
                    || (older_too && *used_version < i64::from(version)))
        })
        .map(|(_, _, count)| count)
        .sum();
    store.close().await;
    if still_used > 0 {
        anyhow::bail!(
            "{still_used} data keys are still wrapped by KEK {kek_id} version {version}{}; \
             run `strongroom keys rotate-kek` first",
            if older_too { " or older" } else { "" }
        );
    }
    provider
        .retire(version)
        .await
        .map_err(|error| anyhow::anyhow!("cannot retire KEK version {version}: {error}"))?;
    // A running server could have wrapped a key between the count and the retirement; say so
    // rather than claim success.
    let store = store::Store::connect(&config.database).await?;
    let late: i64 = store
        .wrapped_key_versions()
        .await?
        .into_iter()
        .filter(|(id, used, _)| *id == kek_id && *used == i64::from(version))
        .map(|(_, _, count)| count)
        .sum();
    store.close().await;
    if late > 0 {
        anyhow::bail!(
            "KEK {kek_id} version {version} was retired, but {late} data keys were wrapped by it \
             meanwhile and can no longer be opened"
        );
    }
    println!("KEK {kek_id} version {version} retired; version {current} is current");
    Ok(())
}
