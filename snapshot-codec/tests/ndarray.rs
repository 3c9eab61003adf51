//! NdArray: the extension type numpy arrays are stored as (type 2), read by Rust.

use std::sync::Arc;

use snapshot_codec::{
    Array, DType, DecodeOptions, EncodeOptions, Error, Ext, ExtType, NDARRAY_TYPE_ID, NdArray,
    Registry, Value,
};

/// Written by the Python package (snapshot-py/tests/test_numpy.py checks that it still
/// writes these bytes): `{"f32": 2x3 float32, "i64": [-1, 0, 2**40], "bool": 2x1 bool}`.
const FIXTURE: &[u8] = include_bytes!("data/v2/ndarray.snap");

#[test]
fn a_snapshot_written_by_numpy_reads_as_typed_arrays() {
    #[derive(serde::Deserialize)]
    struct State {
        f32: NdArray,
        i64: NdArray,
        bool: NdArray,
    }
    let state: State = snapshot_codec::from_slice(FIXTURE).expect("reads");
    assert_eq!(
        (state.f32.dtype(), state.f32.shape()),
        (DType::F32, &[2, 3][..])
    );
    assert_eq!(
        state.f32.to_array(),
        Some(Array::F32(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
    );
    assert_eq!(state.i64.to_array(), Some(Array::I64(vec![-1, 0, 1 << 40])));
    assert_eq!(state.bool.shape(), &[2, 1]);
    assert_eq!(state.bool.to_array(), Some(Array::Bool(vec![true, false])));

    // And through a dynamic value, checked by the built-in registry.
    let options = DecodeOptions::new().with_registry(Arc::new(Registry::with_builtin_types()));
    let value = options.decode(FIXTURE).expect("decodes");
    let f32 = value["f32"]
        .to_ext::<NdArray>()
        .expect("an ndarray")
        .expect("valid");
    assert_eq!(f32, state.f32);
    // Written again as a dynamic value, it reads back the same.
    let again = snapshot_codec::encode(&value).expect("encodes");
    assert_eq!(options.decode(&again).expect("decodes"), value);
}

#[test]
fn every_dtype_and_shape_round_trips() {
    let dtypes = [
        DType::Bool,
        DType::U8,
        DType::I8,
        DType::U16,
        DType::I16,
        DType::U32,
        DType::I32,
        DType::U64,
        DType::I64,
        DType::F16,
        DType::F32,
        DType::F64,
        DType::Complex64,
        DType::Complex128,
    ];
    for dtype in dtypes {
        assert_eq!(DType::from_code(dtype.code()), Some(dtype));
        for shape in [
            vec![],
            vec![0],
            vec![5],
            vec![2, 3],
            vec![2, 0, 4],
            vec![1, 2, 1, 3],
        ] {
            let n: usize = shape.iter().product();
            let data: Vec<u8> = (0..n * dtype.width()).map(|i| (i % 2) as u8).collect();
            let array = NdArray::new(dtype, shape.clone(), data.clone()).expect("valid");
            let bytes = snapshot_codec::to_vec(&array).expect("encodes");
            let back: NdArray = snapshot_codec::from_slice(&bytes).expect("decodes");
            assert_eq!(
                (back.dtype(), back.shape(), back.data()),
                (dtype, &shape[..], &data[..])
            );
            assert_eq!(back.len(), n);
        }
    }
}

#[test]
fn typed_arrays_convert_both_ways() {
    let array = NdArray::from_array(vec![2, 2], Array::U16(vec![1, 2, 3, 65535])).expect("fits");
    assert_eq!(array.dtype(), DType::U16);
    assert_eq!(array.data(), &[1, 0, 2, 0, 3, 0, 255, 255]);
    assert_eq!(array.to_array(), Some(Array::U16(vec![1, 2, 3, 65535])));
    let half = NdArray::new(DType::F16, vec![1], vec![0, 0x3C]).expect("1.0 as f16");
    assert_eq!(half.to_array(), None); // no typed array of f16: read data()
    assert!(NdArray::from_array(vec![3], Array::F32(vec![1.0, 2.0])).is_err());
}

#[test]
fn invalid_payloads_are_refused_on_read_and_write() {
    let registry = Arc::new(Registry::with_builtin_types());
    let read = DecodeOptions::new().with_registry(registry.clone());
    let write = EncodeOptions::new().with_registry(registry);
    let mut too_many_dims = vec![9u8, 65];
    too_many_dims.extend([1u8; 65]);
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("unknown code", vec![14, 1, 0]),
        ("short data", vec![9, 1, 2, 0, 0, 0, 0]),
        ("long data", vec![1, 1, 1, 7, 7]),
        ("bool byte", vec![0, 1, 2, 1, 2]),
        ("dims", too_many_dims),
        (
            "overflow",
            vec![
                10, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x10,
            ],
        ),
        ("header ends", vec![9, 3, 1]),
    ];
    for (what, payload) in bad {
        let value = Value::from(Ext::new(NDARRAY_TYPE_ID, payload.clone()));
        let err = write.encode(&value).expect_err(what);
        assert!(
            matches!(
                err,
                Error::InvalidExtension {
                    type_id: 2,
                    name: "ndarray",
                    ..
                }
            ),
            "{what}: {err}"
        );
        let bytes = snapshot_codec::encode(&value).expect("unchecked writer");
        let err = read.decode(&bytes).expect_err(what);
        assert!(
            matches!(err, Error::InvalidExtension { type_id: 2, .. }),
            "{what}: {err}"
        );
        assert!(NdArray::from_payload(&payload).is_err(), "{what}");
    }
}
