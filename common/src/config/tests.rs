use super::*;

const KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

#[test]
fn bounded_numbers_name_the_expectation() {
    assert_eq!(parse_heartbeat_ms("2000"), Ok(2000));
    let err = parse_heartbeat_ms("abc").unwrap_err();
    assert!(err.contains("milliseconds from 100 to 60000"), "{err}");
    assert!(parse_heartbeat_ms("50").is_err());
    assert!(parse_port("65536").is_err());
    assert_eq!(parse_port("0"), Ok(0));
    assert_eq!(parse_port("9898"), Ok(9898));
}

#[test]
fn rpc_urls_must_be_http_or_ws() {
    assert!(parse_rpc_url("ws://127.0.0.1:8546").is_ok());
    assert!(parse_rpc_url("ftp://x").unwrap_err().contains("ftp"));
    assert!(parse_rpc_url("not a url").is_err());
}

#[test]
fn signer_from_env_or_file_and_never_echoed() {
    let signer = resolve_signer(Some(KEY), None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    std::fs::write(&path, format!("{KEY}\n")).unwrap();
    assert_eq!(
        resolve_signer(None, Some(&path)).unwrap().address(),
        signer.address()
    );

    let bad = "0xdeadbeefsecret";
    let err = resolve_signer(Some(bad), None).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(KEY_VAR) && !text.contains("deadbeef"),
        "{text}"
    );

    assert!(matches!(
        resolve_signer(None, None),
        Err(ConfigError::Missing { var: KEY_VAR, .. })
    ));
    assert!(matches!(
        resolve_signer(Some(KEY), Some(&path)),
        Err(ConfigError::Conflict { .. })
    ));
    let missing = resolve_signer(None, Some(&dir.path().join("nope"))).unwrap_err();
    assert!(missing.to_string().contains(KEY_FILE_VAR));
}
