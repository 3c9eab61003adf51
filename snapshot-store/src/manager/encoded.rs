//! Bytes as they are: encoding without storing, storing bytes encoded elsewhere, and
//! the create-only write every dump ends in.

use super::*;
use snapshot_codec::EncodedBody;

impl SnapshotManager {
    pub(crate) fn encode<T: Serialize + ?Sized>(&self, state: &T) -> Result<Bytes> {
        encode_bytes(&self.encode, state)
    }

    pub(crate) fn encode_options(&self, options: &DumpOptions) -> EncodeOptions {
        self.encode_options_for(options)
    }

    pub(crate) fn decode_options(&self) -> &DecodeOptions {
        &self.decode
    }

    pub(crate) async fn dump_encoded(
        &self,
        bytes: Bytes,
        options: &DumpOptions,
    ) -> Result<DumpInfo> {
        self.verify_off_worker(&bytes).await?;
        self.dump_trusted(bytes, options).await
    }

    pub(crate) async fn dump_body(
        &self,
        body: EncodedBody,
        options: &DumpOptions,
    ) -> Result<DumpInfo> {
        // Compressing a small body takes less than handing it to another thread.
        let bytes = if body.len() < 64 * 1024 {
            body.finish().map_err(Error::Codec)?
        } else {
            run_blocking(move || body.finish().map_err(Error::Codec)).await?
        };
        self.dump_trusted(bytes.into(), options).await
    }

    /// Stores bytes this manager can read (verified, or written by its own encoder) as a
    /// dump.
    async fn dump_trusted(&self, bytes: Bytes, options: &DumpOptions) -> Result<DumpInfo> {
        let started = Instant::now();
        let first = options.at.unwrap_or_else(|| self.next_dump_key());
        let span = dump_span();
        let size = bytes.len() as u64;
        let reporter = self.reporter(Operation::Dump, first);
        let stored = self
            .put_loop(first, OnTaken::NextFree, Some(&bytes), |key| {
                let store = self.store.clone();
                let bytes = bytes.clone();
                Box::pin(async move { store.put(key, bytes).await.map(|()| size) })
            })
            .instrument(span.clone())
            .await;
        if stored.is_ok() {
            reporter.report(size, Some(size));
        }
        self.finish_dump(stored, started, &span).await
    }

    pub(crate) async fn put_encoded(
        &self,
        at: SnapshotKey,
        bytes: Bytes,
        on_taken: OnTaken,
    ) -> Result<Placed> {
        self.verify_off_worker(&bytes).await?;
        self.put_verified(at, bytes, on_taken).await
    }

    /// Checks that `bytes` is a snapshot this manager reads (a whole decode, which can
    /// take a while for a large one), on the blocking pool rather than an async worker.
    pub(crate) async fn verify_off_worker(&self, bytes: &Bytes) -> Result<()> {
        let decode = self.decode.clone();
        let bytes = bytes.clone();
        run_blocking(move || decode.decode(&bytes).map(drop).map_err(Error::Codec)).await
    }

    /// Stores verified bytes with [`put_loop`](Self::put_loop).
    pub(crate) async fn put_verified(
        &self,
        first: SnapshotKey,
        bytes: Bytes,
        on_taken: OnTaken,
    ) -> Result<Placed> {
        let size = bytes.len() as u64;
        self.put_loop(first, on_taken, Some(&bytes), |key| {
            let store = self.store.clone();
            let bytes = bytes.clone();
            Box::pin(async move { store.put(key, bytes).await.map(|()| size) })
        })
        .await
        .map(|(placed, _)| placed)
    }

    /// The one put-at-a-free-key loop: every write of a new snapshot goes through it.
    /// `attempt` writes the snapshot under one key and returns its size; `bytes` (the
    /// snapshot, where held in memory) is compared with what holds a taken key for
    /// [`OnTaken::SameOrNextFree`] and [`OnTaken::SameOrFail`].
    pub(crate) async fn put_loop<'a>(
        &'a self,
        first: SnapshotKey,
        on_taken: OnTaken,
        bytes: Option<&Bytes>,
        mut attempt: impl FnMut(SnapshotKey) -> BoxFuture<'a, Result<u64>>,
    ) -> Result<(Placed, u64)> {
        let span = tracing::debug_span!(
            target: "snapshot",
            "snapshot.put",
            key = %first,
            bytes = tracing::field::Empty
        );
        let recorder = span.clone();
        async move {
            let mut key = first;
            let mut attempts = 0;
            loop {
                attempts += 1;
                let started = Instant::now();
                match attempt(key).await {
                    Ok(size) => {
                        tracing::debug!(
                            target: "snapshot",
                            %key,
                            bytes = size,
                            millis = started.elapsed().as_millis() as u64,
                            "put"
                        );
                        recorder.record("bytes", size);
                        return Ok((Placed::Stored(key), size));
                    }
                    Err(Error::AlreadyExists { .. }) => {}
                    Err(e) => return Err(e),
                }
                if let (true, Some(bytes)) = (on_taken != OnTaken::NextFree, bytes) {
                    match self.store.get(key).await {
                        Ok(there) if there == *bytes => {
                            return Ok((Placed::AlreadyPresent(key), bytes.len() as u64));
                        }
                        // Deleted since: try the same key again.
                        Err(Error::NotFound { .. }) if attempts < self.key_attempts => continue,
                        Ok(_) | Err(Error::NotFound { .. }) => {}
                        Err(e) => return Err(e),
                    }
                    if on_taken == OnTaken::SameOrFail {
                        return Err(Error::AlreadyExists { key });
                    }
                }
                if attempts >= self.key_attempts || key == SnapshotKey::MAX {
                    return Err(Error::NoFreeKey { first, attempts });
                }
                key = self.first_free_after(key).await;
            }
        }
        .instrument(span)
        .await
    }

    /// The first key after `taken` that the store does not hold, found with one listing
    /// of the next second (many writers at one instant cost one listing per collision,
    /// not one write per taken key); `taken.next()` if the listing fails.
    pub(crate) async fn first_free_after(&self, taken: SnapshotKey) -> SnapshotKey {
        let mut candidate = taken.next();
        let end = SnapshotKey::from_micros(taken.as_micros().saturating_add(FREE_KEY_WINDOW))
            .unwrap_or(SnapshotKey::MAX);
        if let Ok(held) = self.store.list(KeyRange::new(candidate..=end), None).await {
            for meta in held {
                if meta.key == candidate && candidate < SnapshotKey::MAX {
                    candidate = candidate.next();
                } else if meta.key > candidate {
                    break;
                }
            }
        }
        candidate
    }
}
