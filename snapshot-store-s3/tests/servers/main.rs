//! The S3 backend against real S3-compatible servers on 127.0.0.1, started by this test
//! (and installed first if missing): SeaweedFS, moto and s3rver (which ignores
//! `If-None-Match`), plus your own server if `SNAPSHOT_S3_TEST_ENDPOINT` names one (see
//! `support`). `SNAPSHOT_S3_TEST_SERVERS=seaweedfs,moto` picks among the local ones (all
//! three by default). If a server cannot be started, this test fails; it never skips.
//!
//! This file is its own harness (each check prints its name and time). Run with
//! `SNAPSHOT_S3_CHILD=writer` (or `big-writer`) in the environment it is a child process
//! instead.

mod uploads;
mod writes;

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
use uploads::*;
use writes::*;

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
            let started = std::time::Instant::now();
            conformance::$name(Arc::new(weed.store(&unique(stringify!($name))))).await;
            println!("  conformance::{} ok ({:.1?})", stringify!($name), started.elapsed());
        )*};
    }
    snapshot_store::for_each_store_behaviour!(each_behaviour);
    let store = weed.store(&unique("foreign"));
    let raw = RawObjects::of(&store);
    conformance::foreign_objects_are_ignored(Arc::new(store.clone()), &raw).await;
    println!("  conformance::foreign_objects_are_ignored ok");
    // Through a trait object, the whole suite once more, on one prefix (each behaviour
    // clearing what the one before left). What this adds is the suite's own clearing, not
    // the server's behaviour, so it runs on SeaweedFS only: on moto and s3rver it doubled
    // the suite's time (about 110 s each in CI).
    if weed.name != "seaweedfs" {
        return;
    }
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

/// What the process's metrics recorder holds.
pub(crate) static METRICS: std::sync::OnceLock<metrics_util::debugging::Snapshotter> =
    std::sync::OnceLock::new();

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
    // Metrics are read back by the probe's test (writes.rs).
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let _ = METRICS.set(recorder.snapshotter());
    recorder.install().expect("the only recorder");
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
