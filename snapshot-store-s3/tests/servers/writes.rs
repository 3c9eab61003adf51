//! Writers: what the probe finds, forced protocols refused where unsafe, two processes
//! aiming at the same instants, and create-only writes.

use super::*;

/// Two processes dump `count` snapshots each, both aiming at the same instants; every
/// dump reported saved must be listed and load with the writer's own state.
pub(crate) async fn two_processes_lose_nothing(target: &Target, count: usize, writes: &str) {
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
pub(crate) async fn writer_child() {
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
pub(crate) async fn probe_finds_what_the_server_does(target: &Target) {
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
    // The probe is counted, with what it found.
    let metrics = crate::METRICS
        .get()
        .expect("a recorder")
        .snapshot()
        .into_vec();
    let counted = metrics.iter().any(|(key, _, _, value)| {
        let key = key.key();
        key.name() == snapshot_store_s3::PROBES_METRIC
            && key
                .labels()
                .any(|l| l.key() == "protocol" && l.value() == report.protocol.as_str())
            && matches!(value, metrics_util::debugging::DebugValue::Counter(n) if *n >= 1)
    });
    assert!(
        counted,
        "no {} counted: {metrics:?}",
        snapshot_store_s3::PROBES_METRIC
    );
}

/// `conditional` forced on a server that ignores conditional creates refuses to write
/// (naming why) and stores nothing; on a server that honours them it writes.
pub(crate) async fn forced_conditional_is_refused_where_unsafe(target: &Target) {
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
pub(crate) async fn the_probe_runs_before_the_first_write(target: &Target) {
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
pub(crate) async fn one_writer_one_instant_three_times(target: &Target) {
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
pub(crate) async fn repeated_writes_are_refused(target: &Target) {
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
