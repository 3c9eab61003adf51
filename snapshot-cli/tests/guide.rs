//! The guide's shell blocks (`docs/cli.md`, `docs/migrating.md`, `docs/inspecting.md`),
//! run as written, and the outputs `docs/inspecting.md` shows, compared: each
//! block is one bash session (`set -e`: every command must succeed) with the `snapshot`
//! binary of this build on `PATH`, in a directory holding what the blocks name
//! (`./checkpoints` with four snapshots of January 2024, `config.json`, `state.json`, a
//! py-snapshot directory, a directory in the 0.1 layout), against a SeaweedFS server on
//! 127.0.0.1 started here (the test fails if it cannot start).
//!
//! Two rewrites, both shown in the failure output: `cargo install` lines are left out
//! (the binary under test is this build's), and `s3://BUCKET/PREFIX` becomes
//! `s3://snapshots/guide-PID/BUCKET/PREFIX` (the test server has one bucket).

use std::path::{Path, PathBuf};
use std::process::Command;

use snapshot_state::{DumpOptions, value};
use snapshot_testkit::s3 as support;

const CHECKPOINTS: [&str; 4] = [
    "2024-01-14_08-00-00-000000",
    "2024-01-15_09-00-00-000000",
    "2024-01-15_10-30-00-000000",
    "2024-01-16_10-00-00-000000",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shell blocks of a guide page, each as a list of lines.
fn sh_blocks(page: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(repo().join(page)).expect("read the guide page");
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in text.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.push(current.take().expect("open block")),
            (Some(lines), l) => lines.push(l.to_owned()),
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "{page}: a shell block is not closed");
    blocks
}

/// The session a block becomes (see the module docs for the two rewrites).
fn session(block: &[String], s3_root: &str) -> String {
    let mut script = String::from("set -euxo pipefail\n");
    for line in block {
        if line.trim_start().starts_with("cargo ") {
            continue;
        }
        script.push_str(&line.replace("s3://", &format!("s3://{s3_root}/")));
        script.push('\n');
    }
    script
}

fn seed(dir: &Path, times: &[&str]) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let manager = snapshot_state::open_or_create(dir.to_str().expect("utf-8")).expect("open");
        for (step, at) in times.iter().enumerate() {
            let state = value!({"pipeline": "etl", "batch": (step as i64)});
            manager
                .dump_with(&state, &DumpOptions::new().at(*at).expect("time"))
                .await
                .expect("dump");
        }
    });
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

/// What the blocks name, in `work`.
fn prepare(work: &Path) {
    seed(&work.join("checkpoints"), &CHECKPOINTS);
    seed(&work.join("config-backups"), &[CHECKPOINTS[1]]);
    // A directory in the 0.1 layout: snapshot files directly in it.
    let old = work.join("old-checkpoints");
    seed(&old, &CHECKPOINTS[..2]);
    for key in &CHECKPOINTS[..2] {
        std::fs::rename(old.join(&key[..10]).join(key), old.join(key)).expect("flatten");
    }
    copy_dir(
        &repo().join("snapshot-codec/tests/data/py-snapshot/manager-dir"),
        &work.join("old-snapshots"),
    );
    std::fs::write(
        work.join("config.json"),
        r#"{"retries": 3, "hosts": ["a", "b"]}"#,
    )
    .expect("write");
    std::fs::write(
        work.join("state.json"),
        r#"{"pipeline": "etl", "batch": 41, "done": [1, 2, 3]}"#,
    )
    .expect("write");
}

fn run(page: &str, work: &Path, weed: &support::Weed, s3_root: &str) -> usize {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_snapshot"));
    let path = format!(
        "{}:{}",
        bin.parent().expect("bin dir").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let blocks = sh_blocks(page);
    for block in &blocks {
        let script = session(block, s3_root);
        let out = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(work)
            .env("PATH", &path)
            .env("AWS_ENDPOINT", weed.endpoint())
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", support::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", support::SECRET_KEY)
            .env("SNAPSHOT_CACHE_DIR", work.join(".cache"))
            .env_remove("SNAPSHOT_KEY")
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "{page}: the block failed ({}).\nscript:\n{script}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    blocks.len()
}

/// The outputs a page shows (`text` blocks starting with `$ snapshot ... ./checkpoints`)
/// are what the command prints here, byte for byte; returns how many were checked.
fn outputs_match(page: &str, work: &Path) -> usize {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_snapshot"));
    let text = std::fs::read_to_string(repo().join(page)).expect("read the guide page");
    let mut checked = 0;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim_end() != "```text" {
            continue;
        }
        let block: Vec<&str> = lines
            .by_ref()
            .take_while(|l| l.trim_end() != "```")
            .collect();
        let Some(command) = block.first().and_then(|l| l.strip_prefix("$ snapshot ")) else {
            continue;
        };
        if !command.contains("./checkpoints") || command.starts_with("ui ") {
            continue;
        }
        let out = Command::new(&bin)
            .args(command.split_whitespace())
            .current_dir(work)
            .env("SNAPSHOT_CACHE_DIR", work.join(".cache"))
            .output()
            .expect("snapshot runs");
        let expected: String = block[1..].iter().map(|l| format!("{l}\n")).collect();
        let got = String::from_utf8_lossy(&out.stdout);
        // SNAPSHOT_GUIDE_BLESS=1 writes what was printed into the page (then review the diff).
        if std::env::var_os("SNAPSHOT_GUIDE_BLESS").is_some() && out.status.success() {
            let page_text = std::fs::read_to_string(repo().join(page)).expect("read");
            let old = format!("$ snapshot {command}\n{expected}");
            let new = format!("$ snapshot {command}\n{got}");
            std::fs::write(repo().join(page), page_text.replacen(&old, &new, 1)).expect("bless");
            checked += 1;
            continue;
        }
        assert!(
            out.status.success() && got == expected,
            "{page}: `snapshot {command}` printed\n{got}\nbut the page shows\n{expected}"
        );
        checked += 1;
    }
    checked
}

fn main() {
    let weed = support::Weed::start();
    let s3_root = format!("{}/guide-{}", support::BUCKET, std::process::id());
    let work = tempfile::tempdir().expect("tempdir");
    let work = work.path();
    prepare(work);

    assert_eq!(run("docs/cli.md", work, &weed, &s3_root), 1);
    // What the session left behind is what its comments say.
    let raw = std::fs::read(work.join("one.snap")).expect("one.snap");
    assert!(!raw.is_empty(), "show --raw wrote nothing");
    let previous: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.join("previous.json")).expect("previous.json"))
            .expect("get -o wrote JSON");
    assert_eq!(previous["batch"], 0, "{previous}");
    for key in ["backups.key", "new.key"] {
        assert!(work.join(key).is_file(), "keygen did not write {key}");
    }
    for key in &CHECKPOINTS[..2] {
        assert!(
            work.join("old-checkpoints")
                .join(&key[..10])
                .join(key)
                .is_file(),
            "doctor --migrate did not move {key}"
        );
    }
    let imported: usize = std::fs::read_dir(work.join("snapshots"))
        .expect("import-py wrote ./snapshots")
        .map(|day| {
            std::fs::read_dir(day.expect("day").path())
                .expect("day dir")
                .count()
        })
        .sum();
    assert_eq!(imported, 3, "import-py brings the three py-snapshot files");

    assert_eq!(run("docs/migrating.md", work, &weed, &s3_root), 1);
    assert_eq!(run("docs/inspecting.md", work, &weed, &s3_root), 1);
    let shown = outputs_match("docs/inspecting.md", work);
    assert!(
        shown >= 4,
        "only {shown} outputs of docs/inspecting.md were checked"
    );
    println!(
        "guide shell blocks: docs/cli.md, docs/migrating.md and docs/inspecting.md ran; {shown} outputs match"
    );
}
