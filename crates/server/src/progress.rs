//! Progress of long commands (`backup`, `restore`, `backup verify`, `ledger verify`, `audit
//! verify`, `keys rotate-kek`) on a terminal: done / total, rate and time left. Drawn on
//! stderr only when it is a terminal; in scripts and logs nothing is printed.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

fn bar(total: u64, what: &str, template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar
}

/// Bytes of `total`.
pub fn bytes(total: u64, what: &str) -> ProgressBar {
    bar(
        total,
        what,
        "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
}

/// Items (entries, records, keys) of `total`.
pub fn items(total: u64, what: &str) -> ProgressBar {
    bar(
        total,
        what,
        "{msg} {bar:30} {human_pos}/{human_len} {per_sec} eta {eta}",
    )
}
