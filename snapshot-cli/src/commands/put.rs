//! `snapshot put`: store a JSON document as a new snapshot.

use std::path::Path;

use crate::output;

pub async fn run(
    store: &str,
    file: &Path,
    options: &snapshot_state::DumpOptions,
) -> anyhow::Result<()> {
    let bytes = output::read_input(file)?;
    let shown = file.display();
    // Read straight into the value (no JSON tree beside it); then checked for what
    // JSON parsing changes silently (huge integers, repeated keys).
    let value = crate::json::from_json_slice(&bytes)
        .map_err(|e| anyhow::anyhow!("{shown}: invalid JSON: {e}"))?;
    crate::json::check_exact(&bytes).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    drop(bytes);
    let info = crate::open_for_write(store)?
        .with_progress(output::bytes_bar("writing"))
        .dump_with(&value, options)
        .await?;
    output::stdout(format!("{}\n", info.key))
}
