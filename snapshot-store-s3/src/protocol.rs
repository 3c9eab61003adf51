//! [`WriteProtocol`] and the probe that picks one.

use crate::write::*;
use crate::{S3Error, S3Store};

use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use snapshot_store::{Result, SnapshotKey};

use std::fmt;
use std::str::FromStr;

/// How writes keep from replacing a snapshot that is already stored.
///
/// Set with [`S3StoreBuilder::with_write_protocol`](crate::S3StoreBuilder::with_write_protocol)
/// or the `SNAPSHOT_S3_WRITES` variable (`auto`, `conditional` or `claims`). Every writer
/// of one prefix must use the same protocol; `Auto` makes the same choice on the same server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum WriteProtocol {
    /// Probe the server once, before the store's first write, and use
    /// [`Conditional`](Self::Conditional) where it honours conditional creates (of
    /// single objects and of multipart uploads, racing writers included), and
    /// [`Claims`](Self::Claims) otherwise. The default.
    #[default]
    Auto,
    /// Trust `If-None-Match: *`: a write is one conditional PUT (or a multipart upload
    /// completed conditionally). Right only on servers that honour it, such as AWS S3,
    /// MinIO, SeaweedFS and Cloudflare R2 (not moto's threaded server, whose check and
    /// write are two steps that racing writers can interleave).
    Conditional,
    /// A protocol that needs nothing from the server but consistent listings: a writer
    /// first stores a small claim object with a name only it uses, lists the claims for
    /// its key, and writes only if its claim is the only one and the key is free. Four
    /// or five requests per write instead of one.
    Claims,
}

impl WriteProtocol {
    /// The name used in settings and output: `auto`, `conditional` or `claims`.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteProtocol::Auto => "auto",
            WriteProtocol::Conditional => "conditional",
            WriteProtocol::Claims => "claims",
        }
    }
}

impl fmt::Display for WriteProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WriteProtocol {
    type Err = S3Error;

    /// Parses `auto`, `conditional` or `claims` (any case).
    fn from_str(s: &str) -> std::result::Result<Self, S3Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(WriteProtocol::Auto),
            "conditional" => Ok(WriteProtocol::Conditional),
            "claims" => Ok(WriteProtocol::Claims),
            _ => Err(S3Error::InvalidSetting {
                setting: "write protocol",
                value: s.to_owned(),
                expected: "auto, conditional or claims",
            }),
        }
    }
}

/// Probe answers of this process, by store (bucket, prefix and endpoint): a store
/// opened again (the next checkpoint run in one process, a clone made by the facade)
/// does not probe again.
static REMEMBERED: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<String, ProbeReport>>,
> = std::sync::LazyLock::new(Default::default);

fn remembered(store: &str) -> Option<ProbeReport> {
    REMEMBERED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(store)
        .cloned()
}

fn remember(store: &str, report: &ProbeReport) {
    REMEMBERED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(store.to_owned(), report.clone());
}

/// The counter of probes ([`S3Store::probe`](crate::S3Store::probe), run before a
/// store's first write), labelled `conditional_create` (`honoured` when a repeated and
/// racing conditional creates were refused, else `ignored`) and `protocol` (the write
/// protocol chosen: `conditional` or `claims`); see `snapshot_store::metrics`.
pub const PROBES_METRIC: &str = "snapshot_s3_probes_total";

/// What [`S3Store::probe`] found out about the server.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProbeReport {
    /// A second conditional create of one name was refused.
    pub conditional_put: bool,
    /// Of several conditional creates of one name sent at once, exactly one succeeded.
    pub racing_puts: bool,
    /// A second conditional completion of a multipart upload to one name was refused;
    /// `None` where the store cannot send one (stores not made by the builder).
    pub conditional_complete: Option<bool>,
    /// The protocol [`WriteProtocol::Auto`] picks from these answers.
    pub protocol: WriteProtocol,
}

impl fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes = |b: bool| if b { "honoured" } else { "IGNORED" };
        write!(
            f,
            "conditional create: {}; racing creates: {}; conditional multipart completion: {}; writes use: {}",
            yes(self.conditional_put),
            yes(self.racing_puts),
            self.conditional_complete.map_or("not tested", yes),
            self.protocol
        )
    }
}

impl S3Store {
    /// The protocol this store's writes use: [`WriteProtocol::Claims`] when configured;
    /// otherwise what the probe found (probed once per store and its clones, and
    /// remembered for the process per bucket, prefix and endpoint). A store set to
    /// [`WriteProtocol::Conditional`] on a server the probe finds ignoring conditional
    /// creates refuses to write: no setting overrides what the probe has shown to be
    /// unsafe. Stores over other object stores
    /// ([`from_object_store`](Self::from_object_store)) are probed only for `Auto`: their
    /// conditional creates are implemented by their object_store backend.
    ///
    /// # Errors
    /// [`Error::Backend`](snapshot_store::Error::Backend) when the probe's requests
    /// fail, or with [`S3Error::UnsafeWriteProtocol`] as above.
    pub async fn write_protocol(&self) -> Result<WriteProtocol> {
        let must_probe = match self.protocol {
            WriteProtocol::Auto => true,
            WriteProtocol::Conditional => self.s3.is_some(),
            WriteProtocol::Claims => false,
        };
        if !must_probe {
            return Ok(self.protocol);
        }
        let report = self
            .chosen
            .get_or_try_init(|| async {
                if let Some(known) = remembered(&self.describe) {
                    return Ok(known);
                }
                self.probe().await
            })
            .await?;
        match (self.protocol, report.protocol) {
            (WriteProtocol::Conditional, WriteProtocol::Claims) => {
                Err(snapshot_store::Error::backend(
                    crate::BACKEND,
                    S3Error::UnsafeWriteProtocol {
                        store: self.describe.clone(),
                        report: report.to_string(),
                    },
                ))
            }
            (_, found) => Ok(found),
        }
    }

    /// Starts the probe in the background on the current tokio runtime (if any), so
    /// that the first write does not wait for it: a writer calls this when it opens the
    /// store (`snapshot_state::open_or_create` does). Does nothing for stores that need no
    /// probe, outside a runtime, or once the answer is known; a probe that fails is
    /// tried again by the first write.
    pub fn start_probe(&self) {
        let needed = match self.protocol {
            WriteProtocol::Auto => true,
            WriteProtocol::Conditional => self.s3.is_some(),
            WriteProtocol::Claims => false,
        };
        if !needed || self.chosen.initialized() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = self.clone();
        runtime.spawn(async move {
            if let Err(e) = store.write_protocol().await {
                tracing::debug!(store = %store.describe, error = %e, "background probe failed; the first write probes again");
            }
        });
    }

    /// The probe's answer, once known (`None` before, and for stores that need none).
    pub fn probed(&self) -> Option<&ProbeReport> {
        self.chosen.get()
    }

    /// Finds out what the server does with conditional creates, with about a dozen
    /// small requests under `<prefix>/_probe/` (removed afterwards): one name created
    /// twice, one name created by several requests at once, and, for stores made by the
    /// builder, one multipart upload completed twice. Needs write permission.
    ///
    /// # Errors
    /// [`Error::Backend`](snapshot_store::Error::Backend) when a request fails for another reason than the condition.
    pub async fn probe(&self) -> Result<ProbeReport> {
        let dir = self.prefix.clone().join(PROBE_DIR);
        let base = unique_name();
        let single = dir.clone().join(format!("{base}-single"));
        let racing = dir.clone().join(format!("{base}-racing"));
        let completed = dir.clone().join(format!("{base}-multipart"));
        let report = self.run_probe(&single, &racing, &completed).await;
        for path in [&single, &racing, &completed] {
            let _ = self.store.delete(path).await;
        }
        let report = report?;
        tracing::info!(store = %self.describe, %report, "probed conditional creates");
        let honoured = |b: bool| if b { "honoured" } else { "ignored" };
        metrics::counter!(
            PROBES_METRIC,
            "conditional_create" => honoured(report.conditional_put && report.racing_puts),
            "protocol" => report.protocol.as_str()
        )
        .increment(1);
        remember(&self.describe, &report);
        Ok(report)
    }

    pub(crate) async fn run_probe(
        &self,
        single: &Path,
        racing: &Path,
        completed: &Path,
    ) -> Result<ProbeReport> {
        let put = |path: &Path| {
            let (store, path) = (self.store.clone(), path.clone());
            async move {
                store
                    .put_opts(&path, PutPayload::from_static(b"probe"), create())
                    .await
            }
        };
        let conditional_put = match put(single).await {
            Ok(_) => match put(single).await {
                Ok(_) => false,
                Err(
                    object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. },
                ) => true,
                Err(e) => return Err(self.error(e, None)),
            },
            Err(object_store::Error::NotImplemented { .. }) => false,
            Err(e) => return Err(self.error(e, None)),
        };
        let racing_puts = if conditional_put {
            let results = futures::future::join_all((0..PROBE_RACERS).map(|_| put(racing))).await;
            let mut won = 0;
            for result in results {
                match result {
                    Ok(_) => won += 1,
                    Err(
                        object_store::Error::AlreadyExists { .. }
                        | object_store::Error::Precondition { .. },
                    ) => {}
                    Err(e) => return Err(self.error(e, None)),
                }
            }
            won == 1
        } else {
            false
        };
        let conditional_complete = match &self.s3 {
            Some(s3) if conditional_put => {
                let body = || {
                    futures::stream::iter([Ok(PutPayload::from(Bytes::from_static(b"probe")))])
                        .boxed()
                };
                let first = self.upload_to(s3.as_ref(), completed, body(), true).await;
                first.map_err(|e| self.error(e, None))?;
                match self.upload_to(s3.as_ref(), completed, body(), true).await {
                    Ok(()) => Some(false),
                    Err(object_store::Error::AlreadyExists { .. }) => Some(true),
                    Err(e) => return Err(self.error(e, None)),
                }
            }
            Some(_) => Some(false),
            None => None,
        };
        let honoured = conditional_put && racing_puts && conditional_complete != Some(false);
        Ok(ProbeReport {
            conditional_put,
            racing_puts,
            conditional_complete,
            protocol: if honoured {
                WriteProtocol::Conditional
            } else {
                WriteProtocol::Claims
            },
        })
    }

    /// Stores `bytes` under `key` without replacing anything.
    pub(crate) async fn write(&self, key: SnapshotKey, body: Body) -> Result<()> {
        let path = self.path_of(key);
        match self.write_protocol().await? {
            WriteProtocol::Claims => self.write_claimed(key, &path, body).await,
            _ => {
                let (outcome, fingerprint) = self.store_body(&path, body, true).await;
                self.settle(key, &path, &fingerprint, outcome).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_parse_and_print() {
        for p in [
            WriteProtocol::Auto,
            WriteProtocol::Conditional,
            WriteProtocol::Claims,
        ] {
            assert_eq!(p.to_string().parse::<WriteProtocol>().unwrap(), p);
        }
        assert_eq!(
            " CLAIMS ".parse::<WriteProtocol>().unwrap(),
            WriteProtocol::Claims
        );
        assert!("sometimes".parse::<WriteProtocol>().is_err());
    }

    #[test]
    fn unique_names_differ() {
        let names: std::collections::BTreeSet<_> = (0..1000).map(|_| unique_name()).collect();
        assert_eq!(names.len(), 1000);
    }
}
