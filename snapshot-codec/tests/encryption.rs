//! Encryption at rest: round trips, keys, and every way a ciphertext can be wrong.
#![cfg(feature = "encryption")]

use snapshot_codec::{
    Compression, DecodeOptions, EncodeOptions, EncryptionKey, Error, Keyring, Metadata, Value,
    value,
};

fn key(id: &str, byte: u8) -> EncryptionKey {
    EncryptionKey::new(id, [byte; 32]).expect("valid key")
}

fn reader(keys: Keyring) -> DecodeOptions {
    DecodeOptions::new().with_keyring(keys)
}

/// A body of `n` bytes of text that compresses, and of random-looking bytes that does not.
fn states(n: usize) -> Vec<Value> {
    let text: String = (0..n).map(|i| char::from(b'a' + (i % 23) as u8)).collect();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    vec![
        value!({"text": text}),
        Value::Bytes(noise),
        value!({"small": [1, 2.5, "three", null]}),
    ]
}

/// Recomputes the checksum trailer after an edit, as a deliberate tamperer would.
fn reseal_checksum(bytes: &mut [u8]) {
    let n = bytes.len() - 8;
    let sum = xxhash_rust::xxh3::xxh3_64(&bytes[..n]);
    bytes[n..].copy_from_slice(&sum.to_le_bytes());
}

fn stream_encode(opts: &EncodeOptions, v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    opts.encode_to_writer(&mut out, v).expect("streams");
    out
}

#[test]
fn round_trips_in_memory_and_streamed_at_every_size() {
    let k = key("k1", 7);
    let keys = Keyring::new(k.clone());
    // Around the 64 KiB segment size, past the 128 KiB stream buffer, and several MiB.
    for n in [0, 1, 100, 65_500, 65_536, 65_537, 131_072, 200_000, 700_000] {
        for state in states(n) {
            for compression in [Compression::None, Compression::default(), Compression::Lz4] {
                let opts = EncodeOptions::new()
                    .with_compression(compression)
                    .with_encryption(k.clone());
                for bytes in [
                    opts.encode(&state).expect("encodes"),
                    stream_encode(&opts, &state),
                ] {
                    assert_eq!(bytes[5] & snapshot_codec::FLAG_ENCRYPTED, 4);
                    let r = reader(keys.clone());
                    assert_eq!(r.decode(&bytes).expect("decodes"), state, "n={n}");
                    assert_eq!(
                        r.decode_from_reader(&bytes[..]).expect("streams back"),
                        state,
                        "n={n}"
                    );
                }
            }
        }
    }
}

#[test]
fn ciphertext_hides_the_state_and_nonces_are_fresh() {
    let k = key("k1", 1);
    let state = value!({"api_key": "sk-live-0123456789", "password": "hunter2"});
    let opts = EncodeOptions::new()
        .with_encryption(k)
        .with_compression(Compression::None);
    let a = opts.encode(&state).expect("encodes");
    let b = opts.encode(&state).expect("encodes");
    for secret in [&b"sk-live"[..], b"hunter2", b"api_key", b"password"] {
        assert!(!a.windows(secret.len()).any(|w| w == secret));
    }
    assert_ne!(a, b, "two encodes of one state share no nonce");
    assert_eq!(a.len(), b.len());
}

#[test]
fn missing_and_wrong_keys_are_named() {
    let bytes = EncodeOptions::new()
        .with_encryption(key("prod-2026", 1))
        .encode(&value!({"a": 1}))
        .expect("encodes");
    for result in [
        snapshot_codec::decode(&bytes),
        snapshot_codec::decode_from_reader(&bytes[..]),
        reader(Keyring::new(key("other", 1))).decode(&bytes),
    ] {
        assert!(
            matches!(&result, Err(Error::KeyMissing { key_id }) if key_id == "prod-2026"),
            "{result:?}"
        );
    }
    let wrong = reader(Keyring::new(key("prod-2026", 2)));
    for result in [wrong.decode(&bytes), wrong.decode_from_reader(&bytes[..])] {
        assert!(
            matches!(&result, Err(Error::WrongKey { key_id }) if key_id == "prod-2026"),
            "{result:?}"
        );
    }
    assert_eq!(
        snapshot_codec::encryption_key_id(&bytes)
            .expect("header")
            .as_deref(),
        Some("prod-2026")
    );
}

#[test]
fn a_missing_key_still_checks_frame_and_checksum() {
    let mut bytes = EncodeOptions::new()
        .with_encryption(key("k", 1))
        .encode(&value!({"a": "b".repeat(1000)}))
        .expect("encodes");
    let report = snapshot_codec::inspect(&bytes, &DecodeOptions::new()).expect("frame");
    assert!(report.checksum_ok() && report.encrypted());
    assert_eq!(report.key_id.as_deref(), Some("k"));
    assert!(matches!(report.error, Some(Error::KeyMissing { .. })));
    assert!(report.counts.is_none(), "the body was not decrypted");
    // With the key, inspect decrypts and counts.
    let full = snapshot_codec::inspect(&bytes, &reader(Keyring::new(key("k", 1)))).expect("frame");
    assert!(full.error.is_none() && full.counts.is_some());
    // A flipped bit without the key: the checksum says so, not the missing key.
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    assert!(matches!(
        snapshot_codec::decode(&bytes),
        Err(Error::ChecksumMismatch { .. })
    ));
    assert!(matches!(
        snapshot_codec::decode_from_reader(&bytes[..]),
        Err(Error::ChecksumMismatch { .. })
    ));
}

#[test]
fn tampering_with_a_recomputed_checksum_fails_authentication() {
    let k = key("k", 3);
    let keys = Keyring::new(k.clone());
    let state = states(300_000).remove(1); // incompressible: five segments
    let meta = Metadata::new().with_step(9).with_label("tag", "nightly");
    let bytes = EncodeOptions::new()
        .with_encryption(k)
        .with_metadata(meta)
        .encode(&state)
        .expect("encodes");
    let r = reader(keys);
    assert_eq!(r.decode(&bytes).expect("decodes"), state);
    // Flip one bit at many places after the magic/version/flags: every one is caught,
    // either as an authentication failure or as a malformed header, never as data.
    let step = (bytes.len() / 97).max(1);
    for at in (6..bytes.len() - 12).step_by(step) {
        let mut bad = bytes.clone();
        bad[at] ^= 0x10;
        reseal_checksum(&mut bad);
        for result in [r.decode(&bad), r.decode_from_reader(&bad[..])] {
            assert!(
                matches!(
                    result,
                    Err(Error::AuthenticationFailed { .. }
                        | Error::WrongKey { .. }
                        | Error::KeyMissing { .. }
                        | Error::InvalidMetadata { .. }
                        | Error::Truncated
                        | Error::InvalidVarint
                        | Error::InvalidUtf8)
                ),
                "flip at {at} of {}: {:?}",
                bytes.len(),
                result.map(|_| "decoded")
            );
        }
    }
}

/// The chunks of an in-memory encrypted snapshot: header length and the body.
fn split(bytes: &[u8]) -> (usize, Vec<u8>) {
    // Header: magic, version, flags, metadata length (varint), metadata.
    let mut pos = 6;
    let mut len = 0u64;
    let mut shift = 0;
    loop {
        let b = bytes[pos];
        pos += 1;
        len |= u64::from(b & 0x7F) << shift;
        shift += 7;
        if b < 0x80 {
            break;
        }
    }
    let header = pos + len as usize;
    let mut body = Vec::new();
    let mut at = header;
    loop {
        let n = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4")) as usize;
        at += 4;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&bytes[at..at + n]);
        at += n;
    }
    (header, body)
}

fn frame(header: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = header.to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&[0; 12]);
    reseal_checksum(&mut out);
    out
}

#[test]
fn spliced_truncated_and_reordered_bodies_fail_authentication() {
    let k = key("k", 4);
    let r = reader(Keyring::new(k.clone()));
    let opts = EncodeOptions::new()
        .with_encryption(k)
        .with_compression(Compression::None);
    // Two snapshots whose headers differ (their steps): a body moved under the other
    // header is caught. (Whole snapshots with identical headers are interchangeable:
    // encryption authenticates a snapshot, not the name it is stored under.)
    let a = opts
        .clone()
        .with_metadata(Metadata::new().with_step(1))
        .encode(&states(200_000).remove(1))
        .expect("encodes");
    let b = opts
        .with_metadata(Metadata::new().with_step(2))
        .encode(&states(200_000).remove(0))
        .expect("encodes");
    let (ha, body_a) = split(&a);
    let (hb, body_b) = split(&b);
    assert_eq!(
        r.decode(&frame(&a[..ha], &body_a)).expect("rebuilt"),
        states(200_000).remove(1)
    );
    let seg = 65_536 + 16;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("header of a, body of b", frame(&a[..ha], &body_b)),
        ("header of b, body of a", frame(&b[..hb], &body_a)),
        (
            "last segment dropped",
            frame(&a[..ha], &body_a[..24 + 3 * seg]),
        ),
        ("segments swapped", {
            let mut body = body_a[..24].to_vec();
            body.extend_from_slice(&body_a[24 + seg..24 + 2 * seg]);
            body.extend_from_slice(&body_a[24..24 + seg]);
            body.extend_from_slice(&body_a[24 + 2 * seg..]);
            frame(&a[..ha], &body)
        }),
        ("nonce only", frame(&a[..ha], &body_a[..24])),
        ("cut inside the nonce", frame(&a[..ha], &body_a[..10])),
    ];
    for (what, bytes) in cases {
        for result in [r.decode(&bytes), r.decode_from_reader(&bytes[..])] {
            assert!(
                matches!(result, Err(Error::AuthenticationFailed { ref key_id }) if key_id == "k"),
                "{what}: {:?}",
                result.map(|_| "decoded")
            );
        }
    }
}

#[test]
fn bodies_swapped_between_keys_fail_authentication() {
    let (k1, k2) = (key("one", 1), key("two", 2));
    let both = reader(Keyring::new(k1.clone()).with_old_key(k2.clone()));
    let enc = |k: &EncryptionKey| {
        EncodeOptions::new()
            .with_encryption(k.clone())
            .with_compression(Compression::None)
            .encode(&states(100_000).remove(1))
            .expect("encodes")
    };
    let (a, b) = (enc(&k1), enc(&k2));
    let (ha, body_a) = split(&a);
    let (hb, body_b) = split(&b);
    // Each header names its own key; the other key's body does not authenticate.
    for (what, bytes, id) in [
        (
            "header of one, body of two",
            frame(&a[..ha], &body_b),
            "one",
        ),
        (
            "header of two, body of one",
            frame(&b[..hb], &body_a),
            "two",
        ),
    ] {
        for result in [both.decode(&bytes), both.decode_from_reader(&bytes[..])] {
            assert!(
                matches!(result, Err(Error::AuthenticationFailed { ref key_id }) if key_id == id),
                "{what}: {:?}",
                result.map(|_| "decoded")
            );
        }
    }
}

#[test]
fn snapshots_under_different_keys_and_rotation() {
    let (k1, k2, k3) = (key("2024", 1), key("2025", 2), key("2026", 3));
    let enc = |k: &EncryptionKey, v: i64| {
        EncodeOptions::new()
            .with_encryption(k.clone())
            .encode(&value!(v))
            .expect("encodes")
    };
    let olds = [enc(&k1, 1), enc(&k2, 2)];
    let new = enc(&k3, 3);
    let rotated = Keyring::new(k3.clone())
        .with_old_key(k1.clone())
        .with_old_key(k2.clone());
    assert_eq!(rotated.current().map(EncryptionKey::id), Some("2026"));
    assert_eq!(rotated.ids().collect::<Vec<_>>(), ["2026", "2024", "2025"]);
    let r = reader(rotated);
    assert_eq!(r.decode(&olds[0]).expect("k1"), value!(1));
    assert_eq!(r.decode(&olds[1]).expect("k2"), value!(2));
    assert_eq!(r.decode(&new).expect("k3"), value!(3));
    // A reader holding only the new key names the old key the snapshot needs.
    assert!(matches!(
        reader(Keyring::new(k3)).decode(&olds[0]),
        Err(Error::KeyMissing { key_id }) if key_id == "2024"
    ));
}

#[test]
fn metadata_is_sealed_unless_asked_to_stay_clear() {
    let k = key("k", 5);
    let meta = Metadata::new()
        .with_step(42)
        .with_label("customer", "acme-secret-project");
    let sealed = EncodeOptions::new()
        .with_encryption(k.clone())
        .with_metadata(meta.clone())
        .encode(&value!(1))
        .expect("encodes");
    assert!(!sealed.windows(6).any(|w| w == b"secret"));
    assert!(matches!(
        snapshot_codec::read_metadata(&sealed),
        Err(Error::KeyMissing { key_id }) if key_id == "k"
    ));
    let r = reader(Keyring::new(k.clone()));
    assert_eq!(r.read_metadata(&sealed).expect("opens"), Some(meta.clone()));
    assert!(matches!(
        reader(Keyring::new(key("k", 6))).read_metadata(&sealed),
        Err(Error::WrongKey { .. })
    ));

    let clear = EncodeOptions::new()
        .with_encryption(k)
        .with_clear_metadata(true)
        .with_metadata(meta.clone())
        .encode(&value!(1))
        .expect("encodes");
    assert_eq!(
        snapshot_codec::read_metadata(&clear).expect("clear"),
        Some(meta)
    );
    assert!(matches!(
        snapshot_codec::decode(&clear),
        Err(Error::KeyMissing { .. })
    ));
    assert_eq!(r.decode(&clear).expect("decodes"), value!(1));
}

#[test]
fn keys_parse_and_never_show_their_bytes() {
    let k = EncryptionKey::generate("ops.backup_1").expect("random");
    let text = k.to_text();
    let parsed: EncryptionKey = text.parse().expect("parses");
    let bytes = EncodeOptions::new()
        .with_encryption(k.clone())
        .encode(&value!(1))
        .expect("encodes");
    assert_eq!(
        reader(Keyring::new(parsed))
            .decode(&bytes)
            .expect("same key"),
        value!(1)
    );
    let hex = &text[text.rfind(':').expect("colon") + 1..];
    let ring = Keyring::parse(&format!("# keys\n{}\n\n", &*text)).expect("ring");
    for shown in [format!("{k:?}"), format!("{ring:?}")] {
        assert!(
            !shown.contains(hex) && shown.contains("ops.backup_1"),
            "{shown}"
        );
    }
    for bad in [
        "",
        "snapshot-key:id:00",
        "snapshot-key::0000000000000000000000000000000000000000000000000000000000000000",
        "snapshot-key:bad id:0000000000000000000000000000000000000000000000000000000000000000",
        "snapshot-key:id:zz00000000000000000000000000000000000000000000000000000000000000",
        "key:id:0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        assert!(
            matches!(
                bad.parse::<EncryptionKey>(),
                Err(Error::InvalidEncryptionKey { .. })
            ),
            "{bad:?}"
        );
    }
    let twice = format!("{}\n{}", &*text, &*text);
    assert!(matches!(
        Keyring::parse(&twice),
        Err(Error::InvalidEncryptionKey { .. })
    ));
    assert!(matches!(
        Keyring::parse("# nothing\n"),
        Err(Error::InvalidEncryptionKey { .. })
    ));
}

#[test]
fn format_one_refuses_encryption() {
    let opts = EncodeOptions::new()
        .with_format_version(1)
        .expect("v1")
        .with_encryption(key("k", 1));
    assert!(matches!(
        opts.encode(&value!(1)),
        Err(Error::InvalidMetadata { .. })
    ));
}
