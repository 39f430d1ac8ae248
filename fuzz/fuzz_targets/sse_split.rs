//! The SSE event splitter: any bytes, cut into chunks at the positions the input's first byte
//! chooses, come out as the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpgw_data_plane::relay::sse::EventSplitter;

fuzz_target!(|data: &[u8]| {
    let Some((&step, stream)) = data.split_first() else {
        return;
    };
    let step = usize::from(step.max(1));
    let mut splitter = EventSplitter::default();
    let mut out = Vec::new();
    for chunk in stream.chunks(step) {
        match splitter.push(chunk) {
            Ok(events) => events.iter().for_each(|e| out.extend_from_slice(e)),
            Err(_) => return,
        }
    }
    if let Some(rest) = splitter.finish() {
        out.extend_from_slice(&rest);
    }
    assert_eq!(out, stream, "the splitter lost or changed bytes");
});
