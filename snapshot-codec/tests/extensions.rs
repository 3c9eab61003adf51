//! Extension types: unknown ones survive byte for byte, registered ones are checked.

mod common;

use common::plain;
use snapshot_codec::{
    Compression, DecodeOptions, EncodeOptions, Error, Ext, ExtType, Registry, Value, value,
};

#[test]
fn unknown_extensions_survive_reencoding_byte_for_byte() {
    let body_bytes = [0xA2, 0xCA, 0xE7, 0x07, 3, 1, 2, 3, 0xCA, 0x40, 0];
    let snapshot = snapshot_testkit::bombs::frame_versioned(&body_bytes, 0, 2);
    let value = snapshot_codec::decode(&snapshot).expect("decodes");
    assert_eq!(value[0].as_ext().map(Ext::type_id), Some(999));
    assert_eq!(plain(&value), snapshot);
    let via_serde = EncodeOptions::new()
        .with_compression(Compression::None)
        .to_vec(&value)
        .expect("serializes");
    assert_eq!(via_serde, snapshot);
    let through_serde: Value = snapshot_codec::from_slice(&snapshot).expect("deserializes");
    assert_eq!(through_serde, value);
}

#[derive(Debug, PartialEq)]
struct Celsius(i16);

impl ExtType for Celsius {
    const TYPE_ID: u64 = 100;
    const NAME: &'static str = "celsius";
    fn to_payload(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_le_bytes());
    }
    fn from_payload(data: &[u8]) -> Result<Self, String> {
        let bytes: [u8; 2] = data
            .try_into()
            .map_err(|_| format!("need 2 bytes, got {}", data.len()))?;
        Ok(Celsius(i16::from_le_bytes(bytes)))
    }
    fn describe(&self) -> Option<String> {
        Some(format!("{} °C", self.0))
    }
}

struct Kelvin;
impl ExtType for Kelvin {
    const TYPE_ID: u64 = 100;
    const NAME: &'static str = "kelvin";
    fn to_payload(&self, _: &mut Vec<u8>) {}
    fn from_payload(_: &[u8]) -> Result<Self, String> {
        Ok(Kelvin)
    }
}

#[test]
fn registry_rejects_a_taken_id_unless_replacing() {
    let mut registry = Registry::new();
    registry.register::<Celsius>().expect("registers");
    let err = registry.register::<Kelvin>().unwrap_err();
    assert!(matches!(
        err,
        Error::ExtensionIdTaken {
            type_id: 100,
            existing: "celsius"
        }
    ));
    assert_eq!(registry.name(100), Some("celsius"));
    registry.register_replacing::<Kelvin>();
    assert_eq!(registry.name(100), Some("kelvin"));
}

#[test]
fn custom_types_round_trip_and_are_checked_by_the_registry() {
    let v = value!({"temp": (Value::from_ext(&Celsius(-40)))});
    let bytes = snapshot_codec::encode(&v).expect("encodes");
    let back = snapshot_codec::decode(&bytes).expect("decodes");
    assert_eq!(
        back["temp"].to_ext::<Celsius>().transpose().expect("valid"),
        Some(Celsius(-40))
    );
    assert!(back["temp"].to_ext::<Kelvin>().is_some());

    let mut registry = Registry::new();
    registry.register::<Celsius>().expect("registers");
    assert_eq!(
        registry
            .describe(back["temp"].as_ext().expect("ext"))
            .expect("valid"),
        Some("-40 °C".into())
    );
    let bad =
        snapshot_codec::encode(&value!({"temp": (Ext::new(100, vec![1, 2, 3]))})).expect("encodes");
    let strict = DecodeOptions::new().with_registry(registry.into());
    assert!(matches!(
        strict.decode(&bad),
        Err(Error::InvalidExtension {
            type_id: 100,
            name: "celsius",
            ..
        })
    ));
    // Without the registry the bad payload stays opaque.
    assert!(snapshot_codec::decode(&bad).is_ok());
}

#[test]
fn chrono_datetimes_round_trip() {
    use chrono::{DateTime, TimeZone, Utc};
    let when: DateTime<Utc> = Utc
        .with_ymd_and_hms(2024, 1, 15, 10, 30, 0)
        .single()
        .expect("valid")
        + chrono::Duration::nanoseconds(123_456_789);
    let v = value!({"saved_at": (Value::from_ext(&when))});
    let back =
        snapshot_codec::decode(&snapshot_codec::encode(&v).expect("encodes")).expect("decodes");
    let got = back["saved_at"]
        .to_ext::<DateTime<Utc>>()
        .transpose()
        .expect("valid");
    assert_eq!(got, Some(when));
    let registry = Registry::with_builtin_types();
    assert_eq!(
        registry
            .describe(back["saved_at"].as_ext().expect("ext"))
            .expect("valid")
            .as_deref(),
        Some("2024-01-15T10:30:00.123456789Z")
    );
    assert!(
        Ext::new(1, vec![0; 5])
            .decode::<DateTime<Utc>>()
            .expect("same id")
            .is_err()
    );
}

#[test]
fn ext_parts_write_exactly_the_joined_ext_in_memory_and_streamed() {
    use snapshot_codec::ExtParts;
    // Large enough that a streamed writer passes the elements straight through.
    let header = [3u8, 1, 0x80, 0x40];
    let elements: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    let mut joined = header.to_vec();
    joined.extend_from_slice(&elements);
    let parts: [&[u8]; 3] = [&header, &elements[..1000], &elements[1000..]];
    for compression in [
        Compression::None,
        Compression::Lz4,
        Compression::Zstd { level: 1 },
    ] {
        let opts = EncodeOptions::new().with_compression(compression);
        let from_parts = opts
            .to_vec(&value_with(ExtParts::new(300, &parts)))
            .expect("encodes");
        let from_ext = opts
            .to_vec(&value_with(Ext::new(300, joined.clone())))
            .expect("encodes");
        assert_eq!(from_parts, from_ext, "{compression:?}");
        let mut streamed = Vec::new();
        opts.to_writer(&mut streamed, &value_with(ExtParts::new(300, &parts)))
            .expect("streams");
        let back: Value = snapshot_codec::from_slice(&streamed).expect("decodes");
        assert_eq!(back["a"], Value::from(Ext::new(300, joined.clone())));
        assert_eq!(back["z"], Value::from(7));
        if compression == Compression::None {
            // The large payload, its tag and length and what came before: one chunk, so
            // a reader of the snapshot in memory finds the payload in one piece.
            let chunks = chunk_lengths(&streamed);
            assert!(chunks.len() <= 2, "{chunks:?}");
            assert!(chunks[0] > joined.len(), "{chunks:?}");
        }
    }
}

/// `{"a": ext, "z": 7}` through serde, the extension inside a map.
fn value_with<T: serde::Serialize>(ext: T) -> impl serde::Serialize {
    struct Doc<T>(T);
    impl<T: serde::Serialize> serde::Serialize for Doc<T> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut m = s.serialize_map(Some(2))?;
            m.serialize_entry("a", &self.0)?;
            m.serialize_entry("z", &7)?;
            m.end()
        }
    }
    Doc(ext)
}

#[test]
fn ext_parts_are_checked_by_a_registry_whole() {
    use snapshot_codec::ExtParts;
    let mut registry = Registry::new();
    registry.register::<Celsius>().expect("registers");
    let opts = EncodeOptions::new().with_registry(registry.into());
    let good = opts
        .to_vec(&ExtParts::new(100, &[&[0xD8], &[0xFF]]))
        .expect("a valid payload in two pieces");
    let back = snapshot_codec::decode(&good).expect("decodes");
    assert_eq!(
        back.to_ext::<Celsius>().transpose().expect("valid"),
        Some(Celsius(-40))
    );
    let bad = opts.to_vec(&ExtParts::new(100, &[&[1, 2], &[3]]));
    assert!(
        matches!(bad, Err(Error::InvalidExtension { type_id: 100, .. })),
        "{bad:?}"
    );
    // Unregistered types pass unchecked, pieces and all.
    let other = opts
        .to_vec(&ExtParts::new(101, &[&[1, 2], &[3]]))
        .expect("encodes");
    assert_eq!(
        snapshot_codec::decode(&other).expect("decodes"),
        Value::from(Ext::new(101, vec![1, 2, 3]))
    );
}

/// The chunk lengths of a snapshot without a metadata section.
fn chunk_lengths(snapshot: &[u8]) -> Vec<usize> {
    let mut at = 6;
    let mut out = Vec::new();
    loop {
        let len = u32::from_le_bytes(snapshot[at..at + 4].try_into().expect("4 bytes")) as usize;
        if len == 0 {
            return out;
        }
        out.push(len);
        at += 4 + len;
    }
}
