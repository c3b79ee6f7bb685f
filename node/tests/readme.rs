//! The README's configuration table documents every variable the binary reads.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

#[test]
fn every_config_variable_is_documented_in_the_readme() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let rows: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `")).collect();
    let missing: Vec<String> = node::cli::env_vars()
        .into_iter()
        .filter(|var| {
            !rows
                .iter()
                .any(|row| row.starts_with(&format!("| `{var}` |")))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "README.md configuration table misses {missing:?}"
    );
}
