//! CSV cells are never formulas; ordinary text is kept as it is.

use super::cell;

#[test]
fn cells_a_spreadsheet_would_run_are_defused() {
    for formula in [
        "=HYPERLINK(\"x\")",
        "+1",
        "-2+3",
        "@SUM(A1)",
        "\tx",
        "\rx",
        "\n=1",
        "  =1",
        "\u{ff1d}1",
    ] {
        assert_eq!(cell(formula), format!("'{formula}"));
    }
    for text in ["rent", "bank-1", "", "a=b", "Zürich, 3 € \"gift\""] {
        assert_eq!(cell(text), text);
    }
}
