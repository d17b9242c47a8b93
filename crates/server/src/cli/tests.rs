//! Parsing of command lines whose values look like options.

use clap::Parser;

use super::{Cli, Command, KeysCommand};

#[test]
fn a_key_id_starting_with_a_hyphen_is_a_value() {
    // Key ids are base64url: one in 64 starts with `-`.
    let parsed = Cli::try_parse_from([
        "strongroom",
        "keys",
        "retire-signing",
        "--config",
        "strongroom.toml",
        "--kid",
        "-Zq3",
    ]);
    let Ok(Cli {
        command:
            Command::Keys {
                command: KeysCommand::RetireSigning { kid, .. },
            },
    }) = parsed
    else {
        panic!("not parsed: {parsed:?}");
    };
    assert_eq!(kid, "-Zq3");
}
