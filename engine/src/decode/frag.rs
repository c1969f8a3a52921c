//! IPv4 and IPv6 fragment reassembly, after Zeek's `FragReassembler` (`src/Frag.cc`).
//!
//! Fragments are held by (source, destination, identification), as Zeek keys them (the
//! protocol is not part of the key). The unfragmentable header (IPv4 header; IPv6 header plus
//! the extension headers before the Fragment header) is the one of the first fragment to
//! arrive; the next protocol is the one of the fragment at offset 0. Where fragments overlap,
//! the bytes that arrived first are kept. The datagram is complete once the bytes from 0 are
//! contiguous up to the size the last fragment (MF clear) announced; its length is then that
//! contiguous extent, and its IP length (Zeek's ip_bytes) the unfragmentable header plus it
//! (Zeek rewrites `ip_len` / `ip6_plen` to `frag_size + proto_hdr_len`).
//!
//! Limits (Zeek's `weird` habit: the excess is dropped, never a crash):
//! `MAX_FRAG_DATAGRAM_LEN` bytes of fragmentable part per datagram; `MAX_FRAG_IN_FLIGHT`
//! datagrams at once (the oldest is dropped to make room); a datagram not completed within
//! `FRAG_TIMEOUT_NS` of its first fragment is dropped (Zeek's `frag_timeout`, 5 min).

use std::collections::HashMap;
use std::net::IpAddr;

pub const MAX_FRAG_DATAGRAM_LEN: usize = 65_535;
pub const MAX_FRAG_IN_FLIGHT: usize = 1_024;
pub const FRAG_TIMEOUT_NS: i64 = 300_000_000_000;

type Key = (IpAddr, IpAddr, u32);

struct Reassembly {
    first_ts: i64,
    hdr_len: usize,
    next_proto: u8,
    /// 0 while unknown (no fragment with MF clear yet).
    frag_size: usize,
    data: Vec<u8>,
    /// Covered byte ranges, sorted and merged.
    have: Vec<(usize, usize)>,
}

/// A reassembled datagram.
pub(crate) struct Datagram {
    /// Length of the unfragmentable header it is counted with.
    pub hdr_len: usize,
    pub next_proto: u8,
    pub payload: Vec<u8>,
}

#[derive(Default)]
pub(crate) struct Fragments {
    map: HashMap<Key, Reassembly>,
    next_sweep: i64,
}

impl Fragments {
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Add one fully captured fragment: `offset` in bytes, `payload` its fragmentable part.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add(
        &mut self,
        key: Key,
        ts: i64,
        hdr_len: usize,
        proto: u8,
        offset: usize,
        more: bool,
        payload: &[u8],
    ) -> Option<Datagram> {
        self.expire(ts);
        let upper = offset + payload.len();
        if upper > MAX_FRAG_DATAGRAM_LEN {
            return None;
        }
        if !self.map.contains_key(&key) && self.map.len() >= MAX_FRAG_IN_FLIGHT {
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, r)| r.first_ts)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.map.remove(&k);
            }
        }
        let r = self.map.entry(key).or_insert_with(|| Reassembly {
            first_ts: ts,
            hdr_len,
            next_proto: proto,
            frag_size: 0,
            data: Vec::new(),
            have: Vec::new(),
        });
        if offset == 0 {
            r.next_proto = proto;
        }
        if !more && (r.frag_size == 0 || upper > r.frag_size) {
            r.frag_size = upper;
        }
        if r.frag_size != 0 && upper > r.frag_size {
            r.frag_size = upper;
        }
        r.insert(offset, payload);
        let &(lo, hi) = r.have.first()?;
        if lo != 0 || r.frag_size == 0 || hi < r.frag_size {
            return None;
        }
        let mut r = self.map.remove(&key)?;
        r.data.truncate(hi);
        Some(Datagram {
            hdr_len: r.hdr_len,
            next_proto: r.next_proto,
            payload: r.data,
        })
    }

    fn expire(&mut self, now: i64) {
        if self.map.is_empty() || now < self.next_sweep {
            return;
        }
        self.map
            .retain(|_, r| now.saturating_sub(r.first_ts) <= FRAG_TIMEOUT_NS);
        self.next_sweep = now.saturating_add(1_000_000_000);
    }
}

impl Reassembly {
    /// Copy the bytes of [offset, offset+len) not yet covered (first arrival wins).
    fn insert(&mut self, offset: usize, payload: &[u8]) {
        let upper = offset + payload.len();
        if payload.is_empty() {
            return;
        }
        if self.data.len() < upper {
            self.data.resize(upper, 0);
        }
        let mut pos = offset;
        for &(lo, hi) in &self.have {
            if hi <= pos {
                continue;
            }
            if lo >= upper {
                break;
            }
            if lo > pos {
                copy(&mut self.data, payload, offset, pos, lo.min(upper));
            }
            pos = pos.max(hi);
            if pos >= upper {
                break;
            }
        }
        if pos < upper {
            copy(&mut self.data, payload, offset, pos, upper);
        }
        // Merge the new range into the covered list.
        self.have.push((offset, upper));
        self.have.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(self.have.len());
        for &(lo, hi) in &self.have {
            match merged.last_mut() {
                Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        self.have = merged;
    }
}

fn copy(dst: &mut [u8], payload: &[u8], offset: usize, from: usize, to: usize) {
    if let (Some(d), Some(s)) = (
        dst.get_mut(from..to),
        payload.get(from - offset..to - offset),
    ) {
        d.copy_from_slice(s);
    }
}
