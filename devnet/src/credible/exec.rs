//! How the sidecar stand-in runs a candidate tx: on the L2 itself, with `debug_traceCall` on
//! the parent block's state plus what the iteration's earlier txs changed (as state overrides)
//! and the iteration's block env (as block overrides), the way the real sidecar runs it on its
//! per-iteration fork (credible-sdk `engine/mod.rs`, `execute_transaction_default`). The demo
//! assertion is the real `OwnableAssertion`'s (credible-sdk
//! `testdata/mock-protocol/assertions/src/OwnableAssertion.sol`): the owner of the protected
//! contract is the same before and after each tx.

use std::collections::BTreeMap;

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::trace::geth::{AccountState, CallFrame, DiffMode},
};
use common::credible_layer::wire::{BlockEnv, Transaction};
use serde_json::{Value, json};

use super::state::Verdict;

/// What one tx changed: the accounts' values after it (prestate tracer, diff mode).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects(pub BTreeMap<Address, AccountState>);

/// The contract whose owner (storage slot 0) must never change.
#[derive(Debug, Clone, Copy)]
pub struct OwnerAssertion {
    /// The protected contract.
    pub target: Address,
}

/// A big-endian field of the wire as a U256 (empty: zero).
fn be(bytes: &[u8]) -> U256 {
    U256::try_from_be_slice(bytes).unwrap_or_default()
}

/// State overrides that put the fork's earlier txs' changes on top of the parent state.
fn overrides(earlier: &[Effects]) -> Value {
    let mut accounts: BTreeMap<Address, serde_json::Map<String, Value>> = BTreeMap::new();
    for effects in earlier {
        for (address, account) in &effects.0 {
            let entry = accounts.entry(*address).or_default();
            if let Some(balance) = account.balance {
                entry.insert("balance".into(), json!(balance));
            }
            if let Some(nonce) = account.nonce {
                entry.insert("nonce".into(), json!(format!("{nonce:#x}")));
            }
            if let Some(code) = &account.code {
                entry.insert("code".into(), json!(code));
            }
            if !account.storage.is_empty() {
                let diff = entry
                    .entry("stateDiff")
                    .or_insert_with(|| json!({}))
                    .as_object_mut();
                if let Some(diff) = diff {
                    for (slot, value) in &account.storage {
                        diff.insert(slot.to_string(), json!(value));
                    }
                }
            }
        }
    }
    json!(accounts)
}

/// Diff mode leaves a slot that became zero out of `post`: put it back as zero, so the next
/// tx's override clears it.
fn changes(diff: DiffMode) -> Effects {
    let DiffMode { pre, mut post } = diff;
    for (address, before) in pre {
        if let Some(after) = post.get_mut(&address) {
            for slot in before.storage.keys() {
                after.storage.entry(*slot).or_insert(B256::ZERO);
            }
        }
    }
    Effects(post)
}

/// Runs `tx` as the block env `env` says, on the state of block `parent` plus `earlier`.
/// `Err`: it could not run (the sidecar's FAILED), with why.
pub async fn execute(
    l2: &DynProvider,
    env: &BlockEnv,
    parent: u64,
    earlier: &[Effects],
    tx: &Transaction,
    assertion: OwnerAssertion,
) -> Result<(Verdict, Effects), String> {
    let tx_env = tx.tx_env.as_ref().ok_or("no tx env")?;
    let caller = Address::try_from(tx_env.caller.as_slice()).map_err(|e| e.to_string())?;
    let state = overrides(earlier);
    // Nonce: the fork's (an earlier tx of the iteration) or the parent's.
    let expected = match earlier
        .iter()
        .rev()
        .find_map(|e| e.0.get(&caller).and_then(|a| a.nonce))
    {
        Some(nonce) => nonce,
        None => l2
            .get_transaction_count(caller)
            .number(parent)
            .await
            .map_err(|e| format!("reading the caller's nonce: {e}"))?,
    };
    if tx_env.nonce != expected {
        return Err(format!(
            "nonce {} but the account's is {expected}",
            tx_env.nonce
        ));
    }
    let mut call = json!({
        "from": caller,
        "gas": format!("{:#x}", tx_env.gas_limit),
        "value": be(&tx_env.value),
        "input": Bytes::copy_from_slice(&tx_env.data),
    });
    if tx_env.transact_to.len() == 20 {
        call["to"] = json!(Address::from_slice(&tx_env.transact_to));
    }
    if tx_env.tx_type >= 2 {
        call["maxFeePerGas"] = json!(be(&tx_env.gas_price));
        let tip = tx_env
            .gas_priority_fee
            .as_deref()
            .map(be)
            .unwrap_or_default();
        call["maxPriorityFeePerGas"] = json!(tip);
    } else {
        call["gasPrice"] = json!(be(&tx_env.gas_price));
    }
    let block = json!({
        "number": be(&env.number),
        "time": format!("{:#x}", be(&env.timestamp).saturating_to::<u64>()),
        "baseFee": json!(U256::from(env.basefee)),
        "feeRecipient": Address::try_from(env.beneficiary.as_slice()).unwrap_or_default(),
    });
    let at = format!("{parent:#x}");
    let prestate = l2.raw_request::<_, DiffMode>(
        "debug_traceCall".into(),
        (
            &call,
            &at,
            json!({"tracer": "prestateTracer", "tracerConfig": {"diffMode": true},
                   "stateOverrides": state, "blockOverrides": block}),
        ),
    );
    let calls = l2.raw_request::<_, CallFrame>(
        "debug_traceCall".into(),
        (
            &call,
            &at,
            json!({"tracer": "callTracer", "stateOverrides": state, "blockOverrides": block}),
        ),
    );
    let (diff, frame) = tokio::join!(prestate, calls);
    let diff = diff.map_err(|e| e.to_string())?;
    let frame = frame.map_err(|e| e.to_string())?;
    let owner_before = diff
        .pre
        .get(&assertion.target)
        .and_then(|a| a.storage.get(&B256::ZERO))
        .copied();
    // `changes` puts back the slots that became zero (an owner set to address(0) changes it too).
    let effects = changes(diff);
    let owner_after = effects
        .0
        .get(&assertion.target)
        .and_then(|a| a.storage.get(&B256::ZERO))
        .copied();
    let verdict = match (&frame.error, owner_after) {
        (_, Some(after)) if after != owner_before.unwrap_or_default() => Verdict::AssertionFailed,
        (None, _) => Verdict::Success,
        (Some(_), _) => Verdict::Reverted,
    };
    Ok((verdict, effects))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_txs_see_earlier_changes_and_cleared_slots() {
        let a = Address::repeat_byte(1);
        let slot = B256::with_last_byte(3);
        let mut pre = BTreeMap::new();
        pre.insert(
            a,
            AccountState {
                storage: [(slot, B256::repeat_byte(9))].into(),
                ..Default::default()
            },
        );
        let mut post = BTreeMap::new();
        post.insert(
            a,
            AccountState {
                nonce: Some(4),
                ..Default::default()
            },
        );
        let effects = changes(DiffMode { pre, post });
        let value = overrides(&[effects]);
        let account = value
            .as_object()
            .and_then(|accounts| accounts.values().next())
            .cloned()
            .unwrap_or_default();
        assert_eq!(account["nonce"], json!("0x4"));
        assert_eq!(account["stateDiff"][slot.to_string()], json!(B256::ZERO));
    }
}
