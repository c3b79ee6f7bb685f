//! Generates the Credible Layer sidecar's gRPC types and client/server stubs from
//! `proto/sidecar.proto`, parsed by protox (pure Rust: no `protoc` on any machine).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/sidecar.proto");
    let files = protox::compile(["proto/sidecar.proto"], ["proto"])?;
    tonic_prost_build::configure().compile_fds(files)?;
    Ok(())
}
