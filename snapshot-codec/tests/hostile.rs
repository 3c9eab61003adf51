//! Hostile input: every single-bit flip and every truncation of representative
//! snapshots is refused, and bombs are refused quickly with little memory (measured
//! with a counting allocator).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use snapshot_codec::{
    Compression, DecodeOptions, EncodeOptions, Error, Ext, FLAG_ZSTD, Value, value,
};

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[allow(unsafe_code)]
// SAFETY: forwards to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Tests in this binary take turns, so that one's allocations do not count for another.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f`, returning its result, the time it took and the most memory it held at once
/// beyond what was allocated before.
fn measure<T>(f: impl FnOnce() -> T) -> (T, Duration, usize) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let started = Instant::now();
    let out = f();
    (
        out,
        started.elapsed(),
        PEAK.load(Ordering::Relaxed).saturating_sub(base),
    )
}

fn representative() -> Vec<(&'static str, Vec<u8>)> {
    let plain = EncodeOptions::new().with_compression(Compression::None);
    let small = common::example_state();
    let compressible =
        value!({"log": ("GET /api/v1/users 200 12ms\n".repeat(200)), "n": [1, 2, 3]});
    let with_ext = value!({"at": (Ext::new(1, 1_705_314_600i64.to_le_bytes().iter().chain(&[0, 0, 0, 0]).copied().collect())), "custom": (Ext::new(900, vec![7; 40]))});
    let small_bytes = plain.encode(&small).expect("encode");
    let compressed = EncodeOptions::new()
        .with_compression(Compression::Zstd {
            level: snapshot_codec::DEFAULT_ZSTD_LEVEL,
        })
        .encode(&compressible)
        .expect("encode");
    assert_eq!(
        compressed[5], FLAG_ZSTD,
        "the compressed sample must be compressed"
    );
    vec![
        ("small", small_bytes),
        ("compressed", compressed),
        ("extensions", plain.encode(&with_ext).expect("encode")),
    ]
}

#[test]
fn every_single_bit_flip_is_refused() {
    let _turn = serial();
    let mut total = 0;
    for (name, bytes) in representative() {
        let original = snapshot_codec::decode(&bytes).expect("decodes");
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut corrupt = bytes.clone();
                corrupt[i] ^= 1 << bit;
                for (path, result) in [
                    ("slice", snapshot_codec::decode(&corrupt)),
                    ("reader", snapshot_codec::decode_from_reader(&corrupt[..])),
                ] {
                    match result {
                        Err(_) => {}
                        Ok(v) => panic!(
                            "{name}: flipping bit {bit} of byte {i} decoded ({path}) to {v:?}, originally {original:?}"
                        ),
                    }
                }
                total += 1;
            }
        }
    }
    println!("{total} single-bit flips, all refused by both decoders");
}

#[test]
fn every_truncation_is_refused() {
    let _turn = serial();
    let mut total = 0;
    for (name, bytes) in representative() {
        for len in 0..bytes.len() {
            assert!(
                snapshot_codec::decode(&bytes[..len]).is_err(),
                "{name} cut to {len}"
            );
            assert!(
                snapshot_codec::decode_from_reader(&bytes[..len]).is_err(),
                "{name} cut to {len} (reader)"
            );
            total += 1;
        }
    }
    println!("{total} truncations, all refused");
}

/// A zstd frame that expands to `total` bytes: a string header, then `a`s in RLE blocks
/// of 128 KiB. With `declare`, the frame header states the size.
fn zstd_bomb(total: u64, declare: bool) -> Vec<u8> {
    let mut header = vec![0xC6];
    let mut v = total - 6;
    while v >= 0x80 {
        header.push((v as u8) | 0x80);
        v >>= 7;
    }
    header.push(v as u8);
    assert_eq!(header.len(), 6);
    let mut frame = vec![0x28, 0xB5, 0x2F, 0xFD];
    if declare {
        frame.push(0xC0); // 8-byte content size, not single-segment
        frame.push(0x38); // 128 KiB window
        frame.extend_from_slice(&total.to_le_bytes());
    } else {
        frame.push(0x00); // no content size
        frame.push(0x38);
    }
    let block = |frame: &mut Vec<u8>, kind: u32, size: u32, last: bool| {
        let h = (size << 3) | (kind << 1) | u32::from(last);
        frame.extend_from_slice(&h.to_le_bytes()[..3]);
    };
    block(&mut frame, 0, 6, false); // a raw block: the string header
    frame.extend_from_slice(&header);
    let mut left = total - 6;
    while left > 0 {
        let size = left.min(128 * 1024) as u32;
        left -= u64::from(size);
        block(&mut frame, 1, size, left == 0); // an RLE block of 'a'
        frame.push(b'a');
    }
    common::frame(&frame, FLAG_ZSTD)
}

#[test]
fn bombs_are_refused_with_little_memory() {
    let _turn = serial();
    const GIB4: u64 = 4 << 30;
    // Declared 4 GiB: refused from the frame header, by the default 1 GiB limit.
    let bomb = zstd_bomb(GIB4, true);
    assert!(bomb.len() < 200 * 1024, "{} bytes", bomb.len());
    let (result, took, peak) = measure(|| snapshot_codec::decode(&bomb));
    assert!(
        matches!(result, Err(Error::DecompressedSizeLimitExceeded { .. })),
        "{result:?}"
    );
    // Memory is asserted; time is only reported (speed belongs in the benchmarks).
    assert!(peak < 1 << 20, "declared: {took:?}, {peak} bytes");
    println!(
        "4 GiB declared bomb ({} bytes): refused in {took:?} holding {peak} bytes",
        bomb.len()
    );

    // Undeclared 4 GiB against a configured 64 MiB limit, both decoders.
    let bomb = zstd_bomb(GIB4, false);
    let opts = DecodeOptions::new().with_max_decompressed_size(64 << 20);
    for (path, decode) in [
        (
            "slice",
            Box::new(|b: &[u8]| opts.decode(b)) as Box<dyn Fn(&[u8]) -> Result<Value, Error>>,
        ),
        ("reader", Box::new(|b: &[u8]| opts.decode_from_reader(b))),
    ] {
        let (result, took, peak) = measure(|| decode(&bomb));
        assert!(
            matches!(
                result,
                Err(Error::DecompressedSizeLimitExceeded { limit: 67_108_864 })
            ) || (path == "reader" && matches!(result, Err(Error::MemoryLimitExceeded { .. }))),
            "{path}: {result:?}"
        );
        assert!(
            peak < 200 << 20,
            "{path}: held {peak} bytes for a 64 MiB limit"
        );
        println!(
            "4 GiB undeclared bomb, {path}: refused at the 64 MiB limit in {took:?} holding {} MiB",
            peak >> 20
        );
    }

    // A nesting bomb: a million nested lists in 1 MiB.
    let nest = common::frame(&vec![0xA1; 1 << 20], 0);
    let (result, took, peak) = measure(|| snapshot_codec::decode(&nest));
    assert!(
        matches!(result, Err(Error::DepthLimitExceeded { limit: 128 })),
        "{result:?}"
    );
    assert!(peak < 1 << 20, "nesting: {took:?}, {peak} bytes");

    // A length prefix far beyond the input: 2^60 items in a few bytes.
    let claim = common::frame(
        &[0xC8, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10],
        0,
    );
    let (result, _, peak) = measure(|| snapshot_codec::decode(&claim));
    assert!(
        matches!(result, Err(Error::LengthExceedsInput { .. })),
        "{result:?}"
    );
    assert!(peak < 4096, "{peak} bytes");
    let (result, _, peak) = measure(|| snapshot_codec::decode_from_reader(&claim[..]));
    assert!(
        result.is_err() && peak < 1 << 20,
        "reader: {result:?}, {peak} bytes"
    );
}

#[test]
fn decoding_allocates_a_small_multiple_of_the_input() {
    let _turn = serial();
    // Many small values: the worst case for a dynamic value model.
    let v: Value = (0..100_000u32).map(|i| value!([i, null, true])).collect();
    let bytes = EncodeOptions::new()
        .with_compression(Compression::None)
        .encode(&v)
        .expect("encode");
    let (result, _, peak) = measure(|| snapshot_codec::decode(&bytes));
    assert_eq!(result.expect("decodes"), v);
    let ratio = peak as f64 / bytes.len() as f64;
    println!(
        "{} encoded bytes decoded holding at most {peak} bytes ({ratio:.1}x)",
        bytes.len()
    );
    // A Value is 32 bytes and the smallest encoded value 1 byte.
    assert!(ratio < 40.0, "{ratio:.1}x");
}

/// The files that once aborted the process (a list of 10^9 nulls in 31 KB asked for
/// 32 GB) or held gigabytes (10^8 nulls in 3 KB): now typed errors within the budget.
#[test]
fn null_list_bombs_stay_within_the_memory_budget() {
    use snapshot_testkit::bombs::null_list_bomb;
    let _turn = serial();
    let big = null_list_bomb(1_000_000_000, false);
    let small = null_list_bomb(100_000_000, false);
    assert!(big.len() < 32_000 && small.len() < 3_200);
    let over = |r: &Result<Value, Error>| matches!(r, Err(Error::MemoryLimitExceeded { .. }));

    // Default options: the body (1 GB) decompresses within the 1 GiB size limit, and
    // the list it declares is refused before it is allocated.
    let (result, _, peak) = measure(|| snapshot_codec::decode(&big));
    assert!(over(&result), "{result:?}");
    assert!(peak < 2_200 << 20, "held {} MiB", peak >> 20);
    println!("10^9 nulls, slice: refused holding {} MiB", peak >> 20);
    // The streaming reader never holds the body: refused at the list header.
    let (result, _, peak) = measure(|| snapshot_codec::decode_from_reader(&big[..]));
    assert!(over(&result), "{result:?}");
    assert!(peak < 8 << 20, "held {} MiB", peak >> 20);
    let (result, _, peak) = measure(|| snapshot_codec::decode(&small));
    assert!(over(&result), "{result:?}");
    assert!(peak < 300 << 20, "held {} MiB", peak >> 20);

    // A tighter budget also caps decompression: refused at 64 MiB whatever the bomb.
    let tight = DecodeOptions::new().with_max_memory(64 << 20);
    for (name, bomb) in [("10^9", &big), ("10^8", &small)] {
        let (result, _, peak) = measure(|| tight.decode(bomb));
        assert!(
            matches!(
                result,
                Err(Error::MemoryLimitExceeded { limit: 67_108_864 })
            ),
            "{name}: {result:?}"
        );
        assert!(peak < 160 << 20, "{name}: held {} MiB", peak >> 20);
        let (result, _, peak) = measure(|| tight.decode_from_reader(&bomb[..]));
        assert!(over(&result), "{name} reader: {result:?}");
        assert!(peak < 8 << 20, "{name} reader: held {} MiB", peak >> 20);
        // The serde path charges each value it hands out, whatever the target type.
        let (result, _, peak) = measure(|| tight.from_slice::<Vec<()>>(bomb));
        assert!(
            matches!(result, Err(Error::MemoryLimitExceeded { .. })),
            "{name} serde: {result:?}"
        );
        assert!(peak < 160 << 20, "{name} serde: held {} MiB", peak >> 20);
        let (result, _, peak) = measure(|| tight.from_reader::<_, Vec<Option<String>>>(&bomb[..]));
        assert!(
            matches!(result, Err(Error::MemoryLimitExceeded { .. })),
            "{name} serde reader: {result:?}"
        );
        assert!(
            peak < 160 << 20,
            "{name} serde reader: held {} MiB",
            peak >> 20
        );
        let report = snapshot_codec::inspect(bomb, &tight).expect("a frame");
        assert!(
            matches!(report.error, Some(Error::MemoryLimitExceeded { .. })),
            "{name} inspect: {:?}",
            report.error
        );
    }
}

#[test]
fn legal_snapshots_fit_the_default_budget_and_a_budget_just_below_refuses() {
    let _turn = serial();
    let v: Value = (0..10_000u32)
        .map(|i| value!({"i": i, "s": "text"}))
        .collect();
    let bytes = snapshot_codec::encode(&v).expect("encode");
    assert_eq!(snapshot_codec::decode(&bytes).expect("decodes"), v);
    // 10,000 items of 32 bytes, 20,000 entries of 56 bytes, 10,000 four-byte strings
    // and 20,000 one-byte keys (each map owns its keys): the budget counts exactly that.
    let needed = 10_000 * 32 + 20_000 * 56 + 10_000 * 4 + 20_000;
    let body_len = {
        let report = snapshot_codec::inspect(&bytes, &DecodeOptions::new()).expect("frame");
        report.body_len.expect("body") as u64
    };
    let spent_on_body = if bytes[5] & FLAG_ZSTD != 0 {
        body_len
    } else {
        0
    };
    let exact = DecodeOptions::new().with_max_memory(needed + spent_on_body);
    assert_eq!(exact.decode(&bytes).expect("exactly enough"), v);
    let short = DecodeOptions::new().with_max_memory(needed + spent_on_body - 1);
    assert!(matches!(
        short.decode(&bytes),
        Err(Error::MemoryLimitExceeded { .. })
    ));
}
