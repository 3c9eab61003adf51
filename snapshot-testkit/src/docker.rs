//! Whether a Docker engine answers here, found the way testcontainers finds it: the
//! socket named by `DOCKER_HOST` (`unix://PATH`), else the usual socket paths.

use std::path::PathBuf;

/// The Unix socket of a Docker engine that accepts connections, if there is one.
pub fn engine_socket() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(host) = std::env::var("DOCKER_HOST") {
        match host.strip_prefix("unix://") {
            Some(path) => candidates.push(PathBuf::from(path)),
            // A TCP engine: testcontainers would use it; say yes if it is named.
            None => return Some(PathBuf::from(host)),
        }
    }
    candidates.push(PathBuf::from("/var/run/docker.sock"));
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".docker/run/docker.sock"));
    }
    candidates.into_iter().find(|path| answers(path))
}

#[cfg(unix)]
fn answers(path: &std::path::Path) -> bool {
    std::os::unix::net::UnixStream::connect(path).is_ok()
}

#[cfg(not(unix))]
fn answers(_: &std::path::Path) -> bool {
    false
}
