//! The S3 backend against real S3-compatible servers on 127.0.0.1, started by this test
//! (and installed first if missing): SeaweedFS, moto and s3rver (which ignores
//! `If-None-Match`), plus your own server if `SNAPSHOT_S3_TEST_ENDPOINT` names one (see
//! `support`). `SNAPSHOT_S3_TEST_SERVERS=seaweedfs,moto` picks among the local ones (all
//! three by default). If a server cannot be started, this test fails; it never skips.
//!
//! This file is its own harness (each check prints its name and time). Run with
//! `SNAPSHOT_S3_CHILD=writer` (or `big-writer`) in the environment it is a child process
//! instead.

use snapshot_testkit::s3 as support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use snapshot_codec::{Compression, Value, value};
use snapshot_store::Lookup;
use snapshot_store::Order;
use snapshot_store::conformance::{self, DynStore};
use snapshot_store::{Error, KeyRange, SnapshotKey, SnapshotManager, SnapshotStore};
use snapshot_store_s3::{S3Store, UPLOADS_DIR, WriteProtocol};
use support::{Process, RawObjects, SECRET_KEY, Target, Weed};

fn unique(name: &str) -> String {
    format!(
        "t{}-{}/{name}",
        std::process::id(),
        SnapshotKey::now().as_micros()
    )
}

async fn conformance_suite(weed: &Target) {
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

async fn nested_and_staging_objects_are_not_snapshots(weed: &Target) {
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
    assert_eq!(manager.raw().delete_all().await.expect("delete_all"), 1);
    let names = raw.names().await;
    assert_eq!(names.len(), 2, "foreign objects were deleted: {names:?}");
    // Staging objects are removed once stale.
    let removed = store.remove_stale(Duration::ZERO).await.expect("cleanup");
    assert_eq!(removed.other.len(), 1, "{removed:?}");
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
    assert!(
        matches!(err, Error::Unauthenticated { backend: "s3", .. }),
        "{err:?}"
    );
    let text = format!("{} {err:?}", err.chain_to_string());
    assert!(text.contains("credentials"), "{text}");
    assert!(
        !text.contains("not-the-secret") && !text.contains(SECRET_KEY),
        "a secret leaked: {text}"
    );
    let err = store
        .list(KeyRange::all(), None)
        .await
        .expect_err("listing must be rejected too");
    assert!(err.chain_to_string().contains("credentials"), "{err}");
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
        // Not a speed check: the guard only tells a failure (the configured timeouts
        // end it within seconds) from a hang; the time taken is reported.
        let err = tokio::time::timeout(
            Duration::from_secs(120),
            SnapshotManager::new(store).dump(&value!(1)),
        )
        .await
        .unwrap_or_else(|_| panic!("{what}: the dump hung"))
        .expect_err("must fail");
        let took = started.elapsed();
        assert!(
            matches!(err, Error::Backend { backend: "s3", .. }),
            "{what}: {err:?}"
        );
        if what == "silent server" {
            // The probe (the first request of a write) meets the silence.
            assert!(
                err.chain_to_string().contains("timed out after 1 s"),
                "{err}"
            );
        }
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

async fn large_snapshots_go_up_in_parts(weed: &Target) {
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

/// Two processes dump `count` snapshots each, both aiming at the same instants; every
/// dump reported saved must be listed and load with the writer's own state.
async fn two_processes_lose_nothing(target: &Target, count: usize, writes: &str) {
    let prefix = unique("two-processes");
    let exe = std::env::current_exe().expect("exe");
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(&exe)
                .env("SNAPSHOT_S3_CHILD", "writer")
                .envs(target.child_env())
                .env("SNAPSHOT_S3_PREFIX", &prefix)
                .env("SNAPSHOT_S3_COUNT", count.to_string())
                .env("SNAPSHOT_S3_WRITES", writes)
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn writer")
        })
        .collect();
    let mut written = Vec::new();
    for mut child in children {
        let out = child.stdout.take().expect("stdout");
        written.extend(BufReader::new(out).lines().map(|l| l.expect("line")));
        assert!(child.wait().expect("wait").success(), "a writer failed");
    }
    assert_eq!(written.len(), 2 * count);
    let manager = SnapshotManager::new(target.store(&prefix));
    let listed: BTreeSet<String> = manager
        .list(Order::NewestFirst)
        .await
        .expect("list")
        .iter()
        .map(|m| m.key.to_string())
        .collect();
    let mut lost = 0;
    for line in &written {
        let (key, pid, i) = {
            let mut parts = line.split(' ');
            let key = parts.next().expect("key");
            let pid: u64 = parts.next().expect("pid").parse().expect("pid");
            let i: u64 = parts.next().expect("i").parse().expect("i");
            (key, pid, i)
        };
        let loaded = manager
            .load(snapshot_store::Lookup::exact(key).expect("key"))
            .await
            .expect("load");
        if loaded != Some(value!({"pid": pid, "i": i})) || !listed.contains(key) {
            lost += 1;
        }
    }
    println!(
        "  {}: {} dumps by 2 writers at the same instants ({writes} writes): {lost} lost, {} listed",
        target.name,
        written.len(),
        listed.len()
    );
    assert_eq!(lost, 0, "snapshots reported saved were lost or replaced");
    assert_eq!(listed.len(), written.len(), "two dumps shared a key");
}

/// The writer child: its store comes from the `AWS_*` variables, as the CLI's does.
async fn writer_child() {
    let var = |name: &str| std::env::var(name).expect(name);
    let count: u64 = var("SNAPSHOT_S3_COUNT").parse().expect("number");
    // SAFETY of set_var: this child is single-purpose and sets them before any thread
    // reads the environment.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("AWS_ENDPOINT", var("SNAPSHOT_S3_TEST_ENDPOINT"));
        std::env::set_var("AWS_BUCKET", var("SNAPSHOT_S3_TEST_BUCKET"));
        std::env::set_var("AWS_ACCESS_KEY_ID", var("SNAPSHOT_S3_TEST_ACCESS_KEY_ID"));
        std::env::set_var(
            "AWS_SECRET_ACCESS_KEY",
            var("SNAPSHOT_S3_TEST_SECRET_ACCESS_KEY"),
        );
        std::env::set_var("AWS_REGION", var("SNAPSHOT_S3_TEST_REGION"));
        std::env::set_var("AWS_ALLOW_HTTP", "on");
    }
    let store = S3Store::from_env()
        .with_prefix(var("SNAPSHOT_S3_PREFIX"))
        .build()
        .expect("store");
    let manager = SnapshotManager::new(store);
    // Both writers aim at the same instants, so they collide for certain.
    let base = str::parse::<SnapshotKey>("2031-01-01_00-00-00-000000").expect("key");
    let pid = std::process::id();
    for i in 0..count {
        let at = SnapshotKey::from_micros(base.as_micros() + i as i64 * 10).expect("key");
        let info = manager
            .dump_with(
                &value!({"pid": pid, "i": i}),
                &snapshot_store::DumpOptions::new()
                    .at(at)
                    .expect("a valid time"),
            )
            .await
            .expect("dump");
        println!("{} {pid} {i}", info.key);
    }
}

/// The probe finds what the server does, and `Auto` picks the protocol that is safe.
async fn probe_finds_what_the_server_does(target: &Target) {
    let store = target.store(&unique("probe"));
    let report = store.probe().await.expect("probe");
    println!("  {}: {report}", target.name);
    if let Some(expected) = target.expected {
        assert_eq!(report.protocol, expected, "{report:?}");
    }
    assert_eq!(
        store.write_protocol().await.expect("protocol"),
        report.protocol
    );
    let leftovers = store.stale(Duration::ZERO).await.expect("stale");
    assert!(leftovers.is_empty(), "the probe left {leftovers:?}");
}

/// `conditional` forced on a server that ignores conditional creates refuses to write
/// (naming why) and stores nothing; on a server that honours them it writes.
async fn forced_conditional_is_refused_where_unsafe(target: &Target) {
    let store = target
        .builder(&unique("forced"))
        .with_write_protocol(WriteProtocol::Conditional)
        .build()
        .expect("store");
    let key = str::parse::<SnapshotKey>("2030-06-01_12-00-00-000000").expect("key");
    let written = store.put(key, Bytes::from_static(b"forced")).await;
    let probed = store.probed().expect("the write probed first").protocol;
    if probed == WriteProtocol::Claims {
        let err = written.expect_err("an unsafe forced protocol must not write");
        let text = err.chain_to_string();
        assert!(text.contains("does not honour"), "{text}");
        assert!(
            store
                .list(KeyRange::all(), None)
                .await
                .expect("list")
                .is_empty(),
            "nothing may be stored"
        );
    } else {
        written.expect("a safe forced protocol writes");
    }
    if let Some(expected) = target.expected {
        assert_eq!(probed, expected);
    }
}

/// A writer's store probes in the background as soon as it is opened: the answer is
/// there before the first write, so the first checkpoint does not wait for it.
async fn the_probe_runs_before_the_first_write(target: &Target) {
    let store = target.store(&unique("early"));
    assert!(store.probed().is_none());
    store.start_probe();
    let started = Instant::now();
    while store.probed().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the background probe never finished"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "  {}: background probe done after {:.1?}, before any write",
        target.name,
        started.elapsed()
    );
    // A second store of the same place (a new open in the same process) knows at once.
    let again = target.store(store.prefix().as_ref());
    let before = Instant::now();
    assert_eq!(
        again.write_protocol().await.expect("protocol"),
        store.probed().expect("probed").protocol
    );
    assert!(again.probed().is_some());
    println!(
        "  {}: remembered answer in {:.1?}",
        target.name,
        before.elapsed()
    );
}

/// One writer asking three times for one instant gets three snapshots.
async fn one_writer_one_instant_three_times(target: &Target) {
    let manager = SnapshotManager::new(target.store(&unique("same-instant")));
    let at = str::parse::<SnapshotKey>("2030-06-01_12-00-00-000000").expect("key");
    let mut keys = BTreeSet::new();
    for i in 0..3 {
        keys.insert(
            manager
                .dump_with(
                    &value!({"i": i}),
                    &snapshot_store::DumpOptions::new()
                        .at(at)
                        .expect("a valid time"),
                )
                .await
                .expect("dump")
                .key,
        );
    }
    assert_eq!(keys.len(), 3, "{keys:?}");
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(
            manager
                .load(snapshot_store::Lookup::Exact(*key))
                .await
                .expect("load"),
            Some(value!({"i": (i as i64)}))
        );
    }
}

/// Writes are create-only whatever the bytes: a second write of one key fails, even
/// with the same bytes (as on every store; the importer then compares), and the first
/// snapshot stays.
async fn repeated_writes_are_refused(target: &Target) {
    let store = target.store(&unique("again"));
    let key = str::parse::<SnapshotKey>("2030-06-01_12-00-00-000000").expect("key");
    let first = Bytes::from_static(b"the first snapshot");
    store.put(key, first.clone()).await.expect("put");
    for again in [first.clone(), Bytes::from_static(b"another snapshot")] {
        let err = store.put(key, again).await.expect_err("taken");
        assert!(err.is_already_exists(), "{err:?}");
    }
    assert_eq!(store.get(key).await.expect("get"), first);
}

/// A bucket that does not exist is named as such, for every operation.
async fn missing_bucket_is_named(target: &Target) {
    let store = target
        .builder("x")
        .with_bucket_name("snapshot-no-such-bucket")
        .build()
        .expect("store");
    let key = str::parse::<SnapshotKey>("2030-06-01_12-00-00-000000").expect("key");
    let mut results = vec![
        ("list", store.list(KeyRange::all(), None).await.map(drop)),
        ("get", store.get(key).await.map(drop)),
    ];
    // SeaweedFS creates a bucket on the first write to it (for an admin identity).
    if target.name != "seaweedfs" {
        results.push(("put", store.put(key, Bytes::from_static(b"x")).await));
    }
    for (what, result) in results {
        let err = result.expect_err(what);
        assert!(
            matches!(&err, Error::StoreNotFound { reason, .. } if reason.contains("snapshot-no-such-bucket")),
            "{}: {what}: {err:?}",
            target.name
        );
    }
}

/// An upload the server holds under the prefix with no marker object (its marker's PUT
/// failed, or its writer died before writing it) is found by `stale` in the server's
/// own list of uploads and aborted by `remove_stale`. Servers that keep no such list
/// (s3rver) are said to.
async fn unmarked_upload_is_found_and_removed(target: &Target) {
    use object_store::multipart::MultipartStore;
    let prefix = unique("unmarked");
    let store = target.store(&prefix);
    let raw = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(&target.endpoint)
        .with_bucket_name(&target.bucket)
        .with_region(&target.region)
        .with_access_key_id(&target.access_key)
        .with_secret_access_key(&target.secret_key)
        .with_allow_http(true)
        .build()
        .expect("raw client");
    let path = object_store::path::Path::from(format!("{prefix}/2030-06-01_12-00-00-000000"));
    let id = match raw.create_multipart(&path).await {
        Ok(id) => id,
        Err(e) => panic!("{}: create_multipart: {e}", target.name),
    };
    let found = store.stale(Duration::ZERO).await.expect("stale");
    let listed = found.uploads.iter().any(|u| u.contains(id.as_str()));
    if target.name == "s3rver" {
        println!("  s3rver: no list of multipart uploads (found: {listed})");
        let _ = raw.abort_multipart(&path, &id).await;
        return;
    }
    assert!(
        listed,
        "{}: the unmarked upload was not found: {found:?}",
        target.name
    );
    let removed = store.remove_stale(Duration::ZERO).await.expect("remove");
    assert!(removed.uploads.iter().any(|u| u.contains(id.as_str())));
    let again = store.stale(Duration::ZERO).await.expect("stale");
    assert!(
        !again.uploads.iter().any(|u| u.contains(id.as_str())),
        "{}: the upload was not aborted: {again:?}",
        target.name
    );
}

/// A dump killed midway leaves a multipart upload (and, under the claims protocol, a
/// claim) that `stale` finds and `remove_stale` removes.
async fn killed_upload_is_found_and_removed(target: &Target) {
    let prefix = unique("killed");
    let exe = std::env::current_exe().expect("exe");
    let mut child = Command::new(&exe)
        .env("SNAPSHOT_S3_CHILD", "big-writer")
        .envs(target.child_env())
        .env("SNAPSHOT_S3_PREFIX", &prefix)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn big writer");
    let store = target.store(&prefix);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = store.stale(Duration::ZERO).await.expect("stale");
        // The snapshot's upload, not the probe's (under `_probe/`, named `...-multipart`:
        // the server's own list of uploads shows it while the probe runs).
        if found
            .uploads
            .iter()
            .any(|u| !u.contains("/_probe/") && !u.contains("-multipart"))
        {
            break;
        }
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the writer finished before it could be killed"
        );
        assert!(Instant::now() < deadline, "no upload marker appeared");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    let found = store.stale(Duration::ZERO).await.expect("stale");
    assert_eq!(found.uploads.len(), 1, "{found:?}");
    // An age above the leftovers' age finds nothing.
    assert!(
        store
            .stale(Duration::from_secs(3600))
            .await
            .expect("stale")
            .is_empty()
    );
    let removed = store.remove_stale(Duration::ZERO).await.expect("remove");
    assert_eq!(removed.uploads, found.uploads);
    assert!(store.stale(Duration::ZERO).await.expect("stale").is_empty());
    assert!(
        SnapshotManager::new(store)
            .list(Order::NewestFirst)
            .await
            .expect("list")
            .is_empty(),
        "a killed upload is listed as a snapshot"
    );
    println!(
        "  {}: killed upload found and removed: {removed:?}",
        target.name
    );
}

async fn big_writer_child() {
    let var = |name: &str| std::env::var(name).expect(name);
    let store = S3Store::builder()
        .with_endpoint(var("SNAPSHOT_S3_TEST_ENDPOINT"))
        .with_bucket_name(var("SNAPSHOT_S3_TEST_BUCKET"))
        .with_access_key_id(var("SNAPSHOT_S3_TEST_ACCESS_KEY_ID"))
        .with_secret_access_key(var("SNAPSHOT_S3_TEST_SECRET_ACCESS_KEY"))
        .with_region(var("SNAPSHOT_S3_TEST_REGION"))
        .with_allow_http(true)
        .with_prefix(var("SNAPSHOT_S3_PREFIX"))
        .with_multipart_threshold(5 << 20)
        .with_part_size(5 << 20)
        .build()
        .expect("store");
    let manager = SnapshotManager::new(store).with_compression(Compression::None);
    // Large enough to be killed midway on a local server.
    let state = Value::Bytes(incompressible(400 << 20, 3).to_vec());
    let _ = manager.dump(&state).await;
}

/// `bytes` as a stream of 1 MiB chunks, one every 5 ms (an encoder still at work).
fn trickle(bytes: Bytes) -> snapshot_store::ByteStream {
    use futures::StreamExt;
    let chunks: Vec<Bytes> = (0..bytes.len())
        .step_by(1 << 20)
        .map(|at| bytes.slice(at..(at + (1 << 20)).min(bytes.len())))
        .collect();
    futures::stream::iter(chunks)
        .then(|chunk| async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok(chunk)
        })
        .boxed()
}

/// The server stops while an upload is under way (`streamed`: while a streamed write
/// is still producing parts): the write fails, nothing is visible after a restart, and
/// `remove_stale` removes what the upload left.
async fn server_stopped_mid_upload(weed: &mut Weed, streamed: bool) {
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
        let upload = tokio::spawn(async move {
            if streamed {
                uploader.put_stream(key, trickle(bytes)).await.map(drop)
            } else {
                uploader.put(key, bytes).await
            }
        });
        tokio::time::sleep(Duration::from_millis(if streamed { 150 } else { 40 })).await;
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
                .raw()
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
        // A request cut midway may leave its outcome unknown; the check below shows
        // nothing was published.
        assert!(
            matches!(
                err,
                Error::Backend { backend: "s3", .. } | Error::OutcomeUnknown { .. }
            ),
            "{err:?}"
        );
        weed.restart();
        // The short timeouts above made the stop fail fast; a server just restarted can
        // be slow for a moment, so what follows uses the default ones.
        let store = weed.builder(&prefix).build().expect("store");
        let manager = SnapshotManager::new(store.clone());
        assert!(
            manager
                .list(Order::NewestFirst)
                .await
                .expect("list")
                .is_empty(),
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
            manager.load::<Value>(Lookup::Latest).await.expect("load"),
            Some(value!({"after": "restart"}))
        );
        assert_eq!(
            manager.list(Order::NewestFirst).await.expect("list").len(),
            1
        );
        let removed = store.remove_stale(Duration::ZERO).await.expect("cleanup");
        assert!(
            store.stale(Duration::ZERO).await.expect("stale").is_empty(),
            "leftovers stay after remove_stale"
        );
        println!(
            "  after restart: no partial snapshot listed, a new dump works, leftovers removed: {removed:?}"
        );
        return;
    }
    panic!("every upload finished before the server could be stopped");
}

async fn soak_on_s3(weed: &Weed) {
    let secs = std::env::var("SNAPSHOT_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let store: DynStore = Arc::new(weed.store(&unique("soak")));
    let report = conformance::soak(store, Duration::from_secs(secs)).await;
    println!("  S3 soak, {secs} s: {report:?}");
    // Behaviour, not speed: every kind of work happened (the soak itself checks that
    // nothing dumped was lost and every load was intact). The long run is
    // SNAPSHOT_SOAK_SECS=600 bash scripts/soak.sh.
    assert!(
        report.dumps > 0 && report.loads > 0 && report.prune_passes > 0,
        "{report:?}"
    );
}

async fn run<F: std::future::Future<Output = ()>>(name: &str, test: F) {
    println!("test {name} ...");
    let started = Instant::now();
    test.await;
    println!("test {name} ... ok ({:.1?})", started.elapsed());
}

/// The checks every server must pass.
async fn on_every_server(target: &Target) {
    let name = target.name;
    let race: usize = std::env::var("SNAPSHOT_S3_RACE_COUNT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    println!("== {name} at {}", target.endpoint);
    run(
        &format!("{name}: probe_finds_what_the_server_does"),
        probe_finds_what_the_server_does(target),
    )
    .await;
    run(
        &format!("{name}: forced_conditional_is_refused_where_unsafe"),
        forced_conditional_is_refused_where_unsafe(target),
    )
    .await;
    run(
        &format!("{name}: the_probe_runs_before_the_first_write"),
        the_probe_runs_before_the_first_write(target),
    )
    .await;
    run(
        &format!("{name}: conformance_suite"),
        conformance_suite(target),
    )
    .await;
    run(
        &format!("{name}: two_processes_lose_nothing"),
        two_processes_lose_nothing(target, race, "auto"),
    )
    .await;
    run(
        &format!("{name}: one_writer_one_instant_three_times"),
        one_writer_one_instant_three_times(target),
    )
    .await;
    run(
        &format!("{name}: repeated_writes_are_refused"),
        repeated_writes_are_refused(target),
    )
    .await;
    run(
        &format!("{name}: large_snapshots_go_up_in_parts"),
        large_snapshots_go_up_in_parts(target),
    )
    .await;
    run(
        &format!("{name}: killed_upload_is_found_and_removed"),
        killed_upload_is_found_and_removed(target),
    )
    .await;
    run(
        &format!("{name}: unmarked_upload_is_found_and_removed"),
        unmarked_upload_is_found_and_removed(target),
    )
    .await;
    run(
        &format!("{name}: missing_bucket_is_named"),
        missing_bucket_is_named(target),
    )
    .await;
    run(
        &format!("{name}: nested_and_staging_objects_are_not_snapshots"),
        nested_and_staging_objects_are_not_snapshots(target),
    )
    .await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match std::env::var("SNAPSHOT_S3_CHILD").as_deref() {
        Ok("writer") => return rt.block_on(writer_child()),
        Ok("big-writer") => return rt.block_on(big_writer_child()),
        Ok(other) => panic!("unknown child role {other}"),
        Err(_) => {}
    }
    let started = Instant::now();
    let servers = std::env::var("SNAPSHOT_S3_TEST_SERVERS")
        .unwrap_or_else(|_| "seaweedfs,moto,s3rver".into());
    let servers: Vec<&str> = servers
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    for server in &servers {
        match *server {
            "seaweedfs" => {
                let mut weed = Weed::start();
                println!(
                    "SeaweedFS up at {} after {:.1?}",
                    weed.endpoint(),
                    started.elapsed()
                );
                let target = weed.target();
                rt.block_on(async {
                    on_every_server(&target).await;
                    // The claims protocol on a server that would not need it: it must
                    // be just as safe (and the variable must reach the store).
                    run(
                        "seaweedfs: two_processes_lose_nothing (claims forced)",
                        two_processes_lose_nothing(&target, 100, "claims"),
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
                    run("soak_on_s3", soak_on_s3(&weed)).await;
                    run(
                        "server_stopped_mid_upload",
                        server_stopped_mid_upload(&mut weed, false),
                    )
                    .await;
                    run(
                        "server_stopped_mid_streamed_upload",
                        server_stopped_mid_upload(&mut weed, true),
                    )
                    .await;
                });
            }
            "moto" => {
                let moto = Process::moto();
                rt.block_on(on_every_server(&moto.target));
            }
            "s3rver" => {
                let s3rver = Process::s3rver();
                rt.block_on(on_every_server(&s3rver.target));
            }
            other => panic!(
                "unknown server {other:?} in SNAPSHOT_S3_TEST_SERVERS (seaweedfs, moto, s3rver)"
            ),
        }
    }
    if let Some(external) = Target::external() {
        rt.block_on(on_every_server(&external));
    }
    println!(
        "all S3 tests passed in {:.1?} ({})",
        started.elapsed(),
        servers.join(", ")
    );
}
