//! `snapshot list`.

use std::io::Write;

use anyhow::Context;
use futures::TryStreamExt;
use snapshot::{KeyRange, Order};

use crate::output::human;

pub async fn run(store: &str, as_json: bool) -> anyhow::Result<()> {
    let manager = crate::open(store)?;
    // Read a page at a time and written as it goes: memory stays at a page, whatever
    // the number of snapshots.
    let mut metas = manager.list_stream(KeyRange::all(), Order::NewestFirst);
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let mut first = true;
    while let Some(m) = metas.try_next().await? {
        if as_json {
            // The layout of a pretty-printed JSON array of objects.
            let open = if first { "[\n" } else { ",\n" };
            write!(
                out,
                "{open}  {{\n    \"key\": \"{}\",\n    \"time\": \"{}\",\n    \"size\": {}\n  }}",
                m.key,
                m.key.to_datetime().to_rfc3339(),
                m.size
            )
        } else {
            writeln!(
                out,
                "{}  {}  {:>11}",
                m.key,
                m.key
                    .to_datetime()
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                human(m.size)
            )
        }
        .context("writing output")?;
        first = false;
    }
    if as_json {
        let close = if first { "[]\n" } else { "\n]\n" };
        out.write_all(close.as_bytes()).context("writing output")?;
    }
    out.flush().context("writing output")
}
