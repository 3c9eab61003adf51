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
        let best = |f: &dyn Fn()| {
            (0..rounds)
                .map(|_| {
                    let t = std::time::Instant::now();
                    f();
                    t.elapsed()
                })
                .min()
                .expect("rounds")
        };
        type Ids = std::collections::BTreeMap<String, snapshot_bench::Profile>;
        for codec in ["snapshot", "postcard", "rmp_named"] {
            let bytes = peers::encode(codec, &data);
            let enc = best(&|| drop(std::hint::black_box(peers::encode(codec, &data))));
            let dec = best(&|| drop(std::hint::black_box(peers::decode::<Ids>(codec, &bytes))));
            println!(
                "ids {codec}: {} bytes, encode {enc:?}, decode {dec:?}",
                bytes.len()
            );
        }
        for codec in ["snapshot_value", "rmpv_value"] {
            let value = peers::to_dynamic(codec, &data);
            let bytes = peers::encode_dynamic(&value);
            let enc = best(&|| drop(std::hint::black_box(peers::encode_dynamic(&value))));
            let dec = best(&|| drop(std::hint::black_box(peers::decode_dynamic(codec, &bytes))));
            println!(
                "ids {codec}: {} bytes, encode {enc:?}, decode {dec:?}",
                bytes.len()
            );
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
