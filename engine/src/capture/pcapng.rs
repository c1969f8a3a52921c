//! pcapng: sections (each with its own byte order) of blocks; interfaces (IDB) carry the link
//! type, the timestamp resolution (`if_tsresol`, powers of 10 or of 2) and offset
//! (`if_tsoffset`); packets come in EPB, SPB (interface 0, no timestamp) and the obsolete
//! Packet Block. Frames are counted over all three.

use pcap_parser::pcapng::{
    parse_enhancedpacketblock_be, parse_enhancedpacketblock_le, parse_interfacedescriptionblock_be,
    parse_interfacedescriptionblock_le, parse_simplepacketblock_be, parse_simplepacketblock_le,
};
use pcap_parser::OptionCode;

use super::{
    ts_to_ns, Buf, CaptureError, Step, MAX_HEADER_BLOCK_LEN, MAX_OPTIONS_LEN, MAX_RECORD_LEN,
    MAX_SKIPPED_BLOCK_LEN,
};

const SHB_TYPE: u32 = 0x0a0d_0d0a;
const IDB_TYPE: u32 = 1;
const PB_TYPE: u32 = 2;
const SPB_TYPE: u32 = 3;
const EPB_TYPE: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
/// The largest packet block we accept: header, the largest record, options.
const MAX_PACKET_BLOCK_LEN: usize = 32 + MAX_RECORD_LEN + MAX_OPTIONS_LEN;
/// Interfaces per section we keep (a section claiming more is damage).
const MAX_INTERFACES: usize = 65_536;

struct Interface {
    linktype: u32,
    snaplen: u32,
    /// Timestamp units per second.
    units: i128,
    /// Seconds added to every timestamp.
    offset_s: i64,
}

pub(crate) struct PcapNgState {
    big_endian: bool,
    interfaces: Vec<Interface>,
    last_ts_ns: i64,
}

fn rd32(b: &[u8], off: usize, be: bool) -> u32 {
    match b.get(off..off + 4) {
        Some(s) => {
            let a = [s[0], s[1], s[2], s[3]];
            if be {
                u32::from_be_bytes(a)
            } else {
                u32::from_le_bytes(a)
            }
        }
        None => 0,
    }
}

fn rd16(b: &[u8], off: usize, be: bool) -> u16 {
    match b.get(off..off + 2) {
        Some(s) => {
            if be {
                u16::from_be_bytes([s[0], s[1]])
            } else {
                u16::from_le_bytes([s[0], s[1]])
            }
        }
        None => 0,
    }
}

/// Units per second of `if_tsresol`: 10^v, or 2^(v & 0x7f) when the top bit is set.
/// (Written out here: pcap-parser 0.17 compares the raw byte, flag included, with 63,
/// so it rejects every power-of-2 resolution.)
fn ts_resolution(v: u8) -> Option<u64> {
    if v & 0x80 == 0 {
        10u64.checked_pow(v as u32)
    } else {
        1u64.checked_shl((v & 0x7f) as u32)
            .filter(|_| v & 0x7f < 64)
    }
}

impl PcapNgState {
    pub(crate) fn new(buf: &mut Buf) -> Result<Self, CaptureError> {
        let mut st = PcapNgState {
            big_endian: false,
            interfaces: Vec::new(),
            last_ts_ns: 0,
        };
        // The first block must be a readable section header.
        match st.section_header(buf) {
            Step::Continue => Ok(st),
            Step::Cut(d) => Err(CaptureError::HeaderCut(
                d.trim_start_matches("cut short ").to_string(),
            )),
            Step::Damage(d) => Err(CaptureError::Damaged {
                after_frame: 0,
                detail: d,
            }),
            _ => Err(CaptureError::Damaged {
                after_frame: 0,
                detail: "pcapng section header".into(),
            }),
        }
    }

    fn section_header(&mut self, buf: &mut Buf) -> Step {
        if !buf.ensure(12) {
            return Step::Cut("cut short in the middle of a section header".into());
        }
        let b = buf.avail();
        let be = match (rd32(b, 8, false), rd32(b, 8, true)) {
            (BYTE_ORDER_MAGIC, _) => false,
            (_, BYTE_ORDER_MAGIC) => true,
            _ => return Step::Damage("pcapng section header with a bad byte-order magic".into()),
        };
        let len = rd32(b, 4, be) as usize;
        if !(28..=MAX_HEADER_BLOCK_LEN).contains(&len) || !len.is_multiple_of(4) {
            return Step::Damage(format!("pcapng section header with bad length {len}"));
        }
        if !buf.ensure(len) {
            return Step::Cut("cut short in the middle of a section header".into());
        }
        let b = buf.avail();
        if rd32(b, len - 4, be) as usize != len {
            return Step::Damage("pcapng section header: trailing length differs".into());
        }
        if rd16(b, 12, be) != 1 {
            return Step::Damage(format!(
                "pcapng section version {} not supported",
                rd16(b, 12, be)
            ));
        }
        self.big_endian = be;
        self.interfaces.clear();
        buf.consume(len);
        Step::Continue
    }

    pub(crate) fn step(&mut self, buf: &mut Buf) -> Step {
        if buf.at_end() {
            return Step::End;
        }
        if !buf.ensure(8) {
            return Step::Cut("cut short in the middle of a block header".into());
        }
        let be = self.big_endian;
        let b = buf.avail();
        // The section header type is a palindrome: recognisable in either byte order.
        if rd32(b, 0, false) == SHB_TYPE {
            return self.section_header(buf);
        }
        let btype = rd32(b, 0, be);
        let len = rd32(b, 4, be) as usize;
        if len < 12 || !len.is_multiple_of(4) {
            return Step::Damage(format!(
                "pcapng block of type {btype:#x} with bad length {len}"
            ));
        }
        match btype {
            IDB_TYPE | PB_TYPE | SPB_TYPE | EPB_TYPE => {
                let max = if btype == IDB_TYPE {
                    MAX_HEADER_BLOCK_LEN
                } else {
                    MAX_PACKET_BLOCK_LEN
                };
                if len > max {
                    return Step::Damage(format!(
                        "pcapng block of type {btype:#x} with absurd length {len}"
                    ));
                }
                if !buf.ensure(len) {
                    return Step::Cut("cut short in the middle of a packet".into());
                }
                if rd32(buf.avail(), len - 4, be) as usize != len {
                    return Step::Damage(format!(
                        "pcapng block of type {btype:#x}: trailing length differs"
                    ));
                }
                match btype {
                    IDB_TYPE => self.interface(buf, len),
                    EPB_TYPE => self.enhanced_packet(buf, len),
                    SPB_TYPE => self.simple_packet(buf, len),
                    _ => self.obsolete_packet(buf, len),
                }
            }
            _ => {
                if len as u64 > MAX_SKIPPED_BLOCK_LEN {
                    return Step::Damage(format!(
                        "pcapng block of type {btype:#x} with absurd length {len}"
                    ));
                }
                if !buf.skip(len as u64 - 4) || !buf.ensure(4) {
                    return Step::Cut("cut short in the middle of a block".into());
                }
                if rd32(buf.avail(), 0, be) as usize != len {
                    return Step::Damage(format!(
                        "pcapng block of type {btype:#x}: trailing length differs"
                    ));
                }
                buf.consume(4);
                Step::Continue
            }
        }
    }

    fn interface(&mut self, buf: &mut Buf, len: usize) -> Step {
        let be = self.big_endian;
        let b = buf.avail().get(..len).unwrap_or(&[]);
        let parsed = if be {
            parse_interfacedescriptionblock_be(b)
        } else {
            parse_interfacedescriptionblock_le(b)
        };
        let Ok((_, idb)) = parsed else {
            return Step::Damage("pcapng interface description block unreadable".into());
        };
        let mut units: i128 = 1_000_000;
        let mut offset_s: i64 = 0;
        for opt in &idb.options {
            if opt.code == OptionCode::IfTsresol {
                if let Some(&r) = opt.value.first() {
                    match ts_resolution(r) {
                        Some(u) if u > 0 => units = u as i128,
                        _ => {
                            return Step::Damage(format!(
                                "pcapng interface with bad if_tsresol {r:#x}"
                            ))
                        }
                    }
                }
            } else if opt.code == OptionCode::IfTsoffset {
                if let Some(v) = opt.value.get(..8) {
                    let a = [v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]];
                    offset_s = if be {
                        i64::from_be_bytes(a)
                    } else {
                        i64::from_le_bytes(a)
                    };
                }
            }
        }
        if self.interfaces.len() >= MAX_INTERFACES {
            return Step::Damage("too many pcapng interfaces".into());
        }
        self.interfaces.push(Interface {
            linktype: (idb.linktype.0 as u32) & 0xffff,
            snaplen: idb.snaplen,
            units,
            offset_s,
        });
        buf.consume(len);
        Step::Continue
    }

    fn ts(&mut self, iface: usize, high: u32, low: u32) -> i64 {
        let Some(i) = self.interfaces.get(iface) else {
            return self.last_ts_ns;
        };
        let raw = ((high as u64) << 32 | low as u64) as i128;
        let ns = ts_to_ns(raw / i.units + i.offset_s as i128, raw % i.units, i.units);
        self.last_ts_ns = ns;
        ns
    }

    #[allow(clippy::too_many_arguments)]
    fn packet(
        &mut self,
        buf: &mut Buf,
        len: usize,
        data_off: usize,
        caplen: usize,
        iface: usize,
        ts_ns: i64,
        orig_len: u32,
    ) -> Step {
        let Some(i) = self.interfaces.get(iface) else {
            return Step::Damage(format!("pcapng packet on undefined interface {iface}"));
        };
        if caplen > MAX_RECORD_LEN {
            return Step::Damage(format!(
                "pcapng packet with captured length {caplen} > {MAX_RECORD_LEN}"
            ));
        }
        if data_off + caplen > len - 4 {
            return Step::Damage("pcapng packet data overruns its block".into());
        }
        let start = buf.start() + data_off;
        let linktype = i.linktype;
        buf.consume(len);
        Step::Packet {
            start,
            end: start + caplen,
            ts_ns,
            linktype,
            orig_len,
        }
    }

    fn enhanced_packet(&mut self, buf: &mut Buf, len: usize) -> Step {
        let be = self.big_endian;
        let b = buf.avail().get(..len).unwrap_or(&[]);
        let parsed = if be {
            parse_enhancedpacketblock_be(b)
        } else {
            parse_enhancedpacketblock_le(b)
        };
        let Ok((_, epb)) = parsed else {
            return Step::Damage("pcapng enhanced packet block unreadable".into());
        };
        let (iface, high, low, caplen, orig) = (
            epb.if_id as usize,
            epb.ts_high,
            epb.ts_low,
            epb.caplen as usize,
            epb.origlen,
        );
        if self.interfaces.get(iface).is_none() {
            return Step::Damage(format!("pcapng packet on undefined interface {iface}"));
        }
        let ts = self.ts(iface, high, low);
        self.packet(buf, len, 28, caplen, iface, ts, orig)
    }

    fn simple_packet(&mut self, buf: &mut Buf, len: usize) -> Step {
        let be = self.big_endian;
        let b = buf.avail().get(..len).unwrap_or(&[]);
        let parsed = if be {
            parse_simplepacketblock_be(b)
        } else {
            parse_simplepacketblock_le(b)
        };
        let Ok((_, spb)) = parsed else {
            return Step::Damage("pcapng simple packet block unreadable".into());
        };
        let orig = spb.origlen;
        let Some(i) = self.interfaces.first() else {
            return Step::Damage("pcapng simple packet block without an interface".into());
        };
        // Captured length: the original length, cut to the block and to the snap length.
        let mut caplen = (orig as usize).min(len - 16);
        if i.snaplen != 0 {
            caplen = caplen.min(i.snaplen as usize);
        }
        // No timestamp: keep the last one seen, so time never runs backwards.
        let ts = self.last_ts_ns;
        self.packet(buf, len, 12, caplen, 0, ts, orig)
    }

    fn obsolete_packet(&mut self, buf: &mut Buf, len: usize) -> Step {
        let be = self.big_endian;
        if len < 32 {
            return Step::Damage(format!("pcapng packet block with bad length {len}"));
        }
        let b = buf.avail();
        let iface = rd16(b, 8, be) as usize;
        let (high, low) = (rd32(b, 12, be), rd32(b, 16, be));
        let caplen = rd32(b, 20, be) as usize;
        let orig = rd32(b, 24, be);
        if self.interfaces.get(iface).is_none() {
            return Step::Damage(format!("pcapng packet on undefined interface {iface}"));
        }
        let ts = self.ts(iface, high, low);
        self.packet(buf, len, 28, caplen, iface, ts, orig)
    }
}
