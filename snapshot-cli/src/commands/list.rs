//! `snapshot list`.

use std::io::Write;

use anyhow::Context;
use futures::TryStreamExt;
use snapshot::{KeyRange, Order, SnapshotDetails};

use crate::args::FilterArgs;
use crate::output::human;

pub async fn run(
    store: &str,
    as_json: bool,
    long: bool,
    filter: &FilterArgs,
) -> anyhow::Result<()> {
    let manager = crate::open(store)?;
    let filter = filter.filter();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    if long || !filter.is_empty() {
        // Labels and steps live in each snapshot's header: read (or found in the
        // header cache) for every snapshot.
        let details = manager.list_details(Order::NewestFirst, &filter).await?;
        for (i, d) in details.iter().enumerate() {
            write_one(&mut out, as_json, i == 0, d.meta(), Some(d))?;
        }
        return finish(out, as_json, details.is_empty());
    }
    // Read a page at a time and written as it goes: memory stays at a page, whatever
    // the number of snapshots.
    let mut metas = manager.list_stream(KeyRange::all(), Order::NewestFirst);
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
    m: snapshot::SnapshotMeta,
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
