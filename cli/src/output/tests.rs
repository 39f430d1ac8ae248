//! Tests of `output`.

use serde_json::json;

use super::*;

#[test]
fn a_list_prints_a_row_per_item_with_the_known_columns() {
    let document = json!({"servers": [
        {"id": "s1", "slug": "github", "name": "GitHub", "auth": {"type": "none"}},
        {"id": "s2", "slug": "jira", "name": "Jira", "enabled": false}
    ]});
    let text = render(&document, Format::Table);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].contains("ID") && lines[0].contains("SLUG") && lines[0].contains("ENABLED"));
    assert!(lines[1].contains("github") && lines[2].contains("false"));
    assert!(!text.contains("auth"), "nested fields stay out of tables");
}

#[test]
fn json_and_yaml_print_the_document_whole() {
    let document = json!({"id": "w1", "name": "Team"});
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&render(&document, Format::Json)).unwrap(),
        document
    );
    assert_eq!(render(&document, Format::Yaml), "id: w1\nname: Team\n");
}
