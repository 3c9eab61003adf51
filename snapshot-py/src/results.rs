//! The classes `SnapshotManager`'s methods return: `SnapshotInfo`, `RetentionPolicy`,
//! `RetentionPlan`, `VerifyReport`, `ImportReport`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use snapshot_state::{CalendarDuration, RetentionPolicy as RustPolicy, SnapshotKey, SnapshotMeta};

use crate::convert::datetime_from_micros;
use crate::manager::filter_of;

/// A stored snapshot: its key (the UTC time it is stored under, as text), that time, and
/// its size in bytes. Infos compare and sort by time (then size), and hash.
#[pyclass(frozen, eq, ord, hash, module = "snapshot_state")]
#[derive(PartialEq, Eq, PartialOrd, Ord, Hash, Clone)]
pub(crate) struct SnapshotInfo {
    pub(crate) key: SnapshotKey,
    /// Size in bytes, as stored.
    #[pyo3(get)]
    pub(crate) size: u64,
}

#[pymethods]
impl SnapshotInfo {
    /// The key, `YYYY-MM-DD_HH-MM-SS-ffffff` (UTC).
    #[getter]
    fn key(&self) -> String {
        self.key.to_string()
    }

    /// The key, as the original's `Path.name` gave it.
    #[getter]
    fn name(&self) -> String {
        self.key.to_string()
    }

    /// The time, an aware datetime in UTC.
    #[getter]
    fn time<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime_from_micros(py, self.key.as_micros())
    }

    fn __repr__(&self) -> String {
        format!("SnapshotInfo(key='{}', size={})", self.key, self.size)
    }

    fn __str__(&self) -> String {
        self.key.to_string()
    }
}

impl From<snapshot_state::DumpInfo> for SnapshotInfo {
    fn from(info: snapshot_state::DumpInfo) -> Self {
        SnapshotInfo {
            key: info.key,
            size: info.size,
        }
    }
}

impl From<SnapshotMeta> for SnapshotInfo {
    fn from(m: SnapshotMeta) -> Self {
        SnapshotInfo {
            key: m.key,
            size: m.size,
        }
    }
}

/// Retention rules, as restic names them: keep the last n snapshots, the newest of each
/// of the last n hours/days/weeks/months/years, everything within a window of the
/// newest (`"1y5m7d2h"`), only among snapshots with `labels` if given. The newest
/// snapshot is always kept.
#[pyclass(frozen, module = "snapshot_state")]
pub(crate) struct RetentionPolicy {
    pub(crate) policy: RustPolicy,
}

#[pymethods]
impl RetentionPolicy {
    #[new]
    #[pyo3(signature = (*, keep_last=0, keep_hourly=0, keep_daily=0, keep_weekly=0, keep_monthly=0, keep_yearly=0, keep_within=None, labels=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        keep_last: usize,
        keep_hourly: usize,
        keep_daily: usize,
        keep_weekly: usize,
        keep_monthly: usize,
        keep_yearly: usize,
        keep_within: Option<&str>,
        labels: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let mut policy = RustPolicy::new()
            .keep_last(keep_last)
            .keep_hourly(keep_hourly)
            .keep_daily(keep_daily)
            .keep_weekly(keep_weekly)
            .keep_monthly(keep_monthly)
            .keep_yearly(keep_yearly);
        if let Some(window) = keep_within {
            let window: CalendarDuration = window
                .parse()
                .map_err(|e: snapshot_state::DurationError| PyValueError::new_err(e.to_string()))?;
            policy = policy.keep_within(window);
        }
        if let Some(labels) = labels {
            policy = policy.only(filter_of(Some(labels), None, None)?);
        }
        Ok(RetentionPolicy { policy })
    }

    fn __repr__(&self) -> String {
        format!("RetentionPolicy({:?})", self.policy)
    }
}

/// What a policy keeps (with its reasons) and removes, newest first. `str()` gives one
/// line per snapshot.
#[pyclass(frozen, module = "snapshot_state")]
pub(crate) struct RetentionPlan {
    /// `(snapshot, reasons)` for each snapshot kept.
    #[pyo3(get)]
    pub(crate) keep: Vec<(SnapshotInfo, Vec<String>)>,
    /// The snapshots removed (or to remove).
    #[pyo3(get)]
    pub(crate) remove: Vec<SnapshotInfo>,
    pub(crate) text: String,
}

#[pymethods]
impl RetentionPlan {
    fn __str__(&self) -> String {
        self.text.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "RetentionPlan(keep={}, remove={})",
            self.keep.len(),
            self.remove.len()
        )
    }
}

impl From<snapshot_state::RetentionPlan> for RetentionPlan {
    fn from(plan: snapshot_state::RetentionPlan) -> Self {
        RetentionPlan {
            text: plan.to_string(),
            keep: plan
                .keep
                .iter()
                .map(|k| {
                    (
                        SnapshotInfo::from(k.meta),
                        k.reasons.iter().map(ToString::to_string).collect(),
                    )
                })
                .collect(),
            remove: plan.remove.into_iter().map(SnapshotInfo::from).collect(),
        }
    }
}

/// What `verify()` found.
#[pyclass(frozen, module = "snapshot_state")]
pub(crate) struct VerifyReport {
    /// How many snapshots were read.
    #[pyo3(get)]
    pub(crate) checked: usize,
    /// `(key, why)` for each snapshot that does not load, newest first.
    #[pyo3(get)]
    pub(crate) bad: Vec<(String, String)>,
    /// Keys of snapshots encrypted under a key this manager does not hold.
    #[pyo3(get)]
    pub(crate) not_decrypted: Vec<String>,
}

#[pymethods]
impl VerifyReport {
    /// Whether every snapshot checked loads.
    #[getter]
    fn ok(&self) -> bool {
        self.bad.is_empty()
    }

    fn __repr__(&self) -> String {
        format!(
            "VerifyReport(checked={}, bad={}, not_decrypted={})",
            self.checked,
            self.bad.len(),
            self.not_decrypted.len()
        )
    }
}

/// What `import_py()` did with each file of the original's directory.
#[pyclass(frozen, module = "snapshot_state")]
pub(crate) struct ImportReport {
    /// `(file name, outcome)` per file: `"imported as KEY"`, `"already present as KEY"`,
    /// `"skipped: why"` or `"failed: why"`.
    #[pyo3(get)]
    pub(crate) files: Vec<(String, String)>,
    /// Files imported.
    #[pyo3(get)]
    pub(crate) imported: usize,
    /// Files skipped (not the original's snapshots).
    #[pyo3(get)]
    pub(crate) skipped: usize,
    /// Files that failed.
    #[pyo3(get)]
    pub(crate) failures: usize,
}

#[pymethods]
impl ImportReport {
    fn __repr__(&self) -> String {
        format!(
            "ImportReport(imported={}, skipped={}, failures={})",
            self.imported, self.skipped, self.failures
        )
    }
}
