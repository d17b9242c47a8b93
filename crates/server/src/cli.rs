//! The command line (docs/cli.md): parsed by clap, dispatched by `main`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "strongroom",
    version,
    about = "Zero-trust core for products that hold and move money"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create DIR/strongroom.toml, a development PKI and fresh keys; the CA private keys go
    /// to CA_DIR, never into DIR.
    Init {
        #[arg(long)]
        dir: PathBuf,
        /// Where the CA private keys are written (default: DIR.ca beside DIR); keep it offline.
        #[arg(long, value_name = "CA_DIR")]
        ca_dir: Option<PathBuf>,
        /// Overwrite an existing, non-empty DIR or CA_DIR.
        #[arg(long)]
        force: bool,
    },
    /// Run the public, internal and ops listeners (applies pending migrations first).
    Serve {
        #[arg(long)]
        config: PathBuf,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[arg(long)]
        config: PathBuf,
    },
    /// Check the ledger.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Manage keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage the internal PKI.
    Pki {
        #[command(subcommand)]
        command: PkiCommand,
    },
    /// Operator actions on user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Prove and export the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Write an encrypted, verifiable backup of the store to PATH (a new file) while the
    /// server serves; `backup verify` checks one.
    #[command(args_conflicts_with_subcommands = true)]
    Backup {
        #[command(subcommand)]
        command: Option<BackupCommand>,
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Restore a backup: checks it completely first, then replaces the store atomically (on
    /// SQLite; on PostgreSQL it loads into an empty database). Refused (exit 2) while a
    /// server listens on server.public_addr, and over an existing store without --force.
    Restore {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        from: PathBuf,
        /// Replace the existing store (the server must be stopped).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Decrypt a backup into a temporary directory and run `ledger verify` and `audit verify`
    /// on it; the live store is not touched. Exit 1 naming the problem (truncated, altered,
    /// reordered, or encrypted under a KEK the configuration cannot use).
    Verify {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        from: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit log's hash chain and every signed checkpoint; with --anchor, also that
    /// neither the audit log nor the journal was rewritten up to the anchored checkpoint. Exit
    /// 1 naming the first bad record.
    Verify {
        #[arg(long)]
        config: PathBuf,
        /// A checkpoint written by `audit checkpoint --out`, kept outside the database.
        #[arg(long)]
        anchor: Option<PathBuf>,
    },
    /// Sign the current audit and ledger heads now and write the checkpoint to PATH (which
    /// must not exist), to keep outside the database.
    Checkpoint {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Write audit records as JSON lines to stdout, oldest first.
    Export {
        #[arg(long)]
        config: PathBuf,
        /// Only records at or after this RFC 3339 time.
        #[arg(long, value_name = "T")]
        since: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Lift the quarantine of the account with EMAIL (for accounts without a second factor,
    /// after you have confirmed with the owner): every session of the account is revoked and a
    /// `quarantine_lifted` security event names you. Exit 1 when no such account exists, or it
    /// has a second factor and --force is not given.
    LiftQuarantine {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        email: String,
        /// Also for an account with a second factor (whose owner could lift it by completing
        /// it).
        #[arg(long)]
        force: bool,
    },
    /// Give the account with EMAIL a role (support, auditor, admin) directly: the bootstrap of
    /// the first admin. Needs the configuration and keys, not the API; audited with actor
    /// `operator`. Later grants go through the admin API and a second admin's approval.
    GrantRole {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Recompute every balance from the journal, check that each currency nets to zero, that
    /// the entry hash chain (which covers each transfer row) is intact, that every transfer
    /// has exactly its two matching entries, and that every signed checkpoint agrees. Exit 1
    /// naming the first problem.
    Verify {
        #[arg(long)]
        config: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new KEK version current and rewrap every data key; data stays readable.
    RotateKek {
        #[arg(long)]
        config: PathBuf,
    },
    /// Remove an old KEK version from the provider once no data key uses it (exit 1 naming
    /// how many still do; run rotate-kek first).
    RetireKek {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        version: u32,
    },
    /// Add a new token-signing key; running servers sign with it within 10 seconds, and
    /// tokens signed by older keys verify until they expire.
    RotateSigning {
        #[arg(long)]
        config: PathBuf,
    },
    /// Make a new audit key sign checkpoints (running servers use it from their next round);
    /// the old key's public half is kept beside it, so what it signed still verifies.
    RotateAudit {
        #[arg(long)]
        config: PathBuf,
    },
    /// Remove an old token-signing key once no unexpired token can carry it (exit 1 saying
    /// how long to wait); running servers refuse its tokens within 10 seconds.
    RetireSigning {
        #[arg(long)]
        config: PathBuf,
        /// The key id (`kid` in the JWKS and in token headers). Key ids are base64url and
        /// may start with `-`, which is taken as the value, not as an option.
        #[arg(long, allow_hyphen_values = true)]
        kid: String,
        /// Retire it now even though tokens it signed may be unexpired (a compromised key):
        /// those access tokens are refused, and clients refresh them.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Issue an internal client certificate for service principal NAME
    /// (URI SAN spiffe://strongroom/service/NAME) into pki/clients/NAME.{pem,key}.
    IssueClient {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        name: String,
        /// Directory holding internal-ca.key (default: the config file's directory + .ca).
        #[arg(long, value_name = "CA_DIR")]
        ca_dir: Option<PathBuf>,
        /// Lifetime in days (at most 365; never beyond the CA's own expiry).
        #[arg(long, default_value_t = crate::pki::CLIENT_CERT_VALIDITY_DAYS_MAX)]
        days: i64,
        /// Replace an existing certificate and key for NAME.
        #[arg(long)]
        force: bool,
    },
    /// Revoke the client certificate pki/clients/NAME.pem: add its serial to the CRL at
    /// tls.internal_client_crl, which a running server picks up within seconds.
    RevokeClient {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        name: String,
        /// Directory holding internal-ca.key (default: the config file's directory + .ca).
        #[arg(long, value_name = "CA_DIR")]
        ca_dir: Option<PathBuf>,
    },
}

#[cfg(test)]
mod tests;
