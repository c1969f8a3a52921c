//! Classic pcap: a 24-byte file header, then records of a 16-byte header (24 in the
//! "modified" Kuznetzov format) and the captured bytes.

use pcap_parser::pcap::parse_pcap_header;

use super::{ts_to_ns, Buf, CaptureError, Step, MAX_RECORD_LEN};

const HEADER_LEN: usize = 24;

pub(crate) fn is_magic(m: &[u8]) -> bool {
    matches!(
        m,
        [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x34, 0xcd, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xcd, 0x34]
    )
}

pub(crate) struct PcapState {
    big_endian: bool,
    /// Fraction units per second: 1e6 or 1e9.
    units: i128,
    record_header_len: usize,
    linktype: u32,
}

impl PcapState {
    pub(crate) fn read_header(buf: &mut Buf) -> Result<Self, CaptureError> {
        if !buf.ensure(HEADER_LEN) {
            return Err(CaptureError::HeaderCut(format!(
                "{} of the pcap header's {HEADER_LEN} bytes",
                buf.avail().len()
            )));
        }
        let (_, hdr) = parse_pcap_header(buf.avail())
            .map_err(|e| CaptureError::NotACapture(format!("pcap header: {e:?}")))?;
        let big_endian = hdr.is_bigendian();
        let units = if hdr.is_nanosecond_precision() {
            1_000_000_000
        } else {
            1_000_000
        };
        let record_header_len = if hdr.is_modified_format() { 24 } else { 16 };
        // The upper bits of the link type field may carry FCS information (pcap spec §8).
        let linktype = (hdr.network.0 as u32) & 0xffff;
        buf.consume(HEADER_LEN);
        Ok(PcapState {
            big_endian,
            units,
            record_header_len,
            linktype,
        })
    }

    fn u32_at(&self, b: &[u8], off: usize) -> u32 {
        let Some(s) = b.get(off..off + 4) else {
            return 0;
        };
        let a = [s[0], s[1], s[2], s[3]];
        if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }

    pub(crate) fn step(&mut self, buf: &mut Buf) -> Step {
        if buf.at_end() {
            return Step::End;
        }
        let hl = self.record_header_len;
        if !buf.ensure(hl) {
            return Step::Cut("cut short in the middle of a packet header".into());
        }
        let h = buf.avail();
        let secs = self.u32_at(h, 0);
        let frac = self.u32_at(h, 4);
        let caplen = self.u32_at(h, 8) as usize;
        let orig_len = self.u32_at(h, 12);
        if caplen > MAX_RECORD_LEN {
            return Step::Damage(format!(
                "packet record with captured length {caplen} > {MAX_RECORD_LEN}"
            ));
        }
        if !buf.ensure(hl + caplen) {
            return Step::Cut("cut short in the middle of a packet".into());
        }
        let start = buf.start() + hl;
        buf.consume(hl + caplen);
        Step::Packet {
            start,
            end: start + caplen,
            ts_ns: ts_to_ns(secs as i128, frac as i128, self.units),
            linktype: self.linktype,
            orig_len,
        }
    }
}
