//! The `preconfer` binary.

fn main() -> std::process::ExitCode {
    node::main_entry()
}
