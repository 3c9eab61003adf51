//! Retention policies: which snapshots to keep, and why.

use std::fmt;

use chrono::{DateTime, Datelike, TimeDelta, Utc};

use crate::{SnapshotKey, SnapshotMeta};

/// A calendar period for "keep the newest snapshot of each of the last n periods".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// Calendar hours (UTC).
    Hourly,
    /// Calendar days (UTC).
    Daily,
    /// ISO 8601 weeks (Monday to Sunday, UTC).
    Weekly,
    /// Calendar months (UTC).
    Monthly,
    /// Calendar years (UTC).
    Yearly,
}

impl Period {
    const ALL: [Period; 5] = [
        Period::Hourly,
        Period::Daily,
        Period::Weekly,
        Period::Monthly,
        Period::Yearly,
    ];

    /// The label of the period that contains `t`, such as `2024-01-15` for a day or
    /// `2024-W03` for a week.
    pub fn bucket(self, t: DateTime<Utc>) -> String {
        match self {
            Period::Hourly => t.format("%Y-%m-%d %H:00").to_string(),
            Period::Daily => t.format("%Y-%m-%d").to_string(),
            Period::Weekly => {
                let w = t.iso_week();
                format!("{:04}-W{:02}", w.year(), w.week())
            }
            Period::Monthly => t.format("%Y-%m").to_string(),
            Period::Yearly => format!("{:04}", t.year()),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Period::Hourly => "hourly",
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
            Period::Yearly => "yearly",
        }
    }
}

/// Why a retention plan keeps a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeepReason {
    /// It is the newest snapshot, which is always kept.
    Newest,
    /// It is among the last `n` snapshots (`rank` 1 is the newest).
    Last {
        /// Its position counting from the newest, from 1.
        rank: usize,
    },
    /// It is within `window` of the newest snapshot.
    Within {
        /// The window of the rule.
        window: TimeDelta,
    },
    /// It is the newest snapshot of its calendar period.
    Calendar {
        /// The period of the rule.
        period: Period,
        /// The period it is the newest of, such as `2024-01-15`.
        bucket: String,
    },
    /// The policy has no rules, and a policy without rules keeps everything.
    NoRules,
}

impl fmt::Display for KeepReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeepReason::Newest => f.write_str("newest snapshot"),
            KeepReason::Last { rank } => write!(f, "last #{rank}"),
            KeepReason::Within { window } => write!(f, "within {window} of the newest"),
            KeepReason::Calendar { period, bucket } => write!(f, "{} {bucket}", period.name()),
            KeepReason::NoRules => f.write_str("no retention rules"),
        }
    }
}

/// Which snapshots to keep; everything a rule does not keep is removed.
///
/// Rules combine: a snapshot kept by any rule is kept. The newest snapshot is always
/// kept, whatever the rules say, and a policy with no rules keeps everything (deleting
/// all snapshots takes its own explicit call). Calendar rules work as restic's
/// `forget`: walking from the newest snapshot back, the newest snapshot of each period
/// is kept, for the last `n` periods that have snapshots. "Within" is measured back from
/// the newest snapshot, not from the clock, so a store that stops receiving snapshots
/// keeps its history.
///
/// ```
/// use snapshot_store::{RetentionPolicy, SnapshotKey, SnapshotMeta};
///
/// let metas: Vec<SnapshotMeta> = [
///     "2024-01-01_10-00-00-000000",
///     "2024-01-01_18-00-00-000000",
///     "2024-01-02_09-00-00-000000",
///     "2024-01-03_09-00-00-000000",
/// ]
/// .iter()
/// .map(|k| SnapshotMeta { key: k.parse().unwrap(), size: 1 })
/// .collect();
///
/// let plan = RetentionPolicy::new().keep_last(1).keep_daily(2).plan(&metas);
/// let kept: Vec<String> = plan.keep.iter().map(|k| k.meta.key.to_string()).collect();
/// assert_eq!(kept, ["2024-01-03_09-00-00-000000", "2024-01-02_09-00-00-000000"]);
/// assert_eq!(plan.remove.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    last: Option<usize>,
    within: Option<TimeDelta>,
    calendar: [Option<usize>; 5],
}

impl RetentionPolicy {
    /// A policy with no rules (which keeps everything).
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the `n` newest snapshots.
    pub fn keep_last(mut self, n: usize) -> Self {
        self.last = Some(n);
        self
    }

    /// Keeps every snapshot within `window` of the newest one.
    pub fn keep_within(mut self, window: TimeDelta) -> Self {
        self.within = Some(window);
        self
    }

    /// Keeps the newest snapshot of each of the last `n` periods that have snapshots.
    pub fn keep_periods(mut self, period: Period, n: usize) -> Self {
        self.calendar[period as usize] = Some(n);
        self
    }

    /// Keeps the newest snapshot of each of the last `n` hours.
    pub fn keep_hourly(self, n: usize) -> Self {
        self.keep_periods(Period::Hourly, n)
    }

    /// Keeps the newest snapshot of each of the last `n` days.
    pub fn keep_daily(self, n: usize) -> Self {
        self.keep_periods(Period::Daily, n)
    }

    /// Keeps the newest snapshot of each of the last `n` ISO weeks.
    pub fn keep_weekly(self, n: usize) -> Self {
        self.keep_periods(Period::Weekly, n)
    }

    /// Keeps the newest snapshot of each of the last `n` months.
    pub fn keep_monthly(self, n: usize) -> Self {
        self.keep_periods(Period::Monthly, n)
    }

    /// Keeps the newest snapshot of each of the last `n` years.
    pub fn keep_yearly(self, n: usize) -> Self {
        self.keep_periods(Period::Yearly, n)
    }

    /// Whether the policy has no rules.
    pub fn is_empty(&self) -> bool {
        self.last.is_none() && self.within.is_none() && self.calendar.iter().all(Option::is_none)
    }

    /// Decides, without deleting anything, which of `snapshots` to keep and why.
    ///
    /// The input may be in any order; the plan lists newest first.
    pub fn plan(&self, snapshots: &[SnapshotMeta]) -> RetentionPlan {
        let mut sorted = snapshots.to_vec();
        sorted.sort_by_key(|m| std::cmp::Reverse(m.key));
        sorted.dedup_by_key(|m| m.key);
        let newest = sorted.first().map(|m| m.key);
        let mut last_bucket: [Option<String>; 5] = Default::default();
        let mut calendar_left = self.calendar;
        let mut plan = RetentionPlan::default();

        for (index, meta) in sorted.into_iter().enumerate() {
            let mut reasons = Vec::new();
            if Some(meta.key) == newest {
                reasons.push(KeepReason::Newest);
            }
            if self.is_empty() {
                reasons.push(KeepReason::NoRules);
            }
            if let Some(n) = self.last
                && index < n
            {
                reasons.push(KeepReason::Last { rank: index + 1 });
            }
            if let (Some(window), Some(newest)) = (self.within, newest)
                && within(newest, meta.key, window)
            {
                reasons.push(KeepReason::Within { window });
            }
            let time = meta.key.to_datetime();
            for period in Period::ALL {
                let slot = period as usize;
                let Some(left) = calendar_left[slot] else {
                    continue;
                };
                let bucket = period.bucket(time);
                if last_bucket[slot].as_deref() != Some(bucket.as_str()) {
                    if left > 0 {
                        reasons.push(KeepReason::Calendar {
                            period,
                            bucket: bucket.clone(),
                        });
                        calendar_left[slot] = Some(left - 1);
                    }
                    last_bucket[slot] = Some(bucket);
                }
            }
            if reasons.is_empty() {
                plan.remove.push(meta);
            } else {
                plan.keep.push(Kept { meta, reasons });
            }
        }
        plan
    }
}

fn within(newest: SnapshotKey, key: SnapshotKey, window: TimeDelta) -> bool {
    newest.as_micros() - key.as_micros() <= window.num_microseconds().unwrap_or(i64::MAX)
}

/// A snapshot a plan keeps, with every rule that keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// The snapshot.
    pub meta: SnapshotMeta,
    /// The rules that keep it (at least one).
    pub reasons: Vec<KeepReason>,
}

/// What a retention policy keeps and removes, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPlan {
    /// The snapshots kept, with their reasons.
    pub keep: Vec<Kept>,
    /// The snapshots to remove.
    pub remove: Vec<SnapshotMeta>,
}

impl fmt::Display for RetentionPlan {
    /// One line per snapshot, newest first: `keep` with its reasons, or `remove`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut all: Vec<(SnapshotKey, Option<&Kept>)> = self
            .keep
            .iter()
            .map(|k| (k.meta.key, Some(k)))
            .chain(self.remove.iter().map(|m| (m.key, None)))
            .collect();
        all.sort_by_key(|e| std::cmp::Reverse(e.0));
        for (key, kept) in all {
            match kept {
                Some(k) => {
                    let reasons: Vec<String> = k.reasons.iter().map(ToString::to_string).collect();
                    writeln!(f, "keep   {key}  ({})", reasons.join(", "))?;
                }
                None => writeln!(f, "remove {key}")?,
            }
        }
        Ok(())
    }
}
