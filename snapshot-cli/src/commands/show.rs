//! `snapshot show` and `snapshot get`: one snapshot, as JSON or raw bytes.

use std::path::PathBuf;

use anyhow::{anyhow, bail};
use snapshot::{Lookup, SnapshotKey, SnapshotManager, Value};

use crate::args::Which;
use crate::output;

/// The snapshot `which` selects, with its key. With `--latest-valid`, damaged newer
/// snapshots are passed over and reported on stderr.
async fn select(
    manager: &SnapshotManager,
    store: &str,
    which: &Which,
) -> anyhow::Result<(SnapshotKey, Value)> {
    if which.latest_valid {
        let recovered = manager
            .load_newest_valid::<Value>()
            .await?
            .ok_or_else(|| anyhow!("no snapshot in {store} loads"))?;
        for skipped in &recovered.skipped {
            eprintln!(
                "warning: passed over damaged snapshot {}: {}",
                skipped.key,
                skipped.error.chain_to_string()
            );
        }
        return Ok((recovered.snapshot.meta.key, recovered.snapshot.value));
    }
    let lookup = which.lookup()?;
    let snapshot = match manager.load_snapshot::<Value>(lookup).await {
        Ok(found) => found,
        Err(e) if lookup == Lookup::Latest && e.is_corrupt() => {
            bail!(
                "{}; --latest-valid passes over damaged snapshots",
                e.chain_to_string()
            )
        }
        Err(e) => return Err(e.into()),
    }
    .ok_or_else(|| match lookup {
        Lookup::Exact(key) => anyhow!("snapshot {key} not found in {store}"),
        _ => anyhow!("no snapshot matches in {store}"),
    })?;
    Ok((snapshot.meta.key, snapshot.value))
}

fn to_json_text(value: &Value) -> anyhow::Result<String> {
    let json = crate::json::to_json(value, &crate::registry());
    Ok(serde_json::to_string_pretty(&json)? + "\n")
}

pub async fn show(store: &str, which: &Which, raw: bool) -> anyhow::Result<()> {
    let manager = crate::open(store)?.with_progress(output::bytes_bar("loading"));
    let (key, value) = select(&manager, store, which).await?;
    if raw {
        let bytes = manager.store().get(key).await?;
        return output::stdout(&bytes);
    }
    output::stdout(to_json_text(&value)?)
}

pub async fn get(store: &str, which: &Which, path: Option<&PathBuf>) -> anyhow::Result<()> {
    let manager = crate::open(store)?.with_progress(output::bytes_bar("loading"));
    let (_, value) = select(&manager, store, which).await?;
    let text = to_json_text(&value)?;
    match path {
        Some(path) => output::write_private(path, text.as_bytes()),
        None => output::stdout(text),
    }
}
