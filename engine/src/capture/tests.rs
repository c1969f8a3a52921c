//! Capture framing, from hand-made bytes.

use super::*;
use std::io::Write;

fn reader(bytes: Vec<u8>) -> Result<CaptureReader, CaptureError> {
    CaptureReader::from_reader(Box::new(std::io::Cursor::new(bytes)))
}

fn pcap_header(magic: u32, be: bool, linktype: u32) -> Vec<u8> {
    let mut v = Vec::new();
    let w32 = |v: &mut Vec<u8>, x: u32| {
        v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() })
    };
    w32(&mut v, magic);
    v.extend_from_slice(&if be { [0, 2, 0, 4] } else { [2, 0, 4, 0] });
    w32(&mut v, 0);
    w32(&mut v, 0);
    w32(&mut v, 65535);
    w32(&mut v, linktype);
    v
}

fn pcap_record(v: &mut Vec<u8>, be: bool, secs: u32, frac: u32, data: &[u8], orig: u32) {
    for x in [secs, frac, data.len() as u32, orig] {
        v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
    }
    v.extend_from_slice(data);
}

fn all(r: &mut CaptureReader) -> Vec<(u64, i64, u32, Vec<u8>, u32)> {
    let mut out = Vec::new();
    while let Some(f) = r.next_frame().expect("frame") {
        out.push((f.number, f.ts_ns, f.linktype, f.data.to_vec(), f.orig_len));
    }
    out
}

#[test]
fn pcap_little_endian_microseconds() {
    let mut v = pcap_header(0xa1b2c3d4, false, 1);
    pcap_record(&mut v, false, 10, 500_000, b"abcd", 60);
    pcap_record(&mut v, false, 11, 1, b"xy", 2);
    let mut r = reader(v).unwrap();
    assert_eq!(r.format(), Format::Pcap);
    let f = all(&mut r);
    assert_eq!(f.len(), 2);
    assert_eq!(f[0], (1, 10_500_000_000, 1, b"abcd".to_vec(), 60));
    assert_eq!(f[1].1, 11_000_001_000);
    assert_eq!(r.truncated_after(), None);
}

#[test]
fn pcap_big_endian_nanoseconds() {
    let mut v = pcap_header(0xa1b23c4d, true, 101);
    pcap_record(&mut v, true, 1, 7, b"\x45", 1);
    let mut r = reader(v).unwrap();
    let f = all(&mut r);
    assert_eq!(f, vec![(1, 1_000_000_007, 101, b"\x45".to_vec(), 1)]);
}

#[test]
fn pcap_cut_short_mid_record_ends_cleanly() {
    let mut v = pcap_header(0xa1b2c3d4, false, 1);
    pcap_record(&mut v, false, 1, 0, &[1; 40], 40);
    pcap_record(&mut v, false, 2, 0, &[2; 40], 40);
    v.truncate(v.len() - 10);
    let mut r = reader(v).unwrap();
    assert_eq!(all(&mut r).len(), 1);
    assert_eq!(r.truncated_after(), Some(1));
    assert!(r.truncation().unwrap().cut_short);
}

#[test]
fn pcap_absurd_caplen_is_damage_not_allocation() {
    let mut v = pcap_header(0xa1b2c3d4, false, 1);
    pcap_record(&mut v, false, 1, 0, &[1; 40], 40);
    v.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0x80]);
    let mut r = reader(v).unwrap();
    assert_eq!(all(&mut r).len(), 1);
    assert_eq!(r.truncated_after(), Some(1));
    assert!(!r.truncation().unwrap().cut_short);
}

#[test]
fn pcap_damage_before_any_frame_is_damaged() {
    let mut v = pcap_header(0xa1b2c3d4, false, 1);
    v.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    let mut r = reader(v).unwrap();
    assert!(matches!(
        r.next_frame(),
        Err(CaptureError::Damaged { after_frame: 0, .. })
    ));
}

#[test]
fn empty_and_not_a_capture() {
    assert_eq!(reader(vec![]).err(), Some(CaptureError::Empty));
    let e = reader(b"This is not a packet capture.\n".to_vec())
        .err()
        .unwrap();
    assert!(matches!(e, CaptureError::NotACapture(_)));
    assert_eq!(
        e.to_string(),
        "not a capture file (neither pcap nor pcapng)"
    );
    assert_eq!(
        CaptureError::Empty.to_string(),
        "empty file (0 bytes), not a capture"
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn gzip_and_zstd_by_magic() {
    let mut v = pcap_header(0xa1b2c3d4, false, 1);
    for i in 0..100u32 {
        pcap_record(&mut v, false, i, 0, &[i as u8; 100], 100);
    }
    let mut r = reader(gzip(&v)).unwrap();
    assert_eq!(all(&mut r).len(), 100);
    assert!(r.bytes_read() > 0);
    let z = zstd::encode_all(&v[..], 3).unwrap();
    let mut r = reader(z).unwrap();
    let f = all(&mut r);
    assert_eq!(f.len(), 100);
    assert_eq!(f[99].3, vec![99u8; 100]);
}

#[test]
fn gzip_cut_short_reads_up_to_the_cut() {
    let mut v = pcap_header(0xa1b2c3d4, false, 1);
    for i in 0..2000u32 {
        pcap_record(&mut v, false, i, 0, &i.to_le_bytes().repeat(25), 100);
    }
    let mut g = gzip(&v);
    g.truncate(g.len() / 2);
    let mut r = reader(g).unwrap();
    let n = all(&mut r).len() as u64;
    assert!(n > 100 && n < 2000, "{n}");
    assert_eq!(r.truncated_after(), Some(n));
}

// ---- pcapng ----

fn block(be: bool, btype: u32, body: &[u8]) -> Vec<u8> {
    let w = |x: u32| if be { x.to_be_bytes() } else { x.to_le_bytes() };
    let mut body = body.to_vec();
    while !body.len().is_multiple_of(4) {
        body.push(0);
    }
    let len = 12 + body.len() as u32;
    let mut v = Vec::new();
    v.extend_from_slice(&w(btype));
    v.extend_from_slice(&w(len));
    v.extend_from_slice(&body);
    v.extend_from_slice(&w(len));
    v
}

fn shb(be: bool) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&if be {
        0x1a2b3c4du32.to_be_bytes()
    } else {
        0x1a2b3c4du32.to_le_bytes()
    });
    b.extend_from_slice(&if be { [0, 1, 0, 0] } else { [1, 0, 0, 0] });
    b.extend_from_slice(&[0xff; 8]);
    block(be, 0x0a0d0d0a, &b)
}

fn idb(be: bool, linktype: u16, snaplen: u32, opts: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let w16 = |x: u16| if be { x.to_be_bytes() } else { x.to_le_bytes() };
    let mut b = Vec::new();
    b.extend_from_slice(&w16(linktype));
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&if be {
        snaplen.to_be_bytes()
    } else {
        snaplen.to_le_bytes()
    });
    for (code, val) in opts {
        b.extend_from_slice(&w16(*code));
        b.extend_from_slice(&w16(val.len() as u16));
        b.extend_from_slice(val);
        while !b.len().is_multiple_of(4) {
            b.push(0);
        }
    }
    if !opts.is_empty() {
        b.extend_from_slice(&[0, 0, 0, 0]);
    }
    block(be, 1, &b)
}

fn epb(be: bool, iface: u32, ts: u64, data: &[u8], orig: u32) -> Vec<u8> {
    let w = |x: u32| if be { x.to_be_bytes() } else { x.to_le_bytes() };
    let mut b = Vec::new();
    for x in [iface, (ts >> 32) as u32, ts as u32, data.len() as u32, orig] {
        b.extend_from_slice(&w(x));
    }
    b.extend_from_slice(data);
    block(be, 6, &b)
}

#[test]
fn pcapng_interfaces_resolutions_and_offsets() {
    let mut v = shb(false);
    v.extend(idb(false, 1, 0, &[]));
    // nanoseconds (10^-9) and an offset of 100 s
    v.extend(idb(
        false,
        113,
        0,
        &[(9, vec![9]), (14, 100i64.to_le_bytes().to_vec())],
    ));
    // 2^-10 seconds
    v.extend(idb(false, 101, 0, &[(9, vec![0x80 | 10])]));
    v.extend(epb(false, 0, 1_500_000, b"aa", 2));
    v.extend(epb(false, 1, 2_000_000_001, b"bbb", 3));
    v.extend(epb(false, 2, 1024 * 5 + 512, b"c", 9));
    v.extend(block(false, 4, &[0; 8])); // a name resolution block: skipped
    let mut r = reader(v).unwrap();
    assert_eq!(r.format(), Format::PcapNg);
    let f = all(&mut r);
    assert_eq!(f.len(), 3);
    assert_eq!((f[0].1, f[0].2), (1_500_000_000, 1));
    assert_eq!((f[1].1, f[1].2), (102_000_000_001, 113));
    assert_eq!((f[2].1, f[2].2, f[2].4), (5_500_000_000, 101, 9));
    assert_eq!(f[2].0, 3);
}

#[test]
fn pcapng_big_endian_section_then_little_endian_section() {
    let mut v = shb(true);
    v.extend(idb(true, 1, 0, &[]));
    v.extend(epb(true, 0, 3_000_000, b"be", 2));
    v.extend(shb(false));
    v.extend(idb(false, 276, 0, &[]));
    v.extend(epb(false, 0, 4_000_000, b"le", 2));
    let mut r = reader(v).unwrap();
    let f = all(&mut r);
    assert_eq!(f.len(), 2);
    assert_eq!(
        (f[0].0, f[0].1, f[0].2, f[0].3.as_slice()),
        (1, 3_000_000_000, 1, &b"be"[..])
    );
    assert_eq!(
        (f[1].0, f[1].1, f[1].2, f[1].3.as_slice()),
        (2, 4_000_000_000, 276, &b"le"[..])
    );
}

#[test]
fn pcapng_simple_packet_block_uses_interface_0_and_snaplen() {
    let mut v = shb(false);
    v.extend(idb(false, 1, 4, &[]));
    v.extend(epb(false, 0, 7_000_000, b"e", 1));
    let mut spb = 10u32.to_le_bytes().to_vec();
    spb.extend_from_slice(b"0123456789");
    v.extend(block(false, 3, &spb));
    let mut r = reader(v).unwrap();
    let f = all(&mut r);
    assert_eq!(f.len(), 2);
    assert_eq!(
        (f[1].0, f[1].1, f[1].3.as_slice(), f[1].4),
        (2, 7_000_000_000, &b"0123"[..], 10)
    );
}

#[test]
fn pcapng_obsolete_packet_block() {
    let mut v = shb(false);
    v.extend(idb(false, 1, 0, &[]));
    let mut b = Vec::new();
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    for x in [0u32, 2_000_000, 3, 3] {
        b.extend_from_slice(&x.to_le_bytes());
    }
    b.extend_from_slice(b"old");
    v.extend(block(false, 2, &b));
    let mut r = reader(v).unwrap();
    let f = all(&mut r);
    assert_eq!(f, vec![(1, 2_000_000_000, 1, b"old".to_vec(), 3)]);
}

#[test]
fn pcapng_block_length_zero_or_unaligned_after_frames_truncates() {
    for bad in [0u32, 13, 0xffff_fff0] {
        let mut v = shb(false);
        v.extend(idb(false, 1, 0, &[]));
        v.extend(epb(false, 0, 0, b"x", 1));
        v.extend_from_slice(&6u32.to_le_bytes());
        v.extend_from_slice(&bad.to_le_bytes());
        v.extend_from_slice(&[0; 64]);
        let mut r = reader(v).unwrap();
        assert_eq!(all(&mut r).len(), 1, "{bad}");
        assert_eq!(r.truncated_after(), Some(1));
    }
}

#[test]
fn pcapng_garbage_and_undefined_interface() {
    let mut v = shb(false);
    v.extend(idb(false, 1, 0, &[]));
    v.extend(epb(false, 0, 0, b"x", 1));
    v.extend(epb(false, 5, 0, b"y", 1));
    let mut r = reader(v).unwrap();
    assert_eq!(all(&mut r).len(), 1);
    assert_eq!(r.truncated_after(), Some(1));

    let mut v = shb(false);
    v.extend_from_slice(b"garbage garbage garbage garbage!");
    let mut r = reader(v).unwrap();
    assert!(matches!(r.next_frame(), Err(CaptureError::Damaged { .. })));
}

#[test]
fn pcapng_cut_in_an_epb() {
    let mut v = shb(false);
    v.extend(idb(false, 1, 0, &[]));
    v.extend(epb(false, 0, 0, b"x", 1));
    v.extend(epb(false, 0, 0, &[7; 100], 100));
    v.truncate(v.len() - 30);
    let mut r = reader(v).unwrap();
    assert_eq!(all(&mut r).len(), 1);
    assert_eq!(r.truncated_after(), Some(1));
    assert!(r.truncation().unwrap().cut_short);
}

#[test]
fn fuzzish_inputs_never_panic() {
    let mut base = shb(false);
    base.extend(idb(false, 1, 0, &[(9, vec![6])]));
    base.extend(epb(false, 0, 0, &[1; 30], 30));
    let mut p = pcap_header(0xa1b2c3d4, false, 1);
    pcap_record(&mut p, false, 1, 0, &[1; 30], 30);
    for src in [base, p] {
        for i in 0..src.len() {
            for val in [0u8, 0xff, 0x80, 3] {
                let mut v = src.clone();
                v[i] = val;
                if let Ok(mut r) = reader(v.clone()) {
                    while let Ok(Some(_)) = r.next_frame() {}
                }
                v.truncate(i);
                if let Ok(mut r) = reader(v) {
                    while let Ok(Some(_)) = r.next_frame() {}
                }
            }
        }
    }
}

#[test]
fn a_cut_inside_the_pcap_file_header_is_header_cut_at_every_offset() {
    let header = pcap_header(0xa1b2_c3d4, false, 1);
    for n in 1..header.len() {
        let e = reader(header[..n].to_vec()).err().expect("an error");
        assert!(matches!(e, CaptureError::HeaderCut(_)), "cut at {n}: {e:?}");
        assert!(e
            .to_string()
            .starts_with("cut short inside its file header ("));
    }
    // The whole header and nothing else: a valid capture without packets.
    let mut r = reader(header).expect("a header alone");
    assert!(all(&mut r).is_empty());
    assert_eq!(r.truncated_after(), None);
}

#[test]
fn a_cut_inside_the_pcapng_section_header_is_header_cut_at_every_offset() {
    let mut shb = vec![0x0a, 0x0d, 0x0d, 0x0a];
    shb.extend_from_slice(&28u32.to_le_bytes());
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&u64::MAX.to_le_bytes());
    shb.extend_from_slice(&28u32.to_le_bytes());
    for n in 1..shb.len() {
        let e = reader(shb[..n].to_vec()).err().expect("an error");
        assert!(matches!(e, CaptureError::HeaderCut(_)), "cut at {n}: {e:?}");
    }
    assert!(reader(shb).is_ok());
}
