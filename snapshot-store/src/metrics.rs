//! Metrics of dumps, loads, deletions and retention, through the [`metrics`] facade.
//!
//! Every [`SnapshotManager`](crate::SnapshotManager) records them; nothing is kept or
//! sent unless the program installs a recorder (an exporter): with
//! `metrics-exporter-prometheus`, `metrics_exporter_prometheus::PrometheusBuilder::new().install()?`
//! serves them to Prometheus; `metrics-exporter-otel` (or any other exporter of the
//! facade) forwards them to OpenTelemetry. Without a recorder each call is a few
//! atomic loads. The names below are stable; the S3 backend adds
//! `snapshot_s3_probes_total` (see `snapshot_store_s3`).
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `snapshot_dumps_total` | counter | `outcome` = `ok`, `error` | dumps (background checkpoints included) |
//! | `snapshot_dump_bytes_total` | counter | | bytes stored by successful dumps |
//! | `snapshot_dump_seconds` | histogram | | time of a successful dump, encode to stored |
//! | `snapshot_loads_total` | counter | `outcome` = `ok`, `missing`, `error` | loads (`missing`: nothing matched) |
//! | `snapshot_load_bytes_total` | counter | | stored bytes read by successful loads |
//! | `snapshot_load_seconds` | histogram | | time of a successful load, lookup to value |
//! | `snapshot_deletes_total` | counter | | snapshots deleted one by one (`delete`) |
//! | `snapshot_retention_runs_total` | counter | `outcome` = `ok`, `error` | retention applied (after a dump or asked for) |
//! | `snapshot_retention_removed_total` | counter | | snapshots retention removed |
//!
//! ```
//! // The names, for dashboards and alerts written in code.
//! assert_eq!(snapshot_store::metrics::DUMPS, "snapshot_dumps_total");
//! ```

use std::time::Duration;

/// Counter of dumps, labelled `outcome` (`ok`, `error`).
pub const DUMPS: &str = "snapshot_dumps_total";
/// Counter of bytes stored by successful dumps.
pub const DUMP_BYTES: &str = "snapshot_dump_bytes_total";
/// Histogram of the seconds a successful dump took.
pub const DUMP_SECONDS: &str = "snapshot_dump_seconds";
/// Counter of loads, labelled `outcome` (`ok`, `missing`, `error`).
pub const LOADS: &str = "snapshot_loads_total";
/// Counter of stored bytes read by successful loads.
pub const LOAD_BYTES: &str = "snapshot_load_bytes_total";
/// Histogram of the seconds a successful load took.
pub const LOAD_SECONDS: &str = "snapshot_load_seconds";
/// Counter of snapshots deleted one by one.
pub const DELETES: &str = "snapshot_deletes_total";
/// Counter of retention runs, labelled `outcome` (`ok`, `error`).
pub const RETENTION_RUNS: &str = "snapshot_retention_runs_total";
/// Counter of snapshots removed by retention.
pub const RETENTION_REMOVED: &str = "snapshot_retention_removed_total";

pub(crate) fn dumped(bytes: u64, took: Duration) {
    ::metrics::counter!(DUMPS, "outcome" => "ok").increment(1);
    ::metrics::counter!(DUMP_BYTES).increment(bytes);
    ::metrics::histogram!(DUMP_SECONDS).record(took.as_secs_f64());
}

pub(crate) fn dump_failed() {
    ::metrics::counter!(DUMPS, "outcome" => "error").increment(1);
}

pub(crate) fn loaded(bytes: u64, took: Duration) {
    ::metrics::counter!(LOADS, "outcome" => "ok").increment(1);
    ::metrics::counter!(LOAD_BYTES).increment(bytes);
    ::metrics::histogram!(LOAD_SECONDS).record(took.as_secs_f64());
}

pub(crate) fn load_missed() {
    ::metrics::counter!(LOADS, "outcome" => "missing").increment(1);
}

pub(crate) fn load_failed() {
    ::metrics::counter!(LOADS, "outcome" => "error").increment(1);
}

pub(crate) fn deleted() {
    ::metrics::counter!(DELETES).increment(1);
}

pub(crate) fn retention_removed(n: usize) {
    ::metrics::counter!(RETENTION_REMOVED).increment(n as u64);
}

pub(crate) fn retention_ran(ok: bool) {
    let outcome = if ok { "ok" } else { "error" };
    ::metrics::counter!(RETENTION_RUNS, "outcome" => outcome).increment(1);
}
