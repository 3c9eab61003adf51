//! Retention against restic's own test data: the 40 policies of restic's
//! `TestApplyPolicy` over its 103 snapshots, each compared with restic's golden file
//! (what is kept, and why). See `tests/data/restic-policy/README.md`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value as Json;
use snapshot_store::{
    CalendarDuration, KeepReason, Period, RetentionPolicy, SnapshotKey, SnapshotMeta,
};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/restic-policy");

fn read_json(name: &str) -> Json {
    let text = std::fs::read_to_string(format!("{DATA}/{name}")).expect("restic test data");
    serde_json::from_str(&text).expect("json")
}

/// restic's `parseTimeUTC`: `2006-01-02 15:04:05` with optional fractions, UTC.
fn parse_input_time(text: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .expect("time")
        .and_utc()
}

/// The policy restic's test names, as ours; `None` where restic's rule has no
/// counterpart here (keep-by-tag: labels scope a policy instead, like restic's `--tag`).
fn policy(spec: &serde_json::Map<String, Json>) -> Option<RetentionPolicy> {
    let mut p = RetentionPolicy::new();
    let count = |v: &Json| match v.as_i64().expect("count") {
        -1 => RetentionPolicy::UNLIMITED,
        n => usize::try_from(n).expect("count"),
    };
    let window =
        |v: &Json| -> CalendarDuration { v.as_str().expect("text").parse().expect("duration") };
    for (name, v) in spec {
        p = match name.as_str() {
            "Last" => p.keep_last(count(v)),
            "Hourly" => p.keep_hourly(count(v)),
            "Daily" => p.keep_daily(count(v)),
            "Weekly" => p.keep_weekly(count(v)),
            "Monthly" => p.keep_monthly(count(v)),
            "Yearly" => p.keep_yearly(count(v)),
            "Within" => p.keep_within(window(v)),
            "WithinHourly" => p.keep_within_periods(Period::Hourly, window(v)),
            "WithinDaily" => p.keep_within_periods(Period::Daily, window(v)),
            "WithinWeekly" => p.keep_within_periods(Period::Weekly, window(v)),
            "WithinMonthly" => p.keep_within_periods(Period::Monthly, window(v)),
            "WithinYearly" => p.keep_within_periods(Period::Yearly, window(v)),
            "Tags" => return None,
            other => panic!("unknown rule {other}"),
        };
    }
    Some(p)
}

/// Our reason in restic's words (restic says "oldest daily snapshot" where the oldest
/// is kept by a rule with periods left; compared without "oldest ").
fn restic_words(reason: &KeepReason) -> Option<String> {
    let period = |p: &Period| match p {
        Period::Hourly => "hourly",
        Period::Daily => "daily",
        Period::Weekly => "weekly",
        Period::Monthly => "monthly",
        Period::Yearly => "yearly",
    };
    match reason {
        // Always kept here; restic's rules keep it anyway in every non-empty policy.
        KeepReason::Newest => None,
        KeepReason::Last { .. } => Some("last snapshot".into()),
        KeepReason::Within { window } => Some(format!("within {window}")),
        KeepReason::Calendar { period: p, .. } => Some(format!("{} snapshot", period(p))),
        KeepReason::CalendarWithin {
            period: p, window, ..
        } => Some(format!("{} within {window}", period(p))),
        other => Some(format!("{other}")),
    }
}

type Reasons = BTreeMap<DateTime<Utc>, BTreeSet<String>>;

fn restic_expected(i: usize) -> Reasons {
    let golden = read_json(&format!("policy_keep_snapshots_{i}"));
    let mut out = Reasons::new();
    let Some(reasons) = golden["reasons"].as_array() else {
        return out;
    };
    for r in reasons {
        let time: DateTime<Utc> = r["snapshot"]["time"]
            .as_str()
            .expect("time")
            .parse()
            .expect("rfc3339");
        let words = out.entry(time).or_default();
        for m in r["matches"].as_array().expect("matches") {
            let m = m.as_str().expect("text");
            words.insert(m.strip_prefix("oldest ").unwrap_or(m).to_owned());
        }
    }
    out
}

#[test]
fn every_restic_policy_case_keeps_what_restic_keeps_for_the_same_reasons() {
    let inputs = read_json("inputs.json");
    let times: Vec<DateTime<Utc>> = inputs["snapshots"]
        .as_array()
        .expect("snapshots")
        .iter()
        .map(|s| parse_input_time(s["time"].as_str().expect("time")))
        .collect();
    assert_eq!(times.len(), 103);
    // Snapshot keys are unique; restic's list has one time five times (with different
    // tags). Each repeat is stored a microsecond later here, and results are compared
    // by restic's time.
    let mut seen: BTreeMap<DateTime<Utc>, i64> = BTreeMap::new();
    let mut original: BTreeMap<SnapshotKey, DateTime<Utc>> = BTreeMap::new();
    let metas: Vec<SnapshotMeta> = times
        .iter()
        .map(|t| {
            let repeat = seen.entry(*t).or_insert(-1);
            *repeat += 1;
            let key = SnapshotKey::from_datetime(*t + chrono::TimeDelta::microseconds(*repeat))
                .expect("key");
            original.insert(key, *t);
            SnapshotMeta { key, size: 1 }
        })
        .collect();
    assert_eq!(original.len(), 103);
    let now: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().expect("now");
    let policies = inputs["policies"].as_array().expect("policies");
    assert_eq!(policies.len(), 40);

    let mut compared = 0;
    let mut not_comparable = Vec::new();
    for (i, spec) in policies.iter().enumerate() {
        let spec = spec.as_object().expect("policy");
        let expected = restic_expected(i);
        let Some(policy) = policy(spec) else {
            not_comparable.push(i);
            continue;
        };
        let plan = policy.plan_at(&metas, now);
        if policy.is_empty() {
            // restic's ApplyPolicy keeps nothing for the empty policy (its `forget`
            // refuses to run one); here a policy without rules keeps everything.
            assert!(expected.is_empty(), "case {i}");
            assert_eq!(plan.keep.len(), 103, "case {i}: the empty policy keeps all");
            not_comparable.push(i);
            continue;
        }
        let mut ours = Reasons::new();
        for k in &plan.keep {
            ours.entry(original[&k.meta.key])
                .or_default()
                .extend(k.reasons.iter().filter_map(restic_words));
        }
        let kept_ours: BTreeSet<_> = ours.keys().collect();
        let kept_restic: BTreeSet<_> = expected.keys().collect();
        assert_eq!(
            kept_ours,
            kept_restic,
            "case {i} {spec:?}: kept sets differ (ours only: {:?}; restic only: {:?})",
            kept_ours.difference(&kept_restic).collect::<Vec<_>>(),
            kept_restic.difference(&kept_ours).collect::<Vec<_>>()
        );
        for (time, words) in &expected {
            assert_eq!(&ours[time], words, "case {i} {spec:?}: reasons for {time}");
        }
        compared += 1;
    }
    // Case 0 (the empty policy) and 18-20 (keep-by-tag) are the only ones not compared.
    assert_eq!(not_comparable, [0, 18, 19, 20]);
    assert_eq!(compared, 36);
}

/// The smallest case that differed: two snapshots on one day, keep-within-daily.
#[test]
fn keep_within_daily_keeps_the_oldest_inside_the_window_as_restic_does() {
    let metas: Vec<SnapshotMeta> = ["2024-01-15_10-00-00-000000", "2024-01-15_12-00-00-000000"]
        .iter()
        .map(|k| SnapshotMeta {
            key: k.parse().expect("key"),
            size: 1,
        })
        .collect();
    let plan = RetentionPolicy::new()
        .keep_within_periods(Period::Daily, CalendarDuration::days(7))
        .plan(&metas);
    assert_eq!(plan.keep.len(), 2);
    assert!(plan.remove.is_empty());
}
