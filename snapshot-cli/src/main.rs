//! `snapshot`: look inside and manage snapshot stores on disk or S3.
//!
//! Stores are given as a path, `file://PATH`, `s3://BUCKET/PREFIX` (endpoint and
//! credentials from the `AWS_*` variables) or `memory:`. Errors are one line on stderr
//! (the error and its causes, each once) and a non-zero exit code.

mod args;
mod commands;
mod json;
mod output;

use std::process::ExitCode;

use clap::Parser;
use snapshot::{Create, Registry, SnapshotManager, StoreUrl};

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
        runtime.block_on(run(cli.command))
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
        Command::List { store, json } => list::run(&store, json).await?,
        Command::Show { store, which, raw } => show::show(&store, &which, raw).await?,
        Command::Inspect { file } => inspect::run(&file)?,
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
            dry_run,
            yes,
        } => prune::run(&store, &policy, dry_run, yes).await?,
        Command::Put { store, file } => put::run(&store, &file).await?,
        Command::Get {
            store,
            which,
            output,
        } => show::get(&store, &which, output.as_ref()).await?,
        Command::Copy { src, dst } => return copy::run(&src, &dst).await,
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
    open_with(url, Create::No)
}

/// Opens a store to write to, creating its directory if missing.
pub(crate) fn open_for_write(url: &str) -> anyhow::Result<SnapshotManager> {
    open_with(url, Create::IfMissing)
}

fn open_with(url: &str, create: Create) -> anyhow::Result<SnapshotManager> {
    if matches!(StoreUrl::parse(url), Ok(StoreUrl::Memory)) {
        anyhow::bail!(
            "{url} is an in-memory store, which lives only inside one process: this command would find nothing in it, and what it wrote would be lost at exit; use a directory or s3:// URL"
        );
    }
    let store = snapshot::open_store(url, create)?;
    Ok(SnapshotManager::from_arc(store).with_registry(registry()))
}

/// The custom types the CLI shows by name and checks.
pub(crate) fn registry() -> Registry {
    Registry::with_builtin_types()
}
