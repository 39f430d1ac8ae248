use super::*;

fn split_all(chunks: &[&[u8]]) -> (Vec<Bytes>, Option<Bytes>) {
    let mut splitter = EventSplitter::default();
    let mut events = Vec::new();
    for chunk in chunks {
        events.extend(splitter.push(chunk).unwrap());
    }
    (events, splitter.finish())
}

#[test]
fn events_are_cut_at_blank_lines_whatever_the_line_endings_and_chunking() {
    let stream = b"id: 1\ndata: {\"a\":1}\n\nid: 2\r\ndata: x\r\n\r\n: comment\r\rdata: y\n\n";
    let (events, rest) = split_all(&[stream]);
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(
        events.concat(),
        stream.to_vec(),
        "bytes pass through unchanged"
    );
    assert!(rest.is_none());
    for size in 1..stream.len() {
        let chunks: Vec<&[u8]> = stream.chunks(size).collect();
        let (again, rest) = split_all(&chunks);
        assert_eq!(again, events, "chunk size {size}");
        assert!(rest.is_none());
    }
}

#[test]
fn an_unterminated_tail_is_returned_at_the_end() {
    let (events, rest) = split_all(&[b"data: 1\n\ndata: 2\n"]);
    assert_eq!(events.len(), 1);
    assert_eq!(rest.unwrap().as_ref(), b"data: 2\n");
}

#[test]
fn data_joins_lines_and_rewriting_keeps_other_fields() {
    let event = b"event: message\nid: 7\ndata: {\"a\":\ndata:1}\nretry: 100\n\n";
    assert_eq!(data(event).unwrap(), b"{\"a\":\n1}".to_vec());
    assert_eq!(data(b": only a comment\n\n"), None);
    assert_eq!(data(b"id: 3\ndata\n\n").unwrap(), b"".to_vec());
    let rewritten = with_data(event, b"{}");
    assert_eq!(
        rewritten.as_ref(),
        b"event: message\nid: 7\ndata: {}\nretry: 100\n\n"
    );
}

#[test]
fn an_endless_event_is_refused() {
    let mut splitter = EventSplitter::default();
    let chunk = vec![b'x'; 1024 * 1024];
    let mut failed = false;
    for _ in 0..20 {
        if splitter.push(&chunk).is_err() {
            failed = true;
            break;
        }
    }
    assert!(failed);
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn events_and_rest(chunks: &[&[u8]]) -> Vec<Bytes> {
        let (mut events, rest) = split_all(chunks);
        events.extend(rest);
        events
    }

    /// Events of a few `field: value` lines, each ending with a blank line, in any of the
    /// three line endings.
    fn stream() -> impl Strategy<Value = Vec<u8>> {
        let line = "[a-z]{1,6}: [ -~]{0,40}";
        let event = proptest::collection::vec(line, 1..4);
        let ending = prop_oneof![Just("\n"), Just("\r\n"), Just("\r")];
        proptest::collection::vec((event, ending), 0..8).prop_map(|events| {
            let mut bytes = Vec::new();
            for (lines, ending) in events {
                for line in lines {
                    bytes.extend_from_slice(line.as_bytes());
                    bytes.extend_from_slice(ending.as_bytes());
                }
                bytes.extend_from_slice(ending.as_bytes());
            }
            bytes
        })
    }

    proptest! {
        #[test]
        fn chunking_never_changes_the_events_or_the_bytes(bytes in stream(), cuts in proptest::collection::vec(1usize..64, 0..16)) {
            // A stream ending in a lone `\r` keeps its last event until the end (the next byte
            // could make it `\r\n`): `finish` hands it over.
            let whole = events_and_rest(&[&bytes]);
            prop_assert_eq!(whole.concat(), bytes.clone());
            let mut chunks = Vec::new();
            let mut at = 0;
            for cut in cuts {
                let end = (at + cut).min(bytes.len());
                chunks.push(&bytes[at..end]);
                at = end;
            }
            chunks.push(&bytes[at..]);
            prop_assert_eq!(events_and_rest(&chunks), whole);
        }

        #[test]
        fn any_bytes_split_without_panicking_and_lose_nothing(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            prop_assert_eq!(events_and_rest(&[&bytes]).concat(), bytes);
        }
    }
}
