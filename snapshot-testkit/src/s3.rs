//! Real S3-compatible servers on 127.0.0.1 for the tests, installed if missing (through
//! `scripts/install-seaweedfs.sh` and `scripts/install-test-servers.sh`), started on free
//! ports, and stopped when dropped (or when the test process dies):
//!
//! - SeaweedFS: checks signatures, honours conditional creates;
//! - moto: honours conditional creates, does not check signatures;
//! - s3rver: ignores `If-None-Match`, lacks UploadPartCopy and ListMultipartUploads;
//! - an external server named by `SNAPSHOT_S3_TEST_ENDPOINT` (with
//!   `SNAPSHOT_S3_TEST_BUCKET`, `SNAPSHOT_S3_TEST_ACCESS_KEY_ID`,
//!   `SNAPSHOT_S3_TEST_SECRET_ACCESS_KEY`, optionally `SNAPSHOT_S3_TEST_REGION`): your
//!   own MinIO, R2 or Ceph.

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

/// The bucket the test servers are given.
pub const BUCKET: &str = "snapshots";
/// The test servers' access key id.
pub const ACCESS_KEY: &str = "snapshot-test-access";
/// The test servers' secret key (tests check it never leaks into messages).
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

/// The helper servers from `scripts/install-test-servers.sh`: name → path.
fn test_server_paths() -> std::collections::HashMap<String, PathBuf> {
    let out = Command::new("bash")
        .arg(workspace_root().join("scripts/install-test-servers.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("running scripts/install-test-servers.sh");
    assert!(
        out.status.success(),
        "could not install moto and s3rver for the S3 tests (scripts/install-test-servers.sh failed)"
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(name, path)| (name.to_owned(), PathBuf::from(path)))
        .collect()
}

/// One S3-compatible server the suite runs against: how to reach it, and what its
/// probe must find.
#[derive(Clone, Debug)]
pub struct Target {
    /// A name for messages.
    pub name: &'static str,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The bucket.
    pub bucket: String,
    /// The access key id.
    pub access_key: String,
    /// The secret key.
    pub secret_key: String,
    /// The region.
    pub region: String,
    /// The protocol `Auto` must pick here (`None`: not known in advance).
    pub expected: Option<snapshot_store_s3::WriteProtocol>,
}

impl Target {
    /// The external server named by `SNAPSHOT_S3_TEST_*`, if any.
    pub fn external() -> Option<Target> {
        let var = |name: &str| std::env::var(format!("SNAPSHOT_S3_TEST_{name}")).ok();
        Some(Target {
            name: "external",
            endpoint: var("ENDPOINT")?,
            bucket: var("BUCKET").expect("SNAPSHOT_S3_TEST_BUCKET"),
            access_key: var("ACCESS_KEY_ID").expect("SNAPSHOT_S3_TEST_ACCESS_KEY_ID"),
            secret_key: var("SECRET_ACCESS_KEY").expect("SNAPSHOT_S3_TEST_SECRET_ACCESS_KEY"),
            region: var("REGION").unwrap_or_else(|| "us-east-1".into()),
            expected: None,
        })
    }

    /// A store builder for this server under `prefix`, with short timeouts.
    pub fn builder(&self, prefix: &str) -> S3StoreBuilder {
        S3Store::builder()
            .with_endpoint(&self.endpoint)
            .with_bucket_name(&self.bucket)
            .with_prefix(prefix)
            .with_region(&self.region)
            .with_access_key_id(&self.access_key)
            .with_secret_access_key(&self.secret_key)
            .with_allow_http(true)
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(Duration::from_secs(30))
            .with_retries(2, Duration::from_secs(10))
    }

    /// A store under `prefix`.
    pub fn store(&self, prefix: &str) -> S3Store {
        self.builder(prefix).build().expect("store")
    }

    /// Whether the server takes a signed write, a delete and a listing now, each within
    /// five seconds (a server can answer listings before the storage behind it takes
    /// writes: SeaweedFS does while its volume server registers).
    pub async fn writable(&self) -> bool {
        let Ok(store) = self
            .builder("readiness")
            .with_timeout(Duration::from_secs(5))
            .with_retries(0, Duration::from_secs(5))
            .build()
        else {
            return false;
        };
        let raw = store.object_store().clone();
        let probe = ObjectPath::from("readiness/probe");
        let attempt = async {
            raw.put(&probe, PutPayload::from_static(b"ok"))
                .await
                .is_ok()
                && raw.delete(&probe).await.is_ok()
                && store.list(KeyRange::all(), None).await.is_ok()
        };
        tokio::time::timeout(Duration::from_secs(15), attempt)
            .await
            .unwrap_or(false)
    }

    /// The variables a child process needs to reach this server.
    pub fn child_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SNAPSHOT_S3_TEST_ENDPOINT", self.endpoint.clone()),
            ("SNAPSHOT_S3_TEST_BUCKET", self.bucket.clone()),
            ("SNAPSHOT_S3_TEST_ACCESS_KEY_ID", self.access_key.clone()),
            (
                "SNAPSHOT_S3_TEST_SECRET_ACCESS_KEY",
                self.secret_key.clone(),
            ),
            ("SNAPSHOT_S3_TEST_REGION", self.region.clone()),
        ]
    }
}

/// A server process of the tests (moto or s3rver), killed when dropped.
pub struct Process {
    child: Child,
    _dir: tempfile::TempDir,
    port: u16,
    /// How to reach it.
    pub target: Target,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn die_with_parent(cmd: &mut Command) {
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
}

fn wait_for_port(port: u16, child: &mut Child, log: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited early ({status}); log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not start; log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Sends one plain HTTP request and returns the status line.
fn http_status(port: u16, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.write_all(request.as_bytes()).expect("write");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.lines().next().unwrap_or_default().to_owned()
}

impl Process {
    /// moto's S3 server, with the test bucket created, serving one request at a time
    /// (`moto_serial.py`: its threaded server does not make `If-None-Match` atomic).
    pub fn moto() -> Process {
        let bin = test_server_paths()["moto"].clone();
        let python = bin.with_file_name("python");
        let serial = Path::new(env!("CARGO_MANIFEST_DIR")).join("moto_serial.py");
        let process = Process::start(
            "moto",
            |port, _| {
                let mut cmd = Command::new(&python);
                cmd.arg(&serial).args(["127.0.0.1", &port.to_string()]);
                cmd
            },
            ("moto-test-access", "moto-test-secret"),
            snapshot_store_s3::WriteProtocol::Conditional,
        );
        // moto does not check signatures: an unsigned request creates the bucket.
        let port = process.port;
        let status = http_status(
            port,
            &format!(
                "PUT /{BUCKET} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            ),
        );
        assert!(
            status.contains(" 200"),
            "creating the bucket on moto: {status}"
        );
        process
    }

    /// s3rver, with the test bucket configured.
    pub fn s3rver() -> Process {
        let paths = test_server_paths();
        Process::start(
            "s3rver",
            |port, dir| {
                std::fs::create_dir(dir.join("data")).expect("data dir");
                let mut cmd = Command::new(&paths["node"]);
                // s3rver's continuation tokens use DES, which Node 17+ (OpenSSL 3) only
                // offers with the legacy provider; without it every truncated listing
                // fails with 500.
                cmd.arg("--openssl-legacy-provider")
                    .arg(&paths["s3rver"])
                    .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-s"])
                    .arg("-d")
                    .arg(dir.join("data"))
                    .args(["--configure-bucket", BUCKET]);
                cmd
            },
            // s3rver checks signatures against its one built-in key pair.
            ("S3RVER", "S3RVER"),
            snapshot_store_s3::WriteProtocol::Claims,
        )
    }

    /// Starts the server `command(port, dir)` makes, logging to `dir`, and waits for
    /// its port.
    fn start(
        name: &'static str,
        command: impl FnOnce(u16, &Path) -> Command,
        (access_key, secret_key): (&str, &str),
        expected: snapshot_store_s3::WriteProtocol,
    ) -> Process {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = pick_ports()[0];
        let log_path = dir.path().join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path).expect("log");
        let mut cmd = command(port, dir.path());
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        die_with_parent(&mut cmd);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        wait_for_port(port, &mut child, &log_path, name);
        Process {
            child,
            _dir: dir,
            port,
            target: Target {
                name,
                endpoint: format!("http://127.0.0.1:{port}"),
                bucket: BUCKET.into(),
                access_key: access_key.into(),
                secret_key: secret_key.into(),
                region: "us-east-1".into(),
                expected: Some(expected),
            },
        }
    }
}

/// SeaweedFS's identities file: the tests' one key pair, allowed everything.
pub fn identities() -> String {
    format!(
        r#"{{"identities":[{{"name":"tests","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
    )
}

fn free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Five ports p, each with p + 10000 (SeaweedFS's gRPC port) free as well, none of
/// them another's p + 10000.
pub fn pick_ports() -> [u16; 5] {
    let mut seed = std::process::id() as u64 ^ Instant::now().elapsed().as_nanos() as u64;
    let mut ports = Vec::new();
    while ports.len() < 5 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let p = 20_000 + (seed >> 33) as u16 % 20_000;
        // SeaweedFS refuses a port that is another one's gRPC port (that port + 10000).
        let clashes = ports
            .iter()
            .any(|&q| q == p || q + 10_000 == p || p + 10_000 == q);
        if !clashes && free(p) && free(p + 10_000) {
            ports.push(p);
        }
    }
    [ports[0], ports[1], ports[2], ports[3], ports[4]]
}

/// A SeaweedFS server (`weed mini`) on free ports, stopped when dropped.
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
        std::fs::write(dir.path().join("s3.json"), identities()).expect("identities");
        let mut weed = Weed {
            bin: weed_binary(),
            dir,
            ports: pick_ports(),
            child: None,
        };
        weed.launch();
        weed
    }

    /// The S3 port.
    pub fn s3_port(&self) -> u16 {
        self.ports[0]
    }

    /// The S3 endpoint URL.
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
        die_with_parent(&mut cmd);
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
                let target = self.target();
                // On a thread of its own: the caller may be inside a runtime already.
                let ok = std::thread::spawn(move || {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("rt")
                        .block_on(target.writable())
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

    /// How to reach it, as a [`Target`].
    pub fn target(&self) -> Target {
        Target {
            name: "seaweedfs",
            endpoint: self.endpoint(),
            bucket: BUCKET.into(),
            access_key: ACCESS_KEY.into(),
            secret_key: SECRET_KEY.into(),
            region: "us-east-1".into(),
            expected: Some(snapshot_store_s3::WriteProtocol::Conditional),
        }
    }

    /// A store builder for this server under `prefix`, with short timeouts.
    pub fn builder(&self, prefix: &str) -> S3StoreBuilder {
        self.target().builder(prefix)
    }

    /// A store under `prefix`.
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
    /// The object store under the S3 store.
    pub store: Arc<dyn ObjectStore>,
    /// The S3 store's prefix.
    pub prefix: String,
}

impl RawObjects {
    /// The raw objects beside `store`'s snapshots.
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

    /// Every object name under the prefix, snapshots or not, but for the claims
    /// protocol's one lasting object (`_claims/_keep`).
    pub async fn names(&self) -> Vec<String> {
        use futures::TryStreamExt;
        let prefix = ObjectPath::from(self.prefix.as_str());
        let mut names: Vec<String> = self
            .store
            .list(Some(&prefix))
            .map_ok(|m| m.location.as_ref().to_owned())
            .try_filter(|name| futures::future::ready(!name.ends_with("/_claims/_keep")))
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
