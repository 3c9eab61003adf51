//! `snapshot inspect`: describe one snapshot file without a store.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::bail;
use snapshot_state::DecodeOptions;

use crate::output::{self, human};

pub fn run(file: &Path) -> anyhow::Result<()> {
    let bytes = output::read_input(file)?;
    let options = DecodeOptions::new().with_keyring(crate::keyring().clone());
    let report = match snapshot_state::codec::inspect(&bytes, &options) {
        Ok(report) => report,
        Err(e) => bail!("{}: {e}", file.display()),
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "format version   {}\nflags            {:#04x}\ncompression      {}\nsize             {} bytes ({})\nbody as stored   {} bytes in {} chunk(s)\n",
        report.version,
        report.flags,
        report.compression(),
        report.total_len,
        human(report.total_len as u64),
        report.stored_body_len,
        report.chunks,
    );
    if let Some(id) = &report.key_id {
        let _ = writeln!(out, "encrypted        under key {id:?}");
    }
    if let Some(meta) = &report.metadata {
        if let Some(micros) = meta.created_micros {
            let when = chrono::DateTime::from_timestamp_micros(micros)
                .map_or_else(|| format!("{micros} µs"), |t| t.to_rfc3339());
            let _ = writeln!(out, "created          {when}");
        }
        if let Some(step) = meta.step {
            let _ = writeln!(out, "step             {step}");
        }
        for (k, v) in &meta.labels {
            let _ = writeln!(out, "label            {k}={v}");
        }
    }
    if let Some(len) = report.body_len {
        let _ = writeln!(out, "body decoded     {len} bytes");
    }
    let _ = writeln!(
        out,
        "checksum         {} (xxh3-64 stored {:#018x}, computed {:#018x})",
        if report.checksum_ok() {
            "ok"
        } else {
            "MISMATCH"
        },
        report.checksum_stored,
        report.checksum_computed
    );
    if let Some(c) = report.counts {
        let _ = write!(
            out,
            "values           {} maps ({} entries), {} lists, {} strings, {} ints, {} floats, {} bools, {} nulls, {} bytes, {} ext, {} numeric arrays ({} elements)\nnesting depth    {}\n",
            c.map,
            c.map_entries,
            c.list,
            c.string,
            c.int,
            c.float,
            c.bool,
            c.null,
            c.bytes,
            c.ext,
            c.array,
            c.array_elements,
            c.max_depth
        );
    }
    output::stdout(out)?;
    match report.error {
        Some(e) => bail!("{}: {e}", file.display()),
        None => Ok(()),
    }
}
