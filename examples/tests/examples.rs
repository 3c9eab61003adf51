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
    tagged_retention = "../examples/tagged_retention.rs",
    encrypted_config = "../examples/encrypted_config.rs",
);

/// A failing example prints its error as text with its causes, not as a `Debug` dump.
#[test]
fn example_errors_are_readable() {
    let exe = std::env::current_exe().expect("test binary");
    let examples = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .join("examples")
        .join("pipeline_checkpoints");
    let out = std::process::Command::new(&examples)
        .env("SNAPSHOT_URL", "gs://bucket/checkpoints")
        .output()
        .expect("the example is built with the tests");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Error: unsupported store URL scheme \"gs\""),
        "{err}"
    );
    assert!(!err.contains("UnsupportedScheme {"), "{err}");
}
