//! `snapshot ui`: a local, read-only web page over a store.
//!
//! One page (`ui.html`, no outside assets) and three JSON endpoints it reads:
//! `/api/snapshots` (every snapshot with its size, step and labels), `/api/tree`
//! (the children of one path of one snapshot, a page at a time, so a big subtree is
//! opened only when asked) and `/api/diff` (what `snapshot diff --json` prints). The
//! server listens on 127.0.0.1 only and never writes to the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value as Json, json};
use snapshot_state::{Lookup, Order, SnapshotKey, SnapshotManager, Value};

const PAGE: &str = include_str!("ui.html");
/// Children sent per request; the page asks for the next ones when the user wants them.
const PAGE_SIZE: usize = 200;
/// Decoded snapshots kept for the tree and the diff (the two a diff compares).
const CACHED: usize = 2;

struct Ui {
    manager: SnapshotManager,
    store: String,
    cache: Mutex<Vec<(SnapshotKey, Arc<Value>)>>,
}

pub async fn run(store: &str, port: u16) -> anyhow::Result<()> {
    let manager = crate::open(store)?;
    let ui = Arc::new(Ui {
        manager,
        store: store.to_owned(),
        cache: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route("/", get(page))
        .route("/api/snapshots", get(snapshots))
        .route("/api/tree", get(tree))
        .route("/api/diff", get(diff))
        .with_state(ui);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    // The first line says where: scripts (and the tests) read it.
    crate::output::stdout(format!(
        "serving {store} at http://{addr}/ (read-only; Ctrl-C stops)\n"
    ))?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

async fn page() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE)
}

/// A request that cannot be answered: its status and why, sent as JSON.
struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({"error": self.1}))).into_response()
    }
}

fn fail(status: StatusCode, message: impl std::fmt::Display) -> Failure {
    Failure(status, message.to_string())
}

type Answer = Result<axum::Json<Json>, Failure>;

async fn snapshots(State(ui): State<Arc<Ui>>) -> Answer {
    let details = ui
        .manager
        .list(Order::OldestFirst)
        .details()
        .await
        .map_err(|e| fail(StatusCode::BAD_GATEWAY, e.chain_to_string()))?;
    let items: Vec<Json> = details
        .iter()
        .map(|d| {
            let labels: serde_json::Map<String, Json> = d
                .metadata
                .as_ref()
                .map(|m| {
                    m.labels
                        .iter()
                        .map(|(k, v)| (k.clone(), Json::from(v.clone())))
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "key": d.key.to_string(),
                "time": d.key.to_datetime().to_rfc3339(),
                "micros": d.key.as_micros(),
                "size": d.size,
                "step": d.step(),
                "labels": labels,
                "sealed": d.sealed,
            })
        })
        .collect();
    Ok(axum::Json(json!({"store": ui.store, "snapshots": items})))
}

impl Ui {
    /// The decoded snapshot `key`, from the cache or the store.
    async fn value(&self, key: SnapshotKey) -> Result<Arc<Value>, Failure> {
        if let Some(found) = self.cached(key) {
            return Ok(found);
        }
        let loaded = self
            .manager
            .load::<Value>(Lookup::Exact(key))
            .await
            .map_err(|e| fail(StatusCode::BAD_GATEWAY, e.chain_to_string()))?
            .ok_or_else(|| fail(StatusCode::NOT_FOUND, format!("snapshot {key} not found")))?;
        let value = Arc::new(loaded);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|(k, _)| *k != key);
        cache.push((key, value.clone()));
        if cache.len() > CACHED {
            cache.remove(0);
        }
        Ok(value)
    }

    fn cached(&self, key: SnapshotKey) -> Option<Arc<Value>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }
}

fn key_of(params: &HashMap<String, String>, name: &str) -> Result<SnapshotKey, Failure> {
    let text = params
        .get(name)
        .ok_or_else(|| fail(StatusCode::BAD_REQUEST, format!("missing {name}")))?;
    SnapshotKey::parse_time(text).map_err(|e| fail(StatusCode::BAD_REQUEST, e))
}

/// The children of `path` (a JSON Pointer) in snapshot `key`, from `offset`.
async fn tree(State(ui): State<Arc<Ui>>, Query(params): Query<HashMap<String, String>>) -> Answer {
    let key = key_of(&params, "key")?;
    let path = params.get("path").map_or("", String::as_str);
    let offset: usize = params
        .get("offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    let root = ui.value(key).await?;
    let node = find(&root, path)
        .ok_or_else(|| fail(StatusCode::NOT_FOUND, format!("no path {path:?} in {key}")))?;
    let registry = crate::registry();
    let entries: Vec<(String, &Value)> = match node {
        Value::Map(map) => map
            .iter()
            .skip(offset)
            .take(PAGE_SIZE)
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        Value::List(items) => items
            .iter()
            .enumerate()
            .skip(offset)
            .take(PAGE_SIZE)
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => Vec::new(),
    };
    let total = match node {
        Value::Map(map) => map.len(),
        Value::List(items) => items.len(),
        _ => 0,
    };
    let children: Vec<Json> = entries
        .iter()
        .map(|(name, v)| {
            let child = format!("{path}/{}", name.replace('~', "~0").replace('/', "~1"));
            describe(name, &child, v, &registry)
        })
        .collect();
    Ok(axum::Json(json!({
        "key": key.to_string(),
        "node": describe("", path, node, &registry),
        "children": children,
        "offset": offset,
        "more": total.saturating_sub(offset + entries.len()),
    })))
}

/// One node for the page: its kind, size, whether it opens, and a short preview.
fn describe(name: &str, path: &str, v: &Value, registry: &snapshot_state::Registry) -> Json {
    let brief = snapshot_state::codec::Brief::of(v);
    let opens =
        matches!(v, Value::Map(m) if !m.is_empty()) || matches!(v, Value::List(l) if !l.is_empty());
    let preview = match v {
        Value::Map(_) | Value::List(_) => String::new(),
        _ => {
            let text = crate::json::to_json(v, registry).to_string();
            match text.char_indices().nth(120) {
                Some((cut, _)) => format!("{}…", &text[..cut]),
                None => text,
            }
        }
    };
    json!({
        "name": name,
        "path": path,
        "kind": brief.kind,
        "len": brief.len,
        "opens": opens,
        "preview": preview,
    })
}

/// The value at a JSON Pointer.
fn find<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
    if path.is_empty() {
        return Some(root);
    }
    let rest = path.strip_prefix('/')?;
    rest.split('/').try_fold(root, |node, raw| {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        match node {
            Value::Map(map) => map
                .iter()
                .find(|(k, _)| k.to_string() == segment)
                .map(|(_, v)| v),
            Value::List(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }
    })
}

async fn diff(State(ui): State<Arc<Ui>>, Query(params): Query<HashMap<String, String>>) -> Answer {
    let (old_key, new_key) = (key_of(&params, "old")?, key_of(&params, "new")?);
    let old = ui.value(old_key).await?;
    let new = ui.value(new_key).await?;
    let d = snapshot_state::codec::diff(&old, &new);
    Ok(axum::Json(super::diff::to_json(old_key, new_key, &d)))
}
