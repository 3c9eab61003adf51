//! `snapshot list`.

use std::io::Write;

use anyhow::Context;
use futures::TryStreamExt;
use snapshot_state::{KeyRange, Order, SnapshotDetails};

use crate::args::FilterArgs;
use crate::output::human;

pub async fn run(
    store: &str,
    as_json: bool,
    long: bool,
    filter: &FilterArgs,
) -> anyhow::Result<()> {
    let manager = crate::open(store)?;
    let filter = filter.filter()?;
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    if long || !filter.is_empty() {
        // Labels and steps live in each snapshot's header: read (or found in the
        // header cache) for every snapshot. Those whose header cannot be read (sealed
        // without the key, damaged) might match: counted and reported, never dropped
        // silently.
        let details = manager.list(Order::NewestFirst).details().await?;
        let mut written = 0;
        let mut unreadable: Vec<&SnapshotDetails> = Vec::new();
        for d in &details {
            let selected = match &d.metadata {
                Some(meta) => filter.matches(meta),
                None if filter.is_empty() => true,
                None => {
                    unreadable.push(d);
                    false
                }
            };
            if selected {
                write_one(&mut out, as_json, written == 0, d.meta(), Some(d))?;
                written += 1;
            }
        }
        finish(out, as_json, written == 0)?;
        if let Some(first) = unreadable.first() {
            let sealed = unreadable.iter().filter(|d| d.sealed).count();
            let why = if sealed == unreadable.len() {
                format!(
                    "their labels are sealed under key {} (give it with --key-file or SNAPSHOT_KEY)",
                    first.key_id.as_deref().unwrap_or("?")
                )
            } else {
                format!(
                    "{sealed} sealed under a key not given, {} with a damaged header (see `snapshot verify`)",
                    unreadable.len() - sealed
                )
            };
            anyhow::bail!(
                "{} snapshot(s) could not be read and may match the filter, the newest {}: {why}",
                unreadable.len(),
                first.key
            );
        }
        return Ok(());
    }
    // Read a page at a time and written as it goes: memory stays at a page, whatever
    // the number of snapshots.
    let mut metas = manager
        .list(Order::NewestFirst)
        .range(KeyRange::all())
        .stream();
    let mut first = true;
    while let Some(m) = metas.try_next().await? {
        write_one(&mut out, as_json, first, m, None)?;
        first = false;
    }
    finish(out, as_json, first)
}

fn write_one(
    out: &mut impl Write,
    as_json: bool,
    first: bool,
    m: snapshot_state::SnapshotMeta,
    details: Option<&SnapshotDetails>,
) -> anyhow::Result<()> {
    if as_json {
        // The layout of a pretty-printed JSON array of objects.
        let open = if first { "[\n" } else { ",\n" };
        write!(
            out,
            "{open}  {{\n    \"key\": \"{}\",\n    \"time\": \"{}\",\n    \"size\": {}",
            m.key,
            m.key.to_datetime().to_rfc3339(),
            m.size
        )
        .context("writing output")?;
        if let Some(d) = details {
            let step = d.step().map_or("null".to_owned(), |s| s.to_string());
            let labels: serde_json::Map<String, serde_json::Value> = d
                .labels()
                .map(|(k, v)| (k.to_owned(), serde_json::Value::from(v)))
                .collect();
            let key_id = d.key_id.as_deref().map_or("null".to_owned(), |id| {
                serde_json::Value::from(id).to_string()
            });
            write!(
                out,
                ",\n    \"step\": {step},\n    \"labels\": {},\n    \"key_id\": {key_id},\n    \"sealed\": {}",
                serde_json::Value::Object(labels),
                d.sealed
            )
            .context("writing output")?;
        }
        write!(out, "\n  }}").context("writing output")
    } else {
        write!(
            out,
            "{}  {}  {:>11}",
            m.key,
            m.key
                .to_datetime()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            human(m.size)
        )
        .context("writing output")?;
        if let Some(d) = details {
            let step = d.step().map_or_else(|| "-".to_owned(), |s| s.to_string());
            let mut labels: Vec<String> = d.labels().map(|(k, v)| format!("{k}={v}")).collect();
            if d.sealed {
                labels.push(format!(
                    "(labels sealed under key {})",
                    d.key_id.as_deref().unwrap_or("?")
                ));
            } else if let Some(id) = &d.key_id {
                labels.push(format!("(encrypted: {id})"));
            }
            write!(out, "  step {step:>8}  {}", labels.join(" ")).context("writing output")?;
        }
        writeln!(out).context("writing output")
    }
}

fn finish(mut out: impl Write, as_json: bool, empty: bool) -> anyhow::Result<()> {
    if as_json {
        let close = if empty { "[]\n" } else { "\n]\n" };
        out.write_all(close.as_bytes()).context("writing output")?;
    }
    out.flush().context("writing output")
}
