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

/// Bytes read ahead per chunk on the prefetch thread.
pub(crate) const PREFETCH_CHUNK: usize = 4 << 20;
/// Chunks read ahead and not yet consumed (the memory it takes: this × the chunk).
pub(crate) const PREFETCH_DEPTH: usize = 2;

/// A stream read (and decompressed) on a thread of its own, a few chunks ahead of the
/// parser: the kernel's copy and the decompression overlap with decoding and tracking.
/// Chunks go back to the thread to be refilled, so that no memory is allocated per chunk.
pub(crate) struct Prefetch {
    full: std::sync::mpsc::Receiver<Result<Vec<u8>, (std::io::ErrorKind, String)>>,
    empty: std::sync::mpsc::SyncSender<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
    done: bool,
}

impl Prefetch {
    pub(crate) fn new(mut inner: Box<dyn Read + Send>) -> Self {
        let (full_tx, full) = std::sync::mpsc::sync_channel(PREFETCH_DEPTH);
        let (empty, empty_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(PREFETCH_DEPTH + 1);
        for _ in 0..PREFETCH_DEPTH {
            let _ = empty.send(Vec::with_capacity(PREFETCH_CHUNK));
        }
        std::thread::spawn(move || {
            while let Ok(mut chunk) = empty_rx.recv() {
                chunk.resize(PREFETCH_CHUNK, 0);
                let mut filled = 0;
                let result = loop {
                    match inner.read(&mut chunk[filled..]) {
                        Ok(0) => break Ok(()),
                        Ok(n) => {
                            filled += n;
                            if filled == chunk.len() {
                                break Ok(());
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => break Err((e.kind(), e.to_string())),
                    }
                };
                chunk.truncate(filled);
                let end = filled == 0;
                let sent = match result {
                    Ok(()) => full_tx.send(Ok(chunk)),
                    Err(e) => {
                        if filled > 0 {
                            let _ = full_tx.send(Ok(chunk));
                        }
                        let _ = full_tx.send(Err(e));
                        return;
                    }
                };
                if sent.is_err() || end {
                    return; // the reader is gone, or the stream ended
                }
            }
        });
        Prefetch {
            full,
            empty,
            current: Vec::new(),
            at: 0,
            done: false,
        }
    }
}

impl Read for Prefetch {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.current.len() {
            if self.done {
                return Ok(0);
            }
            let spent = std::mem::take(&mut self.current);
            if spent.capacity() > 0 {
                let _ = self.empty.send(spent);
            }
            self.at = 0;
            match self.full.recv() {
                Ok(Ok(chunk)) if chunk.is_empty() => self.done = true,
                Ok(Ok(chunk)) => self.current = chunk,
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(std::io::Error::new(e.0, e.1));
                }
                Err(_) => self.done = true,
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
