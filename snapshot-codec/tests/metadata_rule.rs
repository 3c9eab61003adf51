//! One rule for metadata on every read path: a snapshot whose metadata section breaks
//! FORMAT.md is malformed for `decode`, `from_slice`, the streaming readers and
//! `read_metadata` alike (it used to decode while `read_metadata` refused it).

use snapshot_codec::{Compression, DecodeOptions, EncodeOptions, Error, Value, value};

/// A version 2 snapshot of `value!(1)` whose metadata section holds `fields` as given,
/// with a valid checksum.
fn with_fields(fields: &[u8]) -> Vec<u8> {
    let plain = EncodeOptions::new()
        .with_compression(Compression::None)
        .encode(&value!(1))
        .expect("encode");
    assert_eq!(plain[5] & 0x08, 0, "no metadata section to begin with");
    let mut out = plain[..5].to_vec();
    out.push(plain[5] | 0x08);
    assert!(fields.len() < 128);
    out.push(fields.len() as u8);
    out.extend_from_slice(fields);
    out.extend_from_slice(&plain[6..plain.len() - 8]);
    let checksum = xxhash_rust::xxh3::xxh3_64(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    out
}

fn field(id: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![id, payload.len() as u8];
    out.extend_from_slice(payload);
    out
}

#[test]
fn metadata_that_breaks_the_format_is_refused_everywhere() {
    let label = |k: &[u8], v: &[u8]| {
        let mut p = vec![k.len() as u8];
        p.extend_from_slice(k);
        p.extend_from_slice(v);
        field(3, &p)
    };
    let mut key_field = vec![0u8; 8];
    key_field.extend_from_slice(b"some-key");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a 4-byte creation time", field(1, &[1, 2, 3, 4])),
        ("an empty label key", label(b"", b"value")),
        (
            "a key field without the encryption flag",
            field(4, &key_field),
        ),
        (
            "a step given twice",
            [field(2, &[0; 8]), field(2, &[1; 8])].concat(),
        ),
    ];
    for (what, fields) in cases {
        let bytes = with_fields(&fields);
        let refused = |r: Result<(), Error>| match r {
            Err(Error::InvalidMetadata { .. }) => {}
            other => panic!("{what}: {other:?}"),
        };
        refused(snapshot_codec::decode(&bytes).map(drop));
        refused(snapshot_codec::from_slice::<Value>(&bytes).map(drop));
        refused(
            DecodeOptions::new()
                .decode_from_reader(&bytes[..])
                .map(drop),
        );
        refused(snapshot_codec::read_metadata(&bytes).map(drop));
        refused(snapshot_codec::header_len(&bytes).map(drop));
    }
    // The same construction with valid fields loads, and says what it holds.
    let good = with_fields(&[field(2, &7u64.to_le_bytes()), label(b"run", b"a")].concat());
    assert_eq!(snapshot_codec::decode(&good).expect("decode"), value!(1));
    let meta = snapshot_codec::read_metadata(&good)
        .expect("meta")
        .expect("some");
    assert_eq!(meta.step, Some(7));
}

/// FORMAT.md's `CD` row: `CD 00` is an empty map (that defines nothing).
#[test]
fn an_empty_shape_defining_map_is_an_empty_map() {
    let bytes = snapshot_testkit::bombs::frame_versioned(&[0xCD, 0x00], 0, 2);
    assert_eq!(snapshot_codec::decode(&bytes).expect("decode"), value!({}));
}
