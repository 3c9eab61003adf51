//! Tagged retention: a training run writes a checkpoint every hour, labelled with its
//! run and `tag=hourly`, and one a night labelled `tag=nightly`, each with its step.
//! Two retention policies, each scoped to one tag (as restic's `--tag`), keep the last
//! day of hourly checkpoints and a week of nightly ones; a resume picks the latest
//! nightly checkpoint at or before a step.

use snapshot_state::{
    DumpOptions, Filter, Lookup, Order, RetentionPolicy, SnapshotKey, Value, value,
};

#[tokio::main]
/// Runs the example.
pub async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = dir
        .path()
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("non-UTF-8 path"))?;
    let manager = snapshot_state::open_or_create(store)?;

    // Ten days of training, 100 steps an hour.
    let start: SnapshotKey = "2024-03-01_00-00-00-000000".parse()?;
    for hour in 0..240i64 {
        let at = SnapshotKey::from_micros(start.as_micros() + hour * 3600 * 1_000_000)?;
        let step = (hour as u64 + 1) * 100;
        let tag = if hour % 24 == 23 { "nightly" } else { "hourly" };
        let options = DumpOptions::new()
            .at(at)?
            .label("run", "resnet-42")
            .label("tag", tag)
            .step(step);
        manager
            .dump_with(
                &value!({"step": step, "loss": (1.0 / (step as f64))}),
                &options,
            )
            .await?;
    }
    assert_eq!(manager.list(Order::OldestFirst).await?.len(), 240);

    let hourly = Filter::new().label("tag", "hourly");
    let nightly = Filter::new().label("tag", "nightly");
    let keep_a_day = RetentionPolicy::new().keep_last(24).only(hourly.clone());
    let keep_a_week = RetentionPolicy::new().keep_daily(7).only(nightly.clone());

    // A dry run says what each policy would do, and touches only its own tag.
    let plan = manager.plan(&keep_a_week).await?;
    println!(
        "nightly: keep {}, remove {}",
        plan.keep.len(),
        plan.remove.len()
    );
    assert_eq!((plan.keep.len(), plan.remove.len()), (7, 3));
    let removed_hourly = manager.apply(&keep_a_day).await?.remove.len();
    let removed_nightly = manager.apply(&keep_a_week).await?.remove.len();
    println!("removed {removed_hourly} hourly and {removed_nightly} nightly checkpoints");
    assert_eq!(
        manager
            .list(Order::OldestFirst)
            .matching(hourly.clone())
            .details()
            .await?
            .len(),
        24
    );
    let kept = manager
        .list(Order::NewestFirst)
        .matching(nightly.clone())
        .details()
        .await?;
    for d in &kept {
        let labels: Vec<String> = d.labels().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "{}  step {:>6}  {}",
            d.key,
            d.step().unwrap_or(0),
            labels.join(" ")
        );
    }
    assert_eq!(kept.len(), 7);

    // Resume from the latest nightly checkpoint at or before step 20,000.
    let resume = Lookup::Latest.matching(nightly.clone().step_at_most(20_000));
    let state: Value = manager
        .load(resume)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no nightly checkpoint at or before step 20000"))?;
    println!("resuming from step {}", state["step"]);
    assert_eq!(state["step"], value!(19_200));
    // The checkpoint of exactly step 24,000 (the last night).
    let exact = Lookup::Latest.matching(Filter::new().step(24_000));
    assert!(manager.resolve(exact).await?.is_some());
    Ok(())
}
