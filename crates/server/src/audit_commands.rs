//! The proof commands: `ledger verify`, `audit verify [--anchor]`, `audit checkpoint --out`,
//! `audit export [--since]`, and `user grant-role` (the bootstrap of the first admin, audited
//! with actor `operator`).
//!
//! Every signed checkpoint in the store is checked against the audit key from the
//! configuration (never a key found in the database), and each one's heads become
//! expectations the replays must meet: an intruder who rewrites the journal or the audit log
//! and recomputes every hash still cannot make a signed checkpoint, or an anchor kept outside
//! the database, agree with the rewrite.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use ledger::audit::{AuditReplay, CheckpointFacts, Expectations, StoredRecord, checkpoint_message};
use serde::{Deserialize, Serialize};
use store::{CheckpointRecord, Store};

use crate::config::Config;
use crate::hex::{hex, unhex};
use crate::limits::ANCHOR_FILE_BYTES_MAX;

/// A checkpoint as `audit checkpoint --out` writes it, to keep outside the database.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    pub version: u32,
    pub at: String,
    pub at_ms: i64,
    pub audit_seq: i64,
    pub audit_hash: String,
    pub ledger_seq: i64,
    pub ledger_hash: String,
    pub key_id: String,
    pub signature: String,
}

const ANCHOR_VERSION: u32 = 1;

/// Every audit key a checkpoint may be signed with, as (key id, public key): the configured
/// key, then those `keys rotate-audit` retired (their public halves, in
/// `crate::signing_keys::retired_audit_keys_file`).
fn audit_public_keys(config: &Config) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let key = crypto::AuditKey::from_file(&config.audit.signing_key_file).with_context(|| {
        format!(
            "audit.signing_key_file {}",
            config.audit.signing_key_file.display()
        )
    })?;
    let mut keys = vec![(key.key_id().to_owned(), key.public_key())];
    keys.extend(crate::signing_keys::retired_audit_keys(config)?);
    Ok(keys)
}

/// Checks one checkpoint's key and signature, then records what it vouches for.
fn vouch(
    record: &CheckpointRecord,
    name: &str,
    keys: &[(String, Vec<u8>)],
    audit: &mut Expectations,
    ledger: &mut Expectations,
) -> anyhow::Result<()> {
    let Some(key) = keys.iter().find(|(id, _)| *id == record.key_id) else {
        anyhow::bail!(
            "{name}: signed by key {}, which is neither the configured audit key {} nor one it retired",
            record.key_id,
            keys.first().map_or("", |(id, _)| id.as_str())
        );
    };
    let message = checkpoint_message(&CheckpointFacts {
        at: record.at,
        audit_seq: record.audit_seq,
        audit_hash: &record.audit_hash,
        ledger_seq: record.ledger_seq,
        ledger_hash: &record.ledger_hash,
    });
    if !crypto::verify_audit_signature(&key.1, &message, &record.signature) {
        anyhow::bail!("{name}: the signature does not verify (forged or altered)");
    }
    audit.pin(record.audit_seq, &record.audit_hash, name.to_owned())?;
    ledger.pin(record.ledger_seq, &record.ledger_hash, name.to_owned())?;
    Ok(())
}

/// Every stored checkpoint, verified; `(audit, ledger)` expectations and how many there were.
async fn stored_checkpoints(
    store: &Store,
    config: &Config,
) -> anyhow::Result<(Expectations, Expectations, u64)> {
    let (mut audit, mut ledger) = (Expectations::default(), Expectations::default());
    let mut after = 0;
    let mut count = 0_u64;
    let mut key = None;
    loop {
        let page = store
            .checkpoints_after(after, store::AUDIT_PAGE_LEN_MAX)
            .await?;
        if page.is_empty() {
            break;
        }
        if key.is_none() {
            key = Some(audit_public_keys(config)?);
        }
        for record in &page {
            if let Some(key) = &key {
                vouch(
                    record,
                    &format!("checkpoint {}", record.id),
                    key,
                    &mut audit,
                    &mut ledger,
                )?;
            }
            after = record.id;
            count = count.saturating_add(1);
        }
    }
    Ok((audit, ledger, count))
}

/// The anchor file, checked against the configured audit key.
fn read_anchor(
    path: &Path,
    config: &Config,
    audit: &mut Expectations,
    ledger: &mut Expectations,
) -> anyhow::Result<Anchor> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("--anchor {}", path.display()))?
        .len();
    if size > ANCHOR_FILE_BYTES_MAX {
        anyhow::bail!(
            "--anchor {}: not an anchor file (too large)",
            path.display()
        );
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("--anchor {}", path.display()))?;
    let anchor: Anchor = serde_json::from_str(&text)
        .with_context(|| format!("--anchor {}: not an anchor file", path.display()))?;
    if anchor.version != ANCHOR_VERSION {
        anyhow::bail!(
            "--anchor {}: unknown version {}",
            path.display(),
            anchor.version
        );
    }
    let field = |name: &str, value: &str| {
        unhex(value).with_context(|| format!("--anchor {}: {name} is not hex", path.display()))
    };
    let record = CheckpointRecord {
        id: 0,
        at: anchor.at_ms,
        audit_seq: anchor.audit_seq,
        audit_hash: field("audit_hash", &anchor.audit_hash)?,
        ledger_seq: anchor.ledger_seq,
        ledger_hash: field("ledger_hash", &anchor.ledger_hash)?,
        key_id: anchor.key_id.clone(),
        signature: field("signature", &anchor.signature)?,
    };
    vouch(
        &record,
        "the anchor",
        &audit_public_keys(config)?,
        audit,
        ledger,
    )?;
    Ok(anchor)
}

/// Replays the journal against `expectations`; exits through `Err` naming the first problem.
async fn replay_ledger(
    store: &Store,
    expectations: Expectations,
) -> anyhow::Result<ledger::verify::Summary> {
    let mut replay = ledger::verify::Replay::new(store.transfer_hashed_from().await?, expectations);
    let (total, _) = store.ledger_head().await?;
    let bar = crate::progress::items(u64::try_from(total).unwrap_or(0), "ledger entries");
    loop {
        let page = store.journal_after(replay.last_seq()).await?;
        if page.is_empty() {
            break;
        }
        bar.inc(page.len() as u64);
        for record in &page {
            let entry = &record.entry;
            replay.entry(&ledger::verify::JournalEntry {
                seq: entry.seq,
                id: &entry.id,
                transfer_id: &entry.transfer_id,
                account_id: &entry.account_id,
                direction: &entry.direction,
                amount: entry.amount,
                balance_after: entry.balance_after,
                currency: &entry.currency,
                created_at: entry.created_at,
                prev_hash: &entry.prev_hash,
                hash: &entry.hash,
                transfer: record.transfer(),
            })?;
        }
    }
    bar.finish_and_clear();
    let (head_seq, head_hash) = store.ledger_head().await?;
    let accounts = store.all_accounts().await?;
    let transfers = u64::try_from(store.transfer_count().await?).unwrap_or(0);
    crate::hold_checks::check_holds(store).await?;
    Ok(replay.finish(
        (head_seq, &head_hash),
        accounts
            .iter()
            .map(|account| ledger::verify::StoredAccount {
                id: &account.id,
                currency: &account.currency,
                balance: account.balance,
            }),
        transfers,
    )?)
}

/// `ledger verify`: the journal replayed from genesis (chain, hashes including each entry's
/// transfer row, sequence, `balance_after`, transfers with exactly their two matching entries,
/// account currencies, stored balances, currencies netting to zero), holds against their
/// captures and the accounts' `held` and every signed
/// checkpoint's ledger head; exit 1 naming the first problem.
pub async fn verify_ledger(config: &Config) -> anyhow::Result<()> {
    let store = crate::serve::open_store(config).await?;
    let result = check_ledger(&store, config).await;
    store.close().await;
    println!("{}", result?);
    Ok(())
}

/// `ledger verify` on `store` (the checkpoints checked with `config`'s audit key): what it
/// found, as one line.
pub async fn check_ledger(store: &Store, config: &Config) -> anyhow::Result<String> {
    let (_, expectations, checkpoints) = stored_checkpoints(store, config).await?;
    let summary = replay_ledger(store, expectations).await?;
    Ok(format!(
        "ledger verified: {} entries, {} accounts, every currency nets to zero, {checkpoints} signed checkpoint(s) agree",
        summary.entries, summary.accounts
    ))
}

/// `audit verify [--anchor FILE]`: the audit chain and every signed checkpoint; with an anchor,
/// also that neither the audit log nor the journal was rewritten up to it.
pub async fn verify_audit(config: &Config, anchor: Option<&Path>) -> anyhow::Result<()> {
    let store = crate::serve::open_store(config).await?;
    let result = check_audit(&store, config, anchor).await;
    store.close().await;
    println!("{}", result?);
    Ok(())
}

/// `audit verify [--anchor]` on `store`: what it found.
pub async fn check_audit(
    store: &Store,
    config: &Config,
    anchor: Option<&Path>,
) -> anyhow::Result<String> {
    let result = async {
        let (mut audit, mut ledger, checkpoints) = stored_checkpoints(store, config).await?;
        let anchor = match anchor {
            Some(path) => Some(read_anchor(path, config, &mut audit, &mut ledger)?),
            None => None,
        };
        // The head first: records appended while this runs (a serving instance) lie beyond it
        // and are left for the next run, instead of looking like a head that moved.
        let (head_seq, head_hash) = store.audit_head().await?;
        let mut replay = AuditReplay::new(audit);
        let bar = crate::progress::items(u64::try_from(head_seq).unwrap_or(0), "audit records");
        while replay.last_seq() < head_seq {
            let page = store
                .audit_after(replay.last_seq(), store::AUDIT_PAGE_LEN_MAX)
                .await?;
            if page.is_empty() {
                break;
            }
            bar.inc(page.len() as u64);
            for record in page.iter().filter(|record| record.seq <= head_seq) {
                replay.record(&StoredRecord {
                    facts: record.facts(),
                    prev_hash: &record.prev_hash,
                    hash: &record.hash,
                })?;
            }
            if page.iter().any(|record| record.seq > head_seq) {
                break;
            }
        }
        bar.finish_and_clear();
        let records = replay.finish((head_seq, &head_hash))?;
        let entries = match &anchor {
            Some(_) => Some(replay_ledger(store, ledger).await?.entries),
            None => None,
        };
        anyhow::Ok((records, checkpoints, anchor, entries))
    }
    .await;
    let (records, checkpoints, anchor, entries) = result?;
    let mut report =
        format!("audit log verified: {records} records, {checkpoints} signed checkpoint(s) agree");
    if let (Some(anchor), Some(entries)) = (anchor, entries) {
        report.push_str(&format!(
            "\nanchor of {} holds: audit seq {} and ledger seq {} unchanged ({entries} entries replayed)",
            app::rfc3339(anchor.at_ms),
            anchor.audit_seq,
            anchor.ledger_seq
        ));
    }
    Ok(report)
}

/// `audit checkpoint --out FILE`: signs the current heads now and writes the checkpoint to
/// FILE (created new, 0644: it holds hashes and a signature, nothing secret).
pub async fn checkpoint(config: &Config, out: &Path) -> anyhow::Result<()> {
    let key = crypto::AuditKey::from_file(&config.audit.signing_key_file).with_context(|| {
        format!(
            "audit.signing_key_file {}",
            config.audit.signing_key_file.display()
        )
    })?;
    let store = crate::serve::open_store(config).await?;
    let now = app::Clock::System.now_ms();
    let record = app::audit::write_checkpoint(&store, &key, now, true).await;
    store.close().await;
    let record = record.map_err(|error| anyhow::anyhow!("cannot write the checkpoint: {error}"))?;
    let anchor = Anchor {
        version: ANCHOR_VERSION,
        at: app::rfc3339(record.at),
        at_ms: record.at,
        audit_seq: record.audit_seq,
        audit_hash: hex(&record.audit_hash),
        ledger_seq: record.ledger_seq,
        ledger_hash: hex(&record.ledger_hash),
        key_id: record.key_id,
        signature: hex(&record.signature),
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .with_context(|| format!("--out {} (it must not exist yet)", out.display()))?;
    file.write_all(serde_json::to_string_pretty(&anchor)?.as_bytes())?;
    file.sync_all()?;
    println!(
        "checkpoint written to {}: audit seq {}, ledger seq {}; keep it outside the database",
        out.display(),
        anchor.audit_seq,
        anchor.ledger_seq
    );
    Ok(())
}

/// One exported record: stable field names for a SIEM.
#[derive(Debug, Serialize)]
struct ExportedRecord<'a> {
    seq: i64,
    at: String,
    actor: ExportedActor<'a>,
    action: &'a str,
    target: &'a str,
    outcome: &'a str,
    request_id: &'a str,
    ip: &'a str,
    details: serde_json::Value,
    prev_hash: String,
    hash: String,
}

#[derive(Debug, Serialize)]
struct ExportedActor<'a> {
    kind: &'a str,
    id: &'a str,
}

/// `audit export [--since T]`: JSON lines on stdout, oldest first.
pub async fn export(config: &Config, since: Option<&str>) -> anyhow::Result<()> {
    let since_ms = match since {
        None => None,
        Some(text) => {
            Some(
                app::clock::parse_rfc3339(text).ok_or_else(|| crate::config::ConfigError {
                    key: "--since".into(),
                    reason: format!("{text} is not an RFC 3339 time like 2026-11-27T00:00:00Z"),
                })?,
            )
        }
    };
    let store = crate::serve::open_store(config).await?;
    let result = async {
        let mut after = match since_ms {
            Some(at) => store.audit_seq_since(at).await?,
            None => 0,
        };
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        loop {
            let page = store.audit_after(after, store::AUDIT_PAGE_LEN_MAX).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for record in &page {
                let line = ExportedRecord {
                    seq: record.seq,
                    at: app::rfc3339(record.at),
                    actor: ExportedActor {
                        kind: &record.actor_kind,
                        id: &record.actor_id,
                    },
                    action: &record.action,
                    target: &record.target,
                    outcome: &record.outcome,
                    request_id: &record.request_id,
                    ip: &record.ip,
                    details: serde_json::from_str(&record.details).unwrap_or_default(),
                    prev_hash: hex(&record.prev_hash),
                    hash: hex(&record.hash),
                };
                serde_json::to_writer(&mut out, &line)?;
                out.write_all(b"\n")?;
            }
        }
        out.flush()?;
        anyhow::Ok(())
    }
    .await;
    store.close().await;
    result
}

/// `user grant-role`: the bootstrap path (no second admin exists yet), for whoever holds the
/// configuration and keys; audited with actor `operator`.
pub async fn grant_role(config: &Config, email: &str, role: &str) -> anyhow::Result<()> {
    if !app::admin::MANAGED_ROLES.contains(&role) {
        return Err(crate::config::ConfigError {
            key: "--role".into(),
            reason: format!("must be one of {}", app::admin::MANAGED_ROLES.join(", ")),
        }
        .into());
    }
    let parsed = identity::Email::parse(email).map_err(|_| crate::config::ConfigError {
        key: "--email".into(),
        reason: format!("{email} is not an email address"),
    })?;
    let store = crate::serve::open_store(config).await?;
    let result = async {
        let user = store
            .find_user_by_email(parsed.as_str())
            .await?
            .ok_or_else(|| anyhow::anyhow!("no account with email {email}"))?;
        let operator = operator_name();
        let now = app::Clock::System.now_ms();
        let entry = store::AuditEntry {
            at: now,
            actor_kind: store::ActorKind::Operator,
            actor_id: operator,
            action: "cli.grant_role".to_owned(),
            target: format!("user:{}", user.id),
            outcome: "success",
            request_id: format!("cli:{}", app::new_id()),
            ip: String::new(),
            details: serde_json::json!({ "role": role }).to_string(),
        };
        store.set_role(&user.id, role, true, now, &entry).await?;
        anyhow::Ok(user.id)
    }
    .await;
    store.close().await;
    let user_id = result?;
    println!(
        "granted {role} to {email} (user {user_id}); admin calls read roles from the store, so it applies at once"
    );
    Ok(())
}

/// The OS user running a command, as an audit actor id (letters, digits, `-_.`).
fn operator_name() -> String {
    std::env::var("USER")
        .unwrap_or_else(|_| "unknown".to_owned())
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(64)
        .collect()
}

/// Records a state-changing CLI action (a key operation) with actor `operator`, succeeded or
/// failed, and hands its result back; a record that cannot be written fails the command.
pub async fn audited(
    config: &Config,
    action: &str,
    target: &str,
    result: anyhow::Result<()>,
) -> anyhow::Result<()> {
    let entry = store::AuditEntry {
        at: app::Clock::System.now_ms(),
        actor_kind: store::ActorKind::Operator,
        actor_id: operator_name(),
        action: action.to_owned(),
        target: target.to_owned(),
        outcome: if result.is_ok() { "success" } else { "failure" },
        request_id: format!("cli:{}", app::new_id()),
        ip: String::new(),
        details: "{}".to_owned(),
    };
    let store = crate::serve::open_store(config).await?;
    let written = store.append_audit(&[entry]).await;
    store.close().await;
    written.context("the audit record of this command could not be written")?;
    result
}

/// `migrate`: applies migrations as the schema owner (`database.migrate_url`, or
/// `database.url` when unset); with a separate owner, then grants the runtime role of
/// `database.url` its least privileges.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let Some(owner) = &config.database_owner else {
        let store = crate::serve::open_store(config).await?;
        let version = store.schema_version().await?.unwrap_or(0);
        store.close().await;
        println!(
            "migrated {} store to schema version {version}",
            store.backend().name()
        );
        return Ok(());
    };
    let owner = Store::connect(owner).await?;
    owner.migrate().await?;
    let runtime = Store::connect(&config.database).await;
    let role = match runtime {
        Ok(runtime) => {
            let role = runtime.current_role().await;
            runtime.close().await;
            role?
        }
        Err(error) => {
            owner.close().await;
            return Err(error).context("database.url (the runtime role) cannot connect");
        }
    };
    if !store::is_plain_role_name(&role) {
        owner.close().await;
        return Err(crate::config::ConfigError {
            key: "database.url".into(),
            reason: format!("the runtime role {role:?} must be a plain lower-case name"),
        }
        .into());
    }
    let granted = owner.grant_runtime(&role).await;
    let version = owner.schema_version().await?.unwrap_or(0);
    owner.close().await;
    granted?;
    println!(
        "migrated postgres store to schema version {version}; runtime role {role} may read and \
         write, but only append to {}",
        store::APPEND_ONLY_TABLES.join(", ")
    );
    Ok(())
}
