//! Writes the crafted hostile snapshots the tests use (a list of 10^9 nulls in about
//! 31 KB, 10^8 in about 3 KB) into a directory, for the fuzz corpus or for trying the
//! CLI on them:
//!
//! ```sh
//! cargo run -p snapshot-codec --example hostile_files -- fuzz/corpus/decode
//! ```

use snapshot_testkit::bombs;

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    std::fs::create_dir_all(&dir)?;
    for (name, bytes) in [
        (
            "null-list-1e9-declared",
            bombs::null_list_bomb(1_000_000_000, true),
        ),
        (
            "null-list-1e9-undeclared",
            bombs::null_list_bomb(1_000_000_000, false),
        ),
        (
            "null-list-1e8-undeclared",
            bombs::null_list_bomb(100_000_000, false),
        ),
    ] {
        let path = std::path::Path::new(&dir).join(name);
        std::fs::write(&path, &bytes)?;
        println!("{} ({} bytes)", path.display(), bytes.len());
    }
    Ok(())
}
