//! The S3 suite through testcontainers: the S3 test server (SeaweedFS) in a container
//! built locally `FROM scratch` by `scripts/docker-test-image.sh` (nothing is pulled
//! from a registry), on the host network, bound to 127.0.0.1, with signature checking.
//! `scripts/test.sh` starts a Docker engine if none runs, builds the image and runs this
//! test with `--ignored`; by hand: `bash scripts/docker-test-image.sh start` first.

use snapshot_testkit::s3 as support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use snapshot_codec::Value;
use snapshot_codec::value;
use snapshot_store::conformance;
use snapshot_store::{Lookup, SnapshotKey, SnapshotManager};
use support::{RawObjects, Target};
use testcontainers::core::Mount;
use testcontainers::runners::AsyncRunner;
use testcontainers::{GenericImage, ImageExt};

const IMAGE: &str = "snapshot-test/seaweedfs";
const TAG: &str = "4.48";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Docker engine and the locally built image: scripts/test.sh provides both and runs it"]
async fn s3_suite_in_a_container() {
    assert!(
        snapshot_testkit::docker::engine_socket().is_some(),
        "no Docker engine answers here: run scripts/docker-test-image.sh start first"
    );
    let [s3, master, volume, filer, admin] = support::pick_ports();
    let config = tempfile::tempdir().expect("tempdir");
    std::fs::write(config.path().join("s3.json"), support::identities()).expect("identities");
    let container = GenericImage::new(IMAGE, TAG)
        .with_network("host")
        .with_mount(Mount::bind_mount(
            config.path().to_str().expect("utf-8"),
            "/config",
        ))
        .with_cmd([
            "mini".to_owned(),
            "-dir=/data".into(),
            "-ip=127.0.0.1".into(),
            "-ip.bind=127.0.0.1".into(),
            "-master.telemetry=false".into(),
            "-admin.ui=false".into(),
            "-webdav=false".into(),
            "-s3.port.iceberg=0".into(),
            "-s3.port.lance=0".into(),
            format!("-s3.port={s3}"),
            format!("-master.port={master}"),
            format!("-volume.port={volume}"),
            format!("-filer.port={filer}"),
            format!("-admin.port={admin}"),
            format!("-bucket={}", support::BUCKET),
            "-s3.config=/config/s3.json".into(),
        ])
        .start()
        .await
        .expect(
            "starting the container (is the image built? bash scripts/docker-test-image.sh start)",
        );
    let target = Target {
        name: "seaweedfs in a container",
        endpoint: format!("http://127.0.0.1:{s3}"),
        bucket: support::BUCKET.into(),
        access_key: support::ACCESS_KEY.into(),
        secret_key: support::SECRET_KEY.into(),
        region: "us-east-1".into(),
        expected: Some(snapshot_store_s3::WriteProtocol::Conditional),
    };
    // Ready once a write is taken (listings answer before the volume server registers).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if target.writable().await {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the container's server did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let store = target.store("conformance");
    let report = store.probe().await.expect("probe");
    assert_eq!(Some(report.protocol), target.expected, "{report:?}");
    let raw = RawObjects::of(&store);
    conformance::run_all(Arc::new(store), &raw).await;

    // Two writers at the same instants lose nothing.
    let prefix = "race";
    let count = 100u64;
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let manager = SnapshotManager::new(target.store(prefix));
            tokio::spawn(async move {
                let base = str::parse::<SnapshotKey>("2031-01-01_00-00-00-000000").expect("key");
                let mut keys = Vec::new();
                for i in 0..count {
                    let at =
                        SnapshotKey::from_micros(base.as_micros() + i as i64 * 10).expect("key");
                    let info = manager
                        .dump_with(
                            &value!({"w": w, "i": i}),
                            &snapshot_store::DumpOptions::new()
                                .at(at)
                                .expect("a valid time"),
                        )
                        .await
                        .expect("dump");
                    keys.push((info.key, w, i));
                }
                keys
            })
        })
        .collect();
    let mut written = Vec::new();
    for writer in writers {
        written.extend(writer.await.expect("writer"));
    }
    let manager = SnapshotManager::new(target.store(prefix));
    let distinct: BTreeSet<SnapshotKey> = written.iter().map(|(k, _, _)| *k).collect();
    assert_eq!(distinct.len(), written.len(), "two dumps shared a key");
    for (key, w, i) in written {
        assert_eq!(
            manager
                .load::<Value>(Lookup::Exact(key))
                .await
                .expect("load"),
            Some(value!({"w": w, "i": i})),
            "{key} lost"
        );
    }
    drop(container);
}
