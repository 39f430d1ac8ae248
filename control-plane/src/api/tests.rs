//! The API layer's one door: its sources name neither the database nor the secret cipher.

use std::path::{Path, PathBuf};

/// What only the service layer may touch.
const FORBIDDEN: [&str; 6] = [
    "Database",
    "sqlx",
    "Reader",
    "SecretCipher",
    ".db(",
    ".cipher(",
];

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the API sources are readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn rest_and_grpc_handlers_reach_state_only_through_the_service() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut files = vec![root.with_extension("rs")];
    sources(&root, &mut files);
    assert!(files.len() > 5, "found the API sources: {files:?}");
    for file in files.iter().filter(|f| !f.ends_with("api/tests.rs")) {
        let text = std::fs::read_to_string(file).expect("a source file");
        for word in FORBIDDEN {
            assert!(
                !text.contains(word),
                "{} names `{word}`: go through `Service` instead",
                file.display()
            );
        }
    }
}
