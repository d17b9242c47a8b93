//! `backup`, `backup verify` and `restore`: encrypted, verifiable copies of the store.
//!
//! On SQLite the copy is taken online with `VACUUM INTO` (one read transaction: a consistent
//! snapshot while the server serves, never a copy of live WAL files); on PostgreSQL it is a
//! `pg_dump` custom-format archive. Either is encrypted in authenticated chunks (`format`)
//! under a fresh data key wrapped by the configured KEK provider. `backup verify` decrypts
//! into a temporary directory and runs `ledger verify` and `audit verify` there; `restore`
//! does the same checks before it replaces anything, and swaps the database file atomically.

pub mod format;

use std::fs::File;
use std::io::{BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;
use format::{CheckpointRef, FormatError, Head, Header, KekRef, Manifest};
use store::{DatabaseLocation, Store};

use crate::config::{Config, ConfigError};

/// The KEK-wrapping context of backup data keys.
const WRAP_CONTEXT: &str = "backup";

/// A restore refused for the state of the target (a running server, a store in place):
/// exit 2 with the reason.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

fn sha256_file(path: &Path) -> anyhow::Result<(u64, String)> {
    let mut file = BufReader::new(File::open(path)?);
    let total = std::fs::metadata(path)?.len();
    let bar = crate::progress::bytes(total, "hashing");
    let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut buf = vec![0_u8; format::CHUNK_BYTES];
    let mut size = 0_u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        digest.update(buf.get(..n).unwrap_or_default());
        size = size.saturating_add(n as u64);
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    Ok((size, format::hex(digest.finish().as_ref())))
}

fn sqlite_path(config: &Config) -> Option<&Path> {
    match &config.database {
        DatabaseLocation::SqliteFile(path) => Some(path),
        DatabaseLocation::Postgres { .. } => None,
    }
}

/// The heads, schema version and latest checkpoint of a store, for a manifest.
async fn describe(store: &Store) -> anyhow::Result<(i64, Head, Head, Option<CheckpointRef>)> {
    let schema = store.schema_version().await?.unwrap_or(0);
    let (ledger_seq, ledger_hash) = store.ledger_head().await?;
    let (audit_seq, audit_hash) = store.audit_head().await?;
    let checkpoint = store.latest_checkpoint().await?.map(|c| CheckpointRef {
        id: c.id,
        at: app::rfc3339(c.at),
        audit_seq: c.audit_seq,
        ledger_seq: c.ledger_seq,
        key_id: c.key_id,
    });
    let head = |seq, hash: Vec<u8>| Head {
        seq,
        hash: format::hex(&hash),
    };
    Ok((
        schema,
        head(ledger_seq, ledger_hash),
        head(audit_seq, audit_hash),
        checkpoint,
    ))
}

/// A private working directory beside `near` (never world-readable: it holds plaintext).
fn work_dir(near: &Path) -> anyhow::Result<tempfile::TempDir> {
    let parent = near
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok(tempfile::Builder::new()
        .prefix(".strongroom-backup-")
        .tempdir_in(parent)?)
}

/// `strongroom backup --config FILE --out PATH`.
pub async fn backup(config: &Config, out: &Path) -> anyhow::Result<()> {
    if out.exists() {
        anyhow::bail!("{} exists; choose a new path", out.display());
    }
    // The plaintext stays beside the database (or in the private temporary directory for
    // PostgreSQL), never on the backup destination.
    let work = match sqlite_path(config) {
        Some(db) => work_dir(db)?,
        None => work_dir(&std::env::temp_dir().join("x"))?,
    };
    let plain = work.path().join("plain");
    let (backend, described) = take_plaintext(config, &plain).await?;
    let (schema_version, ledger_head, audit_head, checkpoint) = described;
    let (size, sha256) = sha256_file(&plain)?;
    let provider = crate::serve::build_kek_provider(config)?;
    let dek = crypto::Dek::generate()?;
    let wrapped = provider
        .wrap(&dek, WRAP_CONTEXT)
        .await
        .context("the KEK provider cannot wrap the backup's data key")?;
    let header = Header {
        manifest: Manifest {
            format: format::FORMAT_VERSION,
            created_at: app::rfc3339(app::Clock::System.now_ms()),
            backend: backend.to_owned(),
            schema_version,
            ledger_head,
            audit_head,
            checkpoint,
            size,
            sha256,
            chunk_bytes: format::CHUNK_BYTES as u64,
            kek: KekRef {
                id: wrapped.kek_id.clone(),
                version: wrapped.kek_version,
            },
        },
        wrapped_key: format::hex(&wrapped.bytes),
    };
    // Written beside `out` under a temporary name, then linked into place: never a
    // half-written backup under the chosen name, and never one written over another.
    let name = out
        .file_name()
        .and_then(|name| name.to_str())
        .context("--out names no file")?;
    let partial = out.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let written = encrypt(&plain, &partial, &header, &dek).and_then(|()| {
        std::fs::hard_link(&partial, out)
            .with_context(|| format!("cannot create {}", out.display()))
    });
    let _ = std::fs::remove_file(&partial);
    written?;
    print_manifest("backed up", &header.manifest);
    Ok(())
}

/// The store's plaintext copy at `plain` and what it holds: a SQLite snapshot described from
/// the copy itself, or a `pg_dump` described just before it started.
async fn take_plaintext(
    config: &Config,
    plain: &Path,
) -> anyhow::Result<(&'static str, (i64, Head, Head, Option<CheckpointRef>))> {
    // Never migrated here: a backup taken before an upgrade is of the schema that runs.
    let store = Store::connect(&config.database).await?;
    let taken = match sqlite_path(config) {
        Some(_) => {
            let snapshot = plain.to_str().context("the output path is not UTF-8")?;
            let taken = store.snapshot_into(snapshot).await;
            store.close().await;
            taken?;
            // Describe the snapshot itself: exactly what the backup holds.
            let copy = Store::connect(&DatabaseLocation::SqliteFile(plain.to_owned())).await?;
            let described = describe(&copy).await;
            copy.close().await;
            ("sqlite", described?)
        }
        None => {
            // pg_dump's snapshot starts after these reads: the heads are at or before it.
            let described = describe(&store).await;
            store.close().await;
            let described = described?;
            postgres::dump(config, plain)?;
            ("postgres", described)
        }
    };
    Ok(taken)
}

/// Writes the backup of `plain` to the new file `to` and syncs it.
fn encrypt(plain: &Path, to: &Path, header: &Header, dek: &crypto::Dek) -> anyhow::Result<()> {
    let mut output = BufWriter::new(private_file(to)?);
    let bar = crate::progress::bytes(header.manifest.size, "encrypting");
    format::write(
        &mut output,
        header,
        dek,
        &mut BufReader::new(File::open(plain)?),
        |n| bar.inc(n),
    )?;
    bar.finish_and_clear();
    let file = output.into_inner().map_err(|error| error.into_error())?;
    file.sync_all()?;
    Ok(())
}

fn print_manifest(what: &str, m: &Manifest) {
    println!(
        "{what}: {} store, schema {}, {} bytes (SHA-256 {}), created {}",
        m.backend, m.schema_version, m.size, m.sha256, m.created_at
    );
    println!(
        "ledger head seq {} {}; audit head seq {} {}",
        m.ledger_head.seq, m.ledger_head.hash, m.audit_head.seq, m.audit_head.hash
    );
    match &m.checkpoint {
        Some(c) => println!(
            "latest signed checkpoint {} of {} (audit seq {}, ledger seq {}, key {})",
            c.id, c.at, c.audit_seq, c.ledger_seq, c.key_id
        ),
        None => println!("no signed checkpoint yet"),
    }
    println!("needs KEK {} version {}", m.kek.id, m.kek.version);
}

/// Opens `from`, unwraps its data key and decrypts it to `plain`; the header.
async fn decrypt_to(config: &Config, from: &Path, plain: &Path) -> anyhow::Result<Header> {
    let mut input = BufReader::new(
        File::open(from).with_context(|| format!("cannot open {}", from.display()))?,
    );
    let (header, raw) = format::read_header(&mut input)?;
    let manifest = &header.manifest;
    let wrapped = crypto::WrappedDek {
        kek_id: manifest.kek.id.clone(),
        kek_version: manifest.kek.version,
        bytes: format::unhex(&header.wrapped_key)
            .ok_or_else(|| FormatError::BadHeader("wrapped_key".into()))?,
    };
    let provider = crate::serve::build_kek_provider(config)?;
    let dek = provider.unwrap(&wrapped, WRAP_CONTEXT).await.map_err(|error| {
        anyhow::anyhow!(
            "the backup's data key is wrapped by KEK {} version {}, which the configured provider cannot unwrap ({error})",
            manifest.kek.id,
            manifest.kek.version
        )
    })?;
    let mut output = BufWriter::new(private_file(plain)?);
    let bar = crate::progress::bytes(manifest.size, "decrypting");
    format::decrypt(&mut input, &header, &raw, &dek, &mut output, |n| {
        bar.inc(n);
    })?;
    bar.finish_and_clear();
    let file = output.into_inner().map_err(|error| error.into_error())?;
    file.sync_all()?;
    Ok(header)
}

/// `ledger verify` and `audit verify` on a decrypted SQLite copy; their reports.
async fn check_copy(config: &Config, plain: &Path) -> anyhow::Result<Vec<String>> {
    let copy = Store::connect(&DatabaseLocation::SqliteFile(plain.to_owned())).await?;
    let result = async {
        copy.migrate().await?;
        let ledger = crate::audit_commands::check_ledger(&copy, config).await?;
        let audit = crate::audit_commands::check_audit(&copy, config, None).await?;
        anyhow::Ok(vec![ledger, audit])
    }
    .await;
    copy.close().await;
    result
}

/// `strongroom backup verify --config FILE --from PATH`: decrypts into a temporary directory
/// and runs `ledger verify` and `audit verify` there; the live store is never touched.
pub async fn verify(config: &Config, from: &Path) -> anyhow::Result<()> {
    let work = work_dir(&std::env::temp_dir().join("x"))?;
    let plain = work.path().join("plain");
    let header = decrypt_to(config, from, &plain).await?;
    print_manifest("backup intact", &header.manifest);
    if header.manifest.backend == "sqlite" {
        for report in check_copy(config, &plain).await? {
            println!("{report}");
        }
    } else {
        println!("{}", postgres::list(&plain)?);
    }
    Ok(())
}

/// True when something listens on the configured public address (a running server).
fn server_running(config: &Config) -> bool {
    matches!(
        std::net::TcpListener::bind(config.server.public_addr),
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse
    )
}

/// `strongroom restore --config FILE --from PATH [--force]`.
pub async fn restore(config: &Config, from: &Path, force: bool) -> anyhow::Result<()> {
    if server_running(config) {
        return Err(Refused(format!(
            "a server is listening on {} (server.public_addr); stop it before restoring",
            config.server.public_addr
        ))
        .into());
    }
    let Some(target) = sqlite_path(config).map(Path::to_path_buf) else {
        return postgres::restore(config, from).await;
    };
    let live = target.exists() && std::fs::metadata(&target)?.len() > 0;
    // A log left beside the path (of a store deleted by hand) would be replayed onto the
    // restored file: it goes too, and like a store it needs --force.
    let stale: Vec<PathBuf> = ["-wal", "-shm", "-journal"]
        .iter()
        .map(|suffix| sidecar(&target, suffix))
        .filter(|path| path.exists())
        .collect();
    if (live || !stale.is_empty()) && !force {
        return Err(Refused(format!(
            "{} holds a store or its log files; restoring replaces them: pass --force once the \
             server is stopped",
            target.display()
        ))
        .into());
    }
    let work = work_dir(&target)?;
    let plain = work.path().join("plain");
    let header = decrypt_to(config, from, &plain).await?;
    if header.manifest.backend != "sqlite" {
        return Err(ConfigError {
            key: "database.url".into(),
            reason: format!(
                "the backup is of a {} store; restore it with a configuration that names one",
                header.manifest.backend
            ),
        }
        .into());
    }
    // Checked before anything is replaced: a bad backup leaves the store as it was.
    let reports = check_copy(config, &plain).await?;
    if live {
        // Fold the old WAL into the old file and remove it, so it can never be replayed
        // onto the restored database; until the rename the old store is whole.
        let old = Store::connect(&DatabaseLocation::SqliteFile(target.clone())).await?;
        let truncated = old.truncate_log().await;
        old.close().await;
        if !truncated? {
            anyhow::bail!("the old store's log is in use; is a server still running?");
        }
    }
    for suffix in ["-wal", "-shm", "-journal"] {
        let side = sidecar(&target, suffix);
        if side.exists() {
            std::fs::remove_file(&side)?;
        }
    }
    std::fs::rename(&plain, &target)?;
    if let Some(dir) = target.parent() {
        File::open(dir)?.sync_all()?;
    }
    print_manifest("restored", &header.manifest);
    for report in reports {
        println!("{report}");
    }
    Ok(())
}

/// A new file only its owner can read.
fn private_file(path: &Path) -> anyhow::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    Ok(File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?)
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

mod postgres;
