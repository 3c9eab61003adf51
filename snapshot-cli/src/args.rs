//! The command line: what `snapshot` accepts, and turning its text into library values.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use snapshot_state::{
    CalendarDuration, DumpOptions, Filter, Lookup, Period, Query, RetentionPolicy, SnapshotKey,
};

const AFTER_HELP: &str = "STORE is a directory path, file://PATH or s3://BUCKET/PREFIX.
For s3:// the endpoint, region and credentials come from AWS_ENDPOINT, AWS_REGION,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_ALLOW_HTTP=true for plain http).
TIME is a snapshot key (2024-01-15_10-30-00-000000), RFC 3339 with an offset
(2024-01-15T10:30:00Z) or a date (2024-01-15, midnight UTC).
Encrypted stores: --key-file FILE or SNAPSHOT_KEY (keys as `snapshot keygen` prints them,
one per line or comma-separated; the first encrypts, all decrypt).";

#[derive(Parser)]
#[command(name = "snapshot", version, about = "Look inside and manage snapshot stores", after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Keys for encrypted snapshots, from a key file (repeatable; the first key of the
    /// first file encrypts what is written, every key decrypts). Default: SNAPSHOT_KEY.
    #[arg(long, global = true, value_name = "FILE")]
    pub key_file: Vec<PathBuf>,
}

#[derive(Subcommand)]
pub enum Command {
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
        /// Also show each snapshot's step and labels (reads every header; cached).
        #[arg(long, short)]
        long: bool,
        #[command(flatten)]
        filter: FilterArgs,
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
        #[command(flatten)]
        filter: FilterArgs,
        /// Write the snapshot's bytes unchanged instead of JSON.
        #[arg(long, conflicts_with = "summary")]
        raw: bool,
        /// Print the snapshot's structure instead of its values: one line per path
        /// with kinds, counts, encoded size and number ranges (list items and maps
        /// keyed by ids merged), read as it streams.
        #[arg(long)]
        summary: bool,
        /// With --summary: how many levels below the root to list.
        #[arg(long, value_name = "N", default_value_t = 6, requires = "summary")]
        depth: usize,
    },
    /// What changed between two snapshots: the paths added, removed and changed.
    #[command(
        after_help = "Without OLD and NEW: the latest snapshot against the one before it.\nPaths are JSON Pointers (/users/7/name). Numeric arrays of one type and shape are compared element by element.\n\nExamples:\n  snapshot diff ./checkpoints\n  snapshot diff ./checkpoints 2024-01-15_10-30-00-000000 2024-01-15_11-30-00-000000\n  snapshot diff ./checkpoints --before 2024-01-15 --json"
    )]
    Diff {
        /// The store.
        store: String,
        /// The older snapshot: a key or any TIME form (exactly that instant).
        #[arg(conflicts_with = "before")]
        old: Option<String>,
        /// The newer snapshot (default: the latest).
        new: Option<String>,
        /// Compare the newest snapshot at or before TIME with the latest.
        #[arg(long, value_name = "TIME")]
        before: Option<String>,
        #[command(flatten)]
        filter: FilterArgs,
        /// One JSON document for machines.
        #[arg(long)]
        json: bool,
        /// Print at most N changes (all of them with --json or 0).
        #[arg(long, value_name = "N", default_value_t = 100)]
        limit: usize,
    },
    /// A local, read-only web page over a store: a timeline of sizes and steps, labels
    /// as filters, snapshots as collapsible trees, the diff of two.
    #[command(
        after_help = "The page is served on 127.0.0.1 only, at the address printed first (a random free port unless --port is given); Ctrl-C stops it.\n\nExamples:\n  snapshot ui ./checkpoints\n  snapshot ui s3://pipelines/nightly --port 8700"
    )]
    Ui {
        /// The store.
        store: String,
        /// The port to listen on (0: any free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Sizes and growth of a store: count, oldest and newest, total and per-snapshot
    /// size, growth by day, compression.
    #[command(
        after_help = "Examples:\n  snapshot stats ./checkpoints\n  snapshot stats s3://pipelines/nightly --label run=42 --json\n  snapshot stats ./checkpoints --deep   # compression of every snapshot, not only the newest"
    )]
    Stats {
        /// The store.
        store: String,
        #[command(flatten)]
        filter: FilterArgs,
        /// One JSON document for machines.
        #[arg(long)]
        json: bool,
        /// Read every snapshot for the compression ratio (default: the newest only).
        #[arg(long)]
        deep: bool,
    },
    /// Describe a snapshot: header, sizes, compression, checksum, value counts. Either a
    /// file, or a store and a key (any store, S3 included).
    #[command(
        after_help = "Examples:\n  snapshot inspect ./checkpoints/2024-01-15/2024-01-15_10-30-00-000000\n  snapshot inspect s3://pipelines/nightly 2024-01-15_10-30-00-000000\n  snapshot inspect s3://pipelines/nightly 2024-01-15_10-30-00-000000 --header"
    )]
    Inspect {
        /// A snapshot file (`-` for standard input), or a store when KEY is given.
        file: String,
        /// The snapshot's key (or any TIME form, exactly that instant) in the store.
        key: Option<String>,
        /// Read only the snapshot's header (format, flags, labels, step, creation time,
        /// encryption key id), not its body.
        #[arg(long, requires = "key")]
        header: bool,
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
        /// Only leftovers older than this count, as a DURATION like --keep-within's
        /// (h, d, m for months, y; longer than any write takes).
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
        #[command(flatten)]
        filter: FilterArgs,
        /// Show the plan only; delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Delete without asking.
        #[arg(long, short)]
        yes: bool,
    },
    /// Store a JSON document as a new snapshot (keyed now); prints its key.
    #[command(
        after_help = "Values JSON cannot hold are tagged objects, a tag being the object's first key: {\"$bytes\": \"00ff\"}, {\"$float\": \"NaN\"} (or \"inf\", \"-inf\"), {\"$ext\": 7, \"hex\": \"0102\"}. Keys that start with $ are reserved for tags: a key of your data that starts with $ is written with one more $ (\"$$price\" stores the key \"$price\"), as `show` and `get` write it.\n\nExamples:\n  snapshot put ./config-backups config.json\n  snapshot put s3://pipelines/run-42 state.json --label tag=nightly --step 1200\n  snapshot put ./restored state.json --at 2024-01-15T10:30:00Z"
    )]
    Put {
        /// The store.
        store: String,
        /// The JSON file (`-` for standard input).
        file: PathBuf,
        /// A label KEY=VALUE to store in the snapshot's header (repeatable).
        #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
        labels: Vec<(String, String)>,
        /// A step number to store in the snapshot's header.
        #[arg(long, value_name = "N")]
        step: Option<u64>,
        /// Store the snapshot under TIME (a key, RFC 3339 or a date) instead of now,
        /// or the first free microsecond after it.
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        at: Option<SnapshotKey>,
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
        #[command(flatten)]
        filter: FilterArgs,
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
    #[command(
        after_help = "Examples:\n  snapshot copy ./checkpoints s3://backups/checkpoints\n  snapshot copy s3://backups/app ./restored --key-file old.key --to-key-file new.key"
    )]
    Copy {
        /// Where to copy from.
        src: String,
        /// Where to copy to.
        dst: String,
        /// Encrypt every copy under the first key of FILE (re-encrypting snapshots under
        /// other keys, keeping their labels); without it, snapshots are copied as stored.
        #[arg(long, value_name = "FILE")]
        to_key_file: Option<PathBuf>,
    },
    /// Make a new random encryption key and print it (or write it to a file).
    #[command(
        after_help = "Examples:\n  snapshot keygen --id backups-2026 -o backups.key\n  snapshot put s3://ci/state state.json --key-file backups.key"
    )]
    Keygen {
        /// The key's id, stored in the clear in every snapshot it encrypts.
        #[arg(long)]
        id: String,
        /// Write the key to FILE (readable by its owner only) instead of stdout. An
        /// existing FILE is never replaced unless --force is given: every snapshot
        /// encrypted under the key it holds would become unreadable.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Replace FILE if it exists.
        #[arg(long, requires = "output")]
        force: bool,
    },
}

/// Which snapshots a command considers, by label and step.
#[derive(Args, Default)]
pub struct FilterArgs {
    /// Only snapshots with label KEY=VALUE (repeatable: all must match).
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// Only snapshots with exactly this step.
    #[arg(long, value_name = "N", conflicts_with = "max_step")]
    pub step: Option<u64>,
    /// Only snapshots with a step of at most N (`--latest --max-step N`: the latest at
    /// or before step N).
    #[arg(long, value_name = "N")]
    pub max_step: Option<u64>,
}

impl FilterArgs {
    /// The filter these flags give; a label key given twice is refused (no snapshot has
    /// two values for one label, and keeping one would drop the other silently).
    pub fn filter(&self) -> anyhow::Result<Filter> {
        let mut f = Filter::new();
        let mut seen = std::collections::BTreeMap::new();
        for (k, v) in &self.labels {
            if let Some(first) = seen.insert(k, v) {
                bail!(
                    "--label {k}= is given twice ({k}={first} and {k}={v}); a snapshot has one value per label"
                );
            }
            f = f.label(k, v);
        }
        if let Some(n) = self.step {
            f = f.step(n);
        }
        if let Some(n) = self.max_step {
            f = f.step_at_most(n);
        }
        Ok(f)
    }
}

fn parse_label(text: &str) -> Result<(String, String), String> {
    Filter::parse_label(text)
}

/// The dump options of `snapshot put`. A label key given twice is refused: one of the
/// two values would be dropped.
pub fn dump_options(
    labels: &[(String, String)],
    step: Option<u64>,
    at: Option<SnapshotKey>,
) -> anyhow::Result<DumpOptions> {
    let mut opts = DumpOptions::new();
    for (k, v) in labels {
        if let Some(first) = opts.labels().get(k) {
            bail!(
                "--label {k}= is given twice ({k}={first} and {k}={v}); a snapshot has one value per label"
            );
        }
        opts = opts.label(k, v);
    }
    if let Some(n) = step {
        opts = opts.step(n);
    }
    if let Some(at) = at {
        opts = opts.at(at)?;
    }
    Ok(opts)
}

#[derive(Args)]
#[group(required = false, multiple = false)]
pub struct Which {
    /// The snapshot: its key, or any TIME form (exactly that instant).
    pub key: Option<String>,
    /// The newest snapshot (the default); fails if it is damaged.
    #[arg(long)]
    pub latest: bool,
    /// The newest snapshot that loads, passing over damaged newer ones (each reported
    /// on stderr).
    #[arg(long)]
    pub latest_valid: bool,
    /// The snapshot nearest to TIME.
    #[arg(long, value_name = "TIME")]
    pub nearest: Option<String>,
    /// The newest snapshot at or before TIME.
    #[arg(long, value_name = "TIME")]
    pub before: Option<String>,
    /// The oldest snapshot at or after TIME.
    #[arg(long, value_name = "TIME")]
    pub after: Option<String>,
}

#[derive(Args)]
pub struct PolicyArgs {
    /// Keep the N newest snapshots (`unlimited`: all of them).
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub keep_last: Option<usize>,
    /// Keep every snapshot newer than the newest minus DURATION, in restic's form:
    /// y, m (months), d, h, e.g. 48h, 14d, 6m, 1y5m7d2h.
    #[arg(long, value_name = "DURATION")]
    pub keep_within: Option<String>,
    /// Within DURATION of the newest, keep the newest snapshot of each hour.
    #[arg(long, value_name = "DURATION")]
    pub keep_within_hourly: Option<String>,
    /// Within DURATION of the newest, keep the newest snapshot of each day.
    #[arg(long, value_name = "DURATION")]
    pub keep_within_daily: Option<String>,
    /// Within DURATION of the newest, keep the newest snapshot of each ISO week.
    #[arg(long, value_name = "DURATION")]
    pub keep_within_weekly: Option<String>,
    /// Within DURATION of the newest, keep the newest snapshot of each month.
    #[arg(long, value_name = "DURATION")]
    pub keep_within_monthly: Option<String>,
    /// Within DURATION of the newest, keep the newest snapshot of each year.
    #[arg(long, value_name = "DURATION")]
    pub keep_within_yearly: Option<String>,
    /// Keep the newest snapshot of each of the last N hours (`unlimited`: of every one).
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub keep_hourly: Option<usize>,
    /// Keep the newest snapshot of each of the last N days (`unlimited`: of every one).
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub keep_daily: Option<usize>,
    /// Keep the newest snapshot of each of the last N ISO weeks (`unlimited`: of every one).
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub keep_weekly: Option<usize>,
    /// Keep the newest snapshot of each of the last N months (`unlimited`: of every one).
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub keep_monthly: Option<usize>,
    /// Keep the newest snapshot of each of the last N years (`unlimited`: of every one).
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub keep_yearly: Option<usize>,
}

/// Every place that takes a time takes the same forms: a snapshot key, RFC 3339 with an
/// offset, or a date (midnight UTC); see `SnapshotKey::parse_time`.
pub fn parse_time(text: &str) -> anyhow::Result<SnapshotKey> {
    Ok(SnapshotKey::parse_time(text)?)
}

/// A retention count: a number, or restic's `unlimited`.
pub fn parse_count(text: &str) -> anyhow::Result<usize> {
    if text == "unlimited" {
        return Ok(snapshot_state::RetentionPolicy::UNLIMITED);
    }
    text.parse()
        .with_context(|| format!("invalid count {text:?}: expected a number or \"unlimited\""))
}

/// Every duration (retention windows, ages) in restic's form: `48h`, `14d`, `1y5m7d2h`.
pub fn parse_duration(text: &str) -> anyhow::Result<CalendarDuration> {
    Ok(text.parse::<CalendarDuration>()?)
}

/// An age such as `24h` or `7d`, as a span ending now (months and years are calendar
/// months and years back from now).
pub fn parse_age(text: &str) -> anyhow::Result<std::time::Duration> {
    let duration = parse_duration(text)?;
    let now = chrono::Utc::now();
    let then = duration
        .before(now)
        .with_context(|| format!("age {text:?} reaches before the year 0"))?;
    Ok((now - then).to_std().unwrap_or_default())
}

/// A UTC offset: `Z`, `+HH:MM`, `-HH:MM` (or without the colon), parsed by chrono.
pub fn parse_offset(text: &str) -> anyhow::Result<chrono::FixedOffset> {
    if text.eq_ignore_ascii_case("z") {
        return Ok(chrono::Offset::fix(&chrono::Utc));
    }
    text.parse::<chrono::FixedOffset>()
        .ok()
        .filter(|_| text.starts_with(['+', '-']))
        .with_context(|| format!("invalid UTC offset {text:?}: expected Z, +HH:MM or -HH:MM"))
}

impl Which {
    /// The lookup among the snapshots `filter` selects.
    pub fn query(&self, filter: &FilterArgs) -> anyhow::Result<Query> {
        Ok(self.lookup()?.matching(filter.filter()?))
    }

    /// The lookup these flags select (`--latest-valid` is handled by the caller).
    pub fn lookup(&self) -> anyhow::Result<Lookup> {
        Ok(if let Some(key) = &self.key {
            Lookup::Exact(parse_time(key)?)
        } else if let Some(t) = &self.nearest {
            Lookup::Nearest(parse_time(t)?)
        } else if let Some(t) = &self.before {
            Lookup::AtOrBefore(parse_time(t)?)
        } else if let Some(t) = &self.after {
            Lookup::AtOrAfter(parse_time(t)?)
        } else {
            Lookup::Latest
        })
    }
}

impl PolicyArgs {
    /// The policy these flags give; an error if they give none.
    pub fn policy(&self) -> anyhow::Result<RetentionPolicy> {
        let mut p = RetentionPolicy::new();
        if let Some(n) = self.keep_last {
            p = p.keep_last(n);
        }
        if let Some(d) = &self.keep_within {
            p = p.keep_within(parse_duration(d)?);
        }
        for (d, period) in [
            (&self.keep_within_hourly, Period::Hourly),
            (&self.keep_within_daily, Period::Daily),
            (&self.keep_within_weekly, Period::Weekly),
            (&self.keep_within_monthly, Period::Monthly),
            (&self.keep_within_yearly, Period::Yearly),
        ] {
            if let Some(d) = d {
                p = p.keep_within_periods(period, parse_duration(d)?);
            }
        }
        for (n, period) in [
            (self.keep_hourly, Period::Hourly),
            (self.keep_daily, Period::Daily),
            (self.keep_weekly, Period::Weekly),
            (self.keep_monthly, Period::Monthly),
            (self.keep_yearly, Period::Yearly),
        ] {
            if let Some(n) = n {
                p = p.keep_periods(period, n);
            }
        }
        if p.is_empty() {
            bail!(
                "no retention rule given (use --keep-last, --keep-within, --keep-daily, ...; as in restic, 0 means a rule is not set); nothing to prune"
            );
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_ages_and_times() {
        assert_eq!(
            parse_offset("+02:00").expect("offset").local_minus_utc(),
            7200
        );
        assert_eq!(
            parse_offset("-0530").expect("offset").local_minus_utc(),
            -19800
        );
        assert_eq!(parse_offset("Z").expect("offset").local_minus_utc(), 0);
        for bad in ["02:00", "+2", "+25:00", "UTC", ""] {
            assert!(parse_offset(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_age("24h").expect("age").as_secs(), 86_400);
        assert_eq!(parse_age("0h").expect("age").as_secs(), 0);
        assert!(parse_age("soon").is_err());
        assert_eq!(
            parse_time("2024-01-15T10:30:00+02:00")
                .expect("time")
                .to_string(),
            "2024-01-15_08-30-00-000000"
        );
        assert!(parse_time("yesterday").is_err());
    }
}
