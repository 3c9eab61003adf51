//! Labels, steps and encryption through the `snapshot` binary, against disk stores.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn cli() -> Command {
    let mut cmd = Command::cargo_bin("snapshot").expect("binary");
    cmd.env_remove("SNAPSHOT_KEY");
    cmd
}

fn text(out: &[u8]) -> String {
    String::from_utf8(out.to_vec()).expect("utf-8")
}

fn put(store: &str, json: &Path, extra: &[&str]) -> String {
    let out = cli()
        .args(["put", store, json.to_str().expect("utf-8")])
        .args(extra)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    text(&out).trim().to_owned()
}

#[test]
fn labels_and_steps_select_list_show_and_prune() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let store = store.to_str().expect("utf-8");
    let json = dir.path().join("state.json");
    let mut keys = Vec::new();
    for step in 1..=6u64 {
        std::fs::write(&json, format!(r#"{{"step": {step}}}"#)).expect("write");
        let tag = if step % 2 == 0 { "nightly" } else { "hourly" };
        let label = format!("tag={tag}");
        let step_text = (step * 100).to_string();
        keys.push(put(
            store,
            &json,
            &["--label", &label, "--label", "run=7", "--step", &step_text],
        ));
    }
    let listed = text(
        &cli()
            .args(["list", store, "--label", "tag=nightly"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert_eq!(listed.lines().count(), 3, "{listed}");
    assert!(listed.starts_with(&keys[5]), "{listed}");
    assert!(
        listed.contains("step      600") && listed.contains("run=7 tag=nightly"),
        "{listed}"
    );
    let json_list: serde_json::Value = serde_json::from_slice(
        &cli()
            .args(["list", store, "--long", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .expect("json");
    assert_eq!(json_list.as_array().map(Vec::len), Some(6));
    assert_eq!(json_list[0]["step"], 600);
    assert_eq!(json_list[0]["labels"]["tag"], "nightly");

    cli()
        .args(["show", store, "--latest", "--label", "tag=hourly"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"step\": 5"));
    cli()
        .args(["show", store, "--latest", "--max-step", "250"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"step\": 2"));
    cli()
        .args(["get", store, "--step", "300"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"step\": 3"));
    cli()
        .args(["show", store, "--latest", "--label", "tag=weekly"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("no snapshot matches"));
    cli()
        .args([
            "put",
            store,
            json.to_str().expect("utf-8"),
            "--label",
            "novalue",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("key=value"));

    // Retention scoped to a label: only nightly snapshots are considered.
    cli()
        .args([
            "prune",
            store,
            "--keep-last",
            "1",
            "--label",
            "tag=nightly",
            "--yes",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("deleted 2 snapshots"));
    let left = text(
        &cli()
            .args(["list", store])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert_eq!(left.lines().count(), 4, "{left}");
    for gone in [&keys[1], &keys[3]] {
        assert!(!left.contains(gone.as_str()), "{left}");
    }
}

#[test]
fn encrypted_stores_need_their_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let store = store.to_str().expect("utf-8");
    let key_file = dir.path().join("ops.key");
    let key_path = key_file.to_str().expect("utf-8");
    cli()
        .args(["keygen", "--id", "ops-2026", "-o", key_path])
        .assert()
        .success();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key file is readable by others");
    }
    let printed = text(
        &cli()
            .args(["keygen", "--id", "env-key"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert!(printed.starts_with("snapshot-key:env-key:"));

    let json = dir.path().join("config.json");
    std::fs::write(&json, r#"{"api_key": "sk-live-secret", "region": "eu"}"#).expect("write");
    let key = put(
        store,
        &json,
        &["--key-file", key_path, "--label", "app=billing"],
    );
    let file = dir.path().join("store").join(&key[..10]).join(&key);
    let stored = std::fs::read(&file).expect("read");
    assert!(
        !stored.windows(7).any(|w| w == b"sk-live"),
        "plaintext on disk"
    );
    assert!(
        !stored.windows(7).any(|w| w == b"billing"),
        "label in the clear"
    );

    cli()
        .args(["show", store, "--latest", "--key-file", key_path])
        .assert()
        .success()
        .stdout(predicate::str::contains("sk-live-secret"));
    // The same key through the environment.
    let key_text = std::fs::read_to_string(&key_file).expect("key");
    cli()
        .env("SNAPSHOT_KEY", key_text.trim())
        .args(["show", store, "--latest", "--label", "app=billing"])
        .assert()
        .success()
        .stdout(predicate::str::contains("sk-live-secret"));
    // No key: a clear error naming the key; verify checks what it can.
    cli()
        .args(["show", store, "--latest"])
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("\"ops-2026\"").and(predicate::str::contains("not given")),
        );
    cli()
        .args(["verify", store])
        .assert()
        .success()
        .stdout(predicate::str::contains("NOKEY").and(predicate::str::contains("1 not decrypted")));
    cli()
        .args(["list", store, "--long"])
        .assert()
        .success()
        .stdout(predicate::str::contains("sealed under key ops-2026"));
    cli()
        .args(["inspect", file.to_str().expect("utf-8")])
        .assert()
        .stdout(predicate::str::contains("under key \"ops-2026\""));
    // A wrong key with the right id.
    let wrong = dir.path().join("wrong.key");
    cli()
        .args([
            "keygen",
            "--id",
            "ops-2026",
            "-o",
            wrong.to_str().expect("utf-8"),
        ])
        .assert()
        .success();
    cli()
        .args([
            "show",
            store,
            "--latest",
            "--key-file",
            wrong.to_str().expect("utf-8"),
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("is not the key"));
    // A flipped byte is caught by the checksum, with or without the key.
    let mut bad = stored.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    std::fs::write(&file, &bad).expect("write");
    cli()
        .args(["show", store, "--latest", "--key-file", key_path])
        .assert()
        .failure()
        .stderr(predicate::str::contains("checksum"));
    std::fs::write(&file, &stored).expect("write");

    // Copy re-encrypts under another key; the old key no longer reads the copy.
    let new_key = dir.path().join("new.key");
    let new_path = new_key.to_str().expect("utf-8");
    cli()
        .args(["keygen", "--id", "ops-2027", "-o", new_path])
        .assert()
        .success();
    let copy = dir.path().join("copy");
    let copy = copy.to_str().expect("utf-8");
    cli()
        .args([
            "copy",
            store,
            copy,
            "--key-file",
            key_path,
            "--to-key-file",
            new_path,
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 copied"));
    cli()
        .args([
            "show",
            copy,
            "--latest",
            "--label",
            "app=billing",
            "--key-file",
            new_path,
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("sk-live-secret"));
    cli()
        .args(["show", copy, "--latest", "--key-file", key_path])
        .assert()
        .failure()
        .stderr(predicate::str::contains("\"ops-2027\""));
    // Bad key material is refused before anything runs.
    let junk = dir.path().join("junk.key");
    std::fs::write(&junk, "not a key\n").expect("write");
    cli()
        .args(["list", store, "--key-file", junk.to_str().expect("utf-8")])
        .assert()
        .failure()
        .stderr(predicate::str::contains("invalid encryption key"));
}

/// Without its key, an encrypted run is never "damaged" and never an empty store:
/// `--latest-valid` stops rather than fall back to another run's plain snapshot, `copy`
/// and `verify` both say NOKEY, and `list --label` says how many could not be read.
#[test]
fn without_the_key_nothing_looks_damaged_or_absent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let store = store.to_str().expect("utf-8");
    let key_file = dir.path().join("run.key");
    let key_path = key_file.to_str().expect("utf-8");
    cli()
        .args(["keygen", "--id", "run-a", "-o", key_path])
        .assert()
        .success();
    let plain = dir.path().join("plain.json");
    std::fs::write(&plain, r#"{"run": "b"}"#).expect("write");
    put(store, &plain, &["--label", "run=b"]);
    let sealed = dir.path().join("sealed.json");
    std::fs::write(&sealed, r#"{"run": "a"}"#).expect("write");
    put(
        store,
        &sealed,
        &["--key-file", key_path, "--label", "run=a"],
    );

    cli()
        .args(["get", store, "--latest-valid"])
        .assert()
        .failure()
        .stdout(predicate::str::contains("\"run\"").not())
        .stderr(
            predicate::str::contains("encrypted under a key")
                .and(predicate::str::contains("damaged").not()),
        );
    cli()
        .args(["get", store, "--latest-valid", "--key-file", key_path])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"a\""));
    cli()
        .args(["verify", store])
        .assert()
        .success()
        .stdout(predicate::str::contains("NOKEY").and(predicate::str::contains("BAD").not()));
    let copy = dir.path().join("copy");
    cli()
        .args(["copy", store, copy.to_str().expect("utf-8")])
        .assert()
        .failure()
        .stdout(
            predicate::str::contains("NOKEY")
                .and(predicate::str::contains("BAD").not())
                .and(predicate::str::contains("1 copied")),
        );
    cli()
        .args(["list", store, "--label", "run=a"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("1 snapshot(s) could not be read"));
    cli()
        .args(["list", store, "--label", "run=b"])
        .assert()
        .failure()
        .stdout(predicate::str::contains("run=b"))
        .stderr(predicate::str::contains("sealed under key run-a"));
    cli()
        .args(["list", store, "--label", "run=a", "--key-file", key_path])
        .assert()
        .success()
        .stdout(predicate::str::contains("run=a"));
}
