//! `snapshot import-py`: a directory written by the Python original.

use std::path::Path;
use std::process::ExitCode;

use snapshot_state::import::{ImportOptions, import_py_dir};

use crate::args::parse_offset;
use crate::output;

pub async fn run(
    dir: &Path,
    store: &str,
    offset: &str,
    dry_run: bool,
    big_integers_as_text: bool,
) -> anyhow::Result<ExitCode> {
    let opts = ImportOptions::new()
        .with_utc_offset(parse_offset(offset)?)
        .with_dry_run(dry_run)
        .with_big_integers_as_text(big_integers_as_text);
    let manager = if dry_run {
        crate::open(store)
    } else {
        crate::open_for_write(store)
    }?;
    let report = import_py_dir(dir, &manager, &opts).await?;
    output::stdout(format!(
        "{report}{} {}, {} skipped (not py-snapshot files), {} failed{}\n",
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
    ))?;
    Ok(if report.failures() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
