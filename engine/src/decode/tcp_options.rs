//! TCP options (RFC 9293 §3.2): the ones the health figures use — MSS (kind 2), window
//! scale (3, RFC 7323), SACK-permitted (4) and SACK blocks (5, RFC 2018), timestamps (8).
//!
//! A malformed option list (a length below 2, or one running past the header) ends the
//! walk: what was read before it stands, as in Wireshark and tcptrace.

/// The most SACK blocks an option can carry (40 option bytes: 2 + 4 × 8 = 34).
pub const MAX_SACK_BLOCKS: usize = 4;

/// RFC 7323 §2.3: a shift above 14 is used as 14.
pub const MAX_WINDOW_SHIFT: u8 = 14;

/// The options of one segment that the engine keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    pub timestamps: bool,
    /// SACK blocks (left edge, right edge), in the order sent; `sack_count` are valid.
    pub sack: [(u32, u32); MAX_SACK_BLOCKS],
    pub sack_count: u8,
}

impl TcpOptions {
    /// The valid SACK blocks.
    pub fn sack_blocks(&self) -> &[(u32, u32)] {
        &self.sack[..usize::from(self.sack_count).min(MAX_SACK_BLOCKS)]
    }
}

impl TcpOptions {
    /// The options written out again (timestamps with zero values): what [`parse`] reads
    /// back as the same options. For callers that pass options on as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::new();
        if let Some(mss) = self.mss {
            b.extend_from_slice(&[2, 4]);
            b.extend_from_slice(&mss.to_be_bytes());
        }
        if let Some(ws) = self.window_scale {
            b.extend_from_slice(&[3, 3, ws]);
        }
        if self.sack_permitted {
            b.extend_from_slice(&[4, 2]);
        }
        if self.timestamps {
            b.extend_from_slice(&[8, 10, 0, 0, 0, 0, 0, 0, 0, 0]);
        }
        let blocks = self.sack_blocks();
        if !blocks.is_empty() {
            b.extend_from_slice(&[5, 2 + 8 * blocks.len() as u8]);
            for (l, r) in blocks {
                b.extend_from_slice(&l.to_be_bytes());
                b.extend_from_slice(&r.to_be_bytes());
            }
        }
        b
    }
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Parse the option bytes of a TCP header (after the fixed 20 bytes, up to the data
/// offset).
pub fn parse(mut b: &[u8]) -> TcpOptions {
    let mut o = TcpOptions::default();
    if b.len() == 12 && b[..4] == [1, 1, 8, 10] {
        // NOP, NOP, timestamps: nearly every segment of a Linux or BSD host after the SYN.
        o.timestamps = true;
        return o;
    }
    while let Some(&kind) = b.first() {
        match kind {
            0 => break,
            1 => {
                b = &b[1..];
                continue;
            }
            _ => {}
        }
        let Some(&len) = b.get(1) else { break };
        let len = usize::from(len);
        if len < 2 || len > b.len() {
            break;
        }
        let body = &b[2..len];
        match (kind, body.len()) {
            (2, 2) => o.mss = Some(be16(body)),
            (3, 1) => o.window_scale = Some(body[0].min(MAX_WINDOW_SHIFT)),
            (4, 0) => o.sack_permitted = true,
            (5, n) if n >= 8 => {
                // A header may carry more than one SACK option (never in a sane one): the
                // first MAX_SACK_BLOCKS blocks in all are kept.
                for block in body.chunks_exact(8) {
                    let Some(slot) = o.sack.get_mut(usize::from(o.sack_count)) else {
                        break;
                    };
                    *slot = (be32(block), be32(&block[4..]));
                    o.sack_count += 1;
                }
            }
            (8, 8) => o.timestamps = true,
            _ => {}
        }
        b = &b[len..];
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2018_two_sack_options_keep_the_first_four_blocks_in_all() {
        // A SACK option with four blocks, then another with one (found by fuzzing: the
        // fifth block indexed past the array).
        let mut b = vec![5, 34];
        for i in 0..8u32 {
            b.extend_from_slice(&(i + 1).to_be_bytes());
        }
        b.extend_from_slice(&[5, 10, 0, 0, 0, 100, 0, 0, 0, 200]);
        let o = parse(&b);
        assert_eq!(o.sack_count, 4);
        assert_eq!(o.sack, [(1, 2), (3, 4), (5, 6), (7, 8)]);
    }

    #[test]
    fn rfc7323_nop_nop_timestamps_is_timestamps_alone() {
        let b = [1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9];
        let o = parse(&b);
        assert!(o.timestamps && !o.sack_permitted);
        assert_eq!((o.mss, o.window_scale, o.sack_count), (None, None, 0));
        // The same twelve bytes in another order go through the walk, with the same result.
        let o2 = parse(&[8, 10, 0, 0, 0, 7, 0, 0, 0, 9, 1, 1]);
        assert_eq!(o, o2);
    }

    #[test]
    fn syn_options_of_a_linux_syn() {
        // MSS 65495, SACK-permitted, timestamps, NOP, window scale 10 (a loopback SYN).
        let b = [
            0x02, 0x04, 0xff, 0xd7, 0x04, 0x02, 0x08, 0x0a, 0x1a, 0x7a, 0xbf, 0xd4, 0, 0, 0, 0,
            0x01, 0x03, 0x03, 0x0a,
        ];
        let o = parse(&b);
        assert_eq!(o.mss, Some(65495));
        assert_eq!(o.window_scale, Some(10));
        assert!(o.sack_permitted && o.timestamps);
        assert_eq!(o.sack_count, 0);
    }

    #[test]
    fn sack_blocks_in_order_and_a_bad_length_stops_the_walk() {
        let mut b = vec![1, 1, 5, 18];
        b.extend_from_slice(&100u32.to_be_bytes());
        b.extend_from_slice(&200u32.to_be_bytes());
        b.extend_from_slice(&300u32.to_be_bytes());
        b.extend_from_slice(&400u32.to_be_bytes());
        b.extend_from_slice(&[2, 1, 0xff]); // MSS with length 1: malformed, ends the walk
        b.extend_from_slice(&[2, 4, 0x05, 0xb4]);
        let o = parse(&b);
        assert_eq!(o.sack_blocks(), &[(100, 200), (300, 400)]);
        assert_eq!(o.mss, None);
    }

    #[test]
    fn options_written_out_read_back_the_same() {
        let mut o = TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: true,
            ..TcpOptions::default()
        };
        o.sack[0] = (1, 2);
        o.sack[1] = (3, 4);
        o.sack_count = 2;
        assert_eq!(parse(&o.to_bytes()), o);
        assert!(TcpOptions::default().to_bytes().is_empty());
    }

    #[test]
    fn a_window_shift_above_14_is_14_and_truncated_options_are_ignored() {
        assert_eq!(parse(&[3, 3, 15]).window_scale, Some(14));
        assert_eq!(parse(&[2, 4, 0x05]).mss, None);
        assert_eq!(parse(&[8, 10, 0, 0]), TcpOptions::default());
    }
}
