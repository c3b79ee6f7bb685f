//! End to end, cross-chain calls on the devnet, driven as outside clients drive them:
//! L1→L2→L1 user ops (`user_ops`), several users at once whose calls depend on each other
//! (`many_users`), and L2→L1→L2 txs that consume their L1 answers (`l2_calls`). One binary,
//! one devnet at a time.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

#[path = "../support/mod.rs"]
mod support;

mod client;
mod l2_calls;
mod many_users;
mod user_ops;
