//! The `snapshot` binary against a real S3 server (SeaweedFS on 127.0.0.1, started
//! here; the test fails if it cannot start): every command on an s3:// store, and copies
//! between disk and S3 both ways.

use snapshot_testkit::s3 as support;

use assert_cmd::Command;
use predicates::prelude::*;

fn main() {
    let weed = support::Weed::start();
    let cli = || {
        let mut cmd = Command::cargo_bin("snapshot").expect("binary");
        cmd.env("AWS_ENDPOINT", weed.endpoint())
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", support::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", support::SECRET_KEY);
        cmd
    };
    let s3 = format!("s3://{}/cli-{}", support::BUCKET, std::process::id());
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("state.json");
    std::fs::write(
        &json,
        r#"{"pipeline": "etl", "batch": 41, "done": [1, 2, 3]}"#,
    )
    .expect("write");
    let json = json.to_str().expect("utf-8");

    // put, list, show, get
    let mut keys = Vec::new();
    for _ in 0..3 {
        let out = cli()
            .args(["put", &s3, json])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        keys.push(String::from_utf8(out).expect("utf-8").trim().to_owned());
    }
    let listed = cli()
        .args(["list", &s3])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let listed = String::from_utf8(listed).expect("utf-8");
    assert_eq!(listed.lines().count(), 3, "{listed}");
    assert!(listed.starts_with(&keys[2]), "newest first: {listed}");
    cli()
        .args(["show", &s3, "--latest"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"batch\": 41"));
    let out = dir.path().join("got.json");
    cli()
        .args(["get", &s3, &keys[0], "-o", out.to_str().expect("utf-8")])
        .assert()
        .success();
    let got: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("read")).expect("json");
    assert_eq!(got["done"][2], 3);
    cli()
        .args(["verify", &s3])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 snapshots checked, 0 bad"));

    // Looking inside: stats, a summary streamed from S3, a diff, inspect by key (whole,
    // and the header alone).
    cli()
        .args(["stats", &s3])
        .assert()
        .success()
        .stdout(predicate::str::contains("snapshots      3"));
    cli()
        .args(["show", &s3, "--summary"])
        .assert()
        .success()
        .stdout(predicate::str::contains("batch: int, 1 B; 41"));
    cli()
        .args(["diff", &s3])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "0 added, 0 removed, 0 changed, 5 unchanged",
        ));
    cli()
        .args(["inspect", &s3, &keys[1]])
        .assert()
        .success()
        .stdout(predicate::str::contains("checksum         ok"));
    cli()
        .args(["inspect", &s3, &keys[1], "--header"])
        .assert()
        .success()
        .stdout(predicate::str::contains("the body was not read"));
    // The web page's server over S3: the list it shows, a tree, a diff.
    let mut ui = std::process::Command::new(assert_cmd::cargo::cargo_bin("snapshot"));
    ui.args(["ui", &s3])
        .env("AWS_ENDPOINT", weed.endpoint())
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", support::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", support::SECRET_KEY)
        .stdout(std::process::Stdio::piped());
    let mut server = ui.spawn().expect("snapshot ui starts");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("its address");
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .map(|w| w.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let listed = http_get(&addr, "/api/snapshots");
    assert_eq!(
        listed["snapshots"].as_array().map(Vec::len),
        Some(3),
        "{listed}"
    );
    let tree = http_get(&addr, &format!("/api/tree?key={}&path=/done", keys[0]));
    assert_eq!(tree["children"].as_array().map(Vec::len), Some(3), "{tree}");
    let d = http_get(&addr, &format!("/api/diff?old={}&new={}", keys[0], keys[2]));
    assert_eq!(d["unchanged"], 5, "{d}");
    let _ = server.kill();
    let _ = server.wait();

    // copy S3 -> disk -> another S3 prefix, verified on arrival
    let local = dir.path().join("local");
    let local = local.to_str().expect("utf-8");
    cli()
        .args(["copy", &s3, local])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 copied"));
    cli().args(["verify", local]).assert().success();
    let s3_copy = format!("{s3}-copy");
    cli()
        .args(["copy", local, &s3_copy])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 copied"));
    let copied = cli()
        .args(["list", &s3_copy, "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let copied: serde_json::Value = serde_json::from_slice(&copied).expect("json");
    assert_eq!(copied[0]["key"], keys[2].as_str());

    // prune on S3
    cli()
        .args(["prune", &s3, "--keep-last", "1", "--yes"])
        .assert()
        .success()
        .stdout(predicate::str::contains("deleted 2 snapshots"));
    cli()
        .args(["list", &s3])
        .assert()
        .success()
        .stdout(predicate::str::starts_with(keys[2].as_str()));

    // Labels on S3: the headers a label query reads are cached in a file between
    // runs; a snapshot put by another process since is found by the next query.
    let cache = dir.path().join("cache");
    let labelled = format!("{s3}-labels");
    let tagged = |tag: &str| {
        let out = cli()
            .env("SNAPSHOT_CACHE_DIR", &cache)
            .args(["put", &labelled, json, "--label", &format!("tag={tag}")])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).expect("utf-8").trim().to_owned()
    };
    let first = tagged("nightly");
    tagged("hourly");
    let query = || {
        let out = cli()
            .env("SNAPSHOT_CACHE_DIR", &cache)
            .args(["list", &labelled, "--label", "tag=nightly"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).expect("utf-8")
    };
    let cold = query();
    assert_eq!(cold.lines().count(), 1, "{cold}");
    assert!(cold.starts_with(&first), "{cold}");
    let cached: Vec<_> = std::fs::read_dir(&cache).expect("cache dir").collect();
    assert_eq!(cached.len(), 1, "one cache file per store");
    let second = tagged("nightly");
    let warm = query();
    assert_eq!(warm.lines().count(), 2, "{warm}");
    assert!(warm.starts_with(&second), "{warm}");
    cli()
        .env("SNAPSHOT_CACHE_DIR", &cache)
        .args([
            "prune",
            &labelled,
            "--keep-last",
            "1",
            "--label",
            "tag=nightly",
            "--yes",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("deleted 1 snapshots"));
    let after = query();
    assert_eq!(after.lines().count(), 1, "{after}");
    cli()
        .args(["list", &labelled])
        .assert()
        .success()
        .stdout(predicate::function(|out: &str| out.lines().count() == 2));

    // wrong credentials: one clear line, non-zero
    let assert = cli()
        .env("AWS_SECRET_ACCESS_KEY", "wrong")
        .args(["list", &s3])
        .assert()
        .failure();
    let err = String::from_utf8(assert.get_output().stderr.clone()).expect("utf-8");
    assert!(
        err.starts_with("error: ") && err.contains("credentials"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("wrong"), "the secret leaked: {err}");
    // import-py straight into S3
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../snapshot-codec/tests/data/py-snapshot/manager-dir");
    let s3_import = format!("{s3}-import");
    cli()
        .args(["import-py", samples.to_str().expect("utf-8"), &s3_import])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "3 imported, 0 skipped (not py-snapshot files), 0 failed",
        ));
    cli()
        .args(["show", &s3_import, "2026-11-26_01-19-26-060228"])
        .assert()
        .success();
    cli()
        .args(["verify", &s3_import])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 snapshots checked, 0 bad"));
    // A second import of the same files finds them present and identical.
    cli()
        .args(["import-py", samples.to_str().expect("utf-8"), &s3_import])
        .assert()
        .success()
        .stdout(predicate::str::contains("0 imported"));
    // doctor: the probe's finding and the protocol in use.
    cli()
        .args(["doctor", &s3])
        .assert()
        .success()
        .stdout(predicate::str::contains("conditional create: honoured"))
        .stdout(predicate::str::contains("write protocol: conditional"))
        .stdout(predicate::str::contains(
            "leftovers older than 24h: 0 unfinished uploads",
        ));
    cli()
        .env("SNAPSHOT_S3_WRITES", "claims")
        .args(["doctor", &s3, "--older-than", "0h"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "write protocol: claims (set by writes= or SNAPSHOT_S3_WRITES",
        ));
    cli()
        .args(["doctor", &format!("{s3}?writes=claims")])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "write protocol: claims (set by writes=",
        ));
    cli()
        .env("SNAPSHOT_S3_WRITES", "sometimes")
        .args(["put", &s3, json])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "invalid write protocol \"sometimes\"",
        ));
    // Configuration mistakes are errors, never panics.
    for (endpoint, says) in [
        ("127.0.0.1:5055", "invalid S3 endpoint"),
        ("ftp://127.0.0.1:5055", "invalid S3 endpoint"),
    ] {
        cli()
            .env("AWS_ENDPOINT", endpoint)
            .args(["list", &s3])
            .assert()
            .code(1)
            .stderr(predicate::str::contains(says));
    }
    cli()
        .env("AWS_ALLOW_HTTP", "off")
        .args(["list", &s3])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("AWS_ALLOW_HTTP=true"));
    cli()
        .env("AWS_ALLOW_HTTP", "on")
        .args(["list", &s3])
        .assert()
        .success();
    cli()
        .args(["list", "s3://snapshot-no-such-bucket/x"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the bucket snapshot-no-such-bucket does not exist",
        ));
    println!("all CLI commands worked against {}", weed.endpoint());

    // A server that ignores If-None-Match: the CLI's writes still never overwrite.
    let s3rver = support::Process::s3rver();
    let t = &s3rver.target;
    let cli = || {
        let mut cmd = Command::cargo_bin("snapshot").expect("binary");
        cmd.env("AWS_ENDPOINT", &t.endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_REGION", &t.region)
            .env("AWS_ACCESS_KEY_ID", &t.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &t.secret_key);
        cmd
    };
    let s3 = format!("s3://{}/cli-{}", t.bucket, std::process::id());
    cli()
        .args(["doctor", &s3])
        .assert()
        .success()
        .stdout(predicate::str::contains("conditional create: IGNORED"))
        .stdout(predicate::str::contains("write protocol: claims"));
    for round in ["3 imported", "0 imported"] {
        cli()
            .args(["import-py", samples.to_str().expect("utf-8"), &s3])
            .assert()
            .success()
            .stdout(predicate::str::contains(round));
    }
    cli()
        .args(["verify", &s3])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 snapshots checked, 0 bad"));
    println!("and against s3rver at {}", t.endpoint);
}

/// GET `path` from the server at `addr` (HTTP/1.1, one request), its body as JSON.
fn http_get(addr: &str, path: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    assert!(response.starts_with("HTTP/1.1 200"), "{path}: {response}");
    let body = response.split("\r\n\r\n").nth(1).expect("a body");
    serde_json::from_str(body).expect("JSON")
}
