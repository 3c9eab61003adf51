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
