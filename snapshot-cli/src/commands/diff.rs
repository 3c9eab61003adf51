//! `snapshot diff`: what changed between two snapshots.

use anyhow::{anyhow, bail};
use serde_json::{Value as Json, json};
use snapshot_state::codec::{Brief, Change, Diff};
use snapshot_state::{Lookup, SnapshotKey};

use crate::args::{FilterArgs, parse_time};
use crate::output;

/// Which two snapshots, as given.
pub struct Pair<'a> {
    pub old: Option<&'a str>,
    pub new: Option<&'a str>,
    pub before: Option<&'a str>,
}

pub async fn run(
    store: &str,
    pair: &Pair<'_>,
    filter: &FilterArgs,
    as_json: bool,
    limit: usize,
) -> anyhow::Result<()> {
    let manager = crate::open(store)?.with_progress(output::bytes_bar("loading"));
    let filter = filter.filter()?;
    let new_lookup = match pair.new {
        Some(t) => Lookup::Exact(parse_time(t)?),
        None => Lookup::Latest,
    };
    let new_query = new_lookup.matching(filter.clone());
    let new_key = manager
        .resolve(new_query)
        .await?
        .ok_or_else(|| not_found(store, new_lookup, filter.is_empty()))?
        .key;
    let old_lookup = match (pair.old, pair.before) {
        (Some(t), _) => Lookup::Exact(parse_time(t)?),
        (None, Some(t)) => Lookup::AtOrBefore(parse_time(t)?),
        // The one before the newer snapshot.
        (None, None) => match SnapshotKey::from_micros(new_key.as_micros() - 1) {
            Ok(just_before) => Lookup::AtOrBefore(just_before),
            Err(_) => bail!("no snapshot before {new_key} in {store}"),
        },
    };
    let exact = filter.is_empty();
    let old_key = match manager.resolve(old_lookup.matching(filter)).await? {
        Some(found) => found.key,
        None if pair.old.is_none() && pair.before.is_none() => {
            bail!("{new_key} is the only snapshot that matches in {store}: nothing to compare")
        }
        None => return Err(not_found(store, old_lookup, exact)),
    };
    // Both stream side by side: memory near the largest single string or array.
    let d = manager.raw().diff(old_key, new_key).await?;
    if as_json {
        let doc = to_json(old_key, new_key, &d);
        return output::stdout(serde_json::to_string_pretty(&doc)? + "\n");
    }
    let mut out = format!("--- {old_key}\n+++ {new_key}\n");
    let shown = if limit == 0 {
        d.changes.len()
    } else {
        limit.min(d.changes.len())
    };
    for change in &d.changes[..shown] {
        out.push_str(&change.to_string());
        out.push('\n');
    }
    if shown < d.changes.len() {
        out.push_str(&format!(
            "... and {} more (--limit 0 shows all)\n",
            d.changes.len() - shown
        ));
    }
    let (added, removed) = d.changes.iter().fold((0, 0), |(a, r), c| match c {
        Change::Added { .. } => (a + 1, r),
        Change::Removed { .. } => (a, r + 1),
        _ => (a, r),
    });
    out.push_str(&format!(
        "{} added, {} removed, {} changed, {} unchanged\n",
        added,
        removed,
        d.changes.len() - added - removed,
        d.unchanged
    ));
    output::stdout(out)
}

/// A diff as one JSON document (what `--json` prints and the web page reads).
pub fn to_json(old_key: SnapshotKey, new_key: SnapshotKey, d: &Diff) -> Json {
    let registry = crate::registry();
    let brief = |b: &Brief| match &b.value {
        Some(v) => json!({"kind": b.kind, "value": crate::json::to_json(v, &registry)}),
        None => json!({"kind": b.kind, "len": b.len}),
    };
    let changes: Vec<Json> = d
        .changes
        .iter()
        .map(|c| match c {
            Change::Added { path, new } => json!({"op": "add", "path": path, "new": brief(new)}),
            Change::Removed { path, old } => {
                json!({"op": "remove", "path": path, "old": brief(old)})
            }
            Change::Changed { path, old, new } => {
                json!({"op": "change", "path": path, "old": brief(old), "new": brief(new)})
            }
            Change::Elements {
                path,
                element_type,
                len,
                changed,
                max_abs_diff,
            } => json!({
                "op": "elements", "path": path, "element_type": element_type, "len": len,
                "changed": changed,
                // JSON has no NaN: a one-sided NaN is null.
                "max_abs_diff": if max_abs_diff.is_nan() { Json::Null } else { json!(max_abs_diff) },
            }),
            _ => json!({"op": "other", "path": c.path(), "text": c.to_string()}),
        })
        .collect();
    json!({
        "old": old_key.to_string(),
        "new": new_key.to_string(),
        "unchanged": d.unchanged,
        "changes": changes,
    })
}

fn not_found(store: &str, lookup: Lookup, exact: bool) -> anyhow::Error {
    match lookup {
        Lookup::Exact(key) if exact => anyhow!("snapshot {key} not found in {store}"),
        Lookup::AtOrBefore(t) => anyhow!("no snapshot at or before {t} matches in {store}"),
        _ => anyhow!("no snapshot matches in {store}"),
    }
}
