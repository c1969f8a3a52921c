//! A connection's Zeek `history` string and its bookkeeping, shared by every protocol.
//!
//! History letters: upper case from the originator, lower case from the responder;
//! `S` SYN, `H` SYN-ACK, `A` pure ACK, `D` payload, `F` FIN, `R` RST, `C` bad checksum,
//! `G` content gap, `T` retransmitted payload, `W` zero window, `I` FIN+RST, `Q` SYN with
//! FIN or RST, `^` roles flipped by a heuristic. `A D I Q` at most once per direction;
//! `S H F R` again only when the sequence number differs from the last packet with that
//! flag; `C G T W` at the 1st, 10th, 100th... time.

/// Zeek `ScaledHistoryEntry`: a letter at the 1st, 10th, 100th ... occurrence (the count
/// alone: the next threshold is the power of ten it has not passed).
#[derive(Clone, Debug, Default)]
pub struct Scaled {
    count: u64,
}

impl Scaled {
    pub fn hit(&mut self) -> bool {
        self.count += 1;
        let mut n = self.count;
        while n.is_multiple_of(10) {
            n /= 10;
        }
        n == 1
    }
}

/// The kinds of packet `CheckHistory` remembers per direction (SYN and SYN-ACK share one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Syn = 0,
    Fin = 1,
    Rst = 2,
    Data = 3,
    Ack = 4,
    FinRst = 5,
    SynMulti = 6,
}

/// A connection's history string with Zeek's once-per-direction bookkeeping.
#[derive(Clone, Debug, Default)]
pub struct HistoryLog {
    letters: Vec<u8>,
    /// Bit `2 * kind + is_orig`: this kind of packet was seen in this direction.
    seen: u16,
}

impl HistoryLog {
    fn bit(kind: Kind, is_orig: bool) -> u16 {
        1 << (2 * kind as u16 + u16::from(is_orig))
    }

    /// Zeek `CheckHistory`: add `letter` the first time this kind of packet is seen in this
    /// direction; true if it was seen before.
    pub fn check(&mut self, kind: Kind, letter: u8, is_orig: bool) -> bool {
        let bit = Self::bit(kind, is_orig);
        if self.seen & bit != 0 {
            return true;
        }
        self.seen |= bit;
        self.add(letter, is_orig);
        false
    }

    pub fn add(&mut self, letter: u8, is_orig: bool) {
        self.letters.push(if is_orig {
            letter.to_ascii_uppercase()
        } else {
            letter.to_ascii_lowercase()
        });
    }

    /// Roles flipped: swap the case of what is there and mark it with `^`.
    pub fn flip(&mut self) {
        let mut out = Vec::with_capacity(self.letters.len() + 1);
        out.push(b'^');
        for &c in &self.letters {
            if c != b'^' {
                out.push(if c.is_ascii_uppercase() {
                    c.to_ascii_lowercase()
                } else {
                    c.to_ascii_uppercase()
                });
            }
        }
        self.letters = out;
        // Swap the orig and resp bit of every kind.
        let even = self.seen & 0x5555;
        let odd = self.seen & 0xAAAA;
        self.seen = (even << 1) | (odd >> 1);
    }

    pub fn as_string(&self) -> String {
        String::from_utf8_lossy(&self.letters).into_owned()
    }
}

/// Ports Zeek considers "likely server ports" when it has to guess who the originator is
/// (a connection whose first packet is not a SYN). Zeek fills this set from the analyzers
/// its scripts load; this is the set of well-known service ports those analyzers register.
pub const LIKELY_SERVER_PORTS_TCP: &[u16] = &[
    20, 21, 22, 23, 25, 53, 79, 80, 81, 88, 102, 110, 111, 135, 139, 143, 179, 389, 443, 445, 465,
    502, 512, 513, 514, 515, 563, 585, 587, 593, 614, 631, 636, 989, 990, 992, 993, 995, 1080,
    1433, 1521, 1723, 1883, 2049, 2404, 3128, 3306, 3389, 5060, 5061, 5222, 5223, 5269, 5432, 5672,
    5900, 6379, 6666, 6667, 6668, 6669, 8000, 8080, 8081, 8443, 8888, 9200, 11211, 20000, 27017,
];
pub const LIKELY_SERVER_PORTS_UDP: &[u16] = &[
    53, 67, 69, 88, 111, 123, 137, 138, 161, 162, 443, 500, 514, 1194, 1812, 1813, 2123, 2152,
    3478, 3544, 4500, 4789, 5060, 5072, 5353, 5355, 6081, 11211,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeek_scaled_history_entry_fires_at_powers_of_ten() {
        let mut s = Scaled::default();
        let fired: Vec<u32> = (1..=1000).filter(|_| s.hit()).collect();
        assert_eq!(fired, vec![1, 10, 100, 1000]);
    }

    #[test]
    fn zeek_check_history_once_per_direction_and_flip_swaps_case() {
        let mut h = HistoryLog::default();
        assert!(!h.check(Kind::Syn, b'S', true));
        assert!(h.check(Kind::Syn, b'S', true));
        assert!(!h.check(Kind::Syn, b'H', false));
        h.add(b'D', true);
        assert_eq!(h.as_string(), "ShD");
        h.flip();
        assert_eq!(h.as_string(), "^sHd");
        // After a flip, what the originator had seen belongs to the responder.
        assert!(h.check(Kind::Syn, b'S', false));
        h.flip();
        assert_eq!(h.as_string(), "^ShD");
    }
}
