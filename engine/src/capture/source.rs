//! The byte stream under the capture: plain, gzip or zstd, told apart by magic bytes.

use std::io::{BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::CaptureError;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// Read-ahead on the raw file.
const RAW_BUF_LEN: usize = 1 << 20;

/// Bytes consumed from the raw (possibly compressed) stream.
#[derive(Clone, Default)]
pub(crate) struct Counter(Arc<AtomicU64>);

impl Counter {
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

struct Counting<R> {
    inner: R,
    counter: Counter,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.0.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The decompressed stream, and the counter of raw bytes read.
pub(crate) fn open(
    r: Box<dyn Read + Send>,
) -> Result<(Box<dyn Read + Send>, Counter), CaptureError> {
    let counter = Counter::default();
    let mut raw = BufReader::with_capacity(
        RAW_BUF_LEN,
        Counting {
            inner: r,
            counter: counter.clone(),
        },
    );
    let head = loop {
        match raw.fill_buf() {
            Ok(b) => break b.to_vec(),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CaptureError::Io(e.to_string())),
        }
    };
    let reader: Box<dyn Read + Send> = if head.starts_with(&GZIP_MAGIC) {
        Box::new(flate2::bufread::MultiGzDecoder::new(raw))
    } else if head.starts_with(&ZSTD_MAGIC) {
        let dec =
            zstd::stream::read::Decoder::with_buffer(raw).map_err(|e| CaptureError::Damaged {
                after_frame: 0,
                detail: format!("zstd: {e}"),
            })?;
        Box::new(dec)
    } else {
        Box::new(raw)
    };
    Ok((reader, counter))
}
