//! `snapshot`: look inside and manage snapshot stores on disk or S3.
//!
//! Stores are given as a path, `file://PATH`, `s3://BUCKET/PREFIX` (endpoint and
//! credentials from the `AWS_*` variables). Errors are one line on stderr
//! (the error and its causes, each once) and a non-zero exit code.

mod args;
mod commands;
mod json;
mod output;

use std::process::ExitCode;

use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::Context;
use clap::Parser;
use snapshot_state::{Create, Keyring, Registry, SnapshotManager, StoreUrl};

use crate::args::{Cli, Command};

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
            eprintln!(
                "error: internal error (please report it): {}",
                output::one_line(&what)
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
        runtime.block_on(async {
            let keys = load_keys(&cli.key_file)?;
            let _ = KEYRING.set(keys);
            run(cli.command).await
        })
    }));
    match outcome {
        Err(_) => ExitCode::FAILURE,
        Ok(Ok(code)) => code,
        Ok(Err(error)) => {
            // One line, even when a server's reply inside the message spans several.
            eprintln!("error: {}", output::one_line(&format!("{error:#}")));
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    use commands::*;
    match command {
        Command::List {
            store,
            json,
            long,
            filter,
        } => list::run(&store, json, long, &filter).await?,
        Command::Show {
            store,
            which,
            filter,
            raw,
            summary: true,
            depth,
        } if !raw => show::summary(&store, &which, &filter, depth).await?,
        Command::Show {
            store,
            which,
            filter,
            raw,
            ..
        } => show::show(&store, &which, &filter, raw).await?,
        Command::Diff {
            store,
            old,
            new,
            before,
            filter,
            json,
            limit,
        } => {
            let pair = diff::Pair {
                old: old.as_deref(),
                new: new.as_deref(),
                before: before.as_deref(),
            };
            diff::run(&store, &pair, &filter, json, limit).await?
        }
        Command::Ui { store, port } => ui::run(&store, port).await?,
        Command::Stats {
            store,
            filter,
            json,
            deep,
        } => stats::run(&store, &filter, json, deep).await?,
        Command::Inspect { file, key, header } => match key {
            Some(key) => inspect::stored(&file, &key, header).await?,
            None => inspect::run(std::path::Path::new(&file))?,
        },
        Command::Verify { store } => return verify::run(&store).await,
        Command::Doctor {
            store,
            remove_stale,
            older_than,
            migrate,
        } => doctor::run(&store, remove_stale, &older_than, migrate).await?,
        Command::Prune {
            store,
            policy,
            filter,
            dry_run,
            yes,
        } => prune::run(&store, &policy, &filter, dry_run, yes).await?,
        Command::Put {
            store,
            file,
            labels,
            step,
            at,
        } => put::run(&store, &file, &args::dump_options(&labels, step, at)?).await?,
        Command::Get {
            store,
            which,
            filter,
            output,
        } => show::get(&store, &which, &filter, output.as_ref()).await?,
        Command::Copy {
            src,
            dst,
            to_key_file,
        } => return copy::run(&src, &dst, to_key_file.as_deref()).await,
        Command::Keygen { id, output, force } => keygen(&id, output.as_deref(), force)?,
        Command::ImportPy {
            dir,
            store,
            utc_offset,
            dry_run,
            big_integers_as_text,
        } => {
            return import::run(&dir, &store, &utc_offset, dry_run, big_integers_as_text).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens an existing store to read (or delete from): a missing directory is an error.
pub(crate) fn open(url: &str) -> anyhow::Result<SnapshotManager> {
    open_with(url, Create::No, keyring())
}

/// Opens a store to write to, creating its directory if missing.
pub(crate) fn open_for_write(url: &str) -> anyhow::Result<SnapshotManager> {
    open_with(url, Create::IfMissing, keyring())
}

/// Opens a store with the keys `keys` (instead of the command line's).
pub(crate) fn open_with(
    url: &str,
    create: Create,
    keys: &Keyring,
) -> anyhow::Result<SnapshotManager> {
    if matches!(StoreUrl::parse(url), Ok(StoreUrl::Memory)) {
        anyhow::bail!(
            "{url} is an in-memory store, which lives only inside one process: this command would find nothing in it, and what it wrote would be lost at exit; use a directory or s3:// URL"
        );
    }
    let store = snapshot_state::open_store(url, create)?;
    let mut manager = SnapshotManager::new(store)
        .with_registry(registry())
        .with_keyring(keys.clone());
    if let Some(file) = header_cache_file(url) {
        manager = manager.with_header_cache(file);
    }
    Ok(manager)
}

/// The keys given with `--key-file` or `SNAPSHOT_KEY`, read once at start.
static KEYRING: OnceLock<Keyring> = OnceLock::new();

pub(crate) fn keyring() -> &'static Keyring {
    KEYRING.get_or_init(Keyring::empty)
}

/// Keys from `--key-file` (every file, in order), else from `SNAPSHOT_KEY`.
pub(crate) fn load_keys(files: &[PathBuf]) -> anyhow::Result<Keyring> {
    if files.is_empty() {
        return Ok(Keyring::from_env("SNAPSHOT_KEY")
            .context("SNAPSHOT_KEY")?
            .unwrap_or_default());
    }
    let mut ring = Keyring::empty();
    for file in files {
        let keys = Keyring::from_file(file).with_context(|| {
            // Key text given where a file name belongs is not echoed back.
            if file.to_string_lossy().starts_with("snapshot-key:") {
                "--key-file takes the name of a file holding keys, and was given key text (not shown); put the key in a file, or in SNAPSHOT_KEY".to_owned()
            } else {
                format!("key file {}", file.display())
            }
        })?;
        for id in keys.ids() {
            if let Some(key) = keys.get(id) {
                ring = if ring.is_empty() {
                    Keyring::new(key.clone())
                } else {
                    ring.with_old_key(key.clone())
                };
            }
        }
    }
    Ok(ring)
}

/// Where the headers read for label queries on `url` are cached between runs: for
/// S3 stores (where each header is a request), under `SNAPSHOT_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/snapshot`, else `~/.cache/snapshot`. Local directories read
/// headers from disk, which costs about what the cache would.
fn header_cache_file(url: &str) -> Option<PathBuf> {
    if !matches!(StoreUrl::parse(url), Ok(StoreUrl::S3 { .. })) {
        return None;
    }
    let dir = std::env::var_os("SNAPSHOT_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("snapshot")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/snapshot")))?;
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    url.trim_end_matches('/').hash(&mut hasher);
    if let Ok(endpoint) = std::env::var("AWS_ENDPOINT") {
        endpoint.hash(&mut hasher);
    }
    Some(dir.join(format!("headers-{:016x}.bin", hasher.finish())))
}

/// `snapshot keygen`: a new random key in its text form. An existing key file is
/// replaced only with `--force`.
fn keygen(id: &str, output: Option<&std::path::Path>, force: bool) -> anyhow::Result<()> {
    let key = snapshot_state::EncryptionKey::generate(id)?;
    let mut text = zeroize::Zeroizing::new(key.to_text());
    text.push('\n');
    match output {
        Some(path) if force => output::write_private(path, text.as_bytes()),
        Some(path) => output::create_private(path, text.as_bytes()),
        None => output::stdout(text.as_str()),
    }
}

/// The custom types the CLI shows by name and checks.
pub(crate) fn registry() -> Registry {
    Registry::with_builtin_types()
}
