//! A SoftHSM2 token in a temporary directory (Debian `softhsm2`), initialised with
//! `softhsm2-util`. Processes that should see it get `SOFTHSM2_CONF`.

use std::process::Command;

use crate::run_checked;

pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
pub const SOFTHSM_TOKEN_LABEL: &str = "strongroom";
pub const SOFTHSM_PIN: &str = "246810";

pub struct SoftHsm {
    pub dir: tempfile::TempDir,
    pub conf: std::path::PathBuf,
}

impl SoftHsm {
    pub fn start() -> SoftHsm {
        assert!(
            std::path::Path::new(SOFTHSM_MODULE).exists(),
            "softhsm2 is not installed: run the test command (cargo xtask test) as root once"
        );
        let dir = tempfile::Builder::new()
            .prefix("strongroom-hsm-")
            .tempdir()
            .unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir_all(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        run_checked(
            Command::new("softhsm2-util")
                .args([
                    "--init-token",
                    "--free",
                    "--label",
                    SOFTHSM_TOKEN_LABEL,
                    "--pin",
                    SOFTHSM_PIN,
                    "--so-pin",
                    "13579111",
                ])
                .env("SOFTHSM2_CONF", &conf),
        );
        SoftHsm { dir, conf }
    }

    /// Environment for a server or CLI using this token with `keys.provider = "pkcs11"`.
    pub fn env(&self, pin_variable: &str) -> Vec<(String, String)> {
        vec![
            ("SOFTHSM2_CONF".into(), self.conf.display().to_string()),
            ("STRONGROOM__KEYS__PROVIDER".into(), "pkcs11".into()),
            ("STRONGROOM__KEYS__MODULE".into(), SOFTHSM_MODULE.into()),
            (
                "STRONGROOM__KEYS__TOKEN_LABEL".into(),
                SOFTHSM_TOKEN_LABEL.into(),
            ),
            (
                "STRONGROOM__KEYS__PIN".into(),
                format!("env:{pin_variable}"),
            ),
            (
                "STRONGROOM__KEYS__KEY_LABEL".into(),
                "strongroom-kek".into(),
            ),
            (pin_variable.into(), SOFTHSM_PIN.into()),
        ]
    }
}
