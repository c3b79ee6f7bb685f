use super::*;
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: RealtimeArgs,
}

fn parse(extra: &[&str]) -> Result<RealtimeArgs, clap::Error> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let jwt = std::env::temp_dir().join(format!(
        "preconfer-config-test-{}-{n}.jwt",
        std::process::id()
    ));
    std::fs::write(&jwt, "ab".repeat(32)).unwrap();
    let jwt: &'static str = Box::leak(jwt.display().to_string().into_boxed_str());
    let mut argv = vec![
        "x",
        "--realtime-inbox-address",
        "0x00000000000000000000000000000000000000aa",
    ];
    if !extra.contains(&"--jwt-secret-file-path") {
        argv.extend(["--jwt-secret-file-path", jwt]);
    }
    argv.extend_from_slice(extra);
    Cli::try_parse_from(argv).map(|c| c.args)
}

#[test]
fn defaults_follow_catalyst() {
    let config = RealtimeConfig::resolve(&parse(&[]).unwrap()).unwrap();
    assert!(config.preconf_only);
    assert_eq!(config.proposal_limits.max_payload_bytes, 5 * 130_044);
    assert_eq!(config.proposal_limits.max_blocks, 192);
    assert_eq!(config.proposal_limits.max_anchor_age, 246);
    assert_eq!(config.block_policy.min_txs, 3);
    assert_eq!(config.block_policy.max_skipped_slots, 2);
    assert_eq!(config.prover.flag, 0b100);
    assert!(config.privacy_key.is_none());
    let mock = parse(&["--mock-mode", "true", "--preconf-only", "false"]).unwrap();
    let mock = RealtimeConfig::resolve(&mock).unwrap();
    assert_eq!(mock.prover.flag, MOCK_ECDSA_FLAG);
    assert!(!mock.preconf_only);
}

#[test]
fn invalid_values_name_the_variable() {
    let err = parse(&["--blobs-per-batch", "7"]).unwrap_err().to_string();
    assert!(err.contains("BLOBS_PER_BATCH"), "{err}");
    let err = parse(&["--preconf-only", "maybe"]).unwrap_err().to_string();
    assert!(err.contains("PRECONF_ONLY"), "{err}");
    let args = parse(&[
        "--blobs-per-batch",
        "1",
        "--max-bytes-per-tx-list",
        "130000",
    ])
    .unwrap();
    let err = RealtimeConfig::resolve(&args).unwrap_err().to_string();
    assert!(err.contains("MAX_BYTES_PER_TX_LIST"), "{err}");
    let args = parse(&["--jwt-secret-file-path", "/nonexistent/jwt"]).unwrap();
    let err = RealtimeConfig::resolve(&args).unwrap_err().to_string();
    assert!(err.contains("JWT_SECRET_FILE_PATH"), "{err}");
    let args = parse(&["--surge-privacy-mode", "true"]).unwrap();
    let err = RealtimeConfig::resolve(&args).unwrap_err().to_string();
    assert!(err.contains("SURGE_PRIVACY_SYMMETRIC_KEY"), "{err}");
    let args = parse(&[
        "--surge-privacy-mode",
        "true",
        "--surge-privacy-symmetric-key",
        "0x1234",
    ])
    .unwrap();
    let err = RealtimeConfig::resolve(&args).unwrap_err().to_string();
    assert!(
        err.contains("SURGE_PRIVACY_SYMMETRIC_KEY") && !err.contains("1234"),
        "{err}"
    );
    let err = parse(&["--proof-type", "sgx"]).unwrap_err().to_string();
    assert!(err.contains("PROOF_TYPE"), "{err}");
}
