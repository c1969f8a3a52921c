//! `decode::tcp_options::parse` on arbitrary option bytes.
//!
//! Input layout: byte 0, bit 0: parse the whole rest (the function's contract: any
//! slice; the tshark path hands it tshark's `tcp.options` bytes), otherwise only its
//! first 40 bytes (the most a TCP header holds: what the decoder hands it); the rest: the
//! option bytes.
//!
//! Checked with `assert!`: at most `MAX_SACK_BLOCKS` SACK blocks; a window shift of at
//! most `MAX_WINDOW_SHIFT`; what `to_bytes` writes reads back as the same options.

use pcap_analyzer_engine::decode::tcp_options::{parse, MAX_SACK_BLOCKS, MAX_WINDOW_SHIFT};

/// Run one input (see the module docs).
pub fn run(data: &[u8]) {
    let Some((&flags, bytes)) = data.split_first() else {
        return;
    };
    let bytes = if flags & 1 != 0 {
        bytes
    } else {
        &bytes[..bytes.len().min(40)]
    };
    let o = parse(bytes);
    assert!(
        usize::from(o.sack_count) <= MAX_SACK_BLOCKS,
        "too many SACK blocks"
    );
    assert_eq!(o.sack_blocks().len(), usize::from(o.sack_count));
    if let Some(ws) = o.window_scale {
        assert!(ws <= MAX_WINDOW_SHIFT, "window shift above 14");
    }
    assert_eq!(
        parse(&o.to_bytes()),
        o,
        "to_bytes does not read back the same"
    );
}
