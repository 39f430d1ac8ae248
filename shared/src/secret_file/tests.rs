//! Tests of `secret_file`.

use super::*;

#[test]
fn a_secret_comes_from_its_variable_or_its_file_never_both() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "mcpgwdp_abc_def\n").unwrap();
    let from_file = value_or_file("MCPGW_X", None, Some(&file))
        .unwrap()
        .unwrap();
    assert_eq!(
        from_file.expose(),
        "mcpgwdp_abc_def",
        "the newline is dropped"
    );
    let value = Redacted::new("v".to_owned());
    assert_eq!(
        value_or_file("MCPGW_X", Some(&value), None)
            .unwrap()
            .unwrap()
            .expose(),
        "v"
    );
    assert!(matches!(
        value_or_file("MCPGW_X", Some(&value), Some(&file)),
        Err(SecretFileError::Both { .. })
    ));
    assert!(value_or_file("MCPGW_X", None, None).unwrap().is_none());
    std::fs::write(&file, "\n").unwrap();
    let empty = value_or_file("MCPGW_X", None, Some(&file)).unwrap_err();
    assert!(empty.to_string().contains("MCPGW_X_FILE"), "{empty}");
}
