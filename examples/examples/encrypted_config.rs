//! An encrypted configuration backup: the configuration holds API keys, so the bucket
//! (here a directory) must never see them. Snapshots are encrypted with a key from the
//! application (a key file, or the `SNAPSHOT_KEY` variable); a rotation makes a new key
//! current and keeps the old one for reading; a reader without the key gets a clear
//! error naming the key it needs.

use snapshot_state::{
    EncryptionKey, Error, Keyring, Lookup, Order, SnapshotManager, SnapshotStore, Value, value,
};

#[tokio::main]
/// Runs the example.
pub async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = dir
        .path()
        .join("backups")
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("non-UTF-8 path"))?
        .to_owned();

    // The key: from SNAPSHOT_KEY when set, else a new one written to a key file (mode
    // 0600 is the caller's job; `snapshot keygen -o FILE` does it).
    let keys = match Keyring::from_env("SNAPSHOT_KEY")? {
        Some(keys) => keys,
        None => {
            let key = EncryptionKey::generate("config-2026")?;
            let key_file = dir.path().join("config.key");
            std::fs::write(&key_file, key.to_text().as_bytes())?;
            Keyring::from_file(&key_file)?
        }
    };
    let key_id = keys
        .current()
        .map(|k| k.id().to_owned())
        .ok_or_else(|| anyhow::anyhow!("no key"))?;
    let manager = snapshot_state::open_or_create(&store)?.with_keyring(keys.clone());

    let config = value!({
        "service": "billing",
        "stripe_api_key": "sk_live_51H8example",
        "database": {"url": "postgres://app:hunter2@db.internal/billing"},
    });
    let saved = manager.dump(&config).await?;
    let stored = manager.raw().store().get(saved.key).await?;
    assert!(!stored.windows(7).any(|w| w == b"sk_live"));
    assert!(!stored.windows(7).any(|w| w == b"hunter2"));
    println!(
        "saved {} ({} bytes, encrypted under {key_id:?})",
        saved.key, saved.size
    );
    assert_eq!(manager.load(Lookup::Latest).await?, Some(config.clone()));

    // Someone with read access to the backups but not the key.
    let outsider = snapshot_state::open(&store)?;
    match outsider.load::<Value>(Lookup::Latest).await {
        Err(Error::KeyUnavailable { source, .. }) => println!("without the key: {source}"),
        other => anyhow::bail!("expected a missing-key error, got {other:?}"),
    }
    let report = outsider.verify().await?;
    println!(
        "verify without the key: {} checked, {} bad, {} not decrypted",
        report.checked,
        report.bad.len(),
        report.not_decrypted.len()
    );
    assert!(report.is_ok() && report.not_decrypted.len() == 1);

    // Rotation: a new current key; the old one stays for reading.
    let next = EncryptionKey::generate("config-2027")?;
    let old = keys
        .current()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no key"))?;
    let rotated: SnapshotManager =
        snapshot_state::open(&store)?.with_keyring(Keyring::new(next).with_old_key(old));
    let mut changed = config.clone();
    changed
        .as_map_mut()
        .ok_or_else(|| anyhow::anyhow!("config is a map"))?
        .insert("service", value!("billing-v2"));
    rotated.dump(&changed).await?;
    for meta in rotated.list(Order::OldestFirst).await? {
        let bytes = rotated.raw().store().get(meta.key).await?;
        let under = snapshot_state::codec::encryption_key_id(&bytes)?;
        let value: Option<Value> = rotated.load(Lookup::Exact(meta.key)).await?;
        println!(
            "{} under {:?}: service = {}",
            meta.key,
            under.unwrap_or_default(),
            value.map(|v| v["service"].clone()).unwrap_or(Value::Null)
        );
    }
    Ok(())
}
