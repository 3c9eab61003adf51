//! Known-answer tests for encryption: files encrypted once under a fixed key and
//! committed under `tests/data/v2-encrypted/`. Each must decrypt to its value with that
//! key, forever: a change in how segment nonces are derived, how the body is cut into
//! segments, what the additional data covers or how metadata is sealed makes these
//! fail. (Nonces are random per file, so a new build cannot write the same bytes; the
//! committed bytes are the answer.) Missing files are written when
//! `SNAPSHOT_WRITE_FIXTURES` is set, never silently.
#![cfg(all(feature = "encryption", feature = "zstd"))]

use std::path::PathBuf;

use snapshot_codec::{
    Compression, DecodeOptions, EncodeOptions, EncryptionKey, Error, Keyring, Metadata, Value,
    value,
};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/v2-encrypted")
}

/// The fixed key every fixture is encrypted under.
fn key() -> EncryptionKey {
    EncryptionKey::new("kat-2026", [0x42; 32]).expect("key")
}

fn metadata() -> Metadata {
    Metadata::new()
        .with_label("run", "kat")
        .with_label("tag", "known-answer")
        .with_step(4242)
}

/// 150 KiB of bytes that do not compress: two 64 KiB segments and a shorter last one.
fn large() -> Value {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let bytes: Vec<u8> = (0..150 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    value!({"blob": (Value::Bytes(bytes)), "n": 1})
}

type Fixture = (&'static str, Value, fn(&Value) -> Vec<u8>, bool);

fn fixtures() -> Vec<Fixture> {
    fn sealed(v: &Value) -> Vec<u8> {
        EncodeOptions::new()
            .with_compression(Compression::None)
            .with_metadata(metadata())
            .with_encryption(key())
            .encode(v)
            .expect("encode")
    }
    fn streamed(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        EncodeOptions::new()
            .with_compression(Compression::None)
            .with_metadata(metadata())
            .with_encryption(key())
            .encode_to_writer(&mut out, v)
            .expect("encode");
        out
    }
    fn zstd(v: &Value) -> Vec<u8> {
        EncodeOptions::new()
            .with_compression(Compression::Zstd { level: 3 })
            .with_encryption(key())
            .encode(v)
            .expect("encode")
    }
    fn clear(v: &Value) -> Vec<u8> {
        EncodeOptions::new()
            .with_compression(Compression::None)
            .with_metadata(metadata())
            .with_clear_metadata(true)
            .with_encryption(key())
            .encode(v)
            .expect("encode")
    }
    vec![
        (
            "small_sealed.snap",
            value!({"api_key": "sk-live-kat", "n": [1, 2, 3]}),
            sealed,
            true,
        ),
        ("segments_sealed.snap", large(), sealed, true),
        ("segments_streamed.snap", large(), streamed, true),
        (
            "zstd.snap",
            value!({"text": (("known answer ").repeat(5000))}),
            zstd,
            false,
        ),
        ("clear_metadata.snap", value!({"n": 7}), clear, true),
    ]
}

#[test]
fn committed_encrypted_files_decrypt_to_their_values() {
    let write_missing = std::env::var_os("SNAPSHOT_WRITE_FIXTURES").is_some();
    let reader = DecodeOptions::new().with_keyring(Keyring::new(key()));
    let impostor = DecodeOptions::new().with_keyring(Keyring::new(
        EncryptionKey::new("kat-2026", [7; 32]).expect("key"),
    ));
    let mut missing = Vec::new();
    for (name, expected, write, with_metadata) in fixtures() {
        let path = dir().join(name);
        let stored = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(_) if write_missing => {
                std::fs::create_dir_all(dir()).expect("mkdir");
                let bytes = write(&expected);
                std::fs::write(&path, &bytes).expect("write fixture");
                bytes
            }
            Err(_) => {
                missing.push(name);
                continue;
            }
        };
        assert_eq!(
            stored[5] & snapshot_codec::FLAG_ENCRYPTED,
            snapshot_codec::FLAG_ENCRYPTED,
            "{name}"
        );
        assert_eq!(
            reader
                .decode(&stored)
                .unwrap_or_else(|e| panic!("{name} no longer decrypts: {e}")),
            expected,
            "{name}"
        );
        assert_eq!(
            reader
                .decode_from_reader(&stored[..])
                .unwrap_or_else(|e| panic!("{name} no longer decrypts streamed: {e}")),
            expected,
            "{name} (streamed)"
        );
        if with_metadata {
            assert_eq!(
                reader.read_metadata(&stored).expect("meta"),
                Some(metadata()),
                "{name}"
            );
        }
        assert_eq!(
            snapshot_codec::encryption_key_id(&stored)
                .expect("header")
                .as_deref(),
            Some("kat-2026")
        );
        assert!(
            matches!(
                snapshot_codec::decode(&stored),
                Err(Error::KeyMissing { .. })
            ),
            "{name}"
        );
        assert!(
            matches!(impostor.decode(&stored), Err(Error::WrongKey { .. })),
            "{name}"
        );
        // One flipped byte of the ciphertext (checksum recomputed) fails authentication.
        let mut tampered = stored.clone();
        let at = tampered.len() - 40;
        tampered[at] ^= 1;
        let body_end = tampered.len() - 8;
        let checksum = xxhash_rust::xxh3::xxh3_64(&tampered[..body_end]);
        tampered[body_end..].copy_from_slice(&checksum.to_le_bytes());
        assert!(
            matches!(
                reader.decode(&tampered),
                Err(Error::AuthenticationFailed { .. })
            ),
            "{name}: {:?}",
            reader.decode(&tampered)
        );
    }
    assert!(
        missing.is_empty(),
        "fixtures missing from {}: {missing:?}",
        dir().display()
    );
}
