//! `snapshot put`: store a JSON document as a new snapshot.

use std::path::Path;

use anyhow::Context;

use crate::output;

pub async fn run(store: &str, file: &Path, options: &snapshot::DumpOptions) -> anyhow::Result<()> {
    let bytes = output::read_input(file)?;
    let shown = file.display();
    let document: serde_json::Value =
        serde_json::from_slice(&bytes).with_context(|| format!("{shown}: invalid JSON"))?;
    crate::json::check_exact(&bytes).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    let value = crate::json::from_json(&document).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    let info = crate::open_for_write(store)?
        .with_progress(output::bytes_bar("writing"))
        .dump_with(&value, options)
        .await?;
    output::stdout(format!("{}\n", info.key))
}
