//! `snapshot prune`: apply a retention policy after showing what it does.

use std::io::IsTerminal;

use anyhow::{Context, bail};

use crate::args::{FilterArgs, PolicyArgs};
use crate::output;

pub async fn run(
    store: &str,
    args: &PolicyArgs,
    filter: &FilterArgs,
    dry_run: bool,
    yes: bool,
) -> anyhow::Result<()> {
    let policy = args.policy()?.only(filter.filter()?);
    let manager = crate::open(store)?;
    let plan = manager.plan(&policy).await?;
    output::stdout(format!(
        "{plan}{} to keep, {} to remove\n",
        plan.keep.len(),
        plan.remove.len()
    ))?;
    if dry_run || plan.remove.is_empty() {
        return Ok(());
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!("refusing to delete without --yes when standard input is not a terminal");
        }
        eprint!("delete {} snapshots? [y/N] ", plan.remove.len());
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .context("reading the answer")?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            bail!("cancelled; nothing deleted");
        }
    }
    let bar = output::progress("deleting", Some(plan.remove.len() as u64));
    let shown = bar.clone();
    let manager = manager.with_progress(move |p| {
        if p.operation == snapshot_state::Operation::Delete {
            shown.set_position(p.done);
        }
    });
    let applied = manager.raw().apply_plan(&plan).await;
    bar.finish_and_clear();
    applied.with_context(|| format!("after deleting {}", bar.position()))?;
    output::stdout(format!("deleted {} snapshots\n", plan.remove.len()))
}
