//! Tests of `document`.

use serde_json::json;

use super::*;

#[test]
fn a_rest_document_survives_the_trip_through_a_struct() {
    let document = json!({
        "id": "0190c0de-0000-7000-8000-000000000000", "version": 3, "seq": 9007199254740992_i64,
        "enabled": true, "ratio": 0.5, "none": null,
        "auth": {"type": "headers", "headers": {"X-Api-Key": {"set": true}}},
        "workspaces": ["a", "b"], "nested": [[1, 2], {"k": "v"}]
    });
    let back = from_struct(to_struct(document.clone()).unwrap());
    assert_eq!(back, document);
    assert!(
        back["version"].is_i64(),
        "whole numbers come back as integers"
    );
}

#[test]
fn only_objects_become_structs() {
    assert!(to_struct(json!([1])).is_none());
    assert!(to_struct(json!("text")).is_none());
}
