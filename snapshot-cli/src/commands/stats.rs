//! `snapshot stats`: how big a store is and how it grows.

use std::collections::BTreeMap;

use serde_json::json;
use snapshot_state::codec::SummaryOptions;
use snapshot_state::{Order, SnapshotManager, SnapshotMeta};

use crate::args::FilterArgs;
use crate::output::human;

/// Snapshots and bytes of one day.
#[derive(Default)]
struct Day {
    count: u64,
    bytes: u64,
}

pub async fn run(
    store: &str,
    filter: &FilterArgs,
    as_json: bool,
    deep: bool,
) -> anyhow::Result<()> {
    let manager = crate::open(store)?;
    let filter = filter.filter()?;
    // Oldest first. With a filter, each header is read (cached) for labels and steps;
    // snapshots whose header cannot be read are counted apart, never silently dropped.
    let mut unreadable = 0u64;
    let mut steps: Option<(u64, u64)> = None;
    let metas: Vec<SnapshotMeta> = if filter.is_empty() {
        manager.list(Order::OldestFirst).await?
    } else {
        let details = manager.list(Order::OldestFirst).details().await?;
        let mut kept = Vec::new();
        for d in &details {
            match &d.metadata {
                Some(meta) if filter.matches(meta) => {
                    if let Some(step) = d.step() {
                        steps = Some(
                            steps.map_or((step, step), |(lo, hi)| (lo.min(step), hi.max(step))),
                        );
                    }
                    kept.push(d.meta());
                }
                Some(_) => {}
                None => unreadable += 1,
            }
        }
        kept
    };
    let count = metas.len() as u64;
    let total: u64 = metas.iter().map(|m| m.size).sum();
    let mut sizes: Vec<u64> = metas.iter().map(|m| m.size).collect();
    sizes.sort_unstable();
    let median = sizes.get(sizes.len() / 2).copied();
    let largest = metas.iter().max_by_key(|m| m.size);
    let mut days: BTreeMap<String, Day> = BTreeMap::new();
    for m in &metas {
        let day = days
            .entry(m.key.to_datetime().format("%Y-%m-%d").to_string())
            .or_default();
        day.count += 1;
        day.bytes += m.size;
    }
    let (oldest, newest) = (metas.first(), metas.last());
    let span_days = match (oldest, newest) {
        (Some(a), Some(b)) => a.key.distance(b.key).num_seconds().abs() as f64 / 86_400.0,
        _ => 0.0,
    };
    // The compression ratio: decoded body bytes over stored bytes, of the newest
    // snapshot, or of all of them with --deep (each streamed, bounded memory).
    let sampled: Vec<&SnapshotMeta> = match deep {
        true => metas.iter().collect(),
        false => newest.into_iter().collect(),
    };
    let (decoded, stored) = decoded_sizes(&manager, &sampled).await?;

    if as_json {
        let doc = json!({
            "count": count,
            "total_bytes": total,
            "oldest": oldest.map(|m| m.key.to_string()),
            "newest": newest.map(|m| m.key.to_string()),
            "size": {
                "min": sizes.first(),
                "median": median,
                "mean": (count > 0).then(|| total / count),
                "max": sizes.last(),
                "largest": largest.map(|m| m.key.to_string()),
            },
            "steps": steps.map(|(lo, hi)| json!({"min": lo, "max": hi})),
            "compression": {
                "snapshots_read": sampled.len(),
                "stored_bytes": stored,
                "decoded_bytes": decoded,
                "ratio": (stored > 0).then(|| decoded as f64 / stored as f64),
            },
            "bytes_per_day": (span_days >= 1.0).then(|| total as f64 / span_days),
            "days": days.iter().map(|(d, v)| json!({"date": d, "count": v.count, "bytes": v.bytes})).collect::<Vec<_>>(),
            "unreadable_headers": unreadable,
        });
        return crate::output::stdout(serde_json::to_string_pretty(&doc)? + "\n");
    }
    let mut out = String::new();
    let (Some(oldest), Some(newest), Some(min), Some(max), Some(median), Some(largest)) =
        (oldest, newest, sizes.first(), sizes.last(), median, largest)
    else {
        out.push_str("snapshots      0\n");
        if unreadable > 0 {
            out.push_str(&format!(
                "unreadable     {unreadable} header(s) could not be read (sealed or damaged): not counted\n"
            ));
        }
        return crate::output::stdout(out);
    };
    out.push_str(&format!(
        "snapshots      {count}\noldest         {} ({})\nnewest         {} ({})\ntotal size     {}\n",
        oldest.key,
        oldest.key.to_datetime().to_rfc3339(),
        newest.key,
        newest.key.to_datetime().to_rfc3339(),
        human(total),
    ));
    out.push_str(&format!(
        "per snapshot   min {}, median {}, mean {}, max {} ({})\n",
        human(*min),
        human(median),
        human(total / count),
        human(*max),
        largest.key
    ));
    if let Some((lo, hi)) = steps {
        out.push_str(&format!("steps          {lo} to {hi}\n"));
    }
    if stored > 0 {
        out.push_str(&format!(
            "compression    {:.2}x ({} decoded in {} stored; {})\n",
            decoded as f64 / stored as f64,
            human(decoded),
            human(stored),
            if deep {
                "every snapshot".to_string()
            } else {
                "the newest snapshot; --deep reads all".to_string()
            }
        ));
    }
    if span_days >= 1.0 {
        out.push_str(&format!(
            "growth         {}/day over {span_days:.1} days\n",
            human((total as f64 / span_days) as u64)
        ));
    }
    out.push_str("by day         date         snapshots        bytes\n");
    let skip = days.len().saturating_sub(14);
    if skip > 0 {
        out.push_str(&format!(
            "               ({skip} earlier days; --json lists all)\n"
        ));
    }
    for (date, day) in days.iter().skip(skip) {
        out.push_str(&format!(
            "               {date}   {:>9}   {:>10}\n",
            day.count,
            human(day.bytes)
        ));
    }
    if unreadable > 0 {
        out.push_str(&format!(
            "unreadable     {unreadable} header(s) could not be read (sealed or damaged): not counted\n"
        ));
    }
    crate::output::stdout(out)
}

/// Decoded body bytes and stored bytes of `metas`, each streamed from the store.
async fn decoded_sizes(
    manager: &SnapshotManager,
    metas: &[&SnapshotMeta],
) -> anyhow::Result<(u64, u64)> {
    let options = SummaryOptions::new().max_depth(0);
    let (mut decoded, mut stored) = (0, 0);
    for meta in metas {
        match manager.raw().summarize(meta.key, &options).await {
            Ok(summary) => {
                decoded += summary.body_len;
                stored += meta.size;
            }
            // Deleted since it was listed: left out.
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("reading {} for its compression", meta.key)));
            }
        }
    }
    Ok((decoded, stored))
}
