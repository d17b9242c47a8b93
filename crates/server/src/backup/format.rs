//! The backup file format. A backup is
//!
//! ```text
//! "SRBACKUP" | header length (u32, big-endian) | header (JSON: manifest + wrapped data key)
//! | chunk* where chunk = sealed length (u32, big-endian) | nonce ‖ ciphertext ‖ tag
//! ```
//!
//! Each chunk is up to `CHUNK_BYTES` of the plaintext sealed with AES-256-GCM under a data key
//! made for this backup alone (wrapped by the KEK provider; key files are never in a backup).
//! A chunk's associated data binds the SHA-256 of the header, the chunk's index and whether it
//! is the last one, so an altered header, an altered or reordered chunk, and a file cut at any
//! point — even exactly between two chunks — fail to open. The manifest also carries the
//! plaintext's size and SHA-256, checked after the last chunk.

use std::io::{Read, Write};

use crypto::Dek;
use serde::{Deserialize, Serialize};

pub use crate::hex::{hex, unhex};
use crate::limits::{BACKUP_HEADER_BYTES_MAX, BACKUP_SEALED_CHUNK_BYTES_MAX};

pub const MAGIC: &[u8; 8] = b"SRBACKUP";
pub const FORMAT_VERSION: u32 = 1;
/// Plaintext bytes per chunk: the most one AEAD seal takes.
pub const CHUNK_BYTES: usize = 64 * 1024;

const _: () = assert!(CHUNK_BYTES <= crypto::SEALED_PLAINTEXT_BYTES_MAX);
const _: () = assert!(CHUNK_BYTES + 28 <= BACKUP_SEALED_CHUNK_BYTES_MAX);

/// What a backup holds, readable without the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    pub created_at: String,
    /// `sqlite` (a database file) or `postgres` (a `pg_dump` custom-format archive).
    pub backend: String,
    pub schema_version: i64,
    pub ledger_head: Head,
    pub audit_head: Head,
    /// The latest signed checkpoint in the backup, if any.
    pub checkpoint: Option<CheckpointRef>,
    /// Plaintext bytes and their SHA-256 (hex).
    pub size: u64,
    pub sha256: String,
    pub chunk_bytes: u64,
    /// The KEK version needed to open it.
    pub kek: KekRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointRef {
    pub id: i64,
    pub at: String,
    pub audit_seq: i64,
    pub ledger_seq: i64,
    pub key_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KekRef {
    pub id: String,
    pub version: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub manifest: Manifest,
    /// The data key wrapped by the KEK named in the manifest (hex).
    pub wrapped_key: String,
}

/// Why a backup file cannot be read. Nothing is restored after any of these.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("not a Strongroom backup (bad magic)")]
    NotABackup,
    #[error("the backup header is malformed: {0}")]
    BadHeader(String),
    #[error("backup format {0} is not supported by this build")]
    UnsupportedFormat(u32),
    #[error("the backup is truncated (it ends inside chunk {0} or before its last chunk)")]
    Truncated(u64),
    #[error("chunk {0} does not authenticate: the file was altered, reordered or cut")]
    Tampered(u64),
    #[error(
        "the decrypted data is {found} bytes with SHA-256 {found_sha}, but the manifest says {size} bytes with {sha}"
    )]
    Mismatch {
        size: u64,
        sha: String,
        found: u64,
        found_sha: String,
    },
    #[error("reading or writing failed: {0}")]
    Io(String),
}

impl From<std::io::Error> for FormatError {
    fn from(error: std::io::Error) -> Self {
        FormatError::Io(error.to_string())
    }
}

fn chunk_aad(header_sha: &str, index: u64, last: bool) -> String {
    format!(
        "strongroom/backup/v1/{header_sha}/{index}/{}",
        u8::from(last)
    )
}

/// Reads until `buf` is full or the input ends; how many bytes were read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let Some(rest) = buf.get_mut(filled..) else {
            break;
        };
        match input.read(rest) {
            Ok(0) => break,
            Ok(n) => filled = filled.saturating_add(n),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// A big-endian u32 length, `None` at a clean end of input.
fn read_len(input: &mut impl Read, chunk: u64) -> Result<Option<usize>, FormatError> {
    let mut bytes = [0_u8; 4];
    match read_full(input, &mut bytes)? {
        0 => Ok(None),
        4 => Ok(Some(u32::from_be_bytes(bytes) as usize)),
        _ => Err(FormatError::Truncated(chunk)),
    }
}

/// Writes the magic, `header` and every chunk of `plain`; `progress` is told each chunk's
/// plaintext length.
pub fn write(
    out: &mut impl Write,
    header: &Header,
    dek: &Dek,
    plain: &mut impl Read,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<()> {
    let raw = serde_json::to_vec(header)?;
    let header_sha = hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &raw).as_ref());
    out.write_all(MAGIC)?;
    out.write_all(&u32::try_from(raw.len())?.to_be_bytes())?;
    out.write_all(&raw)?;
    let mut current = vec![0_u8; CHUNK_BYTES];
    let mut next = vec![0_u8; CHUNK_BYTES];
    let mut current_len = read_full(plain, &mut current)?;
    let mut index = 0_u64;
    loop {
        let next_len = read_full(plain, &mut next)?;
        let last = next_len == 0;
        let body = current.get(..current_len).unwrap_or_default();
        let sealed = dek.seal(&chunk_aad(&header_sha, index, last), body)?;
        out.write_all(&u32::try_from(sealed.len())?.to_be_bytes())?;
        out.write_all(&sealed)?;
        progress(current_len as u64);
        if last {
            return Ok(());
        }
        std::mem::swap(&mut current, &mut next);
        current_len = next_len;
        index = index.saturating_add(1);
    }
}

/// Reads the magic and the header; the header's exact bytes come back too (chunks are bound to
/// their hash).
pub fn read_header(input: &mut impl Read) -> Result<(Header, Vec<u8>), FormatError> {
    let mut magic = [0_u8; 8];
    if read_full(input, &mut magic)? != magic.len() || &magic != MAGIC {
        return Err(FormatError::NotABackup);
    }
    let len = read_len(input, 0)?.ok_or(FormatError::NotABackup)?;
    if len > BACKUP_HEADER_BYTES_MAX {
        return Err(FormatError::BadHeader(format!("{len} bytes")));
    }
    let mut raw = vec![0_u8; len];
    if read_full(input, &mut raw)? != len {
        return Err(FormatError::Truncated(0));
    }
    let header: Header =
        serde_json::from_slice(&raw).map_err(|error| FormatError::BadHeader(error.to_string()))?;
    if header.manifest.format != FORMAT_VERSION {
        return Err(FormatError::UnsupportedFormat(header.manifest.format));
    }
    Ok((header, raw))
}

/// Decrypts every chunk after the header into `out` and checks the manifest's size and
/// digest; `progress` is told each chunk's plaintext length.
pub fn decrypt(
    input: &mut impl Read,
    header: &Header,
    raw_header: &[u8],
    dek: &Dek,
    out: &mut impl Write,
    mut progress: impl FnMut(u64),
) -> Result<(), FormatError> {
    let header_sha =
        hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, raw_header).as_ref());
    let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut size = 0_u64;
    let mut index = 0_u64;
    let mut next = read_len(input, 0)?.ok_or(FormatError::Truncated(0))?;
    loop {
        if next > BACKUP_SEALED_CHUNK_BYTES_MAX {
            return Err(FormatError::Tampered(index));
        }
        let mut sealed = vec![0_u8; next];
        if read_full(input, &mut sealed)? != next {
            return Err(FormatError::Truncated(index));
        }
        let following = read_len(input, index.saturating_add(1))?;
        let last = following.is_none();
        let plain = dek
            .open(&chunk_aad(&header_sha, index, last), &sealed)
            .map_err(|_| {
                if last {
                    FormatError::Truncated(index)
                } else {
                    FormatError::Tampered(index)
                }
            })?;
        digest.update(&plain);
        size = size.saturating_add(plain.len() as u64);
        out.write_all(&plain)?;
        progress(plain.len() as u64);
        match following {
            None => break,
            Some(len) => {
                next = len;
                index = index.saturating_add(1);
            }
        }
    }
    let found_sha = hex(digest.finish().as_ref());
    let manifest = &header.manifest;
    if size != manifest.size || found_sha != manifest.sha256 {
        return Err(FormatError::Mismatch {
            size: manifest.size,
            sha: manifest.sha256.clone(),
            found: size,
            found_sha,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
