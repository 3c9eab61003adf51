//! A real SeaweedFS S3 server on 127.0.0.1 for the tests: installed if missing (through
//! `scripts/install-seaweedfs.sh`), started on free ports with signature checking, and
//! stopped when dropped (or when the test process dies).
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use snapshot_store::conformance::ForeignObjects;
use snapshot_store::{KeyRange, SnapshotStore};
use snapshot_store_s3::object_store::path::Path as ObjectPath;
use snapshot_store_s3::object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use snapshot_store_s3::{S3Store, S3StoreBuilder};

pub const BUCKET: &str = "snapshots";
pub const ACCESS_KEY: &str = "snapshot-test-access";
pub const SECRET_KEY: &str = "snapshot-test-secret-9f3c1a";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `weed` binary: `SNAPSHOT_WEED_BIN`, or installed by the project's script.
fn weed_binary() -> PathBuf {
    if let Ok(bin) = std::env::var("SNAPSHOT_WEED_BIN") {
        return PathBuf::from(bin);
    }
    let out = Command::new("bash")
        .arg(workspace_root().join("scripts/install-seaweedfs.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("running scripts/install-seaweedfs.sh");
    assert!(
        out.status.success(),
        "could not install SeaweedFS for the S3 tests (scripts/install-seaweedfs.sh failed); \
         the S3 suite cannot run without it"
    );
    PathBuf::from(String::from_utf8(out.stdout).expect("utf-8 path").trim())
}

fn free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Five ports p, each with p + 10000 (SeaweedFS's gRPC port) free as well.
fn pick_ports() -> [u16; 5] {
    let mut seed = std::process::id() as u64 ^ Instant::now().elapsed().as_nanos() as u64;
    let mut ports = Vec::new();
    while ports.len() < 5 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let p = 20_000 + (seed >> 33) as u16 % 20_000;
        if !ports.contains(&p) && free(p) && free(p + 10_000) {
            ports.push(p);
        }
    }
    [ports[0], ports[1], ports[2], ports[3], ports[4]]
}

pub struct Weed {
    bin: PathBuf,
    dir: tempfile::TempDir,
    ports: [u16; 5],
    child: Option<Child>,
}

impl Weed {
    /// Installs (if needed) and starts a server; panics if it does not come up.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("data")).expect("data dir");
        let identities = format!(
            r#"{{"identities":[{{"name":"tests","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
        );
        std::fs::write(dir.path().join("s3.json"), identities).expect("identities");
        let mut weed = Weed {
            bin: weed_binary(),
            dir,
            ports: pick_ports(),
            child: None,
        };
        weed.launch();
        weed
    }

    pub fn s3_port(&self) -> u16 {
        self.ports[0]
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port())
    }

    fn launch(&mut self) {
        let [s3, master, volume, filer, admin] = self.ports;
        let log = std::fs::File::create(self.dir.path().join("weed.log")).expect("log");
        let mut cmd = Command::new(&self.bin);
        cmd.arg("mini")
            .arg(format!("-dir={}", self.dir.path().join("data").display()))
            .args([
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-master.telemetry=false",
            ])
            .args([
                "-admin.ui=false",
                "-webdav=false",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
            ])
            .arg(format!("-s3.port={s3}"))
            .arg(format!("-master.port={master}"))
            .arg(format!("-volume.port={volume}"))
            .arg(format!("-filer.port={filer}"))
            .arg(format!("-admin.port={admin}"))
            .arg(format!("-bucket={BUCKET}"))
            .arg(format!(
                "-s3.config={}",
                self.dir.path().join("s3.json").display()
            ))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        #[allow(unsafe_code)]
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                // The server dies with the test process, even if it is killed.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        self.child = Some(cmd.spawn().expect("starting weed"));
        self.wait_ready();
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Waits until a signed write to the bucket succeeds (the S3 port can answer before
    /// the storage behind it is ready).
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        let addr: SocketAddr = ([127, 0, 0, 1], self.s3_port()).into();
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("weed exited early ({status}); log:\n{}", self.log_tail());
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                let store = self.builder("readiness").build().expect("store");
                // On a thread of its own: the caller may be inside a runtime already.
                let ok = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("rt");
                    rt.block_on(async {
                        let raw = store.object_store().clone();
                        let probe = ObjectPath::from("readiness/probe");
                        raw.put(&probe, PutPayload::from_static(b"ok"))
                            .await
                            .is_ok()
                            && raw.delete(&probe).await.is_ok()
                            && store.list(KeyRange::all(), None).await.is_ok()
                    })
                })
                .join()
                .expect("readiness probe");
                if ok {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "SeaweedFS did not become ready; log:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Stops the server (as a crash would: SIGKILL).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same ports and data.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// A store builder for this server under `prefix`, with short timeouts.
    pub fn builder(&self, prefix: &str) -> S3StoreBuilder {
        S3Store::builder()
            .with_endpoint(self.endpoint())
            .with_bucket_name(BUCKET)
            .with_prefix(prefix)
            .with_region("us-east-1")
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .with_allow_http(true)
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(Duration::from_secs(30))
            .with_retries(2, Duration::from_secs(10))
    }

    pub fn store(&self, prefix: &str) -> S3Store {
        self.builder(prefix).build().expect("store")
    }
}

impl Drop for Weed {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Puts raw objects beside the snapshots, through the same object store.
pub struct RawObjects {
    pub store: Arc<dyn ObjectStore>,
    pub prefix: String,
}

impl RawObjects {
    pub fn of(store: &S3Store) -> Self {
        Self {
            store: store.object_store().clone(),
            prefix: store.prefix().as_ref().to_owned(),
        }
    }

    fn path(&self, name: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(name)
        } else {
            ObjectPath::from(format!("{}/{name}", self.prefix))
        }
    }

    /// Every object name under the prefix, snapshots or not.
    pub async fn names(&self) -> Vec<String> {
        use futures::TryStreamExt;
        let prefix = ObjectPath::from(self.prefix.as_str());
        let mut names: Vec<String> = self
            .store
            .list(Some(&prefix))
            .map_ok(|m| m.location.as_ref().to_owned())
            .try_collect()
            .await
            .expect("raw list");
        names.sort();
        names
    }
}

#[async_trait]
impl ForeignObjects for RawObjects {
    async fn put_foreign(&self, name: &str, bytes: &[u8]) {
        self.store
            .put(
                &self.path(name),
                PutPayload::from(Bytes::copy_from_slice(bytes)),
            )
            .await
            .expect("put foreign object");
    }
    async fn foreign_exists(&self, name: &str) -> bool {
        self.store.head(&self.path(name)).await.is_ok()
    }
}
