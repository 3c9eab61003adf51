//! A profiling aid: decodes a dataset in a loop (`profile numeric|users [serde|value]`).
use snapshot_bench::peers;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("numeric", String::as_str);
    let how = args.get(2).map_or("serde", String::as_str);
    let bytes = match which {
        "users" => peers::encode("snapshot", &snapshot_bench::users(20_000)),
        _ => peers::encode("snapshot", &snapshot_bench::numeric()),
    };
    if how == "decode-numeric" {
        let bytes = peers::encode("snapshot", &snapshot_bench::numeric());
        let t = std::time::Instant::now();
        for _ in 0..30 {
            drop(std::hint::black_box(peers::decode::<
                snapshot_bench::Checkpoint,
            >("snapshot", &bytes)));
        }
        println!("numeric decode: {:?}", t.elapsed() / 30);
        return;
    }
    if how == "stream-f64" {
        // A streamed encode of 1 GiB of random f64s to a sink, as a dump does.
        let mut rng = snapshot_bench::Rng::new(2);
        let state: Vec<f64> = (0..(1usize << 27))
            .map(|_| f64::from_bits(rng.next_u64()))
            .collect();
        let t = std::time::Instant::now();
        let n = snapshot_state::codec::to_writer(std::io::sink(), &state).expect("encode");
        println!("streamed encode of {n} bytes: {:?}", t.elapsed());
        return;
    }
    if how == "encode-numeric" {
        let state = snapshot_bench::numeric();
        let t = std::time::Instant::now();
        for _ in 0..30 {
            drop(std::hint::black_box(peers::encode("snapshot", &state)));
        }
        println!("numeric encode: {:?}", t.elapsed() / 30);
        return;
    }
    if which == "ids" {
        // `profile ids [N]`: ours against postcard and rmp_named on the id-keyed map,
        // encode and decode, serde and Value, best of N (default 20).
        let rounds: u32 = how.parse().unwrap_or(20);
        let data = snapshot_bench::ids(20_000);
        if let Some(only) = args.get(3) {
            // `profile ids N encode|value-encode`: only that, N times (for perf).
            let value = peers::to_dynamic("snapshot_value", &data);
            for _ in 0..rounds {
                match only.as_str() {
                    "encode" => drop(std::hint::black_box(peers::encode("snapshot", &data))),
                    _ => drop(std::hint::black_box(peers::encode_dynamic(&value))),
                }
            }
            return;
        }
        type Ids = std::collections::BTreeMap<String, snapshot_bench::Profile>;
        // Interleaved: every round times each codec once, so a slow spell of the
        // machine touches all of them alike; the best round of each is printed.
        let serde = ["snapshot", "postcard", "rmp_named"];
        let dynamic = ["snapshot_value", "rmpv_value"];
        let bytes: Vec<Vec<u8>> = serde.iter().map(|c| peers::encode(c, &data)).collect();
        let values: Vec<_> = dynamic
            .iter()
            .map(|c| peers::to_dynamic(c, &data))
            .collect();
        let value_bytes: Vec<Vec<u8>> = values.iter().map(peers::encode_dynamic).collect();
        let mut best = vec![(std::time::Duration::MAX, std::time::Duration::MAX); 5];
        let time = |f: &dyn Fn()| {
            let t = std::time::Instant::now();
            f();
            t.elapsed()
        };
        for _ in 0..rounds {
            for (i, codec) in serde.iter().enumerate() {
                let e = time(&|| drop(std::hint::black_box(peers::encode(codec, &data))));
                let d =
                    time(&|| drop(std::hint::black_box(peers::decode::<Ids>(codec, &bytes[i]))));
                best[i] = (best[i].0.min(e), best[i].1.min(d));
            }
            for (i, codec) in dynamic.iter().enumerate() {
                let e = time(&|| drop(std::hint::black_box(peers::encode_dynamic(&values[i]))));
                let d = time(&|| {
                    drop(std::hint::black_box(peers::decode_dynamic(
                        codec,
                        &value_bytes[i],
                    )))
                });
                best[3 + i] = (best[3 + i].0.min(e), best[3 + i].1.min(d));
            }
        }
        let sizes = bytes.iter().chain(&value_bytes).map(Vec::len);
        for ((codec, (e, d)), size) in serde.iter().chain(&dynamic).zip(&best).zip(sizes) {
            println!("ids {codec}: {size} bytes, encode {e:?}, decode {d:?}");
        }
        return;
    }
    if how == "encode" {
        let users = snapshot_bench::users(20_000);
        let t = std::time::Instant::now();
        for _ in 0..30 {
            drop(std::hint::black_box(peers::encode("snapshot", &users)));
        }
        println!("users encode: {:?}", t.elapsed() / 30);
        let t = std::time::Instant::now();
        for _ in 0..30 {
            drop(std::hint::black_box(peers::encode("postcard", &users)));
        }
        println!("users encode postcard: {:?}", t.elapsed() / 30);
        let t = std::time::Instant::now();
        for _ in 0..30 {
            drop(std::hint::black_box(peers::encode("snapshot_v1", &users)));
        }
        println!("users encode v1: {:?}", t.elapsed() / 30);
        return;
    }
    let t = std::time::Instant::now();
    for _ in 0..30 {
        match (which, how) {
            ("users", "serde") => drop(std::hint::black_box(peers::decode::<
                Vec<snapshot_bench::User>,
            >("snapshot", &bytes))),
            ("numeric", "serde") => drop(std::hint::black_box(peers::decode::<
                snapshot_bench::Checkpoint,
            >("snapshot", &bytes))),
            _ => drop(std::hint::black_box(
                snapshot_state::codec::decode(&bytes).expect("decode"),
            )),
        }
    }
    println!("{which} {how}: {:?} per decode", t.elapsed() / 30);
}
