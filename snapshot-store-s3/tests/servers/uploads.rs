//! Uploads: large snapshots in parts, uploads left by killed writers or never marked,
//! and a server stopped in the middle of one.

use super::*;

pub(crate) fn incompressible(len: usize, seed: u64) -> Bytes {
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

pub(crate) async fn large_snapshots_go_up_in_parts(weed: &Target) {
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

/// An upload the server holds under the prefix with no marker object (its marker's PUT
/// failed, or its writer died before writing it) is found by `stale` in the server's
/// own list of uploads and aborted by `remove_stale`. Servers that keep no such list
/// (s3rver) are said to.
pub(crate) async fn unmarked_upload_is_found_and_removed(target: &Target) {
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
pub(crate) async fn killed_upload_is_found_and_removed(target: &Target) {
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

pub(crate) async fn big_writer_child() {
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
pub(crate) fn trickle(bytes: Bytes) -> snapshot_store::ByteStream {
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
pub(crate) async fn server_stopped_mid_upload(weed: &mut Weed, streamed: bool) {
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
