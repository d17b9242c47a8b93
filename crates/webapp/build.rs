//! Embeds `web/dist` (the Vite build of the customer web app): writes `$OUT_DIR/assets.rs`, a
//! table of every file with `include_bytes!`.
//!
//! Cargo re-runs this script when anything under `web/dist` changes — files added or removed
//! included, which `include_bytes!`-based macros (rust-embed, include_dir) do not notice. A
//! checkout where the web app was never built still compiles: the table is empty (the server
//! then answers `/` with 503 `web_app_not_built`), and the script watches `web/` so that the
//! first `npm run build` triggers a rebuild.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Files larger than this are refused: the web app is a few hundred KiB, and a stray
/// multi-megabyte file in `dist/` would bloat the binary silently.
const ASSET_BYTES_MAX: u64 = 8 * 1024 * 1024;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let web = manifest_dir.join("../../web");
    let dist = web.join("dist");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("assets.rs");

    let mut files = Vec::new();
    let built = dist.join("index.html").is_file();
    if built {
        println!("cargo:rerun-if-changed={}", dist.display());
        collect(&dist, &dist, &mut files);
        files.sort();
    } else {
        // Not `dist`: watching a path that does not exist re-runs this script on every
        // build. `web/` exists in every checkout, and changes when `dist/` appears.
        println!("cargo:rerun-if-changed={}", web.display());
    }

    let mut code = String::from(
        "/// Every file of `web/dist`, by URL path.\npub static ASSETS: &[Asset] = &[\n",
    );
    for (url_path, file) in &files {
        let _ = writeln!(
            code,
            "    Asset {{ path: {url_path:?}, bytes: include_bytes!({:?}) }},",
            file.display().to_string()
        );
    }
    code.push_str("];\n");
    if let Err(error) = std::fs::write(&out, code) {
        println!("cargo::error=cannot write {}: {error}", out.display());
    }
}

/// Every regular file under `dir`, as (`/relative/url/path`, absolute path).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        println!("cargo::error=cannot read {}", dir.display());
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        if metadata.is_dir() {
            collect(root, &path, files);
            continue;
        }
        if !metadata.is_file() {
            continue;
        }
        if metadata.len() > ASSET_BYTES_MAX {
            println!(
                "cargo::error={} is larger than {ASSET_BYTES_MAX} bytes",
                path.display()
            );
            continue;
        }
        let Ok(relative) = path.strip_prefix(root) else {
            continue;
        };
        let url_path: String = relative
            .components()
            .map(|part| format!("/{}", part.as_os_str().to_string_lossy()))
            .collect();
        let absolute = std::fs::canonicalize(&path).unwrap_or(path);
        files.push((url_path, absolute));
    }
}
