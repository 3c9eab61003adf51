//! `snapshot`: look inside and manage snapshot stores on disk or S3.
//!
//! Stores are given as a path, `file://PATH`, `s3://BUCKET/PREFIX` (endpoint and
//! credentials from the `AWS_*` variables) or `memory:`. Errors are one line on stderr
//! and a non-zero exit code.

mod json;

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use futures::TryStreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use snapshot::{
    CalendarDuration, Create, DecodeOptions, KeyRange, Lookup, Order, Registry, RetentionPolicy,
    SnapshotKey, SnapshotManager, StoreUrl, Value,
};

const AFTER_HELP: &str = "STORE is a directory path, file://PATH, s3://BUCKET/PREFIX or memory:.
For s3:// the endpoint, region and credentials come from AWS_ENDPOINT, AWS_REGION,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_ALLOW_HTTP=true for plain http).
TIME is a snapshot key (2024-01-15_10-30-00-000000) or RFC 3339 (2024-01-15T10:30:00Z).";

#[derive(Parser)]
#[command(name = "snapshot", version, about = "Look inside and manage snapshot stores", after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List snapshots, newest first: key, time, size.
    #[command(
        after_help = "Examples:\n  snapshot list ./checkpoints\n  snapshot list s3://pipelines/nightly --json | jq '.[0].key'"
    )]
    List {
        /// The store.
        store: String,
        /// One JSON array for machines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print one snapshot as pretty JSON (or its raw bytes).
    #[command(
        after_help = "Examples:\n  snapshot show ./checkpoints --latest\n  snapshot show ./checkpoints 2024-01-15_10-30-00-000000\n  snapshot show ./checkpoints --before 2024-01-15T12:00:00Z\n  snapshot show ./checkpoints --latest --raw > latest.snap"
    )]
    Show {
        /// The store.
        store: String,
        #[command(flatten)]
        which: Which,
        /// Write the snapshot's bytes unchanged instead of JSON.
        #[arg(long)]
        raw: bool,
    },
    /// Describe a snapshot file: header, sizes, compression, checksum, value counts.
    #[command(after_help = "Example:\n  snapshot inspect ./checkpoints/2024-01-15_10-30-00-000000")]
    Inspect {
        /// A snapshot file (`-` for standard input).
        file: PathBuf,
    },
    /// Read and verify every snapshot; exit non-zero if any is bad.
    #[command(after_help = "Example:\n  snapshot verify s3://pipelines/nightly")]
    Verify {
        /// The store.
        store: String,
    },
    /// Check a store: for S3, probe what the server does with conditional writes (and
    /// which write protocol is used), and find leftovers of writers killed midway.
    #[command(
        after_help = "Examples:\n  snapshot doctor s3://pipelines/nightly\n  snapshot doctor s3://pipelines/nightly --remove-stale --older-than 24h\n\nThe probe writes and removes a few small objects under PREFIX/_probe/.\nSNAPSHOT_S3_WRITES=auto|conditional|claims sets the write protocol of s3:// stores."
    )]
    Doctor {
        /// The store.
        store: String,
        /// Remove the leftovers found (abort killed multipart uploads, delete stale
        /// claims and staging objects).
        #[arg(long)]
        remove_stale: bool,
        /// Only leftovers older than this count (s, m, h or d; longer than any write
        /// takes).
        #[arg(long, value_name = "AGE", default_value = "24h")]
        older_than: String,
        /// For a directory written by 0.1: move its snapshots into day directories
        /// (run it while no other process lists the store).
        #[arg(long)]
        migrate: bool,
    },
    /// Delete snapshots a retention policy does not keep (shows what and why first).
    #[command(
        after_help = "Examples:\n  snapshot prune ./checkpoints --keep-last 5 --keep-daily 7 --dry-run\n  snapshot prune s3://pipelines/nightly --keep-within 48h --keep-weekly 4 --yes"
    )]
    Prune {
        /// The store.
        store: String,
        #[command(flatten)]
        policy: PolicyArgs,
        /// Show the plan only; delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Delete without asking.
        #[arg(long, short)]
        yes: bool,
    },
    /// Store a JSON document as a new snapshot (keyed now); prints its key.
    #[command(after_help = "Example:\n  snapshot put ./config-backups config.json")]
    Put {
        /// The store.
        store: String,
        /// The JSON file (`-` for standard input).
        file: PathBuf,
    },
    /// Write one snapshot as JSON to a file (or standard output).
    #[command(
        after_help = "Examples:\n  snapshot get ./config-backups 2024-01-15_09-00-00-000000 -o previous.json\n  snapshot get ./config-backups --latest-valid -o config.json"
    )]
    Get {
        /// The store.
        store: String,
        #[command(flatten)]
        which: Which,
        /// The output file (created with mode 0600); standard output if omitted.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Import a directory written by the Python original (py-snapshot 0.1).
    #[command(
        after_help = "Examples:\n  snapshot import-py ./old-snapshots ./snapshots --dry-run\n  snapshot import-py ./old-snapshots s3://backups/app --utc-offset +02:00"
    )]
    ImportPy {
        /// The directory of py-snapshot files.
        dir: PathBuf,
        /// The store to import into.
        store: String,
        /// The UTC offset of the clock that named the files (e.g. +02:00, -05:30, Z).
        #[arg(
            long,
            value_name = "OFFSET",
            default_value = "Z",
            allow_hyphen_values = true
        )]
        utc_offset: String,
        /// Report what would be imported; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Keep integers beyond 64 bits as decimal strings (otherwise such a file fails).
        #[arg(long)]
        big_integers_as_text: bool,
    },
    /// Copy every snapshot from one store to another, verifying each.
    #[command(after_help = "Example:\n  snapshot copy ./checkpoints s3://backups/checkpoints")]
    Copy {
        /// Where to copy from.
        src: String,
        /// Where to copy to.
        dst: String,
    },
}

#[derive(Args)]
#[group(required = false, multiple = false)]
struct Which {
    /// The snapshot: its key, or any TIME form (exactly that instant).
    key: Option<String>,
    /// The newest snapshot (the default); fails if it is damaged.
    #[arg(long)]
    latest: bool,
    /// The newest snapshot that loads, passing over damaged newer ones (each reported
    /// on stderr).
    #[arg(long)]
    latest_valid: bool,
    /// The snapshot nearest to TIME.
    #[arg(long, value_name = "TIME")]
    nearest: Option<String>,
    /// The newest snapshot at or before TIME.
    #[arg(long, value_name = "TIME")]
    before: Option<String>,
    /// The oldest snapshot at or after TIME.
    #[arg(long, value_name = "TIME")]
    after: Option<String>,
}

#[derive(Args)]
struct PolicyArgs {
    /// Keep the N newest snapshots.
    #[arg(long, value_name = "N")]
    keep_last: Option<usize>,
    /// Keep every snapshot newer than the newest minus DURATION, in restic's form:
    /// y, m (months), d, h, e.g. 48h, 14d, 6m, 1y5m7d2h.
    #[arg(long, value_name = "DURATION")]
    keep_within: Option<String>,
    /// Within DURATION of the newest, keep the newest snapshot of each hour.
    #[arg(long, value_name = "DURATION")]
    keep_within_hourly: Option<String>,
    /// Within DURATION of the newest, keep the newest snapshot of each day.
    #[arg(long, value_name = "DURATION")]
    keep_within_daily: Option<String>,
    /// Within DURATION of the newest, keep the newest snapshot of each ISO week.
    #[arg(long, value_name = "DURATION")]
    keep_within_weekly: Option<String>,
    /// Within DURATION of the newest, keep the newest snapshot of each month.
    #[arg(long, value_name = "DURATION")]
    keep_within_monthly: Option<String>,
    /// Within DURATION of the newest, keep the newest snapshot of each year.
    #[arg(long, value_name = "DURATION")]
    keep_within_yearly: Option<String>,
    /// Keep the newest snapshot of each of the last N hours.
    #[arg(long, value_name = "N")]
    keep_hourly: Option<usize>,
    /// Keep the newest snapshot of each of the last N days.
    #[arg(long, value_name = "N")]
    keep_daily: Option<usize>,
    /// Keep the newest snapshot of each of the last N ISO weeks.
    #[arg(long, value_name = "N")]
    keep_weekly: Option<usize>,
    /// Keep the newest snapshot of each of the last N months.
    #[arg(long, value_name = "N")]
    keep_monthly: Option<usize>,
    /// Keep the newest snapshot of each of the last N years.
    #[arg(long, value_name = "N")]
    keep_yearly: Option<usize>,
}

type CliResult<T = ()> = Result<T, String>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A panic is a bug; it still ends as one line on stderr and a failure exit code,
    // never a backtrace (set RUST_BACKTRACE to see one).
    if std::env::var_os("RUST_BACKTRACE").is_none() {
        std::panic::set_hook(Box::new(|info| {
            let what = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            let line: Vec<&str> = what.split_whitespace().collect();
            eprintln!(
                "error: internal error (please report it): {}",
                line.join(" ")
            );
        }));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(run(cli.command))
    }));
    match outcome {
        Err(_) => ExitCode::FAILURE,
        Ok(Ok(code)) => code,
        Ok(Err(message)) => {
            // One line, even when a server's reply inside the message spans several.
            let line: Vec<&str> = message.split_whitespace().collect();
            eprintln!("error: {}", line.join(" "));
            ExitCode::FAILURE
        }
    }
}

/// Opens an existing store to read (or delete from): a missing directory is an error.
fn open(url: &str) -> CliResult<SnapshotManager> {
    open_with(url, Create::No)
}

/// Opens a store to write to, creating its directory if missing.
fn open_for_write(url: &str) -> CliResult<SnapshotManager> {
    open_with(url, Create::IfMissing)
}

fn open_with(url: &str, create: Create) -> CliResult<SnapshotManager> {
    if matches!(StoreUrl::parse(url), Ok(StoreUrl::Memory)) {
        return Err(format!(
            "{url} is an in-memory store, which lives only inside one process: this command would find nothing in it, and what it wrote would be lost at exit; use a directory or s3:// URL"
        ));
    }
    let mut manager = snapshot::open_store(url, create)
        .map(SnapshotManager::from_arc)
        .map_err(|e| error_chain(&e))?;
    manager.register_replacing::<chrono::DateTime<chrono::Utc>>();
    Ok(manager)
}

/// An error and its sources on one line, each cause once.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out += ": ";
            out += &text;
        }
        source = cause.source();
    }
    out
}

fn registry() -> Registry {
    Registry::with_builtin_types()
}

/// Every place that takes a time takes the same forms: a snapshot key or RFC 3339.
fn parse_time(text: &str) -> CliResult<SnapshotKey> {
    if let Ok(key) = SnapshotKey::parse(text) {
        return Ok(key);
    }
    let time = chrono::DateTime::parse_from_rfc3339(text).map_err(|_| {
        format!("invalid time {text:?}: expected a snapshot key (2024-01-15_10-30-00-000000) or RFC 3339 (2024-01-15T10:30:00Z)")
    })?;
    SnapshotKey::from_datetime(time.with_timezone(&chrono::Utc)).map_err(|e| e.to_string())
}

fn parse_duration(text: &str) -> CliResult<CalendarDuration> {
    text.parse()
        .map_err(|e: snapshot::DurationError| e.to_string())
}

fn lookup(which: &Which) -> CliResult<Lookup> {
    Ok(if let Some(key) = &which.key {
        Lookup::Exact(parse_time(key)?)
    } else if let Some(t) = &which.nearest {
        Lookup::Nearest(parse_time(t)?)
    } else if let Some(t) = &which.before {
        Lookup::AtOrBefore(parse_time(t)?)
    } else if let Some(t) = &which.after {
        Lookup::AtOrAfter(parse_time(t)?)
    } else {
        Lookup::Latest
    })
}

fn progress(what: &str) -> ProgressBar {
    // Drawn on stderr, and only when it is a terminal. The total is not known: the
    // store is read a page at a time.
    let bar = ProgressBar::no_length();
    bar.set_style(
        ProgressStyle::with_template("{msg} {pos} ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn write_out(mut out: impl Write, bytes: &[u8]) -> CliResult {
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| format!("writing output: {e}"))
}

fn read_input(path: &PathBuf) -> CliResult<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| format!("reading standard input: {e}"))?;
        Ok(buf)
    } else {
        std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))
    }
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}

async fn run(command: Command) -> CliResult<ExitCode> {
    match command {
        Command::List { store, json } => list(&store, json).await?,
        Command::Show { store, which, raw } => show(&store, &which, raw).await?,
        Command::Inspect { file } => inspect(&file)?,
        Command::Verify { store } => return verify(&store).await,
        Command::Doctor {
            store,
            remove_stale,
            older_than,
            migrate,
        } => doctor(&store, remove_stale, &older_than, migrate).await?,
        Command::Prune {
            store,
            policy,
            dry_run,
            yes,
        } => prune(&store, &policy, dry_run, yes).await?,
        Command::Put { store, file } => put(&store, &file).await?,
        Command::Get {
            store,
            which,
            output,
        } => get(&store, &which, output.as_ref()).await?,
        Command::Copy { src, dst } => return copy(&src, &dst).await,
        Command::ImportPy {
            dir,
            store,
            utc_offset,
            dry_run,
            big_integers_as_text,
        } => return import_py(&dir, &store, &utc_offset, dry_run, big_integers_as_text).await,
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(store: &str, as_json: bool) -> CliResult {
    let manager = open(store)?;
    // Read a page at a time and written as it goes: memory stays at a page, whatever
    // the number of snapshots.
    let mut metas = manager.list_stream(KeyRange::all(), Order::NewestFirst);
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let failed = |e: std::io::Error| format!("writing output: {e}");
    let mut first = true;
    while let Some(m) = metas.try_next().await.map_err(|e| error_chain(&e))? {
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
            .map_err(failed)?;
        } else {
            writeln!(
                out,
                "{}  {}  {:>10}",
                m.key,
                m.key
                    .to_datetime()
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                human(m.size)
            )
            .map_err(failed)?;
        }
        first = false;
    }
    if as_json {
        let close = if first { "[]\n" } else { "\n]\n" };
        out.write_all(close.as_bytes()).map_err(failed)?;
    }
    out.flush().map_err(failed)
}

/// The snapshot `which` selects, with its key and bytes. With `--latest-valid`, damaged
/// newer snapshots are passed over and reported on stderr.
async fn select(
    manager: &SnapshotManager,
    store: &str,
    which: &Which,
) -> CliResult<(SnapshotKey, Value)> {
    if which.latest_valid {
        let recovered = manager
            .load_newest_valid()
            .await
            .map_err(|e| error_chain(&e))?;
        let Some(recovered) = recovered else {
            return Err(format!("no snapshot in {store} loads"));
        };
        for skipped in &recovered.skipped {
            eprintln!(
                "warning: passed over damaged snapshot {}: {}",
                skipped.key,
                error_chain(&skipped.error)
            );
        }
        return Ok((recovered.snapshot.meta.key, recovered.snapshot.value));
    }
    let lookup = lookup(which)?;
    let snapshot = manager
        .load_snapshot(lookup)
        .await
        .map_err(|e| {
            let hint = if matches!(lookup, Lookup::Latest) {
                " (--latest-valid passes over damaged snapshots)"
            } else {
                ""
            };
            format!("{}{hint}", error_chain(&e))
        })?
        .ok_or_else(|| match lookup {
            Lookup::Exact(key) => format!("snapshot {key} not found in {store}"),
            _ => format!("no snapshot matches in {store}"),
        })?;
    Ok((snapshot.meta.key, snapshot.value))
}

async fn show(store: &str, which: &Which, raw: bool) -> CliResult {
    let manager = open(store)?;
    let (key, value) = select(&manager, store, which).await?;
    if raw {
        let bytes = manager
            .store()
            .get(key)
            .await
            .map_err(|e| error_chain(&e))?;
        return write_out(std::io::stdout().lock(), &bytes);
    }
    let json = json::to_json(&value, &registry());
    let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())? + "\n";
    write_out(std::io::stdout().lock(), text.as_bytes())
}

fn inspect(file: &PathBuf) -> CliResult {
    let bytes = read_input(file)?;
    let report = snapshot::codec::inspect(&bytes, &DecodeOptions::new())
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let mut out = format!(
        "format version   {}\nflags            {:#04x}\ncompression      {}\nsize             {} bytes ({})\nbody as stored   {} bytes in {} chunk(s)\n",
        report.version,
        report.flags,
        if report.compressed() { "zstd" } else { "none" },
        report.total_len,
        human(report.total_len as u64),
        report.stored_body_len,
        report.chunks,
    );
    if let Some(len) = report.body_len {
        out += &format!("body decoded     {len} bytes\n");
    }
    out += &format!(
        "checksum         {} (xxh3-64 stored {:#018x}, computed {:#018x})\n",
        if report.checksum_ok() {
            "ok"
        } else {
            "MISMATCH"
        },
        report.checksum_stored,
        report.checksum_computed
    );
    if let Some(c) = report.counts {
        out += &format!(
            "values           {} maps ({} entries), {} lists, {} strings, {} ints, {} floats, {} bools, {} nulls, {} bytes, {} ext\nnesting depth    {}\n",
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
            c.max_depth
        );
    }
    write_out(std::io::stdout().lock(), out.as_bytes())?;
    match report.error {
        Some(e) => Err(format!("{}: {e}", file.display())),
        None => Ok(()),
    }
}

/// `doctor` for a local directory: nothing to probe; the 0.1 layout, and moving out of it.
async fn doctor_dir(url: &str, migrate: bool) -> CliResult<()> {
    let StoreUrl::Dir(dir) = StoreUrl::parse(url).map_err(|e| error_chain(&e))? else {
        return Err(format!("{url}: doctor needs a directory or an s3:// store"));
    };
    let store = snapshot::FsStore::open(&dir).map_err(|e| error_chain(&e))?;
    let mut out = format!(
        "{url}: a local directory: writes are create-only (published with a no-clobber link or rename); nothing to probe\n"
    );
    let flat = store
        .count_in_flat_layout()
        .await
        .map_err(|e| error_chain(&e))?;
    if migrate {
        let moved = store
            .move_to_day_layout()
            .await
            .map_err(|e| error_chain(&e))?;
        out += &format!("moved {moved} snapshots from the 0.1 layout into day directories\n");
    } else if flat > 0 {
        out += &format!(
            "{flat} snapshots in the 0.1 layout (directly in the directory; every listing reads all their names): --migrate moves them into day directories\n"
        );
    }
    write_out(std::io::stdout().lock(), out.as_bytes())
}

/// An age such as `90s`, `30m`, `24h` or `7d`.
fn parse_age(text: &str) -> CliResult<std::time::Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("invalid age {text:?}: expected a number and s, m, h or d (24h)"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "invalid age {text:?}: expected a number and s, m, h or d (24h)"
            ));
        }
    };
    Ok(std::time::Duration::from_secs(number.saturating_mul(secs)))
}

async fn doctor(url: &str, remove: bool, older_than: &str, migrate: bool) -> CliResult<()> {
    let age = parse_age(older_than)?;
    let StoreUrl::S3 {
        bucket,
        prefix,
        writes,
    } = StoreUrl::parse(url).map_err(|e| error_chain(&e))?
    else {
        return doctor_dir(url, migrate).await;
    };
    let store =
        snapshot::s3_store(bucket, prefix, writes.as_deref()).map_err(|e| error_chain(&e))?;
    let report = store.probe().await.map_err(|e| error_chain(&e))?;
    let chosen = store.write_protocol().await.map_err(|e| error_chain(&e))?;
    let mut out = format!("store: {store}\nserver: {report}\n");
    out += &format!("write protocol: {chosen}");
    if chosen != report.protocol {
        out += &format!(
            " (set by writes= or SNAPSHOT_S3_WRITES; the probe would pick {})",
            report.protocol
        );
    }
    out += "\n";
    let found = if remove {
        store.remove_stale(age).await
    } else {
        store.stale(age).await
    }
    .map_err(|e| error_chain(&e))?;
    let verb = if remove { "REMOVED" } else { "STALE" };
    for (kind, names) in [
        ("upload", &found.uploads),
        ("claim", &found.claims),
        ("other", &found.other),
    ] {
        for name in names {
            out += &format!("{verb} {kind} {name}\n");
        }
    }
    out += &format!(
        "leftovers older than {older_than}: {} unfinished uploads, {} claims, {} other{}\n",
        found.uploads.len(),
        found.claims.len(),
        found.other.len(),
        if remove || found.is_empty() {
            ""
        } else {
            " (remove them with --remove-stale)"
        }
    );
    write_out(std::io::stdout().lock(), out.as_bytes())
}

async fn verify(store: &str) -> CliResult<ExitCode> {
    let manager = open(store)?;
    let mut metas = manager.list_stream(KeyRange::all(), Order::NewestFirst);
    let bar = progress("verifying");
    let (mut checked, mut bad) = (0, Vec::new());
    while let Some(meta) = metas.try_next().await.map_err(|e| error_chain(&e))? {
        checked += 1;
        match manager.load_snapshot(Lookup::Exact(meta.key)).await {
            Ok(Some(_)) => {}
            Ok(None) => bad.push((meta.key, "deleted while being verified".to_owned())),
            Err(e) => bad.push((meta.key, e.to_string())),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mut out = String::new();
    for (key, reason) in &bad {
        out += &format!("BAD {key}: {reason}\n");
    }
    // Leftovers of killed writers that cleanup could not remove (never a bad snapshot,
    // but someone should look).
    if let Ok(StoreUrl::Dir(dir)) = StoreUrl::parse(store)
        && let Ok(fs_store) = snapshot::FsStore::open(&dir)
    {
        for (path, why) in fs_store.last_cleanup().left {
            out += &format!("LEFT {}: could not clean up: {why}\n", path.display());
        }
    }
    out += &format!("{checked} snapshots checked, {} bad\n", bad.len());
    write_out(std::io::stdout().lock(), out.as_bytes())?;
    Ok(if bad.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn policy(args: &PolicyArgs) -> CliResult<RetentionPolicy> {
    let mut p = RetentionPolicy::new();
    if let Some(n) = args.keep_last {
        p = p.keep_last(n);
    }
    if let Some(d) = &args.keep_within {
        p = p.keep_within(parse_duration(d)?);
    }
    for (d, period) in [
        (&args.keep_within_hourly, snapshot::Period::Hourly),
        (&args.keep_within_daily, snapshot::Period::Daily),
        (&args.keep_within_weekly, snapshot::Period::Weekly),
        (&args.keep_within_monthly, snapshot::Period::Monthly),
        (&args.keep_within_yearly, snapshot::Period::Yearly),
    ] {
        if let Some(d) = d {
            p = p.keep_within_periods(period, parse_duration(d)?);
        }
    }
    for (n, period) in [
        (args.keep_hourly, snapshot::Period::Hourly),
        (args.keep_daily, snapshot::Period::Daily),
        (args.keep_weekly, snapshot::Period::Weekly),
        (args.keep_monthly, snapshot::Period::Monthly),
        (args.keep_yearly, snapshot::Period::Yearly),
    ] {
        if let Some(n) = n {
            p = p.keep_periods(period, n);
        }
    }
    if p.is_empty() {
        return Err("no retention rule given (use --keep-last, --keep-within, --keep-daily, ...; as in restic, 0 means a rule is not set); nothing to prune".into());
    }
    Ok(p)
}

async fn prune(store: &str, args: &PolicyArgs, dry_run: bool, yes: bool) -> CliResult {
    let policy = policy(args)?;
    let manager = open(store)?;
    let plan = manager.plan(&policy).await.map_err(|e| e.to_string())?;
    let mut out = plan.to_string();
    out += &format!(
        "{} to keep, {} to remove\n",
        plan.keep.len(),
        plan.remove.len()
    );
    write_out(std::io::stdout().lock(), out.as_bytes())?;
    if dry_run || plan.remove.is_empty() {
        return Ok(());
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(
                "refusing to delete without --yes when standard input is not a terminal".into(),
            );
        }
        eprint!("delete {} snapshots? [y/N] ", plan.remove.len());
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| e.to_string())?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err("cancelled; nothing deleted".into());
        }
    }
    let bar = progress("deleting");
    let mut deleted = 0;
    for meta in &plan.remove {
        match manager.delete(meta.key).await {
            Ok(()) => deleted += 1,
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                bar.finish_and_clear();
                return Err(format!("after deleting {deleted}: {e}"));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    write_out(
        std::io::stdout().lock(),
        format!("deleted {deleted} snapshots\n").as_bytes(),
    )
}

async fn put(store: &str, file: &PathBuf) -> CliResult {
    let bytes = read_input(file)?;
    let document: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: invalid JSON: {e}", file.display()))?;
    json::check_exact(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
    let value = json::from_json(&document).map_err(|e| format!("{}: {e}", file.display()))?;
    let info = open_for_write(store)?
        .dump(&value)
        .await
        .map_err(|e| error_chain(&e))?;
    write_out(
        std::io::stdout().lock(),
        format!("{}\n", info.key).as_bytes(),
    )
}

async fn get(store: &str, which: &Which, output: Option<&PathBuf>) -> CliResult {
    let manager = open(store)?;
    let (_, value) = select(&manager, store, which).await?;
    let text = serde_json::to_string_pretty(&json::to_json(&value, &registry()))
        .map_err(|e| e.to_string())?
        + "\n";
    match output {
        Some(path) => write_private(path, text.as_bytes()),
        None => write_out(std::io::stdout().lock(), text.as_bytes()),
    }
}

/// Writes a file readable by its owner only, like the snapshots it came from.
fn write_private(path: &PathBuf, bytes: &[u8]) -> CliResult {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.flush()))
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

async fn copy(src: &str, dst: &str) -> CliResult<ExitCode> {
    let from = open(src)?;
    let to = open_for_write(dst)?;
    let mut metas = from.list_stream(KeyRange::all(), Order::OldestFirst);
    let bar = progress("copying");
    let (mut copied, mut present, mut bad) = (0, 0, Vec::new());
    while let Some(meta) = metas.try_next().await.map_err(|e| error_chain(&e))? {
        bar.inc(1);
        let bytes = match from.store().get(meta.key).await {
            Ok(b) => b,
            Err(e) => {
                bad.push(format!("{}: {e}", meta.key));
                continue;
            }
        };
        // Verified before it is written anywhere.
        if let Err(e) = snapshot::codec::decode(&bytes) {
            bad.push(format!("{}: not copied, it does not verify: {e}", meta.key));
            continue;
        }
        match to.store().put(meta.key, bytes.clone()).await {
            Ok(()) => copied += 1,
            Err(e) if e.is_already_exists() => {
                let there = to.store().get(meta.key).await.map_err(|e| e.to_string())?;
                if there == bytes {
                    present += 1;
                } else {
                    bad.push(format!(
                        "{}: a different snapshot with this key exists in {dst}",
                        meta.key
                    ));
                }
            }
            Err(e) => {
                bar.finish_and_clear();
                return Err(format!("after copying {copied}: {e}"));
            }
        }
    }
    bar.finish_and_clear();
    let mut out = String::new();
    for line in &bad {
        out += &format!("BAD {line}\n");
    }
    out += &format!(
        "{copied} copied, {present} already present, {} failed\n",
        bad.len()
    );
    write_out(std::io::stdout().lock(), out.as_bytes())?;
    Ok(if bad.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn parse_offset(text: &str) -> CliResult<chrono::FixedOffset> {
    let bad = || format!("invalid UTC offset {text:?}: expected Z, +HH:MM or -HH:MM");
    if text == "Z" || text == "z" {
        return chrono::FixedOffset::east_opt(0).ok_or_else(bad);
    }
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(bad()),
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let hours: i32 = digits[..2].parse().map_err(|_| bad())?;
    let minutes: i32 = digits[2..].parse().map_err(|_| bad())?;
    if minutes > 59 {
        return Err(bad());
    }
    chrono::FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).ok_or_else(bad)
}

async fn import_py(
    dir: &PathBuf,
    store: &str,
    offset: &str,
    dry_run: bool,
    big_integers_as_text: bool,
) -> CliResult<ExitCode> {
    use snapshot::import::{ImportOptions, import_py_dir};
    let opts = ImportOptions::new()
        .with_utc_offset(parse_offset(offset)?)
        .with_dry_run(dry_run)
        .with_big_integers_as_text(big_integers_as_text);
    let manager = if dry_run {
        open(store)
    } else {
        open_for_write(store)
    }?;
    let report = import_py_dir(dir, &manager, &opts)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = report.to_string();
    out += &format!(
        "{} {}, {} skipped (not py-snapshot files), {} failed{}\n",
        report.imported(),
        if dry_run {
            "would be imported"
        } else {
            "imported"
        },
        report.skipped(),
        report.failures(),
        if dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    );
    write_out(std::io::stdout().lock(), out.as_bytes())?;
    Ok(if report.failures() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
