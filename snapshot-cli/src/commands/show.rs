//! `snapshot show` and `snapshot get`: one snapshot, as JSON or raw bytes.

use std::path::PathBuf;

use anyhow::{anyhow, bail};
use snapshot_state::{Lookup, SnapshotKey, SnapshotManager, Value};

use crate::args::{FilterArgs, Which};
use crate::output;

/// The snapshot `which` selects, with its key. With `--latest-valid`, damaged newer
/// snapshots are passed over and reported on stderr; one encrypted under a key not
/// given stops the search (it is not damaged, and an older snapshot may be another
/// run's).
async fn select(
    manager: &SnapshotManager,
    store: &str,
    which: &Which,
    filter: &FilterArgs,
) -> anyhow::Result<(SnapshotKey, Value)> {
    let query = which.query(filter)?;
    if which.latest_valid && !query.filter.is_empty() {
        bail!("--latest-valid does not combine with --label or --step");
    }
    if which.latest_valid {
        let recovered = match manager.load_newest_valid::<Value>().await {
            Ok(Some(found)) => found,
            Ok(None) => bail!("no snapshot in {store}"),
            Err(e @ snapshot_state::Error::KeyUnavailable { .. }) => bail!(
                "{}; --latest-valid stops here rather than fall back to an older snapshot (give the key with --key-file or SNAPSHOT_KEY)",
                e.chain_to_string()
            ),
            Err(e) => bail!("{}", e.chain_to_string()),
        };
        for skipped in &recovered.skipped {
            eprintln!(
                "warning: passed over damaged snapshot {}: {}",
                skipped.key,
                skipped.error.chain_to_string()
            );
        }
        return Ok((recovered.snapshot.meta.key, recovered.snapshot.value));
    }
    let lookup = query.lookup;
    // Checked as a stream before it is loaded: a small hostile file (a compression bomb)
    // is refused with a few buffers of memory, not a gigabyte.
    let checked = match manager.resolve(query.clone()).await {
        Ok(Some(meta)) => check(manager, meta.key).await,
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    let loaded = match checked {
        Ok(()) => manager.load_snapshot::<Value>(query.clone()).await,
        Err(e) => Err(e),
    };
    let snapshot = match loaded {
        Ok(found) => found,
        Err(e) if lookup == Lookup::Latest && query.filter.is_empty() && e.is_corrupt() => {
            bail!(
                "{}; --latest-valid passes over damaged snapshots",
                e.chain_to_string()
            )
        }
        Err(e) => return Err(e.into()),
    }
    .ok_or_else(|| match lookup {
        Lookup::Exact(key) if query.filter.is_empty() => {
            anyhow!("snapshot {key} not found in {store}")
        }
        _ => anyhow!("no snapshot matches in {store}"),
    })?;
    Ok((snapshot.meta.key, snapshot.value))
}

/// Checks the snapshot `key` as a stream, without building its value.
async fn check(manager: &SnapshotManager, key: SnapshotKey) -> Result<(), snapshot_state::Error> {
    let bytes = match manager.raw().store().get(key).await {
        Ok(bytes) => bytes,
        // Gone since it was found: the load says so.
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    let options = manager.raw().decode_options().clone();
    tokio::task::spawn_blocking(move || options.check_from_reader(&bytes[..]))
        .await
        .map_err(|e| snapshot_state::Error::backend("task", e.to_string()))?
        .map_err(|source| snapshot_state::Error::undecodable(key, source))
}

fn to_json_text(value: &Value) -> anyhow::Result<String> {
    let json = crate::json::to_json(value, &crate::registry());
    Ok(serde_json::to_string_pretty(&json)? + "\n")
}

pub async fn show(
    store: &str,
    which: &Which,
    filter: &FilterArgs,
    raw: bool,
) -> anyhow::Result<()> {
    let manager = crate::open(store)?.with_progress(output::bytes_bar("loading"));
    let (key, value) = select(&manager, store, which, filter).await?;
    if raw {
        let bytes = manager.raw().store().get(key).await?;
        return output::stdout(&bytes);
    }
    output::stdout(to_json_text(&value)?)
}

pub async fn get(
    store: &str,
    which: &Which,
    filter: &FilterArgs,
    path: Option<&PathBuf>,
) -> anyhow::Result<()> {
    let manager = crate::open(store)?.with_progress(output::bytes_bar("loading"));
    let (_, value) = select(&manager, store, which, filter).await?;
    let text = to_json_text(&value)?;
    match path {
        Some(path) => output::write_private(path, text.as_bytes()),
        None => output::stdout(text),
    }
}

/// `show --summary`: the structure of the snapshot `which` selects, read as it streams.
pub async fn summary(
    store: &str,
    which: &Which,
    filter: &FilterArgs,
    depth: usize,
) -> anyhow::Result<()> {
    if which.latest_valid {
        bail!("--summary does not combine with --latest-valid (give the key, or --latest)");
    }
    let manager = crate::open(store)?.with_progress(output::bytes_bar("reading"));
    let query = which.query(filter)?;
    let meta = manager
        .resolve(query.clone())
        .await?
        .ok_or_else(|| match query.lookup {
            Lookup::Exact(key) if query.filter.is_empty() => {
                anyhow!("snapshot {key} not found in {store}")
            }
            _ => anyhow!("no snapshot matches in {store}"),
        })?;
    let options = snapshot_state::codec::SummaryOptions::new().max_depth(depth);
    let summary = manager.raw().summarize(meta.key, &options).await?;
    let ratio = summary.body_len as f64 / meta.size.max(1) as f64;
    output::stdout(format!(
        "snapshot {}: {} stored, {} decoded ({ratio:.2}x)\n{summary}",
        meta.key,
        output::human(meta.size),
        output::human(summary.body_len),
    ))
}
