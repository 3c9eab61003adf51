//! Application state backup and crash recovery: a game saves checkpoints while it runs;
//! after a "restart" it resumes from the newest one.

use serde::{Deserialize, Serialize};
use snapshot_state::Order;
use snapshot_state::{Lookup, SnapshotManager};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct GameState {
    level: u32,
    score: u64,
    inventory: Vec<String>,
    position: (i32, i32),
}

async fn play_and_crash(manager: &SnapshotManager) -> Result<GameState, snapshot_state::Error> {
    let mut state = GameState {
        level: 1,
        score: 0,
        inventory: vec!["sword".into()],
        position: (0, 0),
    };
    for level in 1..=5 {
        state.level = level;
        state.score += 2500;
        state.position = (level as i32 * 100, 200);
        if level == 3 {
            state.inventory.push("shield".into());
        }
        manager.dump(&state).await?; // checkpoint after each level
    }
    Ok(state) // ...and then the process dies
}

#[tokio::main]
/// Runs the example.
pub async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = dir.path().join("checkpoints");
    let url = url
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("non-UTF-8 temp path"))?;

    let last = play_and_crash(&snapshot_state::open_or_create(url)?).await?;

    // After the restart: a new process, a new manager, the same directory.
    let manager = snapshot_state::open_or_create(url)?;
    let resumed: GameState = manager
        .load(Lookup::Latest)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no checkpoint to resume from"))?;
    assert_eq!(resumed, last);
    println!(
        "resumed at level {} with score {} holding {:?}",
        resumed.level, resumed.score, resumed.inventory
    );
    println!(
        "{} checkpoints on disk",
        manager.list(Order::NewestFirst).await?.len()
    );
    Ok(())
}
