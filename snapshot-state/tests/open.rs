//! Opening stores from URLs.

use snapshot_state::Lookup;
use snapshot_state::Order;
use snapshot_state::Value;
use snapshot_state::{Create, Error, OpenError, StoreUrl};

#[tokio::test]
async fn paths_and_file_urls_open_directories() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a");
    let url = format!("file://{}", path.display());
    let manager = snapshot_state::open_or_create(&url).expect("open");
    manager
        .dump(&snapshot_state::value!(1))
        .await
        .expect("dump");
    assert!(path.is_dir());
    let again = snapshot_state::open(path.to_str().expect("utf-8")).expect("open");
    assert_eq!(again.list(Order::NewestFirst).await.expect("list").len(), 1);
}

#[test]
fn opening_to_read_never_creates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mistyped = dir.path().join("chekpoints");
    let text = mistyped.to_str().expect("utf-8");
    for url in [text.to_string(), format!("file://{text}")] {
        let err = snapshot_state::open(&url).expect_err("missing");
        assert!(
            matches!(&err, OpenError::Store(Error::StoreNotFound { location, .. }) if location.contains("chekpoints")),
            "{err:?}"
        );
        assert!(
            snapshot_state::open_store(&url, Create::No)
                .expect_err("missing")
                .to_string()
                .contains("does not exist")
        );
        assert!(!mistyped.exists(), "{url} created the directory");
    }
    snapshot_state::open_store(text, Create::IfMissing).expect("created");
    assert!(mistyped.is_dir());
}

#[tokio::test]
async fn memory_urls_open_empty_stores() {
    let manager = snapshot_state::open("memory:").expect("open");
    assert_eq!(
        manager.load::<Value>(Lookup::Latest).await.expect("load"),
        None
    );
}

#[test]
fn bad_urls_are_clear_errors() {
    assert!(
        matches!(snapshot_state::open("gs://bucket/x"), Err(OpenError::UnsupportedScheme { scheme, .. }) if scheme == "gs")
    );
    assert!(matches!(
        snapshot_state::open("s3://"),
        Err(OpenError::InvalidUrl { .. })
    ));
    assert!(matches!(
        snapshot_state::open(""),
        Err(OpenError::InvalidUrl { .. })
    ));
    assert_eq!(
        StoreUrl::parse("s3://b").expect("parse"),
        StoreUrl::S3 {
            bucket: "b".into(),
            prefix: String::new(),
            writes: None,
        }
    );
    let file = tempfile::NamedTempFile::new().expect("file");
    let err = snapshot_state::open(file.path().to_str().expect("utf-8"))
        .expect_err("a file is not a directory");
    assert!(
        snapshot_state::chain_to_string(&err).contains("not a directory"),
        "{err}"
    );
}

#[cfg(feature = "s3")]
#[test]
fn s3_urls_build_an_s3_store() {
    // No request is made when opening; the bucket and prefix come from the URL.
    let store = snapshot_state::open_store("s3://bucket/some/prefix", Create::No).expect("open");
    let shown = format!("{store:?}");
    assert!(shown.contains("s3://bucket/some/prefix"), "{shown}");
    snapshot_state::open_store("s3://bucket/p?writes=claims", Create::No)
        .expect("a known protocol");
    let err = snapshot_state::open_store("s3://bucket/p?writes=sometimes", Create::No)
        .expect_err("an unknown protocol");
    assert!(
        snapshot_state::chain_to_string(&err).contains("invalid write protocol"),
        "{err}"
    );
}

#[cfg(feature = "s3")]
#[test]
fn s3_mistakes_are_caught_before_any_request_and_never_echo_secrets() {
    let err = snapshot_state::open("s3://Bad_Bucket!/x").expect_err("invalid bucket");
    let text = snapshot_state::chain_to_string(&err);
    assert!(text.contains("invalid bucket name"), "{text}");
    assert!(!text.contains("credentials"), "{text}");
    let err = snapshot_state::open("s3://AKID:SECRET@bucket/p").expect_err("credentials in URL");
    let text = format!("{} {err:?}", snapshot_state::chain_to_string(&err));
    assert!(text.contains("AWS_ACCESS_KEY_ID"), "{text}");
    assert!(
        !text.contains("SECRET@") && !text.contains("AKID"),
        "{text}"
    );
}

#[test]
fn unsupported_urls_never_echo_credentials() {
    let err = snapshot_state::open("https://user:SECRET@example.com/x").expect_err("unsupported");
    let text = format!("{err} {err:?}");
    assert!(text.contains("https://***@example.com/x"), "{text}");
    assert!(!text.contains("SECRET"), "{text}");
}

#[cfg(not(feature = "s3"))]
#[test]
fn s3_urls_without_the_feature_name_it() {
    let err = snapshot_state::open("s3://bucket/prefix").expect_err("no s3 feature");
    assert!(matches!(
        err,
        OpenError::FeatureDisabled { feature: "s3", .. }
    ));
    assert!(err.to_string().contains("`s3` feature"), "{err}");
}
