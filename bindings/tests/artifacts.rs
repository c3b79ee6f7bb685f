//! The committed contract artifacts are exactly what the pinned compiler produces from
//! `bindings/contracts` today.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::process::Command;

#[test]
fn committed_artifacts_match_a_fresh_compile_of_the_sources() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let output = Command::new("node")
        .args(["scripts/compile-contracts.mjs", "--check"])
        .current_dir(root)
        .output()
        .expect("node is installed");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
