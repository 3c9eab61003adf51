//! The rules against a reference written from restic's documented behaviour in a
//! different style (sets and groupings instead of one pass), on long timelines.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, TimeZone};

use super::*;

fn at(text: &str) -> DateTime<Utc> {
    text.parse::<SnapshotKey>().expect("key").to_datetime()
}

fn metas(times: &[DateTime<Utc>]) -> Vec<SnapshotMeta> {
    times
        .iter()
        .map(|t| SnapshotMeta {
            key: SnapshotKey::from_datetime(*t).expect("in range"),
            size: 1,
        })
        .collect()
}

/// `t` minus years/months/days with Go's `AddDate` normalisation, done by walking
/// the calendar one month and one day at a time (slow, and unlike the real code).
fn reference_before(d: &CalendarDuration, t: DateTime<Utc>) -> DateTime<Utc> {
    let (mut y, mut m) = (t.year(), t.month() as i32);
    for _ in 0..(d.years * 12 + d.months) {
        m -= 1;
        if m == 0 {
            m = 12;
            y -= 1;
        }
    }
    // Day `t.day()` of month (y, m), possibly past its end: count forward from the 1st.
    let mut date = NaiveDate::from_ymd_opt(y, m as u32, 1).expect("valid");
    for _ in 1..t.day() {
        date = date.succ_opt().expect("valid");
    }
    for _ in 0..d.days {
        date = date.pred_opt().expect("valid");
    }
    Utc.from_utc_datetime(&date.and_time(t.time())) - TimeDelta::hours(i64::from(d.hours))
}

/// Which snapshots a policy keeps, computed rule by rule as sets.
fn reference(
    policy: &RetentionPolicy,
    times: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> BTreeSet<DateTime<Utc>> {
    let all: BTreeSet<DateTime<Utc>> = times.iter().copied().collect();
    let mut keep = BTreeSet::new();
    let Some(newest) = all.iter().next_back().copied() else {
        return keep;
    };
    keep.insert(newest);
    if policy.is_empty() {
        return all;
    }
    keep.extend(all.iter().rev().take(policy.last));
    let anchor = all.iter().rev().find(|t| **t < now).copied();
    let inside = |d: &CalendarDuration, t: &DateTime<Utc>| match anchor {
        None => true,
        Some(a) => *t > reference_before(d, a),
    };
    if !policy.within.is_zero() {
        keep.extend(all.iter().filter(|t| inside(&policy.within, t)));
    }
    for period in Period::ALL {
        let groups: BTreeMap<String, Vec<DateTime<Utc>>> =
            all.iter().fold(BTreeMap::new(), |mut g, t| {
                g.entry(period.bucket(*t)).or_default().push(*t);
                g
            });
        // Bucket labels sort in time order for every period.
        let newest_of_each: Vec<DateTime<Utc>> = groups
            .values()
            .rev()
            .map(|ts| *ts.iter().max().expect("non-empty"))
            .collect();
        let n = policy.calendar[period as usize];
        keep.extend(newest_of_each.iter().take(n));
        if n > newest_of_each.len() {
            keep.insert(*all.iter().next().expect("non-empty"));
        }
        let w = &policy.within_calendar[period as usize];
        if !w.is_zero() {
            keep.extend(newest_of_each.iter().filter(|t| inside(w, t)));
            // The oldest snapshot too, when it lies inside the window.
            let oldest = all.iter().next().expect("non-empty");
            if inside(w, oldest) {
                keep.insert(*oldest);
            }
        }
    }
    keep
}

fn kept_by_plan(
    policy: &RetentionPolicy,
    times: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> BTreeSet<DateTime<Utc>> {
    let plan = policy.plan_at(&metas(times), now);
    assert_eq!(plan.keep.len() + plan.remove.len(), times.len());
    plan.keep.iter().map(|k| k.meta.key.to_datetime()).collect()
}

fn policies() -> Vec<(String, RetentionPolicy)> {
    let mut out = vec![
        ("empty".into(), RetentionPolicy::new()),
        ("last 0".into(), RetentionPolicy::new().keep_last(0)),
        ("daily 0".into(), RetentionPolicy::new().keep_daily(0)),
        (
            "within 0h".into(),
            RetentionPolicy::new().keep_within(CalendarDuration::hours(0)),
        ),
        ("last 1".into(), RetentionPolicy::new().keep_last(1)),
        ("last 100".into(), RetentionPolicy::new().keep_last(100)),
        (
            "within 48h".into(),
            RetentionPolicy::new().keep_within(CalendarDuration::hours(48)),
        ),
        (
            "within 1m".into(),
            RetentionPolicy::new().keep_within(CalendarDuration::months(1)),
        ),
        (
            "within 1y2m3d4h".into(),
            RetentionPolicy::new().keep_within(CalendarDuration::new(1, 2, 3, 4)),
        ),
        ("hourly 30".into(), RetentionPolicy::new().keep_hourly(30)),
        ("daily 7".into(), RetentionPolicy::new().keep_daily(7)),
        (
            "daily 10000".into(),
            RetentionPolicy::new().keep_daily(10_000),
        ),
        ("weekly 5".into(), RetentionPolicy::new().keep_weekly(5)),
        ("weekly 200".into(), RetentionPolicy::new().keep_weekly(200)),
        ("monthly 12".into(), RetentionPolicy::new().keep_monthly(12)),
        ("monthly 30".into(), RetentionPolicy::new().keep_monthly(30)),
        ("yearly 3".into(), RetentionPolicy::new().keep_yearly(3)),
        ("yearly 10".into(), RetentionPolicy::new().keep_yearly(10)),
        (
            "within-daily 10d".into(),
            RetentionPolicy::new().keep_within_periods(Period::Daily, CalendarDuration::days(10)),
        ),
        (
            "within-weekly 2m".into(),
            RetentionPolicy::new().keep_within_periods(Period::Weekly, CalendarDuration::months(2)),
        ),
        (
            "restic classic".into(),
            RetentionPolicy::new()
                .keep_last(5)
                .keep_hourly(24)
                .keep_daily(7)
                .keep_weekly(4)
                .keep_monthly(12)
                .keep_yearly(10),
        ),
        (
            "within + calendar".into(),
            RetentionPolicy::new()
                .keep_within(CalendarDuration::days(2))
                .keep_monthly(6)
                .keep_within_periods(Period::Hourly, CalendarDuration::days(3)),
        ),
    ];
    for n in [2, 3, 50] {
        out.push((
            format!("yearly {n} + hourly {n}"),
            RetentionPolicy::new().keep_yearly(n).keep_hourly(n),
        ));
    }
    out
}

fn assert_matches_reference(times: &[DateTime<Utc>], now: DateTime<Utc>) {
    for (name, policy) in policies() {
        assert_eq!(
            kept_by_plan(&policy, times, now),
            reference(&policy, times, now),
            "policy {name} on {} snapshots",
            times.len()
        );
    }
}

#[test]
fn two_years_hourly_match_the_reference() {
    // The timeline of the outside comparison: 2 years of hourly snapshots.
    let start = at("2023-01-01_00-00-00-000000");
    let times: Vec<_> = (0..17_544).map(|h| start + TimeDelta::hours(h)).collect();
    assert_matches_reference(&times, at("2030-01-01_00-00-00-000000"));
}

#[test]
fn irregular_timelines_match_the_reference() {
    // A deterministic pseudo-random walk: bursts, gaps of months, month ends, leap
    // days, and snapshots in the future of `now`.
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..12 {
        let mut t = at("2019-12-31_23-59-59-999999");
        let mut times = Vec::new();
        for _ in 0..(200 + round * 150) {
            let step = match next() % 10 {
                0 => TimeDelta::microseconds(1),
                1..=4 => TimeDelta::minutes((next() % 180) as i64),
                5..=7 => TimeDelta::hours((next() % 72) as i64),
                8 => TimeDelta::days((next() % 40) as i64),
                _ => TimeDelta::days(28 + (next() % 5) as i64),
            };
            t += step + TimeDelta::microseconds(1);
            times.push(t);
        }
        let now = times[times.len() * 3 / 4];
        assert_matches_reference(&times, now);
        assert_matches_reference(&times, at("9000-01-01_00-00-00-000000"));
    }
}

#[test]
fn zero_means_not_set() {
    let times: Vec<_> = (0..50)
        .map(|d| at("2024-01-01_00-00-00-000000") + TimeDelta::days(d))
        .collect();
    for policy in [
        RetentionPolicy::new().keep_last(0),
        RetentionPolicy::new().keep_daily(0),
        RetentionPolicy::new().keep_within(CalendarDuration::hours(0)),
        RetentionPolicy::new().keep_within_periods(Period::Daily, CalendarDuration::default()),
    ] {
        assert!(policy.is_empty());
        assert_eq!(policy.plan(&metas(&times)).remove, []);
    }
    // A rule set to 0 beside a real rule changes nothing.
    let with_zero = RetentionPolicy::new().keep_last(0).keep_daily(3);
    assert_eq!(
        with_zero.plan(&metas(&times)),
        RetentionPolicy::new().keep_daily(3).plan(&metas(&times))
    );
}

#[test]
fn within_keeps_only_what_is_strictly_newer_than_the_window() {
    let newest = at("2024-03-03_12-00-00-000000");
    let times = [
        newest - TimeDelta::hours(48),
        newest - TimeDelta::hours(48) + TimeDelta::microseconds(1),
        newest,
    ];
    let kept = kept_by_plan(
        &RetentionPolicy::new().keep_within(CalendarDuration::hours(48)),
        &times,
        at("2030-01-01_00-00-00-000000"),
    );
    assert_eq!(kept, times[1..].iter().copied().collect());
}

#[test]
fn the_oldest_is_kept_when_periods_are_left() {
    // Two years of data, keep_yearly(3): the first snapshot of all stays, although
    // a newer one of its year is kept too.
    let times = [
        at("2023-01-01_00-00-00-000000"),
        at("2023-12-31_00-00-00-000000"),
        at("2024-06-01_00-00-00-000000"),
    ];
    let kept = kept_by_plan(
        &RetentionPolicy::new().keep_yearly(3),
        &times,
        at("2030-01-01_00-00-00-000000"),
    );
    assert_eq!(kept.len(), 3);
    let kept = kept_by_plan(
        &RetentionPolicy::new().keep_yearly(2),
        &times,
        at("2030-01-01_00-00-00-000000"),
    );
    assert_eq!(kept, times[1..].iter().copied().collect());
}

#[test]
fn calendar_arithmetic_is_restics() {
    // What Go's time.AddDate gives (restic measures windows with it).
    let cases = [
        (
            "2024-03-31_10-00-00-000000",
            CalendarDuration::months(1),
            "2024-03-02_10-00-00-000000",
        ),
        (
            "2023-03-31_10-00-00-000000",
            CalendarDuration::months(1),
            "2023-03-03_10-00-00-000000",
        ),
        (
            "2024-02-29_00-00-00-000000",
            CalendarDuration::years(1),
            "2023-03-01_00-00-00-000000",
        ),
        (
            "2024-01-01_01-00-00-000000",
            CalendarDuration::new(0, 0, 1, 2),
            "2023-12-30_23-00-00-000000",
        ),
        (
            "2024-05-15_00-00-00-000000",
            CalendarDuration::new(1, 5, 7, 2),
            "2022-12-07_22-00-00-000000",
        ),
    ];
    for (from, d, expected) in cases {
        assert_eq!(d.before(at(from)), Some(at(expected)), "{from} - {d}");
        assert_eq!(
            reference_before(&d, at(from)),
            at(expected),
            "reference: {from} - {d}"
        );
    }
}

#[test]
fn durations_parse_in_restics_form_only() {
    for (text, d) in [
        ("1y5m7d2h", CalendarDuration::new(1, 5, 7, 2)),
        ("6m", CalendarDuration::months(6)),
        ("36h", CalendarDuration::hours(36)),
        ("2d", CalendarDuration::days(2)),
        ("0h", CalendarDuration::default()),
        ("7d1y", CalendarDuration::new(1, 0, 7, 0)),
    ] {
        assert_eq!(text.parse::<CalendarDuration>(), Ok(d), "{text}");
    }
    for bad in [
        "", "6", "m", "6min", "1.5h", "-1d", "10s", "2w", "1d1d", "1 d",
    ] {
        let err = bad.parse::<CalendarDuration>().expect_err(bad);
        assert!(err.to_string().contains("1y5m7d2h"), "{err}");
    }
}

const RETENTION_TIMELINE: [&str; 10] = [
    "2022-06-01_12-00-00-000000",
    "2023-03-01_12-00-00-000000",
    "2023-12-31_23-00-00-000000",
    "2024-01-01_00-30-00-000000",
    "2024-01-01_09-00-00-000000",
    "2024-01-01_09-30-00-000000",
    "2024-01-02_10-00-00-000000",
    "2024-01-07_23-59-00-000000",
    "2024-01-08_00-00-00-000000",
    "2024-01-08_00-10-00-000000",
];

/// Each rule on a hand-made timeline (years, months, an ISO week boundary, hours),
/// combined rules, the newest-is-kept and no-rules-keeps-all invariants, and the
/// reasons a plan gives.
#[test]
fn rules_on_a_hand_made_timeline() {
    let snapshots: Vec<SnapshotMeta> = RETENTION_TIMELINE
        .iter()
        .map(|t| SnapshotMeta {
            key: t.parse().expect("key"),
            size: 1,
        })
        .collect();
    let r = &RETENTION_TIMELINE;
    let kept = |policy: RetentionPolicy| {
        let plan = policy.plan(&snapshots);
        assert_eq!(
            plan.keep.len() + plan.remove.len(),
            10,
            "every snapshot is in the plan"
        );
        plan.keep
            .iter()
            .map(|k| k.meta.key.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        kept(RetentionPolicy::new().keep_last(3)),
        [r[9], r[8], r[7]],
        "last 3"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_hourly(3)),
        [r[9], r[7], r[6]],
        "hourly 3"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_daily(3)),
        [r[9], r[7], r[6]],
        "daily 3"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_daily(5)),
        [r[9], r[7], r[6], r[5], r[2]],
        "daily 5"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_weekly(2)),
        [r[9], r[7]],
        "weekly 2"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_weekly(3)),
        [r[9], r[7], r[2]],
        "weekly 3"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_monthly(2)),
        [r[9], r[2]],
        "monthly 2"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_yearly(3)),
        [r[9], r[2], r[0]],
        "yearly 3"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_within(CalendarDuration::hours(24))),
        [r[9], r[8], r[7]],
        "within a day of the newest"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_yearly(5)),
        [r[9], r[2], r[0]],
        "fewer years than asked for: the oldest is one of them anyway"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_monthly(5)),
        [r[9], r[2], r[1], r[0]],
        "fewer months than asked for"
    );
    assert_eq!(
        kept(RetentionPolicy::new().keep_last(0)).len(),
        10,
        "0 means the rule is not set, as in restic: no rules keep everything"
    );
    assert_eq!(
        kept(RetentionPolicy::new()).len(),
        10,
        "no rules keep everything"
    );
    let combined = RetentionPolicy::new()
        .keep_last(1)
        .keep_yearly(3)
        .keep_hourly(2);
    assert_eq!(
        kept(combined.clone()),
        [r[9], r[7], r[2], r[0]],
        "rules combine"
    );

    let plan = combined.plan(&snapshots);
    let newest = &plan.keep[0];
    assert!(
        newest.reasons.contains(&KeepReason::Newest),
        "{:?}",
        newest.reasons
    );
    assert!(
        newest.reasons.contains(&KeepReason::Last { rank: 1 }),
        "{:?}",
        newest.reasons
    );
    assert!(
        plan.keep[2].reasons.contains(&KeepReason::Calendar {
            period: Period::Yearly,
            bucket: "2023".into()
        }),
        "{:?}",
        plan.keep[2].reasons
    );
    assert!(
        plan.to_string()
            .contains("remove 2024-01-08_00-00-00-000000"),
        "{plan}"
    );
}
