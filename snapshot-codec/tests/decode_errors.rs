//! Every decoding error variant, each from the input that causes it.

mod common;

use common::{example_state, frame, plain};
use snapshot_codec::{DecodeOptions, EncodeOptions, Error, FLAG_ZSTD, Value, value};

/// Both decoders (in memory and streaming) fail on `bytes` with an error `check` accepts.
#[track_caller]
fn both_fail(bytes: &[u8], check: impl Fn(&Error) -> bool) {
    let a = snapshot_codec::decode(bytes).expect_err("decode must fail");
    assert!(check(&a), "decode: {a:?}");
    let b = snapshot_codec::decode_from_reader(bytes).expect_err("decode_from_reader must fail");
    assert!(check(&b), "decode_from_reader: {b:?}");
}

#[test]
fn wrong_magic_is_not_a_snapshot() {
    both_fail(b"PK\x03\x04 not ours", |e| matches!(e, Error::NotASnapshot));
    both_fail(b"", |e| matches!(e, Error::Truncated));
}

#[test]
fn unknown_version_names_the_version_found() {
    let mut bytes = plain(&Value::Null);
    bytes[4] = 3;
    both_fail(&bytes, |e| {
        matches!(
            e,
            Error::UnsupportedVersion {
                found: 3,
                supported: 2
            }
        )
    });
    assert_eq!(
        snapshot_codec::decode(&bytes).unwrap_err().to_string(),
        "unsupported snapshot format version 3 (this build reads versions 1 to 2)"
    );
}

#[test]
fn unknown_flags_are_refused() {
    let mut bytes = plain(&Value::Null);
    bytes[5] = 0x80;
    both_fail(&bytes, |e| {
        matches!(e, Error::UnsupportedFlags { flags: 0x80 })
    });
}

#[test]
fn every_truncation_is_an_error() {
    for v in [example_state(), value!({"big": ("abc".repeat(5000))})] {
        let bytes = snapshot_codec::encode(&v).expect("encodes");
        for len in 0..bytes.len() {
            both_fail(&bytes[..len], |e| {
                matches!(e, Error::Truncated | Error::ChecksumMismatch { .. })
            });
        }
    }
}

#[test]
fn trailing_garbage_is_refused() {
    let mut bytes = plain(&example_state());
    bytes.push(0);
    both_fail(&bytes, |e| matches!(e, Error::TrailingBytes));
    // Extra bytes inside a correctly checksummed body are refused too.
    both_fail(&frame(&[0xC0, 0xC0], 0), |e| {
        matches!(e, Error::TrailingBytes)
    });
}

#[test]
fn a_flipped_bit_is_a_checksum_mismatch() {
    let bytes = plain(&example_state());
    for i in 10..bytes.len() - 12 {
        let mut corrupt = bytes.clone();
        corrupt[i] ^= 0x10;
        both_fail(&corrupt, |e| matches!(e, Error::ChecksumMismatch { .. }));
    }
}

#[test]
fn invalid_utf8_is_refused() {
    both_fail(&frame(&[0x82, 0xC3, 0x28], 0), |e| {
        matches!(e, Error::InvalidUtf8)
    });
    both_fail(&frame(&[0xB1, 0xC1, 0xFF, 0xC0], 0), |e| {
        matches!(e, Error::InvalidUtf8)
    });
}

#[test]
fn duplicate_keys_are_refused() {
    // {"a": 1, "a": 2}: the second "a" is a key-table reference.
    both_fail(
        &frame(&[0xB2, 0xC1, b'a', 1, 0x00, 2], 0),
        |e| matches!(e, Error::DuplicateKey { key, .. } if key == "a"),
    );
}

#[test]
fn a_huge_length_in_a_tiny_input_fails_at_once() {
    // A string claiming 4 GiB inside a 28-byte snapshot (22 bytes are frame overhead).
    let bytes = frame(&[0xC6, 0x80, 0x80, 0x80, 0x80, 0x10], 0);
    assert_eq!(bytes.len(), 28);
    assert!(matches!(
        snapshot_codec::decode(&bytes),
        Err(Error::LengthExceedsInput {
            declared: 0x1_0000_0000,
            ..
        })
    ));
    // The streaming reader cannot know the size up front: the claim is past the
    // memory budget, so it fails before allocating for it.
    assert!(matches!(
        snapshot_codec::decode_from_reader(&bytes[..]),
        Err(Error::MemoryLimitExceeded { .. })
    ));
    // Within the budget, it fails at the end of input, still without the allocation.
    let roomy = DecodeOptions::new().with_max_memory(u64::MAX);
    assert!(matches!(
        roomy.decode_from_reader(&bytes[..]),
        Err(Error::Truncated)
    ));
    // Lists and maps likewise.
    assert!(matches!(
        snapshot_codec::decode(&frame(&[0xC8, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], 0)),
        Err(Error::LengthExceedsInput { .. })
    ));
    assert!(matches!(
        snapshot_codec::decode(&frame(&[0xC9, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], 0)),
        Err(Error::LengthExceedsInput { .. })
    ));
}

#[test]
fn nesting_beyond_the_limit_is_refused() {
    let bomb = frame(&[0xA1; 100_000], 0);
    both_fail(&bomb, |e| {
        matches!(e, Error::DepthLimitExceeded { limit: 128 })
    });
    let mut deep = Value::Null;
    for _ in 0..200 {
        deep = value!([deep]);
    }
    assert!(matches!(
        snapshot_codec::encode(&deep),
        Err(Error::DepthLimitExceeded { limit: 128 })
    ));
    // Writers cannot go past what default readers read: a raised limit is clamped.
    assert!(matches!(
        EncodeOptions::new().with_max_depth(300).encode(&deep),
        Err(Error::DepthLimitExceeded { limit: 128 })
    ));
    // Readers can read deeper than the default (files from elsewhere).
    let mut deep_body = vec![0xA1; 200];
    deep_body.push(0xC0);
    let opts = DecodeOptions::new().with_max_depth(300);
    assert_eq!(opts.decode(&frame(&deep_body, 0)).expect("decodes"), deep);
}

#[test]
fn decompression_bombs_stop_at_the_limit() {
    // 64 MiB of one string's worth of bytes, compressed to a few KiB.
    let mut body = vec![0xC6];
    let len = 64u64 << 20;
    let mut v = len;
    while v >= 0x80 {
        body.push((v as u8) | 0x80);
        v >>= 7;
    }
    body.push(v as u8);
    body.resize(body.len() + len as usize, b'a');
    let compressed = zstd::bulk::compress(&body, 3).expect("compresses");
    drop(body);
    let bomb = frame(&compressed, FLAG_ZSTD);
    assert!(bomb.len() < 64 * 1024);
    let opts = DecodeOptions::new().with_max_decompressed_size(1 << 20);
    let limit = |e: &Error| matches!(e, Error::DecompressedSizeLimitExceeded { limit } if *limit == 1 << 20);
    let err = opts.decode(&bomb).unwrap_err();
    assert!(limit(&err), "{err:?}");
    let err = opts.decode_from_reader(&bomb[..]).unwrap_err();
    assert!(limit(&err), "{err:?}");
    // Within the limit it decodes.
    let roomy = DecodeOptions::new().with_max_decompressed_size(128 << 20);
    assert_eq!(
        roomy.decode(&bomb).expect("decodes").as_str().map(str::len),
        Some(len as usize)
    );
}

#[test]
fn corrupt_compressed_bodies_are_compression_errors() {
    both_fail(&frame(b"definitely not zstd", FLAG_ZSTD), |e| {
        matches!(e, Error::Compression(_))
    });
}

#[test]
fn malformed_bodies_get_their_own_variants() {
    both_fail(&frame(&[0xFF], 0), |e| {
        matches!(e, Error::InvalidTag { tag: 0xFF })
    });
    both_fail(&frame(&[0xB1, 0xF0, 0xC0], 0), |e| {
        matches!(e, Error::InvalidKeyTag { tag: 0xF0 })
    });
    both_fail(&frame(&[0xB1, 0x05, 0xC0], 0), |e| {
        matches!(e, Error::UndefinedKeyRef { index: 5 })
    });
    both_fail(
        &frame(
            &[
                0xC3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02,
            ],
            0,
        ),
        |e| matches!(e, Error::InvalidVarint),
    );
    both_fail(
        &frame(
            &[
                0xC4, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
            ],
            0,
        ),
        |e| matches!(e, Error::IntegerOutOfRange { .. }),
    );
    both_fail(&frame(&[], 0), |e| matches!(e, Error::Truncated));
}

#[test]
fn key_table_cannot_grow_past_its_limit() {
    let n = snapshot_codec::KEY_TABLE_LIMIT + 1;
    let mut body = vec![0xC9];
    let mut v = n as u64;
    while v >= 0x80 {
        body.push((v as u8) | 0x80);
        v >>= 7;
    }
    body.push(v as u8);
    for i in 0..n {
        let k = format!("{i:05}");
        body.push(0xC0 + k.len() as u8);
        body.extend_from_slice(k.as_bytes());
        body.push(0xC0);
    }
    both_fail(&frame(&body, 0), |e| {
        matches!(e, Error::KeyTableOverflow { .. })
    });
}

// ---- extensions ----

#[test]
fn an_empty_body_or_one_ending_inside_a_value_is_truncated() {
    // No chunks at all: no value.
    both_fail(&frame(&[], 0), |e| matches!(e, Error::Truncated));
    // A float cut after 2 of its 8 bytes.
    both_fail(&frame(&[0xC5, 0, 0], 0), |e| matches!(e, Error::Truncated));
    // A list of two items holding one: the in-memory reader sees at once that the count
    // cannot fit; the streaming one finds the end while reading.
    let cut = frame(&[0xA2, 0x01], 0);
    assert!(matches!(
        snapshot_codec::decode(&cut),
        Err(Error::LengthExceedsInput { .. })
    ));
    assert!(matches!(
        snapshot_codec::decode_from_reader(&cut[..]),
        Err(Error::Truncated | Error::LengthExceedsInput { .. })
    ));
}

#[test]
fn several_zstd_frames_are_one_body_and_the_limit_counts_them_all() {
    // `[1, 2]` as a list head in one frame and its items in another.
    let mut body = zstd::encode_all(&[0xA2u8][..], 3).expect("zstd");
    body.extend(zstd::encode_all(&[0x01u8, 0x02][..], 3).expect("zstd"));
    let bytes = frame(&body, FLAG_ZSTD);
    assert_eq!(
        snapshot_codec::decode(&bytes).expect("decodes"),
        value!([1, 2])
    );
    assert_eq!(
        snapshot_codec::decode_from_reader(&bytes[..]).expect("decodes"),
        value!([1, 2])
    );
    // Two frames of 600 bytes each against a 1000-byte limit: neither alone exceeds it.
    let big = {
        let mut v = vec![0xC7u8, 0xAE, 0x09]; // 1198 bytes follow
        v.extend(std::iter::repeat_n(7u8, 1198));
        v
    };
    let mut body = zstd::encode_all(&big[..600], 3).expect("zstd");
    body.extend(zstd::encode_all(&big[600..], 3).expect("zstd"));
    let bytes = frame(&body, FLAG_ZSTD);
    let limited = DecodeOptions::new().with_max_decompressed_size(1000);
    assert!(matches!(
        limited.decode(&bytes),
        Err(Error::DecompressedSizeLimitExceeded { limit: 1000 })
    ));
    assert!(matches!(
        limited.decode_from_reader(&bytes[..]),
        Err(Error::DecompressedSizeLimitExceeded { limit: 1000 })
    ));
    assert!(snapshot_codec::decode(&bytes).is_ok());
}
