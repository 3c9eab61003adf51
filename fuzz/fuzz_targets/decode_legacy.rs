//! Arbitrary bytes as a file of the Python original: a value or a typed error, never a
//! panic; whatever decodes also encodes in our format and reads back unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapshot_codec::legacy::{LegacyOptions, decode_legacy};

fuzz_target!(|data: &[u8]| {
    let opts = LegacyOptions::new().with_max_memory(256 << 20);
    if let Ok(value) = decode_legacy(data, &opts) {
        let ours = snapshot_codec::encode(&value).expect("a decoded value encodes");
        assert_eq!(snapshot_codec::decode(&ours).expect("decodes"), value);
    }
});
