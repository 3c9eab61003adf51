//! Looking inside a disk store with the `snapshot` binary: stats, diff, summaries,
//! inspect by key.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use snapshot_state::{DumpOptions, Value, value};

fn cli() -> Command {
    Command::cargo_bin("snapshot").expect("binary")
}

fn url(dir: &Path) -> String {
    dir.to_str().expect("utf-8 path").to_owned()
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.assert().success().get_output().stdout.clone();
    String::from_utf8(out).expect("utf-8")
}

/// Three checkpoints of a small pipeline, on two days, with steps and a label.
fn pipeline(dir: &Path) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let manager = snapshot_state::open_or_create(&url(dir)).expect("open");
        let states: [(&str, u64, Value); 3] = [
            (
                "2024-01-15_09-00-00-000000",
                1,
                value!({"step": 1, "weights": [0.5, 0.25], "users": {"u1": {"age": 30}}}),
            ),
            (
                "2024-01-15_10-00-00-000000",
                2,
                value!({"step": 2, "weights": [0.5, 0.75], "users": {"u1": {"age": 30}, "u2": {"age": 41}}}),
            ),
            (
                "2024-01-16_10-00-00-000000",
                3,
                value!({"step": 3, "weights": [0.5, 0.75], "users": {"u2": {"age": 42}}, "done": true}),
            ),
        ];
        for (at, step, state) in &states {
            let options = DumpOptions::new()
                .at(*at)
                .expect("a time")
                .step(*step)
                .label("run", "a");
            manager.dump_with(state, &options).await.expect("dump");
        }
    });
}

#[test]
fn stats_counts_sizes_days_and_compression() {
    let dir = tempfile::tempdir().expect("tempdir");
    pipeline(dir.path());
    let text = stdout(cli().args(["stats", &url(dir.path())]));
    assert!(text.contains("snapshots      3"), "{text}");
    assert!(
        text.contains("oldest         2024-01-15_09-00-00-000000"),
        "{text}"
    );
    assert!(text.contains("2024-01-15           2"), "{text}");
    assert!(text.contains("2024-01-16           1"), "{text}");
    assert!(
        text.contains("the newest snapshot; --deep reads all"),
        "{text}"
    );

    let json: serde_json::Value = serde_json::from_str(&stdout(cli().args([
        "stats",
        &url(dir.path()),
        "--json",
        "--deep",
        "--label",
        "run=a",
    ])))
    .expect("json");
    assert_eq!(json["count"], 3);
    assert_eq!(json["steps"]["min"], 1);
    assert_eq!(json["steps"]["max"], 3);
    assert_eq!(json["compression"]["snapshots_read"], 3);
    // The sizes add up to what is on disk.
    let on_disk: u64 = walk(dir.path());
    assert_eq!(json["total_bytes"], on_disk);
    assert_eq!(json["days"].as_array().map(Vec::len), Some(2));

    // No match: zero, not an error.
    let text = stdout(cli().args(["stats", &url(dir.path()), "--label", "run=b"]));
    assert!(text.starts_with("snapshots      0"), "{text}");
}

fn walk(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .map(|p| match p.is_dir() {
            true => walk(&p),
            false => std::fs::metadata(&p).expect("meta").len(),
        })
        .sum()
}

#[test]
fn diff_shows_paths_added_removed_and_changed() {
    let dir = tempfile::tempdir().expect("tempdir");
    pipeline(dir.path());
    let store = url(dir.path());
    // The latest against the one before it.
    let text = stdout(cli().args(["diff", &store]));
    assert_eq!(
        text,
        "--- 2024-01-15_10-00-00-000000\n+++ 2024-01-16_10-00-00-000000\n\
         ~ /step: 2 -> 3\n- /users/u1: map of 1\n~ /users/u2/age: 41 -> 42\n+ /done: true\n\
         1 added, 1 removed, 2 changed, 2 unchanged\n"
    );
    // Two keys, as JSON.
    let json: serde_json::Value = serde_json::from_str(&stdout(cli().args([
        "diff",
        &store,
        "2024-01-15_09-00-00-000000",
        "2024-01-15_10-00-00-000000",
        "--json",
    ])))
    .expect("json");
    let changes = json["changes"].as_array().expect("changes");
    let ops: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| (c["op"].as_str().unwrap(), c["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        ops,
        [
            ("change", "/step"),
            ("change", "/weights/1"),
            ("add", "/users/u2")
        ]
    );
    assert_eq!(changes[1]["old"]["value"], 0.25);
    assert_eq!(changes[1]["new"]["value"], 0.75);
    // --before, and a limit.
    let text = stdout(cli().args([
        "diff",
        &store,
        "--before",
        "2024-01-15T09:30:00Z",
        "--limit",
        "1",
    ]));
    assert!(
        text.starts_with("--- 2024-01-15_09-00-00-000000\n+++ 2024-01-16_10-00-00-000000\n"),
        "{text}"
    );
    assert!(text.contains("more (--limit 0 shows all)"), "{text}");
    // Errors: a key that is not there, a store of one snapshot.
    cli()
        .args(["diff", &store, "2024-01-01_00-00-00-000000"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("not found"));
    let one = tempfile::tempdir().expect("tempdir");
    cli()
        .args(["put", &url(one.path()), "-"])
        .write_stdin("{}")
        .assert()
        .success();
    cli()
        .args(["diff", &url(one.path())])
        .assert()
        .failure()
        .stderr(predicate::str::contains("nothing to compare"));
}

#[test]
fn summary_shows_structure_not_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    pipeline(dir.path());
    let text = stdout(cli().args(["show", &url(dir.path()), "--summary"]));
    assert!(
        text.starts_with("snapshot 2024-01-16_10-00-00-000000: "),
        "{text}"
    );
    assert!(text.contains("\n$: map, 4 entries, "), "{text}");
    assert!(text.contains("\n  done: bool, 1 B\n"), "{text}");
    assert!(text.contains("\n    u2: map, 1 entry, "), "{text}");
    let shallow = stdout(cli().args(["show", &url(dir.path()), "--summary", "--depth", "1"]));
    assert!(
        shallow.contains("users: map, 1 entry, 10 B (deeper paths not listed)"),
        "{shallow}"
    );
    assert!(!shallow.contains("u2"), "{shallow}");
    cli()
        .args(["show", &url(dir.path()), "--summary", "--raw"])
        .assert()
        .failure();
}

#[test]
fn inspect_reads_a_stored_snapshot_or_only_its_header() {
    let dir = tempfile::tempdir().expect("tempdir");
    pipeline(dir.path());
    let store = url(dir.path());
    let text = stdout(cli().args(["inspect", &store, "2024-01-15_10-00-00-000000"]));
    assert!(text.contains("checksum         ok"), "{text}");
    assert!(text.contains("step             2"), "{text}");
    let text = stdout(cli().args(["inspect", &store, "2024-01-15T10:00:00Z", "--header"]));
    assert!(text.contains("header           "), "{text}");
    assert!(text.contains("label            run=a"), "{text}");
    assert!(!text.contains("checksum"), "{text}");
    cli()
        .args(["inspect", &store, "2024-01-15_11-00-00-000000", "--header"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("not found"));
}

/// GET `path` from the server at `addr` (HTTP/1.1, one request): status line and body.
fn http_get(addr: &str, path: &str) -> (String, serde_json::Value) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response.split("\r\n\r\n").nth(1).expect("a body");
    (status, serde_json::from_str(body).expect("JSON"))
}

/// `snapshot ui ARGS`, its address, and the process (killed when the test ends).
struct Ui(std::process::Child, String);

impl Ui {
    fn start(args: &[&str]) -> Ui {
        use std::io::BufRead;
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("snapshot"))
            .arg("ui")
            .args(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("snapshot ui starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("its address");
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http://"))
            .map(|w| w.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Ui(child, addr)
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_web_page_reads_encrypted_stores_with_their_key_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("k.key");
    let key = key.to_str().expect("utf-8");
    let store = url(&dir.path().join("store"));
    cli()
        .args(["keygen", "--id", "ui", "-o", key])
        .assert()
        .success();
    let put = stdout(
        cli()
            .args(["put", &store, "-", "--key-file", key, "--label", "run=x"])
            .write_stdin(r#"{"secret": "s3cret", "step": 4}"#),
    );
    let snapshot = put.trim();

    let with_key = Ui::start(&[&store, "--key-file", key]);
    let (status, listed) = http_get(&with_key.1, "/api/snapshots");
    assert!(status.contains("200"), "{status}");
    assert_eq!(listed["snapshots"][0]["labels"]["run"], "x", "{listed}");
    let (status, tree) = http_get(&with_key.1, &format!("/api/tree?key={snapshot}"));
    assert!(status.contains("200"), "{status} {tree}");
    assert_eq!(tree["children"][0]["preview"], "\"s3cret\"", "{tree}");

    // Without the key: listed (sealed), never opened; the error names the key.
    let without = Ui::start(&[&store]);
    let (_, listed) = http_get(&without.1, "/api/snapshots");
    assert_eq!(listed["snapshots"][0]["sealed"], true, "{listed}");
    let (status, answer) = http_get(&without.1, &format!("/api/tree?key={snapshot}"));
    assert!(!status.contains("200"), "{status}");
    assert!(
        answer["error"].as_str().unwrap_or_default().contains("ui"),
        "{answer}"
    );
    // A key that is not there, and a path that is not there.
    let (status, _) = http_get(&with_key.1, "/api/tree?key=2020-01-01_00-00-00-000000");
    assert!(status.contains("404"), "{status}");
    let (status, _) = http_get(&with_key.1, &format!("/api/tree?key={snapshot}&path=/nope"));
    assert!(status.contains("404"), "{status}");
}
