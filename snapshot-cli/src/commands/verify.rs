//! `snapshot verify`: read and check every snapshot.

use std::fmt::Write as _;
use std::process::ExitCode;

use snapshot_state::StoreUrl;

use crate::output;

pub async fn run(store: &str) -> anyhow::Result<ExitCode> {
    let bar = output::progress("verifying", None);
    let manager = crate::open(store)?.with_progress(output::bytes_and_count(
        &bar,
        "verifying",
        snapshot_state::Operation::Verify,
    ));
    let report = manager.verify().await;
    bar.finish_and_clear();
    let report = report?;
    let mut out = String::new();
    for bad in &report.bad {
        let _ = writeln!(out, "BAD {}: {}", bad.key, bad.error.chain_to_string());
    }
    // Leftovers of killed writers that cleanup could not remove (never a bad snapshot,
    // but someone should look).
    if let Ok(StoreUrl::Dir(dir)) = StoreUrl::parse(store)
        && let Ok(fs_store) = snapshot_state::FsStore::open(&dir)
    {
        for (path, why) in fs_store.last_cleanup().left {
            let _ = writeln!(out, "LEFT {}: could not clean up: {why}", path.display());
        }
    }
    for key in &report.not_decrypted {
        let _ = writeln!(
            out,
            "NOKEY {key}: frame and checksum fine; encrypted under a key not given, body not decrypted"
        );
    }
    let _ = writeln!(
        out,
        "{} snapshots checked, {} bad{}",
        report.checked,
        report.bad.len(),
        if report.not_decrypted.is_empty() {
            String::new()
        } else {
            format!(", {} not decrypted (no key)", report.not_decrypted.len())
        }
    );
    output::stdout(out)?;
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
