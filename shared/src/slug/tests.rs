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

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any text is a slug or refused without panicking; a slug is the text it was parsed
        /// from, and never carries a path trick.
        #[test]
        fn any_text_is_a_clean_slug_or_refused(text in "\\PC{0,80}") {
            if let Ok(slug) = Slug::parse(&text) {
                prop_assert_eq!(slug.as_str(), text.as_str());
                prop_assert!(slug.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
                prop_assert!(!slug.as_str().contains(".."));
            }
        }
    }
}
