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

    /// A number for the period that contains `t`, equal exactly when [`bucket`](Self::bucket)
    /// is: plans compare these, so they allocate nothing per snapshot.
    fn bucket_id(self, t: DateTime<Utc>) -> i64 {
        match self {
            Period::Hourly => t.timestamp().div_euclid(3600),
            Period::Daily => t.timestamp().div_euclid(86_400),
            Period::Weekly => {
                let w = t.iso_week();
                i64::from(w.year()) * 100 + i64::from(w.week())
            }
            Period::Monthly => i64::from(t.year()) * 12 + i64::from(t.month0()),
            Period::Yearly => i64::from(t.year()),
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
        window: CalendarDuration,
    },
    /// It is the newest snapshot of its calendar period within `window` of the newest
    /// (or the oldest snapshot, when it lies within the window).
    CalendarWithin {
        /// The period of the rule.
        period: Period,
        /// The window of the rule.
        window: CalendarDuration,
        /// The period it is the newest of.
        bucket: String,
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
            KeepReason::CalendarWithin {
                period,
                window,
                bucket,
            } => write!(f, "{} {bucket} within {window}", period.name()),
            KeepReason::NoRules => f.write_str("no retention rules"),
        }
    }
}

/// A length of calendar time in restic's form: years, months, days and hours, such as
/// `1y5m7d2h` (`m` is months; there are no minutes).
///
/// A window ending at time `t` starts at `t` moved back by the years, months and days
/// on the calendar (a day past the end of a month carries into the next month, so
/// 31 March minus one month is 2 March, or 3 March outside leap years), then by the
/// hours. This is how restic measures `--keep-within`.
///
/// ```
/// use snapshot_store::CalendarDuration;
///
/// let d: CalendarDuration = "1y5m7d2h".parse()?;
/// assert_eq!(d, CalendarDuration::new(1, 5, 7, 2));
/// assert_eq!(d.to_string(), "1y5m7d2h");
/// assert!("6min".parse::<CalendarDuration>().is_err()); // not restic's syntax
/// # Ok::<(), snapshot_store::DurationError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CalendarDuration {
    years: u32,
    months: u32,
    days: u32,
    hours: u32,
}

/// Why a text is not a [`CalendarDuration`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {text:?}: {reason}; use restic's form, numbers followed by y (years), m (months), d (days) or h (hours), such as 1y5m7d2h or 36h"
)]
#[non_exhaustive]
pub struct DurationError {
    /// The text given.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl CalendarDuration {
    /// A duration of `years`, `months`, `days` and `hours`.
    pub const fn new(years: u32, months: u32, days: u32, hours: u32) -> Self {
        Self {
            years,
            months,
            days,
            hours,
        }
    }

    /// `n` hours.
    pub const fn hours(n: u32) -> Self {
        Self::new(0, 0, 0, n)
    }

    /// `n` days.
    pub const fn days(n: u32) -> Self {
        Self::new(0, 0, n, 0)
    }

    /// `n` months.
    pub const fn months(n: u32) -> Self {
        Self::new(0, n, 0, 0)
    }

    /// `n` years.
    pub const fn years(n: u32) -> Self {
        Self::new(n, 0, 0, 0)
    }

    /// Whether every part is zero (a rule with a zero duration is not set).
    pub const fn is_zero(&self) -> bool {
        self.years == 0 && self.months == 0 && self.days == 0 && self.hours == 0
    }

    /// `t` moved back by this duration, on the calendar as described above; `None`
    /// before the year -262143 (far outside any snapshot key).
    pub fn before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let months_total = i64::from(t.year()) * 12 + i64::from(t.month0())
            - i64::from(self.years) * 12
            - i64::from(self.months);
        let year = i32::try_from(months_total.div_euclid(12)).ok()?;
        let month0 = months_total.rem_euclid(12) as u32;
        let first = chrono::NaiveDate::from_ymd_opt(year, month0 + 1, 1)?;
        let day_offset = i64::from(t.day()) - 1 - i64::from(self.days);
        let date = first.checked_add_signed(TimeDelta::try_days(day_offset)?)?;
        let moved = date.and_time(t.time()).and_utc();
        moved.checked_sub_signed(TimeDelta::try_hours(i64::from(self.hours))?)
    }
}

impl std::str::FromStr for CalendarDuration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |reason| DurationError {
            text: text.to_string(),
            reason,
        };
        let mut d = CalendarDuration::default();
        let mut seen = String::new();
        let mut digits = String::new();
        for c in text.trim().chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            if digits.is_empty() {
                return Err(fail("every unit needs a number before it"));
            }
            let n: u32 = digits.parse().map_err(|_| fail("number too large"))?;
            digits.clear();
            let slot = match c {
                'y' => &mut d.years,
                'm' => &mut d.months,
                'd' => &mut d.days,
                'h' => &mut d.hours,
                _ => return Err(fail("unknown unit")),
            };
            if seen.contains(c) {
                return Err(fail("a unit is given twice"));
            }
            seen.push(c);
            *slot = n;
        }
        if !digits.is_empty() {
            return Err(fail("a number has no unit"));
        }
        if seen.is_empty() {
            return Err(fail("empty"));
        }
        Ok(d)
    }
}

impl fmt::Display for CalendarDuration {
    /// restic's form: `1y5m7d2h`, zero parts left out; `0h` for zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0h");
        }
        for (n, unit) in [
            (self.years, 'y'),
            (self.months, 'm'),
            (self.days, 'd'),
            (self.hours, 'h'),
        ] {
            if n > 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        Ok(())
    }
}

/// Which snapshots to keep; everything a rule does not keep is removed.
///
/// The rules and their meaning follow restic's `forget` (as of restic 0.18):
///
/// | rule | keeps | boundary | 0 means |
/// |---|---|---|---|
/// | `keep_last(n)` | the `n` newest snapshots | — | rule not set |
/// | `keep_hourly(n)` … `keep_yearly(n)` | the newest snapshot of each of the last `n` calendar periods (UTC) that have snapshots; if fewer than `n` periods have any, the oldest snapshot too | hours, days, ISO weeks (Monday to Sunday), months, years in UTC | rule not set |
/// | `keep_within(d)` | every snapshot strictly newer than the newest snapshot minus `d` | a snapshot exactly `d` older is removed; `d` is calendar time ([`CalendarDuration`]) | rule not set |
/// | `keep_within_periods(p, d)` | within `d` as above, the newest snapshot of each period `p` | as `keep_within` | rule not set |
///
/// Rules combine: a snapshot kept by any rule is kept. On top of restic, the newest
/// snapshot is always kept, whatever the rules say, and a policy with no rules keeps
/// everything (deleting all snapshots takes its own explicit call). "Newest" for the
/// `within` rules is the newest snapshot not in the future, as in restic; so a store
/// that stops receiving snapshots keeps its history.
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
///
/// // As in restic, 0 means "not set": this policy has no rules and keeps everything.
/// assert!(RetentionPolicy::new().keep_last(0).keep_daily(0).is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    last: usize,
    within: CalendarDuration,
    calendar: [usize; 5],
    within_calendar: [CalendarDuration; 5],
    scope: Option<crate::Filter>,
}

impl RetentionPolicy {
    /// A count that never runs out, restic's `unlimited` (its `-1`): `keep_last(UNLIMITED)`
    /// keeps every snapshot, `keep_daily(UNLIMITED)` the newest of every day.
    ///
    /// ```
    /// use snapshot_store::{RetentionPolicy, SnapshotMeta};
    ///
    /// let days: Vec<SnapshotMeta> = (10..20)
    ///     .flat_map(|d| [9, 18].map(|h| SnapshotMeta {
    ///         key: format!("2024-01-{d}_{h:02}-00-00-000000").parse().unwrap(),
    ///         size: 1,
    ///     }))
    ///     .collect();
    /// let plan = RetentionPolicy::new().keep_daily(RetentionPolicy::UNLIMITED).plan(&days);
    /// // The newest of each of the ten days, and the oldest snapshot.
    /// assert_eq!((plan.keep.len(), plan.remove.len()), (11, 9));
    /// ```
    pub const UNLIMITED: usize = usize::MAX;

    /// A policy with no rules (which keeps everything).
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the `n` newest snapshots; 0 unsets the rule.
    pub fn keep_last(mut self, n: usize) -> Self {
        self.last = n;
        self
    }

    /// Keeps every snapshot strictly newer than the newest one minus `window`; a zero
    /// window unsets the rule.
    pub fn keep_within(mut self, window: CalendarDuration) -> Self {
        self.within = window;
        self
    }

    /// Keeps the newest snapshot of each of the last `n` periods that have snapshots
    /// (and the oldest snapshot, if fewer than `n` periods have any); 0 unsets the rule.
    pub fn keep_periods(mut self, period: Period, n: usize) -> Self {
        self.calendar[period as usize] = n;
        self
    }

    /// Within `window` of the newest snapshot (as [`keep_within`](Self::keep_within)),
    /// keeps the newest snapshot of each `period`; a zero window unsets the rule.
    /// restic's `--keep-within-hourly` and its siblings.
    pub fn keep_within_periods(mut self, period: Period, window: CalendarDuration) -> Self {
        self.within_calendar[period as usize] = window;
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

    /// Applies the policy only to the snapshots `filter` selects (those labelled
    /// `tag=nightly`, say), as restic's `--tag` does: the others are neither kept nor
    /// removed by it, and "the newest" means the newest the filter selects. Used by
    /// [`SnapshotManager::plan`](crate::SnapshotManager::plan) and `apply`, which read
    /// the labels; [`plan`](Self::plan) itself plans over whatever it is given.
    ///
    /// Sealed snapshots: a scoped policy must read every snapshot's labels. When one
    /// cannot be read (encrypted under a key the manager lacks, or a damaged header),
    /// planning fails with [`Error::Unreadable`](crate::Error::Unreadable) and nothing is
    /// deleted: it might belong to the scope. A policy without a scope judges snapshots
    /// by their time alone and never reads them, so it keeps and removes sealed
    /// snapshots exactly as it does readable ones.
    ///
    /// ```
    /// use snapshot_store::{DumpOptions, Filter, MemoryStore, Order, RetentionPolicy, SnapshotManager};
    /// use snapshot_codec::value;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let manager = SnapshotManager::new(MemoryStore::new());
    /// for night in 0..5 {
    ///     manager.dump_with(&value!(night), &DumpOptions::new().label("tag", "nightly")).await?;
    ///     manager.dump(&value!("hourly")).await?;
    /// }
    /// let nightly = RetentionPolicy::new().keep_last(2).only(Filter::new().label("tag", "nightly"));
    /// let plan = manager.apply(&nightly).await?;
    /// assert_eq!((plan.keep.len(), plan.remove.len()), (2, 3));
    /// assert_eq!(manager.list(Order::OldestFirst).await?.len(), 7); // 5 untagged + 2 nightly
    /// # Ok::<(), snapshot_store::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn only(mut self, filter: crate::Filter) -> Self {
        self.scope = (!filter.is_empty()).then_some(filter);
        self
    }

    /// The snapshots the policy applies to (`None`: all).
    pub fn scope(&self) -> Option<&crate::Filter> {
        self.scope.as_ref()
    }

    /// Whether the policy has no rules (every count 0, every window zero).
    pub fn is_empty(&self) -> bool {
        self.last == 0
            && self.within.is_zero()
            && self.calendar.iter().all(|n| *n == 0)
            && self.within_calendar.iter().all(CalendarDuration::is_zero)
    }

    /// Decides, without deleting anything, which of `snapshots` to keep and why, with
    /// the current time deciding which snapshots are in the future.
    ///
    /// The input may be in any order; the plan lists newest first.
    pub fn plan(&self, snapshots: &[SnapshotMeta]) -> RetentionPlan {
        self.plan_at(snapshots, Utc::now())
    }

    /// [`plan`](Self::plan) as if the time were `now`.
    pub fn plan_at(&self, snapshots: &[SnapshotMeta], now: DateTime<Utc>) -> RetentionPlan {
        let mut sorted = snapshots.to_vec();
        sorted.sort_by_key(|m| std::cmp::Reverse(m.key));
        sorted.dedup_by_key(|m| m.key);
        let newest = sorted.first().map(|m| m.key);
        // The `within` rules measure back from the newest snapshot that is not in the
        // future; with none such, every snapshot is within (restic's zero time).
        let anchor = sorted
            .iter()
            .map(|m| m.key.to_datetime())
            .find(|t| *t < now);
        let cutoff = |d: &CalendarDuration| anchor.and_then(|a| d.before(a));
        let within_cutoff = (!self.within.is_zero()).then(|| cutoff(&self.within));
        let period_cutoffs: [Option<Option<DateTime<Utc>>>; 5] = std::array::from_fn(|i| {
            let d = &self.within_calendar[i];
            (!d.is_zero()).then(|| cutoff(d))
        });
        let last_index = sorted.len().saturating_sub(1);
        let mut calendar_left = self.calendar;
        let mut last_bucket: [Option<i64>; 5] = Default::default();
        let mut last_within_bucket: [Option<i64>; 5] = Default::default();
        let mut plan = RetentionPlan::default();

        for (index, meta) in sorted.into_iter().enumerate() {
            let mut reasons = Vec::new();
            let time = meta.key.to_datetime();
            let is_within = |c: &Option<DateTime<Utc>>| c.is_none_or(|c| time > c);
            if Some(meta.key) == newest {
                reasons.push(KeepReason::Newest);
            }
            if self.is_empty() {
                reasons.push(KeepReason::NoRules);
            }
            if index < self.last {
                reasons.push(KeepReason::Last { rank: index + 1 });
            }
            if let Some(c) = &within_cutoff
                && is_within(c)
            {
                reasons.push(KeepReason::Within {
                    window: self.within,
                });
            }
            for period in Period::ALL {
                let slot = period as usize;
                if calendar_left[slot] > 0 {
                    let bucket = period.bucket_id(time);
                    // The oldest snapshot is kept too while periods are left to fill.
                    if last_bucket[slot] != Some(bucket) || index == last_index {
                        calendar_left[slot] -= 1;
                        reasons.push(KeepReason::Calendar {
                            period,
                            bucket: period.bucket(time),
                        });
                        last_bucket[slot] = Some(bucket);
                    }
                }
                if let Some(c) = &period_cutoffs[slot]
                    && is_within(c)
                {
                    let bucket = period.bucket_id(time);
                    // As with the counted rules, the oldest snapshot is kept too when
                    // it lies inside the window (restic does the same).
                    if last_within_bucket[slot] != Some(bucket) || index == last_index {
                        reasons.push(KeepReason::CalendarWithin {
                            period,
                            window: self.within_calendar[slot],
                            bucket: period.bucket(time),
                        });
                        last_within_bucket[slot] = Some(bucket);
                    }
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

#[cfg(test)]
mod tests;
