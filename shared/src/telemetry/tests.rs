use http::{HeaderMap, HeaderValue};

use super::*;

#[test]
fn a_valid_traceparent_gives_its_trace_id() {
    assert_eq!(
        traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        Some(TraceParent {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
            sampled: true
        })
    );
    assert_eq!(
        traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").map(|p| p.sampled),
        Some(false)
    );
}

#[test]
fn malformed_traceparents_give_none() {
    for value in [
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00-4bf92f3577b34da6a3ce929d0e0e47zz-00f067aa0ba902b7-01",
    ] {
        assert_eq!(traceparent(value), None, "{value}");
    }
}

#[test]
fn without_export_the_client_trace_id_is_reported_and_headers_are_left_alone() {
    let mut headers = HeaderMap::new();
    headers.insert(
        "traceparent",
        HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    let span = tracing::Span::none();
    assert_eq!(
        trace_position(&span, &headers),
        (Some("4bf92f3577b34da6a3ce929d0e0e4736".to_owned()), None)
    );
    let before = headers.clone();
    inject_into(&span, &mut headers);
    assert_eq!(headers, before);
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_traceparent_text_is_read_or_refused_without_panicking(text in "[ -~]{0,80}") {
            let _ = traceparent(&text);
        }

        #[test]
        fn a_well_formed_traceparent_gives_back_its_parts(trace in "[0-9a-f]{32}", parent in "[0-9a-f]{16}", sampled in any::<bool>()) {
            prop_assume!(trace.bytes().any(|b| b != b'0'));
            let value = format!("00-{trace}-{parent}-{}", if sampled { "01" } else { "00" });
            let read = traceparent(&value).expect("well formed");
            prop_assert_eq!(read.trace_id, trace.as_str());
            prop_assert_eq!(read.sampled, sampled);
        }
    }
}
