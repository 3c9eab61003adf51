//! `snapshot ui` in a real headless browser (Debian's chromium; `bash
//! scripts/install-chromium.sh` installs it, and the test fails without it): the page
//! loads, the timeline counts the store's snapshots, labels filter, a snapshot opens as
//! a tree, a diff shows a changed path.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use snapshot_state::{DumpOptions, value};

/// The browser: $SNAPSHOT_CHROMIUM, or chromium on the PATH.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("SNAPSHOT_CHROMIUM") {
        return PathBuf::from(path);
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!("no chromium found: run `bash scripts/install-chromium.sh` (or set SNAPSHOT_CHROMIUM)");
}

/// The page at `url` as the browser has it once its scripts have run.
fn dom(url: &str) -> String {
    let profile = tempfile::tempdir().expect("tempdir");
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", url])
        .stderr(Stdio::null())
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium failed on {url}");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// A running `snapshot ui`, stopped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(store: &Path) -> Server {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("snapshot"))
            .arg("ui")
            .arg(store)
            .stdout(Stdio::piped())
            .spawn()
            .expect("snapshot ui starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("its first line");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        Server { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_page_shows_the_store_filters_opens_and_diffs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let manager =
            snapshot_state::open_or_create(dir.path().to_str().expect("utf-8")).expect("open");
        for (i, run) in [(1u64, "a"), (2, "a"), (3, "b")] {
            let options = DumpOptions::new()
                .at(format!("2024-01-15_1{i}-00-00-000000").as_str())
                .expect("time")
                .step(i * 100)
                .label("run", run);
            let state =
                value!({"step": (i * 100), "loss": (1.0 / i as f64), "config": {"lr": 0.1}});
            manager.dump_with(&state, &options).await.expect("dump");
        }
    });
    let server = Server::start(dir.path());

    let page = dom(&server.url);
    assert!(page.contains("id=\"count\">3 snapshots<"), "{page}");
    // One dot per snapshot on the timeline, one row per snapshot in the list.
    assert_eq!(page.matches("class=\"size\"").count(), 3, "{page}");
    assert_eq!(page.matches("<tr data-key=").count(), 3, "{page}");
    assert!(
        page.contains("<option value=\"run=b\">run=b</option>"),
        "{page}"
    );

    let filtered = dom(&format!("{}#label=run=b", server.url));
    assert!(filtered.contains("id=\"count\">1 snapshot<"), "{filtered}");

    let opened = dom(&format!("{}#open=2024-01-15_12-00-00-000000", server.url));
    assert!(opened.contains("data-path=\"/config\""), "{opened}");
    assert!(opened.contains("data-path=\"/step\""), "{opened}");
    assert!(
        opened.contains(">200<"),
        "the step's value is shown: {opened}"
    );

    let diffed = dom(&format!(
        "{}#diff=2024-01-15_11-00-00-000000,2024-01-15_13-00-00-000000",
        server.url
    ));
    assert!(
        diffed.contains("data-path=\"/step\">~ /step: 100 → 300<"),
        "{diffed}"
    );
    assert!(diffed.contains("2 changed paths, 1 unchanged"), "{diffed}");
}
