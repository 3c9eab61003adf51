//! The command never creates what it only reads, never loses what it writes, and never
//! changes a value on the way in.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use snapshot_state::value;

fn cli() -> Command {
    Command::cargo_bin("snapshot").expect("binary")
}

fn text(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn seed(dir: &Path) {
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async {
            let manager = snapshot_state::open_or_create(text(dir)).expect("open");
            for (at, step) in [
                ("2024-01-15_09-00-00-000000", 1),
                ("2024-01-15_10-00-00-000000", 2),
                ("2024-01-16_10-00-00-000000", 3),
            ] {
                manager
                    .dump_with(
                        &value!({"step": step}),
                        &snapshot_state::DumpOptions::new()
                            .at(at)
                            .expect("a valid time"),
                    )
                    .await
                    .expect("dump");
            }
        });
}

#[test]
fn commands_that_only_read_never_create_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("chekpoints");
    let m = text(&missing);
    let good = dir.path().join("good");
    seed(&good);
    for args in [
        vec!["list", m],
        vec!["list", m, "--json"],
        vec!["show", m, "--latest"],
        vec!["verify", m],
        vec!["get", m, "2024-01-15_09-00-00-000000"],
        vec!["copy", m, text(&good)],
        vec!["prune", m, "--keep-last", "1", "--dry-run"],
        vec!["prune", m, "--keep-last", "1", "--yes"],
    ] {
        let assert = cli().args(&args).assert().failure();
        let err = String::from_utf8(assert.get_output().stderr.clone()).expect("utf-8");
        assert!(
            err.contains("no snapshot store at") && err.contains("chekpoints"),
            "{args:?}: {err}"
        );
        assert!(!missing.exists(), "{args:?} created the directory");
    }
    // A dry-run import into a missing store writes nothing, not even the directory.
    let samples = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../snapshot-codec/tests/data/py-snapshot/manager-dir");
    cli()
        .args(["import-py", text(&samples), m, "--dry-run"])
        .assert()
        .failure();
    assert!(!missing.exists());
    // Writers create it: put, the destination of copy, import-py.
    cli().args(["copy", text(&good), m]).assert().success();
    assert!(missing.is_dir());
    cli()
        .args(["verify", m])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 snapshots checked, 0 bad"));
}

#[test]
fn memory_stores_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("doc.json");
    std::fs::write(&input, b"{\"a\": 1}").expect("write");
    for args in [
        vec!["put", "memory:", text(&input)],
        vec!["list", "memory:"],
        vec!["verify", "memory:"],
        vec!["copy", text(dir.path()), "memory:"],
    ] {
        cli()
            .args(&args)
            .assert()
            .failure()
            .stdout("")
            .stderr(predicate::str::contains("lives only inside one process"));
    }
}

#[test]
fn every_time_argument_takes_the_same_forms() {
    let dir = tempfile::tempdir().expect("tempdir");
    seed(dir.path());
    let d = text(dir.path());
    for at in [
        "2024-01-15_10-00-00-000000",
        "2024-01-15T10:00:00Z",
        "2024-01-15T12:00:00+02:00",
    ] {
        cli()
            .args(["show", d, at])
            .assert()
            .success()
            .stdout(predicate::str::contains("\"step\": 2"));
        cli()
            .args(["get", d, at])
            .assert()
            .success()
            .stdout(predicate::str::contains("\"step\": 2"));
        cli()
            .args(["show", d, "--before", at])
            .assert()
            .success()
            .stdout(predicate::str::contains("\"step\": 2"));
    }
    // A date alone is that day's midnight UTC: the last one before the 16th is step 2.
    cli()
        .args(["show", d, "--before", "2024-01-16"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"step\": 2"));
    // A time without an offset could be any zone's: refused, with the accepted forms.
    for bad in ["yesterday", "2024-01-15 10:00:00", "2024-01-15T10:00:00"] {
        cli()
            .args(["get", d, bad])
            .assert()
            .failure()
            .stderr(predicate::str::contains("RFC 3339"))
            .stderr(predicate::str::contains("2024-01-15, midnight UTC"));
    }
    // Finer than a microsecond: refused, never truncated across a snapshot (500 ns past
    // the 10:00 snapshot, --after must not select it).
    cli()
        .args(["show", d, "--after", "2024-01-15T10:00:00.0000005Z"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("microsecond"));
}

/// `put` refuses a label given twice (one value would be dropped) and stores at `--at`.
#[test]
fn put_refuses_repeated_labels_and_takes_a_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let json = dir.path().join("s.json");
    std::fs::write(&json, r#"{"a": 1}"#).expect("write");
    cli()
        .args([
            "put",
            text(&store),
            text(&json),
            "--label",
            "run=a",
            "--label",
            "run=b",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("given twice"));
    cli()
        .args([
            "put",
            text(&store),
            text(&json),
            "--at",
            "2024-01-15T10:30:00Z",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("2024-01-15_10-30-00-000000"));
    cli()
        .args(["list", text(&store), "--label", "run=a", "--label", "run=b"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("given twice"));
}

#[test]
fn put_never_changes_a_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    cli()
        .args(["put", text(&store), "-"])
        .write_stdin(r#"{"ids": [1, {"big": 123456789012345678901234567890}]}"#)
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "integer 123456789012345678901234567890 at .ids[1].big",
        ));
    cli()
        .args(["put", text(&store), "-"])
        .write_stdin(r#"{"a": 1, "a": 2}"#)
        .assert()
        .failure()
        .stderr(predicate::str::contains(r#"key "a" appears twice"#));
    assert!(!store.exists(), "nothing was written");
    // The extremes that fit are kept exactly.
    let doc = r#"{"max":18446744073709551615,"min":-9223372036854775808,"f":0.1}"#;
    let key = cli()
        .args(["put", text(&store), "-"])
        .write_stdin(doc)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let key = String::from_utf8(key).expect("utf-8");
    let out = cli()
        .args(["get", text(&store), key.trim()])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let back: serde_json::Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(
        back,
        serde_json::from_str::<serde_json::Value>(doc).expect("json")
    );
}

#[test]
fn a_damaged_newest_snapshot_has_a_way_around_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    seed(dir.path());
    std::fs::write(dir.path().join("2024-01-17_00-00-00-000000"), b"torn write").expect("write");
    let d = text(dir.path());
    cli()
        .args(["show", d, "--latest"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--latest-valid"));
    for cmd in ["show", "get"] {
        cli()
            .args([cmd, d, "--latest-valid"])
            .assert()
            .success()
            .stdout(predicate::str::contains("\"step\": 3"))
            .stderr(predicate::str::contains(
                "warning: passed over damaged snapshot 2024-01-17_00-00-00-000000",
            ));
    }
    cli()
        .args(["verify", d])
        .assert()
        .failure()
        .stdout(predicate::str::contains("BAD 2024-01-17_00-00-00-000000"));
}

#[test]
fn retention_flags_speak_restic() {
    let dir = tempfile::tempdir().expect("tempdir");
    seed(dir.path());
    let d = text(dir.path());
    // 6m is six months: all three snapshots are within it.
    cli()
        .args(["prune", d, "--keep-within", "6m", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 to keep, 0 to remove"));
    // 24h from the newest (16th 10:00) is strictly after the 15th 10:00.
    cli()
        .args(["prune", d, "--keep-within", "24h", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 to keep, 2 to remove"));
    for bad in ["6min", "90s", "2w", "1.5d", "48"] {
        cli()
            .args(["prune", d, "--keep-within", bad, "--dry-run"])
            .assert()
            .failure()
            .stderr(predicate::str::contains("1y5m7d2h"));
    }
    // 0 means "not set": alone it is no rule at all, and nothing is deleted.
    cli()
        .args(["prune", d, "--keep-last", "0", "--yes"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("no retention rule given"));
    cli()
        .args(["prune", d, "--keep-within-daily", "2d", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("daily 2024-01-15 within 2d"));
    // As restic: the oldest snapshot inside a keep-within-period window is kept too.
    cli()
        .args(["prune", d, "--keep-within-daily", "7d", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 to keep, 0 to remove"));
    // restic's `unlimited` count.
    cli()
        .args(["prune", d, "--keep-daily", "unlimited", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 to keep, 0 to remove"));
    cli()
        .args(["prune", d, "--keep-last", "many", "--dry-run"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("unlimited"));
    // Nothing was deleted: three snapshot files, in their day directories.
    let files: usize = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|day| {
            std::fs::read_dir(day.expect("entry").path())
                .expect("day")
                .count()
        })
        .sum();
    assert_eq!(files, 3);
}

#[cfg(unix)]
#[test]
fn files_written_by_get_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    seed(dir.path());
    let out = dir.path().join("out.json");
    cli()
        .args(["get", text(dir.path()), "--latest", "-o", text(&out)])
        .assert()
        .success();
    let mode = std::fs::metadata(&out).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // A file already there, readable by all, ends up private too.
    let shared = dir.path().join("shared.json");
    std::fs::write(&shared, "old").expect("write");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    cli()
        .args(["get", text(dir.path()), "--latest", "-o", text(&shared)])
        .assert()
        .success();
    let mode = std::fs::metadata(&shared)
        .expect("meta")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        std::fs::read_to_string(&shared)
            .expect("read")
            .contains("step")
    );
}

/// `keygen -o` never replaces a key file (every snapshot under the old key would become
/// unreadable) unless told to, and what it writes is private whatever was there.
#[cfg(unix)]
#[test]
fn keygen_never_replaces_a_key_and_key_text_is_never_echoed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("prod.key");
    cli()
        .args(["keygen", "--id", "prod", "-o", text(&file)])
        .assert()
        .success();
    let first = std::fs::read_to_string(&file).expect("key");
    cli()
        .args(["keygen", "--id", "prod", "-o", text(&file)])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--force"));
    assert_eq!(std::fs::read_to_string(&file).expect("key"), first);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    cli()
        .args(["keygen", "--id", "prod", "-o", text(&file), "--force"])
        .assert()
        .success();
    assert_ne!(std::fs::read_to_string(&file).expect("key"), first);
    let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Key text given as a file name: refused without printing it.
    let secret = first.trim();
    seed(dir.path());
    cli()
        .args(["list", text(dir.path()), "--key-file", secret])
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("key text").and(predicate::str::contains(&secret[20..]).not()),
        );
}

#[test]
fn hostile_snapshots_are_bad_not_fatal() {
    use snapshot_testkit::bombs;
    let dir = tempfile::tempdir().expect("tempdir");
    seed(dir.path());
    // 10^8 nulls in 3 KB: 3.2 GB as values, past the 2 GiB decoding budget.
    let bomb = dir.path().join("2024-01-17_00-00-00-000000");
    std::fs::write(&bomb, bombs::null_list_bomb(100_000_000, false)).expect("write");
    let d = text(dir.path());
    cli()
        .args(["verify", d])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "BAD 2024-01-17_00-00-00-000000: snapshot 2024-01-17_00-00-00-000000 does not load: decoding needs more than the memory budget",
        ))
        .stdout(predicate::str::contains("4 snapshots checked, 1 bad"));
    cli()
        .args(["inspect", text(&bomb)])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("memory budget"));
    cli()
        .args(["show", d, "--latest-valid"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"step\": 3"));
}

/// A malformed proxy URL is named without its password, whatever is wrong with it.
#[test]
fn a_malformed_proxy_url_never_shows_its_password() {
    for proxy in [
        "http://user:PASSWORD@[bad",
        "http://user:PASSWORD@proxy:notaport",
        "http://user:PASSWORD@proxy:99999",
        "ftp://user:PASSWORD@proxy:21",
        "user:PASSWORD@proxy host:80",
    ] {
        let out = cli()
            .args(["list", "s3://bucket/x"])
            .env("AWS_PROXY_URL", proxy)
            .env("AWS_ENDPOINT", "http://127.0.0.1:1")
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "a")
            .env("AWS_SECRET_ACCESS_KEY", "b")
            .env("AWS_REGION", "us-east-1")
            .assert()
            .failure()
            .get_output()
            .stderr
            .clone();
        let text = String::from_utf8_lossy(&out);
        assert!(!text.contains("PASSWORD"), "{proxy}: {text}");
        assert!(text.contains("AWS_PROXY_URL"), "{proxy}: {text}");
    }
}

/// Checking a small hostile file streams with bounded memory: a 61 KB zstd bomb that
/// decompresses to 2 GB is refused by `inspect`, `verify` and `show` without taking
/// anything like that much memory (it took 1 GiB before they streamed their checks).
/// The bound asserted is the child's peak resident memory, a resource limit, not a time.
#[cfg(target_os = "linux")]
#[test]
fn checking_a_compression_bomb_takes_little_memory() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let day = dir.path().join("2024-01-17");
    std::fs::create_dir_all(&day).expect("mkdir");
    let file = day.join("2024-01-17_00-00-00-000000");
    std::fs::write(
        &file,
        snapshot_testkit::bombs::null_list_bomb(2_000_000_000, false),
    )
    .expect("write");
    let exe = assert_cmd::cargo::cargo_bin("snapshot");
    for args in [
        vec!["inspect", text(&file)],
        vec!["verify", text(dir.path())],
        vec!["show", text(dir.path()), "--latest"],
    ] {
        // Reaped by wait4 below, which also reports its peak memory.
        #[allow(clippy::zombie_processes)]
        let child = std::process::Command::new(&exe)
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        let mut status = 0;
        #[allow(unsafe_code)]
        // SAFETY: wait4 on our own child, with valid out-pointers.
        let usage = unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            let pid = libc::wait4(child.id() as i32, &mut status, 0, &mut usage);
            assert_eq!(pid, child.id() as i32, "wait4");
            usage
        };
        let status = std::process::ExitStatus::from_raw(status);
        assert!(!status.success(), "{args:?} accepted a bomb");
        let peak_mib = usage.ru_maxrss / 1024;
        println!("{args:?}: peak {peak_mib} MiB");
        assert!(peak_mib < 200, "{args:?} took {peak_mib} MiB");
    }
}
