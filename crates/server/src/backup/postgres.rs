//! The PostgreSQL path of `backup` and `restore`: Debian's `pg_dump` and `pg_restore` (the
//! server's major version or newer), driven with the configured `database.url`. The password
//! travels in `PGPASSWORD`, never on a command line another user could read.

use std::path::Path;
use std::process::Command;

use anyhow::Context;
use secrecy::ExposeSecret;
use store::{DatabaseLocation, Store};

use super::Refused;
use crate::config::{Config, ConfigError};

/// `program` with the connection of `database.url`: the URL without its password as
/// `--dbname`, the password in the environment.
fn command(config: &Config, program: &str) -> anyhow::Result<Command> {
    let DatabaseLocation::Postgres { url, .. } = &config.database else {
        anyhow::bail!("not a PostgreSQL store");
    };
    let mut parsed = url::Url::parse(url.expose_secret()).map_err(|_| ConfigError {
        key: "database.url".into(),
        reason: "is not a PostgreSQL URL".into(),
    })?;
    // The password as libpq would read it (percent-decoded), from the URL's user info or a
    // `password` query parameter; neither stays in the URL passed as an argument.
    let mut password = parsed.password().map(|encoded| {
        percent_encoding::percent_decode_str(encoded)
            .decode_utf8_lossy()
            .into_owned()
    });
    let _ = parsed.set_password(None);
    let query: Vec<(String, String)> = parsed
        .query_pairs()
        .filter_map(|(name, value)| match name.as_ref() {
            "password" => {
                password = Some(value.into_owned());
                None
            }
            // Replaced below by the mode the server itself connects with.
            "sslmode" => None,
            _ => Some((name.into_owned(), value.into_owned())),
        })
        .collect();
    // The same verified TLS as the server's own connections: the effective `sslmode` and the
    // configured files, as URL parameters (which libpq prefers to its environment).
    let tls = config
        .database
        .libpq_parameters()?
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value));
    let query: Vec<(String, String)> = query.into_iter().chain(tls).collect();
    parsed.set_query(None);
    if !query.is_empty() {
        parsed.query_pairs_mut().extend_pairs(query);
    }
    let mut command = Command::new(program);
    command.arg(format!("--dbname={parsed}"));
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    // libpq would connect to this address whatever host the URL names; the server never does.
    command.env_remove("PGHOSTADDR");
    Ok(command)
}

fn run(mut command: Command, what: &str) -> anyhow::Result<String> {
    let output = command
        .output()
        .with_context(|| format!("cannot run {what} (Debian package postgresql-client)"))?;
    if !output.status.success() {
        anyhow::bail!(
            "{what} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A custom-format dump of the database into `out` (one consistent snapshot).
pub fn dump(config: &Config, out: &Path) -> anyhow::Result<()> {
    let mut command = command(config, "pg_dump")?;
    command.args(["--format=custom", "--no-owner", "--no-privileges", "--file"]);
    command.arg(out);
    run(command, "pg_dump").map(|_| ())
}

/// The archive's table of contents (it parses as a dump), summarised.
pub fn list(archive: &Path) -> anyhow::Result<String> {
    let mut command = Command::new("pg_restore");
    command.arg("--list").arg(archive);
    let toc = run(command, "pg_restore --list")?;
    let data = toc
        .lines()
        .filter(|line| line.contains("TABLE DATA"))
        .count();
    Ok(format!(
        "PostgreSQL archive readable: {data} tables with data; restore it into an empty \
         database (`strongroom restore`) to run ledger verify and audit verify on it"
    ))
}

/// Loads the backup into the (empty) database of `database.url`, then verifies it there.
pub async fn restore(config: &Config, from: &Path) -> anyhow::Result<()> {
    let store = Store::connect(&config.database).await?;
    let tables = store.table_count().await;
    store.close().await;
    if tables? > 0 {
        return Err(Refused(
            "database.url names a database that is not empty; restore into a new, empty database"
                .into(),
        )
        .into());
    }
    let work = super::work_dir(&std::env::temp_dir().join("x"))?;
    let plain = work.path().join("plain");
    let header = super::decrypt_to(config, from, &plain).await?;
    if header.manifest.backend != "postgres" {
        return Err(ConfigError {
            key: "database.url".into(),
            reason: format!(
                "the backup is of a {} store; restore it with a configuration that names one",
                header.manifest.backend
            ),
        }
        .into());
    }
    let mut command = command(config, "pg_restore")?;
    command.args([
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
    ]);
    command.arg(&plain);
    run(command, "pg_restore")?;
    let store = crate::serve::open_store(config).await?;
    let reports = async {
        let ledger = crate::audit_commands::check_ledger(&store, config).await?;
        let audit = crate::audit_commands::check_audit(&store, config, None).await?;
        anyhow::Ok([ledger, audit])
    }
    .await;
    store.close().await;
    super::print_manifest("restored", &header.manifest);
    for report in reports? {
        println!("{report}");
    }
    Ok(())
}
