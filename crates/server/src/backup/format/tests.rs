//! The backup format: a round trip, and every way a file can be damaged is caught.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use super::*;

fn header(size: u64, sha: &str) -> Header {
    Header {
        manifest: Manifest {
            format: FORMAT_VERSION,
            created_at: "2026-11-28T00:00:00Z".into(),
            backend: "sqlite".into(),
            schema_version: 15,
            ledger_head: Head {
                seq: 3,
                hash: "aa".into(),
            },
            audit_head: Head {
                seq: 9,
                hash: "bb".into(),
            },
            checkpoint: None,
            size,
            sha256: sha.into(),
            chunk_bytes: CHUNK_BYTES as u64,
            kek: KekRef {
                id: "local".into(),
                version: 1,
            },
        },
        wrapped_key: "00".into(),
    }
}

/// A plaintext of two and a half chunks, its backup, and the key.
fn sample() -> (Vec<u8>, Vec<u8>, Dek) {
    let plain: Vec<u8> = (0..CHUNK_BYTES * 5 / 2).map(|i| (i % 251) as u8).collect();
    let sha = hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &plain).as_ref());
    let dek = Dek::generate().unwrap();
    let mut file = Vec::new();
    let mut seen = 0;
    write(
        &mut file,
        &header(plain.len() as u64, &sha),
        &dek,
        &mut plain.as_slice(),
        |n| seen += n,
    )
    .unwrap();
    assert_eq!(seen, plain.len() as u64);
    (plain, file, dek)
}

fn open(file: &[u8], dek: &Dek) -> Result<Vec<u8>, FormatError> {
    let mut input = file;
    let (header, raw) = read_header(&mut input)?;
    let mut out = Vec::new();
    decrypt(&mut input, &header, &raw, dek, &mut out, |_| {})?;
    Ok(out)
}

/// Offsets of each chunk's length prefix.
fn chunk_offsets(file: &[u8]) -> Vec<usize> {
    let header_len = u32::from_be_bytes(file[8..12].try_into().unwrap()) as usize;
    let mut at = 12 + header_len;
    let mut offsets = Vec::new();
    while at < file.len() {
        offsets.push(at);
        at += 4 + u32::from_be_bytes(file[at..at + 4].try_into().unwrap()) as usize;
    }
    offsets
}

#[test]
fn a_backup_opens_to_exactly_its_plaintext() {
    let (plain, file, dek) = sample();
    assert_eq!(chunk_offsets(&file).len(), 3);
    assert_eq!(open(&file, &dek).unwrap(), plain);
}

#[test]
fn a_flipped_byte_anywhere_is_caught() {
    let (_, file, dek) = sample();
    let offsets = chunk_offsets(&file);
    // In the header, and in each chunk's ciphertext.
    for at in [
        20,
        offsets[0] + 100,
        offsets[1] + 100,
        offsets[2] + 100,
        file.len() - 1,
    ] {
        let mut bad = file.clone();
        bad[at] ^= 0x01;
        assert!(open(&bad, &dek).is_err(), "flip at {at} went unnoticed");
    }
}

#[test]
fn a_cut_file_is_truncated_even_between_chunks() {
    let (_, file, dek) = sample();
    let offsets = chunk_offsets(&file);
    for cut in [offsets[1], offsets[2], offsets[2] + 2, file.len() - 1] {
        assert!(
            matches!(open(&file[..cut], &dek), Err(FormatError::Truncated(_))),
            "cut at {cut}"
        );
    }
    assert_eq!(open(&file[..5], &dek), Err(FormatError::NotABackup));
}

#[test]
fn swapped_chunks_and_a_foreign_key_are_refused() {
    let (_, file, dek) = sample();
    let offsets = chunk_offsets(&file);
    let (first, second) = (offsets[0]..offsets[1], offsets[1]..offsets[2]);
    // Chunks 0 and 1 have the same sealed length: swap them whole.
    let mut swapped = file[..offsets[0]].to_vec();
    swapped.extend_from_slice(&file[second]);
    swapped.extend_from_slice(&file[first]);
    swapped.extend_from_slice(&file[offsets[2]..]);
    assert_eq!(swapped.len(), file.len());
    assert_eq!(open(&swapped, &dek), Err(FormatError::Tampered(0)));
    let other = Dek::generate().unwrap();
    assert!(open(&file, &other).is_err());
}

#[test]
fn a_manifest_that_lies_about_the_content_is_caught() {
    let plain = b"short".to_vec();
    let dek = Dek::generate().unwrap();
    let mut file = Vec::new();
    write(
        &mut file,
        &header(5, &"00".repeat(32)),
        &dek,
        &mut plain.as_slice(),
        |_| {},
    )
    .unwrap();
    assert!(matches!(
        open(&file, &dek),
        Err(FormatError::Mismatch { .. })
    ));
}
