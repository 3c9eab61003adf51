//! The defaults do not depend on which Cargo features the build has:
//! `scripts/check-features.sh` runs this file under several feature sets.

use snapshot_state::codec::{FLAG_LZ4, FLAG_ZSTD};
use snapshot_state::{
    Compression, DumpOptions, EncodeOptions, MemoryStore, SnapshotManager, value,
};

#[test]
fn the_codec_compresses_only_when_asked() {
    assert_eq!(Compression::default(), Compression::None);
    assert_eq!(EncodeOptions::new().compression(), Compression::None);
}

#[test]
fn a_manager_compresses_with_lz4_unless_told_otherwise() {
    let manager = SnapshotManager::new(MemoryStore::new());
    assert_eq!(snapshot_state::DEFAULT_COMPRESSION, Compression::Lz4);
    assert_eq!(
        manager
            .raw()
            .encode_options(&DumpOptions::default())
            .compression(),
        Compression::Lz4
    );

    // And the bytes stored say so: a compressible state is written LZ4-compressed.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let stored = runtime.block_on(async {
        let state = value!({"text": "a compressible line of text, ".repeat(2_000)});
        let info = manager.dump(&state).await.expect("dump");
        manager.raw().store().get(info.key).await.expect("get")
    });
    let flags = stored[5];
    assert_eq!(flags & FLAG_LZ4, FLAG_LZ4, "flags {flags:#04x}");
    assert_eq!(flags & FLAG_ZSTD, 0, "flags {flags:#04x}");
}
