//! `snapshot inspect`: describe one snapshot, a file or one in a store.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{anyhow, bail};
use snapshot_state::{DecodeOptions, Lookup};

use crate::output::{self, human};

pub fn run(file: &Path) -> anyhow::Result<()> {
    let bytes = output::read_input(file)?;
    report(&bytes, &file.display().to_string())
}

/// `inspect STORE KEY`: the snapshot `key` of a store, whole, or only its header.
pub async fn stored(store: &str, key: &str, header_only: bool) -> anyhow::Result<()> {
    let manager = crate::open(store)?;
    let key = crate::args::parse_time(key)?;
    let not_found = || anyhow!("snapshot {key} not found in {store}");
    if !header_only {
        let bytes = match manager.raw().store().get(key).await {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => return Err(not_found()),
            Err(e) => return Err(e.into()),
        };
        return report(&bytes, &key.to_string());
    }
    let meta = manager
        .resolve(Lookup::Exact(key))
        .await?
        .ok_or_else(not_found)?;
    // The header ends within this many bytes (see snapshot_codec::read_metadata).
    let head = manager
        .raw()
        .store()
        .get_head(key, 9 + snapshot_state::codec::MAX_METADATA_LEN)
        .await?;
    let frame = |e: snapshot_state::codec::Error| anyhow!("{key}: {e}");
    let len = snapshot_state::codec::header_len(&head).map_err(frame)?;
    let (version, flags) = (head[4], head[5]);
    let mut out = format!(
        "snapshot         {key}
format version   {version}
flags            {flags:#04x}
compression      {}
size             {} bytes ({})
header           {len} bytes (the body was not read)
",
        compression_of(flags),
        meta.size,
        human(meta.size),
    );
    if let Some(id) = snapshot_state::codec::encryption_key_id(&head).map_err(frame)? {
        let _ = writeln!(out, "encrypted        under key {id:?}");
    }
    let options = DecodeOptions::new().with_keyring(crate::keyring().clone());
    match options.read_metadata(&head[..len]) {
        Ok(Some(meta)) => write_metadata(&mut out, &meta),
        Ok(None) => {}
        Err(e) => {
            let _ = writeln!(out, "metadata         unreadable: {e}");
        }
    }
    output::stdout(out)
}

fn compression_of(flags: u8) -> &'static str {
    use snapshot_state::codec::{FLAG_LZ4, FLAG_ZSTD};
    match flags {
        f if f & FLAG_ZSTD != 0 => "zstd",
        f if f & FLAG_LZ4 != 0 => "lz4",
        _ => "none",
    }
}

fn write_metadata(out: &mut String, meta: &snapshot_state::codec::Metadata) {
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

/// The full report of one snapshot's bytes, named `name` in errors.
fn report(bytes: &[u8], name: &str) -> anyhow::Result<()> {
    let options = DecodeOptions::new().with_keyring(crate::keyring().clone());
    let report = match snapshot_state::codec::inspect(bytes, &options) {
        Ok(report) => report,
        Err(e) => bail!("{name}: {e}"),
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
        write_metadata(&mut out, meta);
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
        Some(e) => bail!("{name}: {e}"),
        None => Ok(()),
    }
}
