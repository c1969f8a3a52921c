//! Sharding one capture by host pair: shard `index` of `count` keeps the packets whose
//! IP address pair hashes to it, as Zeek clusters and NIC load balancers split traffic.
//!
//! The hash is symmetric (both directions of a pair land in the same shard) and depends on
//! the addresses only, so that a pair's IP fragments, both directions, every connection
//! between the two hosts and a port reused by them stay in one shard. The two addresses
//! are put in order (IPv4 as its 4 bytes, IPv6 as its 16; IPv4 before IPv6), hashed with
//! 64-bit FNV-1a, the result mixed with SplitMix64's finaliser, and taken modulo `count`.

use std::net::IpAddr;

/// Which part of a capture a run tracks: `index` in `0..count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Shard `index` of `count`, or None when the pair makes no sense (`count` 0, or
    /// `index` not below it).
    pub fn new(index: u32, count: u32) -> Option<Self> {
        (count > 0 && index < count).then_some(Shard { index, count })
    }

    /// Does the pair (`a`, `b`), in either order, belong to this shard?
    pub fn owns(self, a: IpAddr, b: IpAddr) -> bool {
        self.count == 1 || shard_of(a, b, self.count) == self.index
    }
}

fn bytes(ip: &IpAddr) -> ([u8; 16], usize) {
    let mut out = [0u8; 16];
    match ip {
        IpAddr::V4(v4) => {
            out[..4].copy_from_slice(&v4.octets());
            (out, 4)
        }
        IpAddr::V6(v6) => (v6.octets(), 16),
    }
}

/// The shard, in `0..count`, of the address pair (`a`, `b`): the same for (`b`, `a`).
/// `count` 0 is taken as 1.
pub fn shard_of(a: IpAddr, b: IpAddr, count: u32) -> u32 {
    let (lo, hi) = if b < a { (b, a) } else { (a, b) };
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for ip in [lo, hi] {
        let (buf, len) = bytes(&ip);
        for &byte in &buf[..len] {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    // SplitMix64's finaliser, so that the low bits taken by the modulo are well mixed.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h % u64::from(count.max(1))) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn both_directions_of_a_pair_land_in_the_same_shard() {
        for (a, b) in [
            ("10.0.0.1", "10.0.0.2"),
            ("::1", "fe80::1"),
            ("127.0.0.1", "::1"),
        ] {
            for n in 1..9 {
                assert_eq!(shard_of(ip(a), ip(b), n), shard_of(ip(b), ip(a), n));
            }
        }
    }

    #[test]
    fn pairs_spread_over_every_shard() {
        let mut seen = [0u32; 4];
        for i in 0..256u32 {
            let a = IpAddr::from([10, 0, (i >> 8) as u8, i as u8]);
            seen[shard_of(a, ip("192.168.1.1"), 4) as usize] += 1;
        }
        // 256 pairs over 4 shards: each gets a fair share (64 on average).
        assert!(seen.iter().all(|&n| (40..=90).contains(&n)), "{seen:?}");
    }

    #[test]
    fn a_shard_owns_exactly_its_pairs() {
        let (a, b) = (ip("10.1.2.3"), ip("10.3.2.1"));
        let k = shard_of(a, b, 3);
        let owners: Vec<u32> = (0..3)
            .filter(|&i| Shard::new(i, 3).unwrap().owns(a, b))
            .collect();
        assert_eq!(owners, [k]);
        assert!(Shard::new(0, 1).unwrap().owns(a, b));
        assert_eq!(Shard::new(3, 3), None);
        assert_eq!(Shard::new(0, 0), None);
    }
}
