//! The stable-toolchain fallback of the cargo-fuzz targets: the same drivers
//! (`../drivers/*.rs`), fed seeded mutations of the seeds, the corpus and (for the
//! capture targets) the bundled captures, for a time budget, without coverage guidance,
//! libFuzzer or a nightly compiler. A panic is caught, its message, location and
//! backtrace printed, and the input written to the output folder; a run that takes longer
//! than `--timeout` seconds is written there too and ends the process (exit 70).
//!
//! ```sh
//! cd engine/fuzz
//! cargo run --release --example stable_fuzz -- --seconds 120 --seed 1          # every target
//! cargo run --release --example stable_fuzz -- --target http_parser --seconds 600
//! cargo run --release --example stable_fuzz -- --replay artifacts/stable/capture_reader-*
//! ```
//!
//! The release profile of this crate has overflow checks and debug assertions on, as
//! `cargo fuzz build` has: an arithmetic overflow is a panic here too.
//!
//! Exit status: 0 when nothing panicked, 1 when something did, 70 on a timeout.

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "../drivers/app_connection.rs"]
mod app_connection;
#[path = "../drivers/capture_decode_track.rs"]
mod capture_decode_track;
#[path = "../drivers/capture_reader.rs"]
mod capture_reader;
#[path = "../drivers/decode_frame.rs"]
mod decode_frame;
#[path = "../drivers/http_parser.rs"]
mod http_parser;
#[path = "../drivers/reassembler.rs"]
mod reassembler;
#[path = "../drivers/tcp_options.rs"]
mod tcp_options;
#[path = "../drivers/ws_parser.rs"]
mod ws_parser;

type Driver = fn(&[u8]);

const TARGETS: [(&str, Driver); 8] = [
    ("capture_decode_track", capture_decode_track::run),
    ("capture_reader", capture_reader::run),
    ("decode_frame", decode_frame::run),
    ("http_parser", http_parser::run),
    ("ws_parser", ws_parser::run),
    ("app_connection", app_connection::run),
    ("reassembler", reassembler::run),
    ("tcp_options", tcp_options::run),
];

/// xorshift64*: small, seeded, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in)
    }
}

const INTERESTING: [u64; 14] = [
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0x8000,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    1 << 63,
    u64::MAX,
    65536,
];

fn mutate(rng: &mut Rng, input: &[u8], pool: &[Vec<u8>], max_len: usize) -> Vec<u8> {
    let mut d = input.to_vec();
    let n = 1 + rng.below(8);
    for _ in 0..n {
        let len = d.len();
        match rng.below(11) {
            0 if len > 0 => {
                let i = rng.below(len);
                d[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                d[i] = INTERESTING[rng.below(INTERESTING.len())] as u8;
            }
            2 if len >= 2 => {
                let i = rng.below(len - 1);
                let v = INTERESTING[rng.below(INTERESTING.len())] as u16;
                let b = if rng.chance(2) {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                d[i..i + 2].copy_from_slice(&b);
            }
            3 if len >= 4 => {
                let i = rng.below(len - 3);
                let v = INTERESTING[rng.below(INTERESTING.len())] as u32;
                let v = if rng.chance(3) {
                    v.wrapping_add(rng.below(64) as u32)
                } else {
                    v
                };
                let b = if rng.chance(2) {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                d[i..i + 4].copy_from_slice(&b);
            }
            4 if len >= 8 => {
                let i = rng.below(len - 7);
                let v = INTERESTING[rng.below(INTERESTING.len())];
                d[i..i + 8].copy_from_slice(&v.to_be_bytes());
            }
            5 => {
                let i = rng.below(len + 1);
                let most = if rng.chance(8) { 512 } else { 16 };
                let k = 1 + rng.below(most);
                let junk: Vec<u8> = (0..k).map(|_| rng.next() as u8).collect();
                d.splice(i..i, junk);
            }
            6 if len > 0 => {
                let i = rng.below(len);
                let most = if rng.chance(4) { 1024 } else { 16 };
                let k = 1 + rng.below((len - i).min(most));
                d.drain(i..i + k);
            }
            7 if len > 0 => {
                let i = rng.below(len);
                let k = 1 + rng.below((len - i).min(256));
                let piece = d[i..i + k].to_vec();
                let at = rng.below(len + 1);
                d.splice(at..at, piece);
            }
            8 if !pool.is_empty() => {
                let other = &pool[rng.below(pool.len())];
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = a + rng.below(other.len() - a) + 1;
                    let at = rng.below(len + 1);
                    d.truncate(at);
                    d.extend_from_slice(&other[a..b]);
                }
            }
            9 if len > 0 => d.truncate(rng.below(len)),
            _ => {
                let k = rng.below(64);
                d.extend((0..k).map(|_| rng.next() as u8));
            }
        }
    }
    d.truncate(max_len);
    d
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The starting inputs of a target: its seeds and corpus folders, and for the capture
/// targets the bundled captures (with an options byte in front for
/// `capture_decode_track`); for `app_connection` the HTTP parser's seeds rewritten to its
/// layout.
fn pool_for(target: &str, fuzz_dir: &Path, extra: &[PathBuf], max_len: usize) -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    for d in ["seeds", "corpus", "regressions"] {
        files_under(&fuzz_dir.join(d).join(target), &mut files);
    }
    let mut pool: Vec<Vec<u8>> = files.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    let mut regressions = Vec::new();
    files_under(&fuzz_dir.join("regressions"), &mut regressions);
    for p in regressions {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with(&format!("{target}-")) {
            pool.extend(std::fs::read(&p).ok());
        }
    }
    if target == "capture_decode_track" || target == "capture_reader" {
        let mut caps = Vec::new();
        files_under(&fuzz_dir.join("../../captures"), &mut caps);
        for p in caps {
            let name = p.to_string_lossy().into_owned();
            if name.ends_with(".json") || name.ends_with(".py") {
                continue;
            }
            if let Ok(mut data) = std::fs::read(&p) {
                if data.len() > 200_000 {
                    continue;
                }
                if target == "capture_decode_track" {
                    data.insert(0, 0);
                }
                pool.push(data);
            }
        }
    }
    if target == "app_connection" {
        let mut seeds = Vec::new();
        files_under(&fuzz_dir.join("seeds/http_parser"), &mut seeds);
        for p in seeds {
            let Ok(s) = std::fs::read(&p) else { continue };
            if s.len() < 4 {
                continue;
            }
            let skip = 4 + 2 * usize::from(s[3] % 32);
            let streams = s.get(skip..).unwrap_or(&[]);
            for flags in [0x21u8, 0x00, 0x4b] {
                let mut d = vec![flags, s[1], s[2], 99];
                d.extend_from_slice(streams);
                pool.push(d);
            }
        }
    }
    if target == "tcp_options" {
        pool.push(vec![
            0, 2, 4, 0xff, 0xd7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 10,
        ]);
        pool.push(vec![
            0, 1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
        ]);
        pool.push(vec![
            1, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 5, 10, 0, 0, 0, 9, 0, 0, 0, 10,
        ]);
    }
    for d in extra {
        let mut more = Vec::new();
        files_under(d, &mut more);
        pool.extend(more.iter().filter_map(|p| std::fs::read(p).ok()));
    }
    for p in &mut pool {
        p.truncate(max_len.max(65_536));
    }
    if pool.is_empty() {
        pool.push(Vec::new());
    }
    pool
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[derive(Default)]
struct PanicInfo {
    message: String,
    location: String,
    backtrace: String,
}

struct Args {
    targets: Vec<String>,
    seconds: f64,
    seed: u64,
    max_len: usize,
    timeout: f64,
    out: PathBuf,
    corpus: Vec<PathBuf>,
    replay: Vec<PathBuf>,
}

fn parse_args() -> Args {
    let mut a = Args {
        targets: Vec::new(),
        seconds: 60.0,
        seed: 1,
        max_len: 65_536,
        timeout: 10.0,
        out: PathBuf::from("artifacts/stable"),
        corpus: Vec::new(),
        replay: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--target" => a.targets.push(val()),
            "--seconds" => a.seconds = val().parse().unwrap_or_else(|_| usage("--seconds N")),
            "--seed" => a.seed = val().parse().unwrap_or_else(|_| usage("--seed N")),
            "--max-len" => a.max_len = val().parse().unwrap_or_else(|_| usage("--max-len N")),
            "--timeout" => a.timeout = val().parse().unwrap_or_else(|_| usage("--timeout S")),
            "--out" => a.out = PathBuf::from(val()),
            "--corpus" => a.corpus.push(PathBuf::from(val())),
            "--replay" => {
                a.replay.push(PathBuf::from(val()));
                a.replay.extend(it.by_ref().map(PathBuf::from));
            }
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if a.targets.is_empty() || a.targets.iter().any(|t| t == "all") {
        a.targets = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    }
    for t in &a.targets {
        if !TARGETS.iter().any(|(n, _)| n == t) {
            usage(&format!("no target {t}"));
        }
    }
    a
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("error: {problem}");
    }
    eprintln!(
        "usage: stable_fuzz [--target NAME|all]... [--seconds N per target] [--seed N] \
         [--max-len N] [--timeout S] [--out DIR] [--corpus DIR]... [--replay FILE...]\n\
         targets: {}",
        TARGETS
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    );
    std::process::exit(2)
}

fn main() {
    let args = parse_args();
    let fuzz_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let caught: Arc<Mutex<PanicInfo>> = Arc::new(Mutex::new(PanicInfo::default()));
    {
        let caught = Arc::clone(&caught);
        panic::set_hook(Box::new(move |info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let location = info.location().map(|l| l.to_string()).unwrap_or_default();
            let backtrace = std::backtrace::Backtrace::force_capture().to_string();
            if let Ok(mut c) = caught.lock() {
                *c = PanicInfo {
                    message,
                    location,
                    backtrace,
                };
            }
        }));
    }
    if !args.replay.is_empty() {
        std::process::exit(replay(&args, &caught));
    }
    // The watchdog: the input being run and when it started (ms since `epoch`, 0: idle).
    let current: Arc<Mutex<(String, Vec<u8>)>> = Arc::new(Mutex::new((String::new(), Vec::new())));
    let started = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let epoch = Instant::now();
    {
        let (current, started, done) = (
            Arc::clone(&current),
            Arc::clone(&started),
            Arc::clone(&done),
        );
        let (timeout, out) = (args.timeout, args.out.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let s = started.load(Ordering::Relaxed);
                let now = epoch.elapsed().as_millis() as u64;
                if s != 0 && now.saturating_sub(s) as f64 > timeout * 1000.0 {
                    if let Ok(c) = current.lock() {
                        let _ = std::fs::create_dir_all(&out);
                        let p = out.join(format!("timeout-{}-{:016x}", c.0, fnv(&c.1)));
                        let _ = std::fs::write(&p, &c.1);
                        eprintln!(
                            "TIMEOUT: {} ran over {timeout} s; input {}",
                            c.0,
                            p.display()
                        );
                    }
                    std::process::exit(70);
                }
            }
        });
    }
    let mut total_panics = 0;
    let mut report = Vec::new();
    for (ti, target) in args.targets.iter().enumerate() {
        let run = TARGETS
            .iter()
            .find(|(n, _)| n == target)
            .map(|(_, f)| *f)
            .unwrap_or(|_| ());
        let pool = pool_for(target, &fuzz_dir, &args.corpus, args.max_len);
        let mut rng = Rng(args
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(ti as u64 + 1)
            | 1);
        let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
        let t0 = Instant::now();
        let mut execs = 0u64;
        let mut slowest = 0f64;
        let mut panics: BTreeMap<String, (u64, PathBuf, String, String)> = BTreeMap::new();
        // The pool as given first, then mutants.
        let mut queue: Vec<Vec<u8>> = pool.clone();
        while Instant::now() < deadline {
            let input = if let Some(d) = queue.pop() {
                d
            } else if rng.chance(16) {
                let k = rng.below(args.max_len.min(4096));
                (0..k).map(|_| rng.next() as u8).collect()
            } else {
                let base = &pool[rng.below(pool.len())];
                mutate(&mut rng, base, &pool, args.max_len)
            };
            if let Ok(mut c) = current.lock() {
                c.0.clone_from(target);
                c.1.clone_from(&input);
            }
            let t = Instant::now();
            started.store(epoch.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
            let result = panic::catch_unwind(AssertUnwindSafe(|| run(&input)));
            started.store(0, Ordering::Relaxed);
            slowest = slowest.max(t.elapsed().as_secs_f64());
            execs += 1;
            if result.is_err() {
                let info = caught
                    .lock()
                    .map(|c| (c.message.clone(), c.location.clone(), c.backtrace.clone()));
                let (message, location, backtrace) = info.unwrap_or_default();
                let key = location.clone();
                let entry = panics.entry(key).or_insert_with(|| {
                    let _ = std::fs::create_dir_all(&args.out);
                    let p = args.out.join(format!("{target}-crash-{:016x}", fnv(&input)));
                    let _ = std::fs::write(&p, &input);
                    eprintln!(
                        "PANIC in {target}: {message} at {location}; input {} ({} bytes)\n{backtrace}",
                        p.display(),
                        input.len()
                    );
                    (0, p, message.clone(), backtrace.clone())
                });
                entry.0 += 1;
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        let n: u64 = panics.values().map(|v| v.0).sum();
        total_panics += n;
        let line = format!(
            "{target:<22} {secs:7.0} s {execs:10} execs {:9.0}/s  slowest {:6.3} s  {} panics ({} distinct){}",
            execs as f64 / secs.max(1e-9),
            slowest,
            n,
            panics.len(),
            panics
                .iter()
                .map(|(loc, (k, p, m, _))| format!("\n    {k} x {m} at {loc} ({})", p.display()))
                .collect::<String>()
        );
        println!("{line}");
        report.push(line);
    }
    done.store(true, Ordering::Relaxed);
    println!("\nsummary (seed {}):", args.seed);
    for line in &report {
        println!("{line}");
    }
    std::process::exit(i32::from(total_panics > 0));
}

/// Run the given files once each, through the target their name starts with (or every
/// target the `--target`s name, when none does).
fn replay(args: &Args, caught: &Arc<Mutex<PanicInfo>>) -> i32 {
    let mut failed = 0;
    for p in &args.replay {
        let Ok(data) = std::fs::read(p) else {
            eprintln!("error: {}: cannot read", p.display());
            failed += 1;
            continue;
        };
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let by_name: Vec<&(&str, Driver)> = TARGETS
            .iter()
            .filter(|(n, _)| name.starts_with(&format!("{n}-")))
            .collect();
        let chosen: Vec<&(&str, Driver)> = if by_name.is_empty() {
            TARGETS
                .iter()
                .filter(|(n, _)| args.targets.iter().any(|t| t == n))
                .collect()
        } else {
            by_name
        };
        for (target, run) in chosen {
            let ok = panic::catch_unwind(AssertUnwindSafe(|| run(&data))).is_ok();
            if ok {
                println!("ok     {target} {}", p.display());
            } else {
                failed += 1;
                let c = caught
                    .lock()
                    .map(|c| (c.message.clone(), c.location.clone(), c.backtrace.clone()));
                let (m, l, b) = c.unwrap_or_default();
                println!("PANIC  {target} {}: {m} at {l}\n{b}", p.display());
            }
        }
    }
    i32::from(failed > 0)
}
