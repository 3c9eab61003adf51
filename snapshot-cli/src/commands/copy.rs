//! `snapshot copy`: every snapshot of one store into another, verified.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::output;

pub async fn run(src: &str, dst: &str, to_key_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    // The destination encrypts only when told to: the source's keys read, they do not
    // re-encrypt.
    let to_keys = match to_key_file {
        Some(file) => crate::load_keys(&[file.to_path_buf()])?,
        None => snapshot_state::Keyring::empty(),
    };
    let bar = output::progress("copying", None);
    let from = crate::open(src)?.with_progress(output::bytes_and_count(
        &bar,
        "copying",
        snapshot_state::Operation::Copy,
    ));
    let to = crate::open_with(dst, snapshot_state::Create::IfMissing, &to_keys)?;
    let report = from.copy_into(&to).await;
    bar.finish_and_clear();
    let report = report.with_context(|| format!("after {} snapshots", bar.position()))?;
    let mut out = String::new();
    for bad in &report.failed {
        // The words `verify` uses: NOKEY is not damage.
        let tag = if bad.error.is_key_unavailable() {
            "NOKEY"
        } else {
            "BAD"
        };
        let _ = writeln!(
            out,
            "{tag} {}: not copied: {}",
            bad.key,
            bad.error.chain_to_string()
        );
    }
    let _ = writeln!(
        out,
        "{} copied, {} already present, {} failed",
        report.copied,
        report.present,
        report.failed.len()
    );
    output::stdout(out)?;
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
