//! Writing results: standard output, private files, progress bars, sizes.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

/// `text` with every run of whitespace (newlines included) made one space.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A progress bar on stderr, drawn only when stderr is a terminal (indicatif's rule).
/// With `total`, a bar with a count and an estimate; without, a running count.
pub fn progress(what: &str, total: Option<u64>) -> ProgressBar {
    let (bar, template) = match total {
        Some(n) => (
            ProgressBar::new(n),
            "{msg} [{bar:30}] {pos}/{len} ({per_sec}, {eta})",
        ),
        None => (ProgressBar::no_length(), "{msg} {pos} ({per_sec})"),
    };
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A progress callback for a manager that draws one bar per snapshot moved, in
/// bytes, on stderr when it is a terminal (indicatif's rule): a bar with an estimate
/// when the size is known (loads), a running byte count when not (dumps).
pub fn bytes_bar(what: &'static str) -> impl Fn(&snapshot_state::Progress) + Send + Sync + 'static {
    let bar: std::sync::Mutex<Option<(snapshot_state::SnapshotKey, ProgressBar)>> =
        std::sync::Mutex::new(None);
    move |p| {
        let mut bar = bar.lock().unwrap_or_else(|e| e.into_inner());
        if bar.as_ref().is_none_or(|(key, _)| *key != p.key) {
            if let Some((_, old)) = bar.take() {
                old.finish_and_clear();
            }
            let new = ProgressBar::no_length();
            new.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            new.set_message(format!("{what} {}", p.key));
            *bar = Some((p.key, new));
        }
        if let Some((_, current)) = bar.as_ref() {
            if let Some(total) = p.total {
                current.set_length(total);
            }
            current.set_position(p.done);
            if p.is_finished() {
                current.finish_and_clear();
            }
        }
    }
}

/// A progress callback that shows the bytes of the snapshot at hand in `bar`'s message
/// (for commands whose bar counts snapshots).
pub fn bytes_in_message(
    bar: &ProgressBar,
    what: &'static str,
) -> impl Fn(&snapshot_state::Progress) + Send + Sync + 'static {
    let bar = bar.clone();
    move |p| {
        let total = p
            .total
            .map_or_else(String::new, |t| format!("/{}", human(t)));
        bar.set_message(format!("{what} {} {}{total}", p.key, human(p.done)));
    }
}

/// [`bytes_in_message`], plus one step of the bar for each snapshot `counted` finishes
/// (a verified snapshot, a copied one).
pub fn bytes_and_count(
    bar: &ProgressBar,
    what: &'static str,
    counted: snapshot_state::Operation,
) -> impl Fn(&snapshot_state::Progress) + Send + Sync + 'static {
    let message = bytes_in_message(bar, what);
    let bar = bar.clone();
    move |p| {
        message(p);
        if p.operation == counted && p.is_finished() {
            bar.inc(1);
        }
    }
}

/// A size for people: `512 B`, `1.50 KiB`, `3.20 MiB` (indicatif's binary units).
pub fn human(bytes: u64) -> String {
    HumanBytes(bytes).to_string()
}

/// Writes `bytes` to standard output.
pub fn stdout(bytes: impl AsRef<[u8]>) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes.as_ref())
        .and_then(|()| out.flush())
        .context("writing output")
}

/// The bytes of a file, or of standard input for `-`.
pub fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading standard input")?;
        Ok(buf)
    } else {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    }
}

/// Writes `bytes` to `path`, readable and writable by its owner only (0600 on Unix)
/// whatever mode a file already there had: written to a new private file beside it,
/// then renamed over it, so `path` never holds a partial write.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // tempfile creates its files 0600 on Unix.
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    file.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Creates `path` with `bytes`, readable by its owner only; fails without touching it
/// when `path` exists already.
pub fn create_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => anyhow::bail!(
            "{} exists already and was left as it is (replacing a key file makes every snapshot encrypted under its key unreadable; use --force to replace it)",
            path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
    };
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}
