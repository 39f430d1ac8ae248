use super::*;

fn record() -> RequestRecord {
    RequestRecord {
        time: Utc::now(),
        request_id: "0190".into(),
        trace_id: None,
        span_id: None,
        workspace_id: None,
        server_id: None,
        server: Some("weather".into()),
        key_id: None,
        user: None,
        http_method: "POST".into(),
        method: Some("tools/call".into()),
        target: Some("é".repeat(300)),
        status: 200,
        reason: None,
        latency_us: 10,
        upstream_status: Some(200),
        upstream_latency_us: Some(5),
        config_seq: 7,
        server_version: Some(2),
        arguments: Some("a".repeat(MAX_PAYLOAD_BYTES + 10)),
        result: None,
    }
}

#[test]
fn long_fields_are_cut_at_a_character_boundary() {
    let bounded = record().bounded();
    let target = bounded.target.unwrap();
    assert!(target.len() <= MAX_FIELD_BYTES, "{}", target.len());
    assert!(target.ends_with('…'));
    assert_eq!(bounded.server.as_deref(), Some("weather"));
    let arguments = bounded.arguments.unwrap();
    assert!(arguments.len() <= MAX_PAYLOAD_BYTES && arguments.len() > MAX_FIELD_BYTES);
}

#[test]
fn query_strings_and_fragments_are_dropped() {
    assert_eq!(without_query("file:///a/b?token=s3cret"), "file:///a/b");
    assert_eq!(without_query("https://x/y#frag"), "https://x/y");
    assert_eq!(without_query("ui://widget"), "ui://widget");
}

#[test]
fn absent_fields_are_left_out_of_the_wire_form() {
    let json = serde_json::to_value(RequestRecord {
        upstream_status: None,
        ..record()
    })
    .unwrap();
    assert!(json.get("upstream_status").is_none());
    assert!(json.get("trace_id").is_none());
    let back: RequestRecord = serde_json::from_value(json).unwrap();
    assert_eq!(back.config_seq, 7);
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever a client sends, every field of its record stays within its cap and is
        /// still valid text.
        #[test]
        fn records_stay_within_their_caps(text in "\\PC{0,400}", payload in "\\PC{0,300}") {
            let bounded = RequestRecord {
                server: Some(text.clone()),
                target: Some(text.clone()),
                method: Some(text.clone()),
                user: Some(text.clone()),
                request_id: text.clone(),
                arguments: Some(payload.repeat(300)),
                ..record()
            }
            .bounded();
            for field in [&bounded.server, &bounded.target, &bounded.method, &bounded.user].into_iter().flatten() {
                prop_assert!(field.len() <= MAX_FIELD_BYTES);
            }
            prop_assert!(bounded.request_id.len() <= MAX_FIELD_BYTES);
            prop_assert!(bounded.arguments.unwrap().len() <= MAX_PAYLOAD_BYTES);
        }
    }
}
