//! `snapshot doctor`: what a store's server does, and leftovers of killed writers.

use std::fmt::Write as _;

use anyhow::bail;
use snapshot_state::StoreUrl;

use crate::args::parse_age;
use crate::output;

pub async fn run(url: &str, remove: bool, older_than: &str, migrate: bool) -> anyhow::Result<()> {
    let age = parse_age(older_than)?;
    match StoreUrl::parse(url)? {
        StoreUrl::S3 {
            bucket,
            prefix,
            writes,
        } => s3(bucket, prefix, writes.as_deref(), remove, age, older_than).await,
        StoreUrl::Dir(dir) => dir_store(url, &dir, migrate).await,
        _ => bail!("{url}: doctor needs a directory or an s3:// store"),
    }
}

/// A local directory: nothing to probe; the 0.1 layout, and moving out of it.
async fn dir_store(url: &str, dir: &std::path::Path, migrate: bool) -> anyhow::Result<()> {
    let store = snapshot_state::FsStore::open(dir)?;
    let mut out = format!(
        "{url}: a local directory: writes are create-only (published with a no-clobber link or rename); nothing to probe\n"
    );
    let flat = store.count_in_flat_layout().await?;
    if migrate {
        let moved = store.move_to_day_layout().await?;
        let _ = writeln!(
            out,
            "moved {moved} snapshots from the 0.1 layout into day directories"
        );
    } else if flat > 0 {
        let _ = writeln!(
            out,
            "{flat} snapshots in the 0.1 layout (directly in the directory; every listing reads all their names): --migrate moves them into day directories"
        );
    }
    output::stdout(out)
}

async fn s3(
    bucket: String,
    prefix: String,
    writes: Option<&str>,
    remove: bool,
    age: std::time::Duration,
    older_than: &str,
) -> anyhow::Result<()> {
    let store = snapshot_state::s3_store(bucket, prefix, writes)?;
    let report = store.probe().await?;
    let chosen = store.write_protocol().await?;
    let mut out = format!("store: {store}\nserver: {report}\nwrite protocol: {chosen}");
    if chosen != report.protocol {
        let _ = write!(
            out,
            " (set by writes= or SNAPSHOT_S3_WRITES; the probe would pick {})",
            report.protocol
        );
    }
    out += "\n";
    let found = if remove {
        store.remove_stale(age).await
    } else {
        store.stale(age).await
    }?;
    let verb = if remove { "REMOVED" } else { "STALE" };
    for (kind, names) in [
        ("upload", &found.uploads),
        ("claim", &found.claims),
        ("other", &found.other),
    ] {
        for name in names {
            let _ = writeln!(out, "{verb} {kind} {name}");
        }
    }
    let _ = writeln!(
        out,
        "leftovers older than {older_than}: {} unfinished uploads, {} claims, {} other{}",
        found.uploads.len(),
        found.claims.len(),
        found.other.len(),
        if remove || found.is_empty() {
            ""
        } else {
            " (remove them with --remove-stale)"
        }
    );
    output::stdout(out)
}
