//! The S3 backend against a real S3-compatible server: SeaweedFS on 127.0.0.1, started
//! by this test (and installed first if missing). If the server cannot be started, this
//! test fails; it never skips.
//!
//! This file is its own harness (each check prints its name and time). Run with
//! `SNAPSHOT_S3_CHILD=writer` in the environment it is a child process instead.

mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use snapshot_codec::{Compression, Value, value};
use snapshot_store::conformance::{self, DynStore};
use snapshot_store::{Error, KeyRange, SnapshotKey, SnapshotManager, SnapshotStore};
use snapshot_store_s3::{S3Error, S3Store, UPLOADS_DIR};
use support::{RawObjects, SECRET_KEY, Weed};

fn unique(name: &str) -> String {
    format!(
        "t{}-{}/{name}",
        std::process::id(),
        SnapshotKey::now().as_micros()
    )
}

async fn conformance_suite(weed: &Weed) {
    macro_rules! each_behaviour {
        ($($name:ident),*) => {$(
            conformance::$name(Arc::new(weed.store(&unique(stringify!($name))))).await;
            println!("  conformance::{} ok", stringify!($name));
        )*};
    }
    snapshot_store::for_each_store_behaviour!(each_behaviour);
    let store = weed.store(&unique("foreign"));
    let raw = RawObjects::of(&store);
    conformance::foreign_objects_are_ignored(Arc::new(store.clone()), &raw).await;
    println!("  conformance::foreign_objects_are_ignored ok");
    // Through a trait object, the whole suite once more, on a bare bucket-level prefix.
    let store = weed.store(&unique("whole-suite"));
    let raw = RawObjects::of(&store);
    let dynamic: DynStore = Arc::new(store);
    conformance::run_all(dynamic, &raw).await;
    println!("  conformance::run_all ok");
}

async fn nested_and_staging_objects_are_not_snapshots(weed: &Weed) {
    let store = weed.store(&unique("nested"));
    let raw = RawObjects::of(&store);
    use snapshot_store::conformance::ForeignObjects;
    raw.put_foreign("sub/2024-01-15_10-30-00-000000", b"nested")
        .await;
    raw.put_foreign(
        &format!("{UPLOADS_DIR}/2024-01-15_10-30-00-000000"),
        b"staging",
    )
    .await;
    assert!(
        store
            .list(KeyRange::all(), None)
            .await
            .expect("list")
            .is_empty()
    );
    let manager = SnapshotManager::new(store.clone());
    manager.dump(&value!(1)).await.expect("dump");
    assert_eq!(manager.delete_all().await.expect("delete_all"), 1);
    let names = raw.names().await;
    assert_eq!(names.len(), 2, "foreign objects were deleted: {names:?}");
    // Staging objects are removed once stale.
    assert_eq!(
        store
            .remove_stale_uploads(Duration::ZERO)
            .await
            .expect("cleanup"),
        1
    );
    assert_eq!(raw.names().await.len(), 1);
}

async fn wrong_secret_is_an_authentication_error(weed: &Weed) {
    let store = weed
        .builder(&unique("auth"))
        .with_secret_access_key("not-the-secret")
        .build()
        .expect("store");
    let err = store
        .put(SnapshotKey::now(), Bytes::from_static(b"x"))
        .await
        .expect_err("must be rejected");
    let Error::Backend {
        backend: "s3",
        source,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(
        matches!(
            source.downcast_ref::<S3Error>(),
            Some(S3Error::Authentication { .. })
        ),
        "{err:?}"
    );
    let text = format!("{err} {err:?}");
    assert!(text.contains("credentials"), "{text}");
    assert!(
        !text.contains("not-the-secret") && !text.contains(SECRET_KEY),
        "a secret leaked: {text}"
    );
    let err = store
        .list(KeyRange::all(), None)
        .await
        .expect_err("listing must be rejected too");
    assert!(err.to_string().contains("credentials"), "{err}");
    println!("  error shown: {err}");
}

async fn credentials_never_appear_in_debug(weed: &Weed) {
    let builder = weed.builder("debug").with_token("session-token-abc");
    let shown = format!("{builder:?}");
    let store = builder.build().expect("store");
    let shown = format!(
        "{shown} {store:?} {store} {:?}",
        SnapshotManager::new(store.clone())
    );
    for secret in [SECRET_KEY, "session-token-abc", support::ACCESS_KEY] {
        assert!(!shown.contains(secret), "{secret} appears in {shown}");
    }
}

async fn unreachable_endpoints_fail_in_bounded_time() {
    // Nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    // This one accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_port = silent.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in silent.incoming() {
            held.push(conn);
        }
    });
    for (what, port) in [("closed port", port), ("silent server", silent_port)] {
        let store = S3Store::builder()
            .with_endpoint(format!("http://127.0.0.1:{port}"))
            .with_bucket_name("bkt")
            .with_access_key_id("a")
            .with_secret_access_key("s")
            .with_allow_http(true)
            .with_connect_timeout(Duration::from_millis(500))
            .with_timeout(Duration::from_secs(1))
            .with_retries(1, Duration::from_secs(3))
            .build()
            .expect("store");
        let started = Instant::now();
        let err = SnapshotManager::new(store)
            .dump(&value!(1))
            .await
            .expect_err("must fail");
        let took = started.elapsed();
        assert!(took < Duration::from_secs(8), "{what}: took {took:?}");
        assert!(
            matches!(err, Error::Backend { backend: "s3", .. }),
            "{what}: {err:?}"
        );
        println!("  {what}: failed after {took:.1?}: {err}");
    }
}

fn incompressible(len: usize, seed: u64) -> Bytes {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

async fn large_snapshots_go_up_in_parts(weed: &Weed) {
    let store = weed
        .builder(&unique("multipart"))
        .with_multipart_threshold(6 << 20)
        .with_part_size(5 << 20)
        .build()
        .expect("store");
    let raw = RawObjects::of(&store);
    let manager = SnapshotManager::new(store.clone()).with_compression(Compression::None);
    let state = Value::Bytes(incompressible(17 << 20, 7).to_vec());
    let info = manager.dump(&state).await.expect("multipart dump");
    assert!(info.size > 17 << 20);
    assert_eq!(
        manager
            .load(snapshot_store::Lookup::Exact(info.key))
            .await
            .expect("load"),
        Some(state)
    );
    assert_eq!(
        raw.names().await,
        [store.path_of(info.key).to_string()],
        "staging objects left behind"
    );
    // Create-only holds for multipart uploads too.
    let other = Bytes::from(
        snapshot_codec::EncodeOptions::new()
            .with_compression(Compression::None)
            .encode(&Value::Bytes(incompressible(9 << 20, 9).to_vec()))
            .expect("encode"),
    );
    let err = store.put(info.key, other).await.expect_err("key taken");
    assert!(err.is_already_exists(), "{err:?}");
    assert_eq!(
        raw.names().await.len(),
        1,
        "a refused upload left objects behind"
    );
    let stored = store.get(info.key).await.expect("get");
    assert_eq!(
        stored.len() as u64,
        info.size,
        "the first snapshot was replaced"
    );
}

async fn existence_check_refuses_taken_keys(weed: &Weed) {
    let store = weed
        .builder(&unique("head-check"))
        .with_existence_check(true)
        .build()
        .expect("store");
    let key = SnapshotKey::now();
    store
        .put(key, Bytes::from_static(b"one"))
        .await
        .expect("put");
    let err = store
        .put(key, Bytes::from_static(b"two"))
        .await
        .expect_err("taken");
    assert!(err.is_already_exists());
}

async fn two_processes_lose_nothing(weed: &Weed) {
    let prefix = unique("two-processes");
    let count = 60;
    let exe = std::env::current_exe().expect("exe");
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(&exe)
                .env("SNAPSHOT_S3_CHILD", "writer")
                .env("SNAPSHOT_S3_ENDPOINT", weed.endpoint())
                .env("SNAPSHOT_S3_PREFIX", &prefix)
                .env("SNAPSHOT_S3_COUNT", count.to_string())
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn writer")
        })
        .collect();
    let mut keys = Vec::new();
    for mut child in children {
        let out = child.stdout.take().expect("stdout");
        keys.extend(BufReader::new(out).lines().map(|l| l.expect("line")));
        assert!(child.wait().expect("wait").success(), "a writer failed");
    }
    let distinct: BTreeSet<&String> = keys.iter().collect();
    assert_eq!(keys.len(), 2 * count);
    assert_eq!(distinct.len(), keys.len(), "two dumps shared a key");
    let manager = SnapshotManager::new(weed.store(&prefix));
    let listed: BTreeSet<String> = manager
        .list()
        .await
        .expect("list")
        .iter()
        .map(|m| m.key.to_string())
        .collect();
    assert_eq!(listed, distinct.into_iter().cloned().collect());
    for key in &listed {
        let v = manager
            .load(snapshot_store::Lookup::exact(key.as_str()).expect("key"))
            .await
            .expect("load");
        assert!(v.is_some(), "{key} vanished");
    }
}

async fn writer_child() {
    let endpoint = std::env::var("SNAPSHOT_S3_ENDPOINT").expect("endpoint");
    let prefix = std::env::var("SNAPSHOT_S3_PREFIX").expect("prefix");
    let count: u64 = std::env::var("SNAPSHOT_S3_COUNT")
        .expect("count")
        .parse()
        .expect("number");
    let store = S3Store::builder()
        .with_endpoint(endpoint)
        .with_bucket_name(support::BUCKET)
        .with_prefix(prefix)
        .with_access_key_id(support::ACCESS_KEY)
        .with_secret_access_key(SECRET_KEY)
        .with_allow_http(true)
        .build()
        .expect("store");
    let manager = SnapshotManager::new(store);
    // Both writers aim at the same instants, so they collide for certain.
    let base = SnapshotKey::parse("2031-01-01_00-00-00-000000").expect("key");
    for i in 0..count {
        let at = SnapshotKey::from_micros(base.as_micros() + i as i64 * 10).expect("key");
        let info = manager
            .dump_at(at, &value!({"pid": (std::process::id()), "i": i}))
            .await
            .expect("dump");
        println!("{}", info.key);
    }
}

async fn server_stopped_mid_upload(weed: &mut Weed) {
    let prefix = unique("crash");
    let mut size = 64 << 20;
    for attempt in 1..=4 {
        let store = weed
            .builder(&prefix)
            .with_multipart_threshold(5 << 20)
            .with_part_size(5 << 20)
            .with_retries(1, Duration::from_secs(3))
            .with_timeout(Duration::from_secs(5))
            .build()
            .expect("store");
        // Encode first, so that the stop lands in the upload itself.
        let bytes = Bytes::from(
            snapshot_codec::EncodeOptions::new()
                .with_compression(Compression::None)
                .encode(&Value::Bytes(incompressible(size, attempt).to_vec()))
                .expect("encode"),
        );
        let key = SnapshotKey::now();
        let uploader = store.clone();
        let upload = tokio::spawn(async move { uploader.put(key, bytes).await });
        tokio::time::sleep(Duration::from_millis(40)).await;
        let stopped_at = Instant::now();
        weed.stop();
        let result = tokio::time::timeout(Duration::from_secs(30), upload)
            .await
            .expect("upload hung")
            .expect("task");
        if result.is_ok() {
            // The upload won the race with the stop; try again, bigger.
            println!("  attempt {attempt}: {size} bytes uploaded before the stop; retrying larger");
            weed.restart();
            SnapshotManager::new(store)
                .delete_all()
                .await
                .expect("clean");
            size *= 2;
            continue;
        }
        let err = result.expect_err("checked");
        println!(
            "  attempt {attempt}: upload of {size} bytes failed {:.1?} after the stop: {err}",
            stopped_at.elapsed()
        );
        assert!(
            matches!(err, Error::Backend { backend: "s3", .. }),
            "{err:?}"
        );
        weed.restart();
        let manager = SnapshotManager::new(store.clone());
        assert!(
            manager.list().await.expect("list").is_empty(),
            "a partial snapshot is listed"
        );
        assert!(
            matches!(store.get(key).await, Err(Error::NotFound { .. })),
            "the failed key is readable"
        );
        manager
            .dump(&value!({"after": "restart"}))
            .await
            .expect("dump after restart");
        assert_eq!(
            manager.load_latest().await.expect("load"),
            Some(value!({"after": "restart"}))
        );
        assert_eq!(manager.list().await.expect("list").len(), 1);
        let removed = store
            .remove_stale_uploads(Duration::ZERO)
            .await
            .expect("cleanup");
        println!(
            "  after restart: no partial snapshot listed, a new dump works, {removed} staging objects removed"
        );
        return;
    }
    panic!("every upload finished before the server could be stopped");
}

async fn soak_on_s3(weed: &Weed) {
    let secs = std::env::var("SNAPSHOT_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let store: DynStore = Arc::new(weed.store(&unique("soak")));
    let report = conformance::soak(store, Duration::from_secs(secs)).await;
    println!("  S3 soak, {secs} s: {report:?}");
    assert!(
        report.dumps > 50 && report.loads > 10 && report.prune_passes >= 3,
        "{report:?}"
    );
}

async fn run<F: std::future::Future<Output = ()>>(name: &str, test: F) {
    println!("test {name} ...");
    let started = Instant::now();
    test.await;
    println!("test {name} ... ok ({:.1?})", started.elapsed());
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if std::env::var("SNAPSHOT_S3_CHILD").is_ok() {
        rt.block_on(writer_child());
        return;
    }
    let started = Instant::now();
    let mut weed = Weed::start();
    println!(
        "SeaweedFS up at {} after {:.1?}",
        weed.endpoint(),
        started.elapsed()
    );
    rt.block_on(async {
        run("conformance_suite", conformance_suite(&weed)).await;
        run(
            "nested_and_staging_objects_are_not_snapshots",
            nested_and_staging_objects_are_not_snapshots(&weed),
        )
        .await;
        run(
            "wrong_secret_is_an_authentication_error",
            wrong_secret_is_an_authentication_error(&weed),
        )
        .await;
        run(
            "credentials_never_appear_in_debug",
            credentials_never_appear_in_debug(&weed),
        )
        .await;
        run(
            "unreachable_endpoints_fail_in_bounded_time",
            unreachable_endpoints_fail_in_bounded_time(),
        )
        .await;
        run(
            "large_snapshots_go_up_in_parts",
            large_snapshots_go_up_in_parts(&weed),
        )
        .await;
        run(
            "existence_check_refuses_taken_keys",
            existence_check_refuses_taken_keys(&weed),
        )
        .await;
        run(
            "two_processes_lose_nothing",
            two_processes_lose_nothing(&weed),
        )
        .await;
        run("soak_on_s3", soak_on_s3(&weed)).await;
        run(
            "server_stopped_mid_upload",
            server_stopped_mid_upload(&mut weed),
        )
        .await;
    });
    println!("all S3 tests passed in {:.1?}", started.elapsed());
}
