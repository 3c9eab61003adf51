//! Reads keep their memory bound: a ranged read falls back to a whole-object GET only
//! when the server refuses the range, never on a timeout or a server error. Against a
//! scripted HTTP server on 127.0.0.1 that records every request.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use snapshot_store::{SnapshotKey, SnapshotStore};
use snapshot_store_s3::S3Store;

/// What the server does with a request: `Some(response)` to answer, `None` to hold the
/// connection without answering.
type Script = dyn Fn(&Request) -> Option<String> + Send + Sync;

#[derive(Debug, Clone)]
struct Request {
    method: String,
    range: Option<String>,
}

/// Starts the server; returns its port and the requests it received.
fn serve(script: Arc<Script>) -> (u16, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let (script, log) = (script.clone(), log.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().expect("clone"));
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let method = line.split(' ').next().unwrap_or_default().to_owned();
                    let mut range = None;
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 {
                            return;
                        }
                        let header = header.trim_end();
                        if header.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':')
                            && name.eq_ignore_ascii_case("range")
                        {
                            range = Some(value.trim().to_owned());
                        }
                    }
                    let request = Request { method, range };
                    log.lock().expect("log").push(request.clone());
                    match script(&request) {
                        Some(response) => {
                            if conn.write_all(response.as_bytes()).is_err() {
                                return;
                            }
                        }
                        None => {
                            // Hold the connection, never answering.
                            std::thread::sleep(Duration::from_secs(600));
                            return;
                        }
                    }
                }
            });
        }
    });
    (port, seen)
}

fn store(port: u16) -> S3Store {
    S3Store::builder()
        .with_endpoint(format!("http://127.0.0.1:{port}"))
        .with_bucket_name("bkt")
        .with_region("us-east-1")
        .with_access_key_id("a")
        .with_secret_access_key("s")
        .with_allow_http(true)
        .with_timeout(Duration::from_secs(1))
        .with_retries(0, Duration::from_secs(2))
        .build()
        .expect("store")
}

fn key() -> SnapshotKey {
    "2030-06-01_12-00-00-000000".parse().expect("key")
}

fn whole_gets(seen: &Mutex<Vec<Request>>) -> usize {
    seen.lock()
        .expect("log")
        .iter()
        .filter(|r| r.method == "GET" && r.range.is_none())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_is_never_turned_into_a_whole_object_read() {
    // Ranged reads time out; a whole-object GET would answer (and is what must not
    // be sent).
    let (port, seen) = serve(Arc::new(|r: &Request| {
        r.range.is_none().then(|| {
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nLast-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\nETag: \"x\"\r\n\r\nwhole".to_owned()
        })
    }));
    let store = store(port);
    let head = store.get_head(key(), 4096).await;
    assert!(head.is_err(), "{head:?}");
    let text = head.unwrap_err().chain_to_string();
    assert!(text.contains("timed out"), "{text}");
    let stream = store.get_stream(key()).await;
    assert!(stream.is_err());
    assert_eq!(
        whole_gets(&seen),
        0,
        "a failed ranged read fell back to a whole GET"
    );
    assert!(seen.lock().expect("log").len() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_is_reported_not_retried_whole() {
    let (port, seen) = serve(Arc::new(|_: &Request| {
        Some("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".to_owned())
    }));
    let store = store(port);
    assert!(store.get_head(key(), 4096).await.is_err());
    assert!(store.get_stream(key()).await.is_err());
    assert_eq!(whole_gets(&seen), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_range_is_read_whole() {
    // An empty object: ranges are not satisfiable, the whole object is.
    let (port, seen) = serve(Arc::new(|r: &Request| {
        Some(if r.range.is_some() {
            "HTTP/1.1 416 Requested Range Not Satisfiable\r\nContent-Length: 0\r\n\r\n".to_owned()
        } else {
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nLast-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\nETag: \"e\"\r\n\r\n".to_owned()
        })
    }));
    let store = store(port);
    let head = store
        .get_head(key(), 4096)
        .await
        .expect("an empty object reads");
    assert!(head.is_empty());
    let (size, _) = store
        .get_stream(key())
        .await
        .expect("an empty object streams");
    assert_eq!(size, 0);
    assert_eq!(whole_gets(&seen), 2);
}
