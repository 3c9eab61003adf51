//! The conformance suite against MinIO in a container, through testcontainers. It needs
//! a Docker engine that can pull `minio/minio` from a registry, which CI cannot, so it
//! is ignored by default: `cargo test -p snapshot-store-s3 --test minio -- --ignored`
//! where an engine and a registry are at hand. Run without an engine, it fails saying
//! so (found the way testcontainers finds one: the socket); it never passes unrun.
//! CI runs the same suite in a container built locally (`tests/containers.rs`).

use std::sync::Arc;
use std::time::Duration;

use snapshot_store::conformance;
use snapshot_store_s3::S3Store;
use testcontainers::core::ExecCommand;
use testcontainers::runners::AsyncRunner;
use testcontainers_modules::minio::MinIO;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Docker engine that can pull minio/minio from a registry"]
async fn conformance_suite_against_minio() {
    assert!(
        snapshot_testkit::docker::engine_socket().is_some(),
        "no Docker engine answers here (no socket at DOCKER_HOST or /var/run/docker.sock)"
    );
    let minio = MinIO::default().start().await.expect("start MinIO");
    minio
        .exec(ExecCommand::new([
            "sh",
            "-c",
            "mc alias set local http://127.0.0.1:9000 minioadmin minioadmin && mc mb local/snapshots",
        ]))
        .await
        .expect("create bucket");
    let port = minio.get_host_port_ipv4(9000).await.expect("port");
    let store = S3Store::builder()
        .with_endpoint(format!("http://127.0.0.1:{port}"))
        .with_bucket_name("snapshots")
        .with_prefix("conformance")
        .with_access_key_id("minioadmin")
        .with_secret_access_key("minioadmin")
        .with_allow_http(true)
        .with_timeout(Duration::from_secs(30))
        .build()
        .expect("store");
    let raw = Raw(store.object_store().clone());
    conformance::run_all(Arc::new(store), &raw).await;
}

struct Raw(Arc<dyn snapshot_store_s3::object_store::ObjectStore>);

#[async_trait::async_trait]
impl conformance::ForeignObjects for Raw {
    async fn put_foreign(&self, name: &str, bytes: &[u8]) {
        use snapshot_store_s3::object_store::{ObjectStoreExt, PutPayload, path::Path};
        let path = Path::from(format!("conformance/{name}"));
        self.0
            .put(&path, PutPayload::from(bytes.to_vec()))
            .await
            .expect("put foreign object");
    }
    async fn foreign_exists(&self, name: &str) -> bool {
        use snapshot_store_s3::object_store::{ObjectStoreExt, path::Path};
        self.0
            .head(&Path::from(format!("conformance/{name}")))
            .await
            .is_ok()
    }
}
