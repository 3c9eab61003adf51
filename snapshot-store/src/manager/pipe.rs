//! The pipes between a codec running on a blocking thread and a store running on the
//! async runtime: a bounded channel of chunks each way, so a dump or a load holds a few
//! chunks of the encoded form, never all of it.

use std::io::{self, Read, Write};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::{ByteStream, Error, Result, SnapshotKey};

/// The size of one chunk passed from the encoder to the store.
pub(crate) const CHUNK: usize = 1 << 20;
/// How many chunks wait in a pipe at most.
pub(crate) const CHUNKS_IN_FLIGHT: usize = 4;

/// What an operation has done so far, as given to the manager's progress callback
/// ([`SnapshotManager::with_progress`](crate::SnapshotManager::with_progress)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// What is being done.
    pub operation: Operation,
    /// The snapshot concerned (for a dump: the key being written, which can still move
    /// to the next free microsecond if another writer takes it first).
    pub key: SnapshotKey,
    /// Bytes of the encoded snapshot done so far (for [`Operation::Delete`]: snapshots
    /// deleted so far).
    pub done: u64,
    /// The encoded size, once known: from the start for loads and copies, at the end
    /// for dumps (a streamed dump knows its size only when encoding ends).
    pub total: Option<u64>,
}

impl Progress {
    /// Whether this is the operation's last report (`done == total`).
    pub fn is_finished(&self) -> bool {
        self.total == Some(self.done)
    }
}

/// Which operation a [`Progress`] report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Encoding and writing a new snapshot.
    Dump,
    /// Reading and decoding a snapshot.
    Load,
    /// Reading a snapshot from one store and writing it to another.
    Copy,
    /// Checking a stored snapshot ([`verify`](crate::SnapshotManager::verify)): one
    /// finished report per snapshot checked, `done` and `total` its size, whatever the
    /// outcome (the report says which were damaged).
    Verify,
    /// Deleting the snapshots a retention plan removes: after each batch, `done`
    /// snapshots deleted of `total`, `key` the last one deleted.
    Delete,
}

/// The progress callback, shared by a manager's clones.
#[derive(Clone)]
pub(crate) struct ProgressFn(pub(crate) Arc<dyn Fn(&Progress) + Send + Sync>);

impl std::fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressFn")
    }
}

/// Reports to `progress`, if any.
#[derive(Clone)]
pub(crate) struct Reporter {
    pub(crate) progress: Option<ProgressFn>,
    pub(crate) operation: Operation,
    pub(crate) key: SnapshotKey,
}

impl Reporter {
    pub(crate) fn report(&self, done: u64, total: Option<u64>) {
        if let Some(progress) = &self.progress {
            (progress.0)(&Progress {
                operation: self.operation,
                key: self.key,
                done,
                total,
            });
        }
    }
}

/// One message from an encoder to the store.
pub(crate) enum Piece {
    Chunk(Bytes),
    /// The encoder failed: nothing may be stored.
    Failed(Error),
    /// Everything was sent.
    Done,
}

/// An `io::Write` on a blocking thread that passes what is written to the store in
/// chunks of [`CHUNK`] bytes.
pub(crate) struct PipeWriter {
    tx: mpsc::Sender<Piece>,
    buf: BytesMut,
}

impl PipeWriter {
    fn send(&mut self, piece: Piece) -> io::Result<()> {
        // Waits for room without tokio's blocking check, which refuses any thread that
        // entered a runtime: the encoder may run on `Runtime::block_on`'s thread, which
        // is no worker (the store's side runs on the workers). Unconstrained: on that
        // thread the whole encode happens inside one poll of the caller's future, whose
        // cooperative budget would run out after a few thousand waits for room; from
        // then on every send would be told to yield, forever (a dump of 1 GiB from
        // `#[tokio::main]` hung at 512 MiB that way).
        futures::executor::block_on(tokio::task::unconstrained(self.tx.send(piece)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the store stopped reading"))
    }

    /// Encodes `state` into the pipe with `options` and ends the stream with the
    /// outcome; returns the encoded size.
    pub(crate) fn encode<T: serde::Serialize + ?Sized>(
        mut self,
        options: &snapshot_codec::EncodeOptions,
        state: &T,
    ) -> Result<u64> {
        let outcome = options.to_writer(&mut self, state).map_err(Error::Codec);
        self.end(outcome)
    }

    /// Ends the stream with the encoder's outcome: `Done` after the last chunk, or
    /// `Failed`, so that a store never takes a stream that merely stopped as complete.
    fn end(mut self, outcome: Result<u64>) -> Result<u64> {
        match outcome {
            Ok(n) => {
                self.flush()
                    .map_err(|e| Error::Codec(snapshot_codec::Error::Io(e)))?;
                let _ = self.send(Piece::Done);
                Ok(n)
            }
            Err(e) => {
                let _ = self.send(Piece::Failed(Error::Codec(snapshot_codec::Error::Io(
                    io::Error::other("encoding failed"),
                ))));
                Err(e)
            }
        }
    }
}

impl Write for PipeWriter {
    /// Takes at most what fills the current chunk: a large write (an array's elements,
    /// passed straight through by the codec) goes out a chunk at a time, each one
    /// hashed by the codec while it is still in cache, never gathered whole.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let take = data.len().min(CHUNK - self.buf.len().min(CHUNK));
        self.buf.extend_from_slice(&data[..take]);
        if self.buf.len() >= CHUNK {
            let chunk = self.buf.split().freeze();
            self.buf.reserve(CHUNK);
            self.send(Piece::Chunk(chunk))?;
        }
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let chunk = self.buf.split().freeze();
            self.send(Piece::Chunk(chunk))?;
        }
        Ok(())
    }
}

/// A pipe from an encoder to a store: the writer for the encoder's thread and the
/// stream for [`SnapshotStore::put_stream`](crate::SnapshotStore::put_stream), which
/// reports progress as the store takes chunks.
pub(crate) fn encoder_pipe(reporter: Reporter) -> (PipeWriter, ByteStream) {
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let writer = PipeWriter {
        tx,
        buf: BytesMut::with_capacity(CHUNK),
    };
    let stream = futures::stream::unfold(
        (rx, reporter, 0u64, false),
        |(mut rx, reporter, done, ended)| async move {
            if ended {
                return None;
            }
            match rx.recv().await {
                Some(Piece::Chunk(chunk)) => {
                    let done = done + chunk.len() as u64;
                    reporter.report(done, None);
                    Some((Ok(chunk), (rx, reporter, done, false)))
                }
                Some(Piece::Done) => {
                    reporter.report(done, Some(done));
                    None
                }
                Some(Piece::Failed(e)) => Some((Err(e), (rx, reporter, done, true))),
                // The encoder's thread ended without saying so (it panicked).
                None => Some((
                    Err(Error::Codec(snapshot_codec::Error::Io(io::Error::other(
                        "the encoder stopped before the end of the snapshot",
                    )))),
                    (rx, reporter, done, true),
                )),
            }
        },
    )
    .boxed();
    (writer, stream)
}

/// An `io::Read` on a blocking thread over chunks the store sends; the end of the
/// channel is the end of the snapshot.
pub(crate) struct PipeReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl PipeReader {
    pub(crate) fn new(rx: mpsc::Receiver<Bytes>) -> Self {
        Self {
            rx,
            current: Bytes::new(),
        }
    }
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

/// Sends what `stream` yields into `tx`, reporting progress; stops early when the
/// reader hangs up (it found an error). Returns the bytes sent.
pub(crate) async fn forward(
    mut stream: ByteStream,
    tx: mpsc::Sender<Bytes>,
    reporter: &Reporter,
    total: u64,
) -> Result<u64> {
    let mut done = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        done += chunk.len() as u64;
        if tx.send(chunk).await.is_err() {
            break;
        }
        reporter.report(done, Some(total));
    }
    Ok(done)
}
