//! diff: what changed between two values.

use snapshot_codec::{Array, Change, DType, NdArray, Value, diff, value};

fn f32_ndarray(shape: Vec<usize>, data: &[f32]) -> Value {
    let bytes = data.iter().flat_map(|x| x.to_le_bytes()).collect();
    Value::from_ext(&NdArray::new(DType::F32, shape, bytes).expect("valid"))
}

#[test]
fn equal_values_have_no_changes_and_count_their_leaves() {
    let v = value!({"a": [1, 2, {"b": null}], "c": "text", "d": (Value::Array(Array::F64(vec![1.0; 10])))});
    let d = diff(&v, &v.clone());
    assert!(d.is_empty());
    assert_eq!(d.unchanged, 5); // 1, 2, null, "text", the array
}

#[test]
fn records_in_a_list_are_compared_field_by_field() {
    let old = value!({"users": [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}]});
    let new = value!({"users": [{"id": 1, "name": "ann"}, {"id": 2, "name": "rob", "admin": true}, {"id": 3}]});
    let d = diff(&old, &new);
    let lines: Vec<String> = d.changes.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "~ /users/1/name: \"bob\" -> \"rob\"",
            "+ /users/1/admin: true",
            "+ /users/2: map of 1",
        ]
    );
    assert_eq!(d.unchanged, 3);
}

#[test]
fn kinds_that_change_are_reported_with_both_sides() {
    let old = value!({"x": 1, "y": [1, 2], "z": "short"});
    let new = value!({"x": 1.0, "y": {"a": 1}, "z": ("long".repeat(100))});
    let d = diff(&old, &new);
    let lines: Vec<String> = d.changes.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "~ /x: 1 -> 1.0",
            "~ /y: list of 2 -> map of 1",
            "~ /z: \"short\" -> string of 400",
        ]
    );
    match &d.changes[2] {
        Change::Changed { old, new, .. } => {
            assert_eq!(old.value, Some(Value::from("short")));
            assert_eq!(
                (new.kind, new.len, &new.value),
                ("string", Some(400), &None)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn numeric_arrays_report_counts_and_the_largest_difference() {
    let old = value!({
        "w": (f32_ndarray(vec![2, 2], &[1.0, 2.0, 3.0, 4.0])),
        "v": (Value::Array(Array::I64(vec![10, 20, 30]))),
        "same": (f32_ndarray(vec![1], &[0.5])),
    });
    let new = value!({
        "w": (f32_ndarray(vec![2, 2], &[1.0, 2.5, 3.0, 1.0])),
        "v": (Value::Array(Array::I64(vec![10, 20, 31]))),
        "same": (f32_ndarray(vec![1], &[0.5])),
    });
    let d = diff(&old, &new);
    assert_eq!(d.unchanged, 1);
    match &d.changes[..] {
        [
            Change::Elements {
                path: w,
                element_type: "float32",
                len: 4,
                changed: 2,
                max_abs_diff: wd,
            },
            Change::Elements {
                path: v,
                element_type: "int64",
                len: 3,
                changed: 1,
                max_abs_diff: vd,
            },
        ] => {
            assert_eq!((w.as_str(), *wd), ("/w", 3.0));
            assert_eq!((v.as_str(), *vd), ("/v", 1.0));
        }
        other => panic!("{other:?}"),
    }
    // A different shape is a different value, described in brief.
    let reshaped = value!({"w": (f32_ndarray(vec![4], &[1.0, 2.0, 3.0, 4.0]))});
    let d = diff(&value!({"w": (old["w"].clone())}), &reshaped);
    assert_eq!(
        d.changes[0].to_string(),
        "~ /w: ndarray of 4 -> ndarray of 4"
    );
}

#[test]
fn nan_equals_itself_and_is_reported_when_one_sided() {
    let old = value!({"a": (f64::NAN), "b": (Value::Array(Array::F32(vec![1.0, f32::NAN])))});
    assert!(diff(&old, &old.clone()).is_empty());
    let new = value!({"a": (f64::NAN), "b": (Value::Array(Array::F32(vec![1.0, 2.0])))});
    match &diff(&old, &new).changes[..] {
        [
            Change::Elements {
                max_abs_diff,
                changed: 1,
                ..
            },
        ] => assert!(max_abs_diff.is_nan()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn keys_with_slashes_are_escaped_and_the_root_can_change() {
    let d = diff(&value!({"a/b": 1, "t~": 1}), &value!({"a/b": 2}));
    let paths: Vec<&str> = d.changes.iter().map(Change::path).collect();
    assert_eq!(paths, ["/a~1b", "/t~0"]);
    let d = diff(&value!(1), &value!("one"));
    assert_eq!(d.changes[0].path(), "");
    assert_eq!(d.changes[0].to_string(), "~ /: 1 -> \"one\"");
}
