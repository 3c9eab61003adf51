//! Datasets and peer codecs for the benchmarks. Every dataset is generated from a fixed
//! seed, as plain Rust structs (for the serde codecs) and as dynamic values.
#![allow(missing_docs)]

use serde::{Deserialize, Serialize};

pub mod peers;

/// A small deterministic generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    pub fn word(&mut self, min: u64, max: u64) -> String {
        let len = min + self.below(max - min + 1);
        (0..len)
            .map(|_| (b'a' + self.below(26) as u8) as char)
            .collect()
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Address {
    pub street: String,
    pub city: String,
    pub zip: String,
}

/// A user record shaped like the Python original's examples.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub email: String,
    pub age: u8,
    pub active: bool,
    pub score: f64,
    pub tags: Vec<String>,
    pub address: Address,
    pub created_at: String,
}

pub fn users(n: usize) -> Vec<User> {
    let mut rng = Rng::new(0x5EED_0001);
    let cities = [
        "Springfield",
        "Riverside",
        "Franklin",
        "Greenville",
        "Bristol",
        "Clinton",
        "Fairview",
        "Salem",
    ];
    let tags = [
        "customer",
        "premium",
        "basic",
        "beta",
        "admin",
        "newsletter",
        "trial",
        "vip",
    ];
    (0..n)
        .map(|i| {
            let first = rng.word(3, 8);
            let last = rng.word(4, 10);
            User {
                id: i as u64 + 1,
                name: format!("{first} {last}"),
                email: format!("{first}.{last}@example.com"),
                age: 18 + rng.below(60) as u8,
                active: rng.below(4) != 0,
                score: rng.below(1_000_000) as f64 / 1000.0,
                tags: (0..1 + rng.below(3))
                    .map(|_| rng.pick(&tags).to_owned())
                    .collect(),
                address: Address {
                    street: format!("{} {} St", 1 + rng.below(9999), rng.word(4, 9)),
                    city: rng.pick(&cities).to_owned(),
                    zip: format!("{:05}", rng.below(100_000)),
                },
                created_at: format!(
                    "2024-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                    1 + rng.below(12),
                    1 + rng.below(28),
                    rng.below(24),
                    rng.below(60),
                    rng.below(60)
                ),
            }
        })
        .collect()
}

/// An IPv4 address as four bytes, as in rust_serialization_benchmark's log set.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Ipv4 {
    pub x0: u8,
    pub x1: u8,
    pub x2: u8,
    pub x3: u8,
}

/// An HTTP access-log record (the shape of rust_serialization_benchmark's `log` set).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Log {
    pub address: Ipv4,
    pub identity: String,
    pub userid: String,
    pub date: String,
    pub request: String,
    pub code: u16,
    pub size: u64,
}

pub fn logs(n: usize) -> Vec<Log> {
    let mut rng = Rng::new(0x5EED_0002);
    let methods = ["GET", "POST", "PUT", "DELETE", "HEAD"];
    let codes = [200u16, 200, 200, 201, 204, 301, 304, 400, 404, 500];
    (0..n)
        .map(|_| Log {
            address: Ipv4 {
                x0: rng.below(256) as u8,
                x1: rng.below(256) as u8,
                x2: rng.below(256) as u8,
                x3: rng.below(256) as u8,
            },
            identity: "-".into(),
            userid: if rng.below(4) == 0 {
                rng.word(4, 10)
            } else {
                "-".into()
            },
            date: format!(
                "{:02}/Oct/2024:{:02}:{:02}:{:02} +0000",
                1 + rng.below(28),
                rng.below(24),
                rng.below(60),
                rng.below(60)
            ),
            request: format!(
                "{} /{}/{}.html HTTP/1.1",
                rng.pick(&methods),
                rng.word(3, 10),
                rng.word(3, 12)
            ),
            code: codes[rng.below(codes.len() as u64) as usize],
            size: rng.below(100_000),
        })
        .collect()
}

/// A cache entry with compressible text of 2 to 20 KiB.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CacheEntry {
    pub key: String,
    pub hits: u32,
    pub value: String,
}

pub fn cache(n: usize) -> Vec<CacheEntry> {
    let mut rng = Rng::new(0x5EED_0003);
    let words = [
        "user", "session", "query", "result", "cache", "hit", "miss", "select", "from", "where",
        "order", "limit", "json", "status", "ok", "error", "timeout", "retry", "id", "name",
    ];
    (0..n)
        .map(|i| {
            let len = 2048 + rng.below(18 * 1024) as usize;
            let mut value = String::with_capacity(len + 16);
            while value.len() < len {
                value.push_str(rng.pick(&words));
                value.push(if rng.below(8) == 0 { '\n' } else { ' ' });
            }
            CacheEntry {
                key: format!("cache:{}:{}", rng.pick(&words), i),
                hits: rng.below(10_000) as u32,
                value,
            }
        })
        .collect()
}

/// What a cache keyed by id holds per entry (the value of the `ids` dataset).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Profile {
    pub name: String,
    pub visits: u32,
    pub score: f64,
    pub active: bool,
}

/// A map keyed by `n` distinct user ids (`"user_48213907"`) to a small record: the
/// Python original's own benchmark shape, and that of every cache keyed by id.
pub fn ids(n: usize) -> std::collections::BTreeMap<String, Profile> {
    let mut rng = Rng::new(0x5EED_0006);
    let mut out = std::collections::BTreeMap::new();
    while out.len() < n {
        let id = format!("user_{}", 10_000_000 + rng.below(90_000_000));
        let profile = Profile {
            name: rng.word(4, 10),
            visits: rng.below(5_000) as u32,
            score: rng.below(1_000_000) as f64 / 100.0,
            active: rng.below(4) != 0,
        };
        out.insert(id, profile);
    }
    out
}

/// A training checkpoint as the format 2 work defines it: 16 MiB of f32 weights and
/// 16 MiB of f64 optimizer moments in arrays, and a little metadata.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub step: u64,
    pub learning_rate: f64,
    pub model: String,
    pub weights: Vec<f32>,
    pub moments: Vec<f64>,
}

pub fn numeric() -> Checkpoint {
    let mut rng = Rng::new(0x5EED_0004);
    // Weights roughly as a trained layer holds them: small, signed, full mantissas.
    let mut gauss = move || {
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let v = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (u + v - 1.0) * 0.05
    };
    Checkpoint {
        step: 120_000,
        learning_rate: 3e-4,
        model: "mlp-2048x2048".into(),
        weights: (0..(16 << 20) / 4).map(|_| gauss() as f32).collect(),
        moments: (0..(16 << 20) / 8).map(|_| gauss() * gauss()).collect(),
    }
}

/// A smooth series: a sampled sine plus small noise (a sensor, a loss curve).
pub fn smooth(n: usize) -> Vec<f64> {
    let mut rng = Rng::new(0x5EED_0005);
    (0..n)
        .map(|i| (i as f64 * 0.001).sin() * 50.0 + (rng.below(1000) as f64) * 1e-4)
        .collect()
}

/// The four datasets, by name, as closures so a bench builds only what it needs.
pub const DATASETS: [&str; 5] = ["users", "ids", "log", "cache", "numeric"];

/// A field of `/proc/self/status` in bytes (`VmRSS:`, `VmHWM:`), 0 where unknown.
pub fn proc_status(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
