//! Arbitrary bytes as a whole snapshot: decoding returns a value or an error, and a
//! value that decodes re-encodes to something that decodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapshot_codec::{DecodeOptions, EncryptionKey, Keyring};

fuzz_target!(|data: &[u8]| {
    // The default size limit (1 GiB) under a 256 MiB memory budget: bombs must be
    // refused by the budget, well inside the fuzzer's RSS limit. A keyring, so that
    // headers naming a key reach the key lookup and the decrypting readers.
    let key = EncryptionKey::new("fuzz", [0; 32]).expect("key");
    let opts = DecodeOptions::new()
        .with_max_memory(256 << 20)
        .with_keyring(Keyring::new(key));
    let _ = opts.read_metadata(data);
    let _ = snapshot_codec::encryption_key_id(data);
    let _ = snapshot_codec::header_len(data);
    if let Ok(value) = opts.decode(data) {
        let again = snapshot_codec::encode(&value).expect("a decoded value re-encodes");
        assert_eq!(snapshot_codec::decode(&again).expect("re-decodes"), value);
    }
    let _ = opts.decode_from_reader(data);
});
