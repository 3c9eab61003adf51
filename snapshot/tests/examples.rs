//! Every example runs as part of the tests, so none can rot. (The S3 one runs against a
//! real server in `s3_example.rs`.)

macro_rules! examples {
    ($($name:ident = $file:literal),* $(,)?) => {$(
        #[allow(dead_code)]
        #[path = $file]
        mod $name;

        #[test]
        fn $name() {
            $name::main().unwrap_or_else(|e| panic!("example {} failed: {e:#}", stringify!($name)));
        }
    )*};
}

examples!(
    quickstart = "../examples/quickstart.rs",
    buffers = "../examples/buffers.rs",
    codec_only = "../examples/codec_only.rs",
    game_state = "../examples/game_state.rs",
    cache_nearest = "../examples/cache_nearest.rs",
    config_versions = "../examples/config_versions.rs",
    microservice_buffer = "../examples/microservice_buffer.rs",
    session_serde = "../examples/session_serde.rs",
    custom_type = "../examples/custom_type.rs",
    retention = "../examples/retention.rs",
    pipeline_checkpoints = "../examples/pipeline_checkpoints.rs",
);
