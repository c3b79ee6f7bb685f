//! Property-based fuzzing of the decoders in `realtime` that read other people's bytes: Raiko's
//! answers, the `surge_*` params and a forced inclusion's blob (anyone's bytes, opened the way
//! Raiko's guest opens them). Arbitrary input never panics; a valid input reads back as what
//! it says; damaged ones give errors. The harness (runner, mutations, JSON, txs, manifests) is
//! `common/tests/fuzz/`; `scripts/fuzz <target> <seconds>` runs one target for long.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

// common's harness: one copy for both crates' targets. This crate uses only part of it.
#[allow(dead_code)]
#[path = "../../common/tests/fuzz/mod.rs"]
mod fuzz;
// This crate's targets' inputs.
#[path = "fuzz/cases.rs"]
mod cases;

use std::time::Duration;

use alloy::primitives::U256;
use cases::{Call, CallValue, damaged, forced_case, params_case, raiko_case};
use common::codec::{blob, manifest::DerivationSourceManifest, privacy};
use fuzz::runner::run;
use jsonrpsee::types::Params;
use proptest::prelude::*;
use realtime::{
    bridge::{
        rpc::{self, TxStatusQuery},
        status::UserOp,
    },
    forced_inclusion::{self, Keys},
    prover::wire,
};
use serde_json::Value;

#[test]
fn fuzz_raiko() {
    run("raiko", 3_000, raiko_case(), |case| {
        let body = damaged(case.doc(), &case.edits, &case.mutations);
        let answer = wire::interpret(case.http, &body, case.retry_after.map(Duration::from_secs));
        if let Some(expected) = case.expected() {
            prop_assert_eq!(answer, expected);
        }
        // The status classifier on its own, with whatever the answer's status is.
        if let Ok(value) = serde_json::from_str::<Value>(&body) {
            let _ = wire::classify(&value["data"]["status"]);
            let _ = wire::classify(&value);
        }
        Ok(())
    });
}

#[test]
fn fuzz_surge_params() {
    run("surge_params", 3_000, params_case(), |case| {
        let text = case.text();
        let params = Params::new(text.as_deref());
        // Every method's reader on every input: a client may send any params to any method.
        let send = rpc::send_user_op_params(&params);
        let status = rpc::user_op_status_params(&params);
        let tx_status = rpc::tx_status_params(&params);
        let call = rpc::return_call_params(&params);
        let value = call.as_ref().map(|call| call.value());
        if !case.untouched() {
            return Ok(());
        }
        match &case.call {
            Call::Send {
                submitter,
                calldata,
            } => prop_assert_eq!(
                send.ok(),
                Some(UserOp {
                    submitter: *submitter,
                    calldata: calldata.clone()
                })
            ),
            Call::Status(id) => prop_assert_eq!(status.ok(), Some(*id)),
            Call::TxStatus { id, hash } => prop_assert_eq!(
                tx_status.ok(),
                id.map(TxStatusQuery::UserOp)
                    .or(hash.map(TxStatusQuery::Tx))
            ),
            Call::Return {
                value: expected, ..
            } => {
                let expected = match expected {
                    CallValue::Absent => U256::ZERO,
                    CallValue::Number(n) => U256::from(*n),
                    CallValue::Decimal(n) | CallValue::Hex(n) => *n,
                };
                prop_assert_eq!(value.ok().and_then(Result::ok), Some(expected));
            }
            Call::Json(_) | Call::Absent => {}
        }
        Ok(())
    });
}

#[test]
fn fuzz_forced() {
    run("forced", 400, forced_case(), |case| {
        let data = case.payload();
        let Some(blob) = case.blob(data.clone(), false) else {
            return Ok(());
        };
        let opened = forced_inclusion::open(&blob, case.offset, case.keys());
        let undamaged = case.payload_mutations.is_empty() && case.blob_mutations.is_empty();
        if undamaged && matches!(case.scheme, 0x00 | 0x01) {
            prop_assert_eq!(
                &opened,
                &case
                    .with_keys
                    .then_some(case.manifest.clone())
                    .or((case.scheme == 0x00).then_some(case.manifest.clone()))
            );
        }
        // Raiko reads only the size word's low 8 bytes: the others change nothing.
        if case.blob_mutations.is_empty()
            && let Some(noisy) = case.blob(data, true)
        {
            prop_assert_eq!(
                forced_inclusion::open(&noisy, case.offset, case.keys()),
                opened
            );
        }
        Ok(())
    });
}

// ---- Regressions: inputs the targets found ----

/// Found by `fuzz_forced`: an encrypted inclusion whose frame's size word has a high byte set
/// (Raiko reads only the low 8 bytes) opened in Raiko but not in the node, which gave the blob's
/// own frame to the strict privacy decoder: the node would have built an empty inclusion block
/// where Raiko derives the txs. Anyone can seal such a payload under scheme 0x02.
#[test]
fn forced_inclusion_opens_whatever_the_size_words_high_bytes_hold() {
    let manifest = DerivationSourceManifest::default();
    let key = [0u8; 32];
    let mut data = privacy::encrypt(&manifest.plaintext_payload(), &key).unwrap();
    data[32] = 1;
    let blobs = blob::encode(&data);
    let keys = Keys {
        symmetric: Some(key),
        forced: None,
    };
    assert_eq!(forced_inclusion::open(&blobs[0], 0, keys), Some(manifest));
}
