//! Tests of `slug`.

use super::*;

#[test]
fn accepts_lowercase_digits_and_dashes() {
    for ok in ["ab", "demo", "my-server-2", "0x", &"a".repeat(63)] {
        assert!(Slug::parse(ok).is_ok(), "{ok}");
    }
}

#[test]
fn rejects_everything_else() {
    for bad in [
        "",
        "a",
        "-ab",
        "Ab",
        "a_b",
        "a b",
        "a/b",
        "ä",
        &"a".repeat(64),
        "a\n",
    ] {
        assert!(Slug::parse(bad).is_err(), "{bad:?}");
    }
}
