//! Summaries: a snapshot's structure gathered while it streams.

use serde::Serialize;
use snapshot_codec::{
    DType, DecodeOptions, EncodeOptions, NdArray, Shuffle, Summary, SummaryOptions, Value, value,
};

fn summarize(bytes: &[u8], options: &SummaryOptions) -> Summary {
    DecodeOptions::new()
        .summarize_from_reader(bytes, options)
        .expect("summarizes")
}

#[derive(Serialize)]
struct User {
    name: String,
    age: u32,
    scores: Vec<f32>,
}

#[test]
fn records_are_merged_under_their_list_and_numbers_ranged() {
    let users: Vec<User> = (0..1000)
        .map(|i| User {
            name: format!("user-{i}"),
            age: 20 + i % 50,
            scores: vec![i as f32, -(i as f32)],
        })
        .collect();
    // Written through serde: records of one shape after the first.
    let bytes = snapshot_codec::to_vec(&users).unwrap();
    let summary = summarize(&bytes, &SummaryOptions::new());
    assert_eq!(summary.root.kinds.get("list"), Some(&1));
    assert_eq!(summary.root.len, 1000);
    let user = summary.root.find("[]").expect("items");
    assert_eq!(user.count, 1000);
    assert_eq!(user.kinds.get("map"), Some(&1000));
    assert_eq!(user.len, 3000);
    let age = user.find("age").unwrap();
    let n = age.numbers.unwrap();
    assert_eq!((n.count, n.min, n.max), (1000, 20.0, 69.0));
    let names = user.find("name").unwrap();
    assert_eq!(names.kinds.get("string"), Some(&1000));
    let scores = user.find("scores").unwrap();
    let n = scores.numbers.unwrap();
    assert_eq!((n.count, n.min, n.max), (2000, -999.0, 999.0));
    assert_eq!(scores.element_types, vec!["float32"]);
    // Sizes add up: the root's encoded size is the whole body.
    assert_eq!(summary.root.encoded_len, summary.body_len);
    assert!(user.encoded_len < summary.body_len);
    let text = summary.to_string();
    assert!(text.contains("age: int ×1000"), "{text}");
}

#[test]
fn a_map_keyed_by_ids_is_one_merged_path() {
    let mut users = snapshot_codec::Map::new();
    for i in 0..500 {
        users.insert(format!("id-{i}"), value!({"visits": i}));
    }
    let state = value!({"users": (Value::Map(users)), "version": 3});
    for options in [
        EncodeOptions::new(),
        EncodeOptions::new().with_format_version(1).unwrap(),
    ] {
        let bytes = options.encode(&state).unwrap();
        let summary = summarize(&bytes, &SummaryOptions::new().max_children(16));
        let users = summary.root.find("users").unwrap();
        assert_eq!(users.len, 500);
        assert_eq!(users.children.len(), 1, "{summary}");
        let visits = users.find("*/visits").unwrap();
        assert_eq!(visits.count, 500);
        assert_eq!(visits.numbers.unwrap().max, 499.0);
    }
}

#[test]
fn depth_and_node_limits_bound_the_summary() {
    let deep = value!({"a": {"b": {"c": {"d": [1, 2, 3]}}}});
    let bytes = snapshot_codec::encode(&deep).unwrap();
    let summary = summarize(&bytes, &SummaryOptions::new().max_depth(2));
    let b = summary.root.find("a/b").unwrap();
    assert!(b.truncated && b.children.is_empty(), "{summary}");
    assert_eq!(b.encoded_len, bytes_of(&value!({"c": {"d": [1, 2, 3]}})));

    // Many distinct paths: the node budget holds, the rest is merged.
    let mut wide = snapshot_codec::Map::new();
    for i in 0..200 {
        wide.insert(format!("k{i}"), value!({ (format!("inner{i}")): i }));
    }
    let bytes = snapshot_codec::encode(&Value::Map(wide)).unwrap();
    let summary = summarize(
        &bytes,
        &SummaryOptions::new().max_children(1000).max_nodes(50),
    );
    let nodes = count_nodes(&summary.root);
    assert!(nodes <= 50, "{nodes} nodes");
    // What found no room is counted at the root, whose size is still the whole body.
    assert!(summary.root.truncated, "{summary}");
    assert_eq!(summary.root.encoded_len, summary.body_len);
}

fn bytes_of(value: &Value) -> u64 {
    // The encoded size of a value alone: a body with it at the root.
    let bytes = snapshot_codec::encode(value).expect("encodes");
    let summary = summarize(&bytes, &SummaryOptions::new());
    summary.body_len
}

fn count_nodes(node: &snapshot_codec::SummaryNode) -> usize {
    1 + node.children.iter().map(count_nodes).sum::<usize>()
}

#[test]
fn arrays_shuffled_or_not_and_ndarrays_are_ranged() {
    let data: Vec<f64> = (0..10_000).map(|i| (i as f64) * 0.5 - 100.0).collect();
    for shuffle in [Shuffle::Never, Shuffle::Always] {
        let bytes = EncodeOptions::new()
            .with_shuffle(shuffle)
            .to_vec(&data)
            .unwrap();
        let summary = summarize(&bytes, &SummaryOptions::new());
        let n = summary.root.numbers.unwrap();
        assert_eq!((n.count, n.min, n.max), (10_000, -100.0, 4899.5));
        assert_eq!(summary.root.kinds.get("array"), Some(&1), "{summary}");
    }

    let f16_one_and_minus_two: Vec<u8> = [0x3C00u16, 0xC000, 0x7E00]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let state = value!({
        "w": (Value::from_ext(&NdArray::new(DType::F32, vec![2, 2], [1.5f32, -2.0, 0.0, 8.0].iter().flat_map(|x| x.to_le_bytes()).collect()).unwrap())),
        "h": (Value::from_ext(&NdArray::new(DType::F16, vec![3], f16_one_and_minus_two).unwrap())),
    });
    let bytes = snapshot_codec::encode(&state).unwrap();
    let summary = summarize(&bytes, &SummaryOptions::new());
    let w = summary.root.find("w").unwrap();
    assert_eq!(w.shape.as_deref(), Some(&[2, 2][..]));
    assert_eq!(w.element_types, vec!["float32"]);
    let n = w.numbers.unwrap();
    assert_eq!((n.min, n.max, n.mean()), (-2.0, 8.0, Some(1.875)));
    let h = summary.root.find("h").unwrap().numbers.unwrap();
    assert_eq!((h.count, h.min, h.max, h.nan), (2, -2.0, 1.0, 1));
    assert!(summary.to_string().contains("w: ndarray float32 [2, 2]"));
}

#[test]
fn a_damaged_snapshot_gives_no_summary() {
    let bytes = snapshot_codec::encode(&value!({"a": [1, 2, 3], "b": "text"})).unwrap();
    let mut torn = bytes.clone();
    torn.truncate(bytes.len() - 2);
    assert!(
        DecodeOptions::new()
            .summarize_from_reader(&torn[..], &SummaryOptions::new())
            .is_err()
    );
    let mut flipped = bytes.clone();
    let at = bytes.len() - 12;
    flipped[at] ^= 0x40;
    let err = DecodeOptions::new()
        .summarize_from_reader(&flipped[..], &SummaryOptions::new())
        .unwrap_err();
    // The same refusal as a check's.
    let checked = DecodeOptions::new()
        .check_from_reader(&flipped[..])
        .unwrap_err();
    assert_eq!(err.to_string(), checked.to_string());
    // A bomb is refused at the memory limit, as a check refuses it.
    let big = snapshot_codec::encode(&Value::List(vec![Value::Null; 100_000])).unwrap();
    assert!(
        DecodeOptions::new()
            .with_max_memory(10_000)
            .summarize_from_reader(&big[..], &SummaryOptions::new())
            .is_err()
    );
}
