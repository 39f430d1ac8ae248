//! Tests of `version`.

use super::*;

#[test]
fn a_data_plane_may_be_older_or_a_patch_newer_but_not_a_minor_newer() {
    assert!(check("0.1.0", "0.1.0").is_ok());
    assert!(check("0.1.0", "0.2.3").is_ok());
    assert!(check("0.1.9", "0.1.0").is_ok(), "patch releases mix freely");
    assert!(check("1.0.0", "2.0.0").is_ok());
    let skew = check("0.3.0", "0.2.7").unwrap_err();
    assert_eq!(skew.to_string().matches("0.3.0").count(), 1);
    assert!(skew.to_string().contains("(0.2.7)"));
    assert!(check("2.0.0", "1.9.0").is_err());
}

#[test]
fn a_control_plane_that_does_not_say_its_version_is_not_refused() {
    assert!(check("0.1.0", "").is_ok());
    assert!(check("0.1.0", "dev").is_ok());
}
