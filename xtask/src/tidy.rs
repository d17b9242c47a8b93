//! Tidy checks of the repository itself, run as ordinary tests.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                out.push(path);
            }
        }
    }

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf()
    }

    #[test]
    fn every_rust_file_starts_with_a_doc_line() {
        // Readers find their way by the first line of each file (ARCHITECTURE.md).
        let mut files = Vec::new();
        rust_files(&root().join("crates"), &mut files);
        rust_files(&root().join("xtask"), &mut files);
        let missing: Vec<_> = files
            .iter()
            .filter(|file| !std::fs::read_to_string(file).unwrap().starts_with("//!"))
            .collect();
        assert!(
            missing.is_empty(),
            "files without a leading //! line: {missing:?}"
        );
    }

    #[test]
    fn only_the_store_crate_speaks_sql() {
        // Dependency direction is an architecture invariant: SQL stays inside `store`.
        for entry in std::fs::read_dir(root().join("crates"))
            .unwrap()
            .map(Result::unwrap)
        {
            let manifest = std::fs::read_to_string(entry.path().join("Cargo.toml")).unwrap();
            let name = entry.file_name().into_string().unwrap();
            if name != "store" {
                assert!(!manifest.contains("sqlx"), "crate {name} depends on sqlx");
            }
        }
    }
}
