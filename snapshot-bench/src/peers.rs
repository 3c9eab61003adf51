//! Every codec behind one interface: encode a value, decode it back.

use serde::Serialize;
use serde::de::DeserializeOwned;
use snapshot_state::codec::{Compression, DecodeOptions, EncodeOptions};

/// The zstd level everyone is compressed with (ours by default).
pub const ZSTD_LEVEL: i32 = 3;

/// The serde codecs compared, ours first.
pub const SERDE_CODECS: [&str; 7] = [
    "snapshot",
    "snapshot_v1",
    "postcard",
    "rmp_named",
    "serde_json",
    "ciborium",
    "bitcode",
];

pub fn encode<T: Serialize>(codec: &str, value: &T) -> Vec<u8> {
    match codec {
        "snapshot" => EncodeOptions::new()
            .with_compression(Compression::None)
            .to_vec(value)
            .expect("snapshot"),
        // Format 1, as 0.1 wrote it: the same run's "before".
        "snapshot_v1" => EncodeOptions::new()
            .with_format_version(1)
            .expect("v1")
            .with_compression(Compression::None)
            .to_vec(value)
            .expect("snapshot v1"),
        "postcard" => postcard::to_allocvec(value).expect("postcard"),
        "rmp_named" => rmp_serde::to_vec_named(value).expect("rmp"),
        "serde_json" => serde_json::to_vec(value).expect("json"),
        "ciborium" => {
            let mut out = Vec::new();
            ciborium::into_writer(value, &mut out).expect("cbor");
            out
        }
        "bitcode" => bitcode::serialize(value).expect("bitcode"),
        other => panic!("unknown codec {other}"),
    }
}

pub fn decode<T: DeserializeOwned>(codec: &str, bytes: &[u8]) -> T {
    match codec {
        "snapshot" | "snapshot_v1" => DecodeOptions::new().from_slice(bytes).expect("snapshot"),
        "postcard" => postcard::from_bytes(bytes).expect("postcard"),
        "rmp_named" => rmp_serde::from_slice(bytes).expect("rmp"),
        "serde_json" => serde_json::from_slice(bytes).expect("json"),
        "ciborium" => ciborium::from_reader(bytes).expect("cbor"),
        "bitcode" => bitcode::deserialize(bytes).expect("bitcode"),
        other => panic!("unknown codec {other}"),
    }
}

/// Encode and compress with zstd at [`ZSTD_LEVEL`] (ours: its own compressed form).
pub fn encode_zstd<T: Serialize>(codec: &str, value: &T) -> Vec<u8> {
    if codec == "snapshot" {
        return EncodeOptions::new()
            .with_compression(Compression::Zstd { level: ZSTD_LEVEL })
            .to_vec(value)
            .expect("snapshot");
    }
    if codec == "snapshot_v1" {
        return EncodeOptions::new()
            .with_format_version(1)
            .expect("v1")
            .with_compression(Compression::Zstd { level: ZSTD_LEVEL })
            .to_vec(value)
            .expect("snapshot v1");
    }
    zstd::bulk::compress(&encode(codec, value), ZSTD_LEVEL).expect("zstd")
}

/// Decompress and decode what [`encode_zstd`] wrote.
pub fn decode_zstd<T: DeserializeOwned>(codec: &str, bytes: &[u8]) -> T {
    if codec == "snapshot" || codec == "snapshot_v1" {
        return DecodeOptions::new().from_slice(bytes).expect("snapshot");
    }
    let plain = zstd::stream::decode_all(bytes).expect("zstd");
    decode(codec, &plain)
}

/// The dynamic-value codecs compared, ours first.
pub const DYNAMIC_CODECS: [&str; 3] = ["snapshot_value", "serde_json_value", "rmpv_value"];

/// A dataset as each dynamic model.
pub enum Dynamic {
    Snapshot(snapshot_state::Value),
    Json(serde_json::Value),
    Rmpv(rmpv::Value),
}

pub fn to_dynamic<T: Serialize>(codec: &str, value: &T) -> Dynamic {
    match codec {
        "snapshot_value" => Dynamic::Snapshot(
            snapshot_state::codec::decode(&encode("snapshot", value)).expect("value"),
        ),
        "serde_json_value" => Dynamic::Json(serde_json::to_value(value).expect("json value")),
        // Named maps, like ours: `rmpv::ext::to_value` would write structs as arrays
        // without field names, which flatters the peer.
        "rmpv_value" => Dynamic::Rmpv(
            rmpv::decode::read_value(&mut &rmp_serde::to_vec_named(value).expect("rmp named")[..])
                .expect("rmpv value"),
        ),
        other => panic!("unknown dynamic codec {other}"),
    }
}

pub fn encode_dynamic(value: &Dynamic) -> Vec<u8> {
    match value {
        Dynamic::Snapshot(v) => EncodeOptions::new()
            .with_compression(Compression::None)
            .encode(v)
            .expect("encode"),
        Dynamic::Json(v) => serde_json::to_vec(v).expect("json"),
        Dynamic::Rmpv(v) => {
            let mut out = Vec::new();
            rmpv::encode::write_value(&mut out, v).expect("rmpv");
            out
        }
    }
}

pub fn decode_dynamic(codec: &str, bytes: &[u8]) -> Dynamic {
    match codec {
        "snapshot_value" => {
            Dynamic::Snapshot(snapshot_state::codec::decode(bytes).expect("decode"))
        }
        "serde_json_value" => Dynamic::Json(serde_json::from_slice(bytes).expect("json")),
        "rmpv_value" => Dynamic::Rmpv(rmpv::decode::read_value(&mut &bytes[..]).expect("rmpv")),
        other => panic!("unknown dynamic codec {other}"),
    }
}
