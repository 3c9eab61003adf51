//! The `snapshot` binary, driven as a user would, against disk stores.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use snapshot_state::{Value, value};

fn cli() -> Command {
    Command::cargo_bin("snapshot").expect("binary")
}

fn url(dir: &Path) -> String {
    dir.to_str().expect("utf-8 path").to_owned()
}

/// Stores snapshots at chosen times through the library.
fn seed(dir: &Path, items: &[(&str, Value)]) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let manager = snapshot_state::open_or_create(&url(dir)).expect("open");
        for (at, v) in items {
            manager
                .dump_with(
                    v,
                    &snapshot_state::DumpOptions::new()
                        .at(*at)
                        .expect("a valid time"),
                )
                .await
                .expect("dump");
        }
    });
}

/// Where the store keeps the snapshot `key` (a directory per day).
fn file_of(dir: &Path, key: &str) -> std::path::PathBuf {
    dir.join(&key[..10]).join(key)
}

/// How many files the store directory holds, in all its day directories.
fn snapshot_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .map(|p| if p.is_dir() { snapshot_files(&p) } else { 1 })
        .sum()
}

const T1: &str = "2024-01-15_09-00-00-000000";
const T2: &str = "2024-01-15_10-00-00-000000";
const T3: &str = "2024-01-16_10-00-00-000000";

fn three(dir: &Path) {
    seed(
        dir,
        &[
            (T1, value!({"step": 1})),
            (T2, value!({"step": 2})),
            (T3, value!({"step": 3})),
        ],
    );
}

#[test]
fn every_command_has_help_with_examples() {
    for cmd in [
        "list", "show", "inspect", "verify", "prune", "put", "get", "copy", "keygen", "diff",
        "stats",
    ] {
        cli()
            .args([cmd, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("Example"));
    }
    cli()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("s3://BUCKET/PREFIX"));
}

#[test]
fn list_is_newest_first_and_has_a_json_form() {
    let dir = tempfile::tempdir().expect("tempdir");
    cli()
        .args(["list", &url(dir.path())])
        .assert()
        .success()
        .stdout("");
    three(dir.path());
    let out = cli()
        .args(["list", &url(dir.path())])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).expect("utf-8");
    let keys: Vec<&str> = text
        .lines()
        .map(|l| l.split_whitespace().next().expect("key"))
        .collect();
    assert_eq!(keys, [T3, T2, T1]);
    assert!(text.contains("2024-01-16T10:00:00.000000Z"), "{text}");
    let out = cli()
        .args(["list", &url(dir.path()), "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rows: serde_json::Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(rows[0]["key"], T3);
    assert!(rows[2]["size"].as_u64().expect("size") > 0);
}

#[test]
fn show_picks_snapshots_by_key_time_and_lookup() {
    let dir = tempfile::tempdir().expect("tempdir");
    three(dir.path());
    let store = url(dir.path());
    let show = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["show", store.as_str()];
        all.extend_from_slice(args);
        let out = cli()
            .args(&all)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        serde_json::from_slice(&out).expect("json")
    };
    assert_eq!(show(&[])["step"], 3);
    assert_eq!(show(&["--latest"])["step"], 3);
    assert_eq!(show(&[T1])["step"], 1);
    assert_eq!(show(&["--nearest", "2024-01-15T09:20:00Z"])["step"], 1);
    assert_eq!(show(&["--before", "2024-01-15T12:00:00Z"])["step"], 2);
    assert_eq!(show(&["--after", "2024-01-15_09-00-00-000001"])["step"], 2);
    // --raw writes the stored bytes unchanged.
    let raw = cli()
        .args(["show", &store, T2, "--raw"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(raw, std::fs::read(file_of(dir.path(), T2)).expect("file"));
}

#[test]
fn extension_values_are_shown_with_type_and_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let when = chrono::DateTime::parse_from_rfc3339("2024-01-15T10:30:00Z")
        .expect("time")
        .to_utc();
    seed(
        dir.path(),
        &[(
            T1,
            value!({"saved_at": (Value::from_ext(&when)), "blob": (Value::Bytes(vec![1, 2]))}),
        )],
    );
    let out = cli()
        .args(["show", &url(dir.path())])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(json["saved_at"]["$ext"], 1);
    assert_eq!(json["saved_at"]["type"], "chrono::DateTime<Utc>");
    assert_eq!(json["saved_at"]["value"], "2024-01-15T10:30:00Z");
    assert_eq!(json["blob"]["$bytes"], "0102");
}

#[test]
fn errors_are_one_line_and_non_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let assert = cli()
        .args(["show", &url(dir.path())])
        .assert()
        .failure()
        .code(1);
    let err = String::from_utf8(assert.get_output().stderr.clone()).expect("utf-8");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: no snapshot matches"), "{err}");
    for args in [
        vec!["list", "gs://bucket/x"],
        vec!["show", "memory:", "not-a-key"],
        vec!["show", "memory:", "--before", "yesterday"],
        vec!["inspect", "/nonexistent/file"],
        vec!["get", "memory:", "2024-01-15_09-00-00-000000"],
    ] {
        let assert = cli().args(&args).assert().failure();
        let err = String::from_utf8(assert.get_output().stderr.clone()).expect("utf-8");
        assert!(
            err.starts_with("error: ") && err.lines().count() == 1,
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn put_and_get_move_json_in_and_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("config.json");
    let doc = serde_json::json!({
        "database": {"host": "localhost", "port": 5432},
        "features": [true, false, null, 1.5, -7, 18446744073709551615u64],
        "note": "ünïcode",
    });
    std::fs::write(&input, serde_json::to_vec(&doc).expect("json")).expect("write");
    let store = dir.path().join("store");
    let out = cli()
        .args(["put", &url(&store), &url(&input)])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let key = String::from_utf8(out).expect("utf-8").trim().to_owned();
    assert!(key.parse::<snapshot_state::SnapshotKey>().is_ok(), "{key}");
    let output = dir.path().join("back.json");
    cli()
        .args(["get", &url(&store), &key, "-o", &url(&output)])
        .assert()
        .success();
    let back: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&output).expect("read")).expect("json");
    assert_eq!(back, doc);
    // Standard input works too, and malformed JSON is a clear error.
    cli()
        .args(["put", &url(&store), "-"])
        .write_stdin("{\"a\": 1}")
        .assert()
        .success();
    cli()
        .args(["put", &url(&store), "-"])
        .write_stdin("{oops")
        .assert()
        .failure()
        .stderr(predicate::str::contains("invalid JSON"));
}

#[test]
fn inspect_reports_header_sizes_checksum_and_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    seed(
        dir.path(),
        &[(
            T1,
            value!({"text": ("abc ".repeat(1000)), "n": [1, 2.5, null]}),
        )],
    );
    let file = file_of(dir.path(), T1);
    cli()
        .args(["inspect", &url(&file)])
        .assert()
        .success()
        .stdout(predicate::str::contains("format version   2"))
        .stdout(predicate::str::contains("compression      lz4"))
        .stdout(predicate::str::contains("checksum         ok"))
        .stdout(predicate::str::contains(
            "1 maps (2 entries), 1 lists, 1 strings, 1 ints, 1 floats, 0 bools, 1 nulls",
        ));
    let mut bytes = std::fs::read(&file).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    let bad = dir.path().join("bad.snap");
    std::fs::write(&bad, bytes).expect("write");
    cli()
        .args(["inspect", &url(&bad)])
        .assert()
        .failure()
        .stdout(predicate::str::contains("checksum         MISMATCH"))
        .stderr(predicate::str::contains("checksum mismatch"));
}

#[test]
fn verify_lists_every_bad_snapshot_and_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    three(dir.path());
    cli()
        .args(["verify", &url(dir.path())])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 snapshots checked, 0 bad"));
    let path = file_of(dir.path(), T2);
    let mut bytes = std::fs::read(&path).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, bytes).expect("write");
    cli()
        .args(["verify", &url(dir.path())])
        .assert()
        .failure()
        .stdout(predicate::str::contains(format!("BAD {T2}")))
        .stdout(predicate::str::contains("3 snapshots checked, 1 bad"));
    assert!(path.exists(), "verify must never delete");
}

#[test]
fn prune_shows_why_and_deletes_only_when_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    three(dir.path());
    let store = url(dir.path());
    cli()
        .args([
            "prune",
            &store,
            "--keep-last",
            "1",
            "--keep-daily",
            "2",
            "--dry-run",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "keep   {T3}  (newest snapshot, last #1, daily 2024-01-16)"
        )))
        .stdout(predicate::str::contains(format!("remove {T1}")));
    assert_eq!(snapshot_files(dir.path()), 3, "a dry run deleted something");
    // Not a terminal and no --yes: refuse.
    cli()
        .args(["prune", &store, "--keep-last", "1"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--yes"));
    cli()
        .args(["prune", &store])
        .assert()
        .failure()
        .stderr(predicate::str::contains("no retention rule"));
    cli()
        .args([
            "prune",
            &store,
            "--keep-last",
            "1",
            "--keep-daily",
            "2",
            "--yes",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("deleted 1 snapshots"));
    assert!(!file_of(dir.path(), T1).exists());
    cli()
        .args(["prune", &store, "--keep-within", "2x", "--dry-run"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("invalid duration"));
    cli()
        .args(["prune", &store, "--keep-within", "25h", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("keep   {T2}")));
}

#[test]
fn copy_verifies_and_does_not_duplicate() {
    let src = tempfile::tempdir().expect("tempdir");
    let dst = tempfile::tempdir().expect("tempdir");
    three(src.path());
    cli()
        .args(["copy", &url(src.path()), &url(dst.path())])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "3 copied, 0 already present, 0 failed",
        ));
    cli().args(["verify", &url(dst.path())]).assert().success();
    cli()
        .args(["copy", &url(src.path()), &url(dst.path())])
        .assert()
        .success()
        .stdout(predicate::str::contains("0 copied, 3 already present"));
    // A corrupt source snapshot is reported and not copied.
    let other = tempfile::tempdir().expect("tempdir");
    std::fs::write(src.path().join("2024-02-01_00-00-00-000000"), b"garbage").expect("write");
    cli()
        .args(["copy", &url(src.path()), &url(other.path())])
        .assert()
        .failure()
        .stdout(predicate::str::contains(
            "BAD 2024-02-01_00-00-00-000000: not copied",
        ))
        .stdout(predicate::str::contains("3 copied"));
    assert!(!file_of(other.path(), "2024-02-01_00-00-00-000000").exists());
}

#[test]
fn import_py_brings_the_python_originals_history_along() {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../snapshot-codec/tests/data/py-snapshot/manager-dir");
    let store = tempfile::tempdir().expect("tempdir");
    let dir = samples.to_str().expect("utf-8");
    cli()
        .args(["import-py", dir, &url(store.path()), "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "3 would be imported, 0 skipped (not py-snapshot files), 0 failed (dry run: nothing written)",
        ));
    assert_eq!(std::fs::read_dir(store.path()).expect("dir").count(), 0);
    cli()
        .args([
            "import-py",
            dir,
            &url(store.path()),
            "--utc-offset",
            "+01:00",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "imported        2026-11-26_01-19-26-039303 -> 2026-11-26_00-19-26-039303",
        ))
        .stdout(predicate::str::contains(
            "3 imported, 0 skipped (not py-snapshot files), 0 failed",
        ));
    cli()
        .args(["verify", &url(store.path())])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 snapshots checked, 0 bad"));
    cli()
        .args([
            "import-py",
            dir,
            &url(store.path()),
            "--utc-offset",
            "2 hours",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("invalid UTC offset"));
    // Files that are not the original's are reported as skipped; the import succeeds.
    let mixed = tempfile::tempdir().expect("tempdir");
    std::fs::write(mixed.path().join("README.txt"), b"hello").expect("write");
    std::fs::write(mixed.path().join(".DS_Store"), b"\0\0\0\x01Bud1").expect("write");
    let real = std::fs::read_dir(&samples)
        .expect("samples")
        .next()
        .expect("one")
        .expect("entry");
    std::fs::copy(real.path(), mixed.path().join(real.file_name())).expect("copy");
    let target = tempfile::tempdir().expect("tempdir");
    cli()
        .args(["import-py", &url(mixed.path()), &url(target.path())])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "skipped         README.txt: not named like a py-snapshot file",
        ))
        .stdout(predicate::str::contains("1 imported, 2 skipped"));
    // A file named like the original's that cannot be read still fails the run.
    std::fs::write(mixed.path().join("2024-01-01_00-00-00-000000"), b"\x05junk").expect("write");
    cli()
        .args(["import-py", &url(mixed.path()), &url(target.path())])
        .assert()
        .failure()
        .stdout(predicate::str::contains(
            "FAILED          2024-01-01_00-00-00-000000",
        ));
}

#[test]
fn doctor_finds_the_0_1_layout_and_migrates_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    three(dir.path());
    // Move the three into the 0.1 layout: directly in the directory.
    for key in [T1, T2, T3] {
        std::fs::rename(file_of(dir.path(), key), dir.path().join(key)).expect("rename");
    }
    let store = url(dir.path());
    cli()
        .args(["doctor", &store])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 snapshots in the 0.1 layout"));
    cli()
        .args(["doctor", &store, "--migrate"])
        .assert()
        .success()
        .stdout(predicate::str::contains("moved 3 snapshots"));
    for key in [T1, T2, T3] {
        assert!(file_of(dir.path(), key).is_file(), "{key} not moved");
        assert!(!dir.path().join(key).exists(), "{key} left behind");
    }
    cli()
        .args(["doctor", &store])
        .assert()
        .success()
        .stdout(predicate::str::contains("0.1 layout").not());
    cli()
        .args(["verify", &store])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 snapshots checked, 0 bad"));
}

/// Every kind of store `--help` offers works with the commands (s3:// against a real
/// server in `cli_s3`); nothing is offered that every command refuses.
#[test]
fn every_store_kind_the_help_offers_works() {
    let help = cli()
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let help = String::from_utf8(help).expect("utf-8");
    let line = help
        .lines()
        .find(|l| l.starts_with("STORE is "))
        .expect("the help says what a STORE is");
    let offered: Vec<&str> = line
        .trim_start_matches("STORE is ")
        .trim_end_matches('.')
        .split(", ")
        .flat_map(|part| part.split(" or "))
        .collect();
    assert_eq!(
        offered,
        ["a directory path", "file://PATH", "s3://BUCKET/PREFIX"],
        "{line}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("state.json");
    std::fs::write(&json, r#"{"ok": true}"#).expect("write");
    let as_path = dir.path().join("by-path");
    let as_url = format!("file://{}", dir.path().join("by-url").display());
    for store in [url(&as_path), as_url] {
        cli()
            .args(["put", &store, json.to_str().expect("utf-8")])
            .assert()
            .success();
        cli()
            .args(["show", &store, "--latest"])
            .assert()
            .success()
            .stdout(predicate::str::contains("\"ok\": true"));
    }
}
