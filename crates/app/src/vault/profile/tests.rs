//! Unit tests of `profile`.

use super::*;

#[test]
fn national_ids_are_masked_to_their_last_four() {
    assert_eq!(mask("AB123456C"), "*****456C");
    assert_eq!(mask("123"), "***");
}

#[test]
fn dates_of_birth_are_real_past_dates() {
    let today = time::macros::date!(2026 - 11 - 23);
    assert!(valid_date_of_birth("1990-02-28", today));
    for bad in [
        "1990-02-30",
        "1899-12-31",
        "2030-01-01",
        "90-01-01",
        "1990-1-1",
        "1990-01-01x",
        "",
    ] {
        assert!(!valid_date_of_birth(bad, today), "{bad}");
    }
}

#[test]
fn the_published_date_of_birth_pattern_accepts_what_validation_accepts() {
    // The OpenAPI document carries this pattern; a client that follows it must never be
    // refused, nor told a valid date is invalid.
    for today in [
        time::macros::date!(2026 - 11 - 23),
        time::macros::date!(2027 - 01 - 01),
        time::macros::date!(2028 - 12 - 31),
    ] {
        let pattern = regex::Regex::new(&date_of_birth_pattern(today)).unwrap();
        let mut date = time::macros::date!(1899 - 12 - 01);
        while date < time::macros::date!(2029 - 02 - 01) {
            let text = format!(
                "{:04}-{:02}-{:02}",
                date.year(),
                u8::from(date.month()),
                date.day()
            );
            assert_eq!(
                pattern.is_match(&text),
                valid_date_of_birth(&text, today),
                "{text} on {today}"
            );
            date = date.next_day().unwrap();
        }
    }
}
