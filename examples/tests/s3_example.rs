//! The pipeline-checkpoints example against a real S3 server (SeaweedFS on 127.0.0.1,
//! started here), configured the way a user would: `AWS_*` variables and an `s3://` URL.
//! Fails, never skips, if the server cannot be started.

use snapshot_testkit::s3 as support;

#[allow(dead_code)]
#[path = "../examples/pipeline_checkpoints.rs"]
mod pipeline_checkpoints;

fn main() {
    let weed = support::Weed::start();
    #[allow(unsafe_code)]
    // SAFETY: no other thread exists yet in this process (the runtime starts below).
    unsafe {
        std::env::set_var("AWS_ENDPOINT", weed.endpoint());
        std::env::set_var("AWS_ALLOW_HTTP", "true");
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_ACCESS_KEY_ID", support::ACCESS_KEY);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", support::SECRET_KEY);
    }
    let url = format!(
        "s3://{}/examples/pipeline-{}",
        support::BUCKET,
        std::process::id()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(pipeline_checkpoints::demo(&url))
        .unwrap_or_else(|e| panic!("the S3 example failed: {e}"));
    println!(
        "pipeline_checkpoints example ran against {url} at {}",
        weed.endpoint()
    );
}
