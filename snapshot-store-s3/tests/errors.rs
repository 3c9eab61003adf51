//! Errors a person can act on: mistakes in the configuration are refused before any
//! request, and a failed request names its root cause. No server is needed.

use std::time::Duration;

use bytes::Bytes;
use snapshot_store::{Error, SnapshotKey, SnapshotStore};
use snapshot_store_s3::{S3Error, S3Store, S3StoreBuilder};

fn base() -> S3StoreBuilder {
    S3Store::builder()
        .with_bucket_name("snapshots")
        .with_region("us-east-1")
        .with_access_key_id("AKIDEXAMPLE")
        .with_secret_access_key("very-secret")
}

fn s3_error(err: &Error) -> &S3Error {
    match err {
        Error::Backend {
            backend: "s3",
            source,
        } => source.downcast_ref::<S3Error>().expect("an S3Error"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_bucket_names_are_refused_before_any_request() {
    for bad in [
        "Bad_Bucket!",
        "ab",
        "UPPER",
        "-starts-with-hyphen",
        "two..dots",
        "192.168.1.1",
        &"x".repeat(64),
    ] {
        let err = base()
            .with_bucket_name(bad)
            .with_endpoint("http://127.0.0.1:1")
            .with_allow_http(true)
            .build()
            .expect_err(bad);
        assert!(
            matches!(s3_error(&err), S3Error::InvalidBucketName { bucket, .. } if bucket == bad),
            "{bad}: {err}"
        );
        let text = err.chain_to_string();
        assert!(
            text.contains("invalid bucket name") && !text.contains("credentials"),
            "{text}"
        );
    }
    for good in ["snapshots", "my-bucket.2024", "abc"] {
        base().with_bucket_name(good).build().expect(good);
    }
}

#[test]
fn plain_http_without_permission_says_which_variable_to_set() {
    let err = base()
        .with_endpoint("http://127.0.0.1:9000")
        .build()
        .expect_err("plain http not allowed");
    assert!(matches!(
        s3_error(&err),
        S3Error::PlainHttpNotAllowed { .. }
    ));
    assert!(
        err.chain_to_string().contains("AWS_ALLOW_HTTP=true"),
        "{err}"
    );
    base()
        .with_endpoint("http://127.0.0.1:9000")
        .with_allow_http(true)
        .build()
        .expect("allowed");
}

#[test]
fn malformed_endpoints_are_refused_and_never_echo_credentials() {
    for bad in [
        "127.0.0.1:5055",
        "not a url",
        "http://127.0.0.1:99999",
        "http://[::1",
        "ftp://127.0.0.1",
        "http://user:PASSWORD@127.0.0.1:9000",
    ] {
        let err = base()
            .with_endpoint(bad)
            .with_allow_http(true)
            .build()
            .expect_err(bad);
        assert!(
            matches!(s3_error(&err), S3Error::InvalidEndpoint { .. }),
            "{bad}: {err}"
        );
        let text = format!("{} {err:?}", err.chain_to_string());
        assert!(!text.contains("PASSWORD"), "{text}");
    }
    let builder = base().with_endpoint("https://user:PASSWORD@s3.example.com");
    assert!(!format!("{builder:?}").contains("PASSWORD"));
}

#[tokio::test]
async fn a_refused_connection_says_so() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let store = base()
        .with_endpoint(format!("http://127.0.0.1:{port}"))
        .with_allow_http(true)
        .with_connect_timeout(Duration::from_millis(500))
        .with_retries(0, Duration::from_secs(2))
        .build()
        .expect("store");
    let err = store
        .put(SnapshotKey::now(), Bytes::from_static(b"x"))
        .await
        .expect_err("nothing listens");
    let text = err.chain_to_string().to_lowercase();
    assert!(text.contains("connection refused"), "{err}");
    println!("shown: {}", err.chain_to_string());
    assert!(!text.contains("very-secret"), "{err}");
    // One line that says what failed and what to check, the cause said once.
    assert!(
        matches!(s3_error(&err), S3Error::Unreachable { .. }),
        "{err:?}"
    );
    assert_eq!(text.matches("connection refused").count(), 1, "{text}");
    assert!(text.contains("aws_endpoint"), "{text}");
    assert!(text.len() < 400, "{} characters: {text}", text.len());
}

#[test]
fn virtual_hosted_requests_need_a_host_name() {
    let err = base()
        .with_endpoint("http://127.0.0.1:9000")
        .with_allow_http(true)
        .with_virtual_hosted_style_request(true)
        .build()
        .expect_err("an IP address cannot carry the bucket");
    assert!(
        matches!(s3_error(&err), S3Error::InvalidEndpoint { reason, .. } if reason.contains("virtual-hosted")),
        "{err}"
    );
    // A host name takes the bucket in front of it.
    base()
        .with_endpoint("https://s3.example.com")
        .with_virtual_hosted_style_request(true)
        .build()
        .expect("a host name is fine");
}

#[test]
fn write_protocols_parse_and_bad_ones_are_named() {
    use snapshot_store_s3::WriteProtocol;
    assert_eq!(
        "claims".parse::<WriteProtocol>().ok(),
        Some(WriteProtocol::Claims)
    );
    let err = "always"
        .parse::<WriteProtocol>()
        .expect_err("not a protocol");
    assert!(
        err.to_string().contains("auto, conditional or claims"),
        "{err}"
    );
}
