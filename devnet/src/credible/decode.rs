//! The sidecar stand-in's transport-level decoding: the field widths and rules credible-sdk's
//! `crates/sidecar/src/transport/grpc/server.rs` (`decode_commit_head`, `decode_new_iteration`,
//! `decode_block_env`, `decode_transaction`, `decode_tx_env`, `process_event`) enforces before
//! an event is acked. A failure is a failed ack and a closed stream.

use common::credible_layer::wire::event;

use super::state::Refusal;

/// A big-endian number of at most 32 bytes that fits in a u64.
pub(super) fn number(bytes: &[u8], what: &'static str) -> Result<u64, Refusal> {
    if bytes.len() != 32 || bytes[..24].iter().any(|b| *b != 0) {
        return Err(Refusal::Invalid(what));
    }
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&bytes[24..]);
    Ok(u64::from_be_bytes(tail))
}

/// A field whose length must be one of `allowed` (upstream's strict decoding).
fn width(bytes: &[u8], allowed: &[usize], what: &'static str) -> Result<(), Refusal> {
    allowed
        .contains(&bytes.len())
        .then_some(())
        .ok_or(Refusal::Invalid(what))
}

fn hash(bytes: &[u8], what: &'static str) -> Result<(), Refusal> {
    (bytes.len() == 32)
        .then_some(())
        .ok_or(Refusal::Invalid(what))
}

/// The transport's field checks (upstream's `decode_*` in `server.rs`): a failure is a failed
/// ack and a closed stream.
pub(super) fn validate(payload: &event::Event) -> Result<(), Refusal> {
    match payload {
        event::Event::CommitHead(commit) => {
            number(&commit.block_number, "commit_head.block_number")?;
            width(&commit.timestamp, &[32], "commit_head.timestamp")?;
            hash(&commit.block_hash, "commit_head.block_hash")?;
            if let Some(root) = &commit.parent_beacon_block_root {
                width(root, &[0, 32], "commit_head.parent_beacon_block_root")?;
            }
            let last = commit.last_tx_hash.as_ref().filter(|h| !h.is_empty());
            if let Some(last) = last {
                hash(last, "commit_head.last_tx_hash")?;
            }
            match (commit.n_transactions, last) {
                (0, Some(_)) => Err(Refusal::Invalid(
                    "commit_head: a last tx hash with no transactions",
                )),
                (1.., None) => Err(Refusal::Invalid(
                    "commit_head: transactions but no last tx hash",
                )),
                _ => Ok(()),
            }
        }
        event::Event::NewIteration(iteration) => {
            let env = iteration
                .block_env
                .as_ref()
                .ok_or(Refusal::Invalid("new_iteration.block_env"))?;
            number(&env.number, "block_env.number")?;
            if env.beneficiary.len() != 20 {
                return Err(Refusal::Invalid("block_env.beneficiary"));
            }
            width(&env.timestamp, &[32], "block_env.timestamp")?;
            width(&env.difficulty, &[32], "block_env.difficulty")?;
            if let Some(randao) = &env.prevrandao {
                width(randao, &[0, 32], "block_env.prevrandao")?;
            }
            if let Some(blob) = &env.blob_excess_gas_and_price {
                width(&blob.blob_gasprice, &[16], "block_env.blob_gasprice")?;
            }
            for parent in [
                &iteration.parent_block_hash,
                &iteration.parent_beacon_block_root,
            ]
            .into_iter()
            .flatten()
            {
                width(parent, &[0, 32], "new_iteration.parent hash")?;
            }
            Ok(())
        }
        event::Event::Transaction(tx) => {
            let id = tx
                .tx_execution_id
                .as_ref()
                .ok_or(Refusal::Invalid("transaction.tx_execution_id"))?;
            let env = tx
                .tx_env
                .as_ref()
                .ok_or(Refusal::Invalid("transaction.tx_env"))?;
            number(&id.block_number, "tx_execution_id.block_number")?;
            hash(&id.tx_hash, "tx_execution_id.tx_hash")?;
            if let Some(prev) = tx.prev_tx_hash.as_ref().filter(|h| !h.is_empty()) {
                hash(prev, "transaction.prev_tx_hash")?;
            }
            width(&env.caller, &[20], "tx_env.caller")?;
            width(&env.gas_price, &[16], "tx_env.gas_price")?;
            width(&env.value, &[32], "tx_env.value")?;
            width(&env.transact_to, &[0, 20], "tx_env.transact_to")?;
            if let Some(tip) = &env.gas_priority_fee {
                width(tip, &[0, 16], "tx_env.gas_priority_fee")?;
            }
            width(
                &env.max_fee_per_blob_gas,
                &[0, 16],
                "tx_env.max_fee_per_blob_gas",
            )?;
            for blob in &env.blob_hashes {
                width(blob, &[32], "tx_env.blob_hashes")?;
            }
            for item in &env.access_list {
                width(&item.address, &[20], "tx_env.access_list.address")?;
                for key in &item.storage_keys {
                    width(key, &[32], "tx_env.access_list.storage_keys")?;
                }
            }
            for auth in &env.authorization_list {
                width(&auth.chain_id, &[32], "tx_env.authorization_list.chain_id")?;
                width(&auth.address, &[20], "tx_env.authorization_list.address")?;
                width(&auth.r, &[32], "tx_env.authorization_list.r")?;
                width(&auth.s, &[32], "tx_env.authorization_list.s")?;
                if auth.y_parity > u32::from(u8::MAX) {
                    return Err(Refusal::Invalid("tx_env.authorization_list.y_parity"));
                }
            }
            if env.tx_type > u32::from(u8::MAX) {
                return Err(Refusal::Invalid("tx_env.tx_type"));
            }
            Ok(())
        }
        event::Event::Reorg(reorg) => {
            let id = reorg
                .tx_execution_id
                .as_ref()
                .ok_or(Refusal::Invalid("reorg.tx_execution_id"))?;
            number(&id.block_number, "reorg.block_number")?;
            for h in &reorg.tx_hashes {
                hash(h, "reorg.tx_hashes")?;
            }
            match reorg.tx_hashes.last() {
                None => Err(Refusal::Invalid("reorg: tx_hashes must not be empty")),
                Some(last) if *last != id.tx_hash => Err(Refusal::Invalid(
                    "reorg: tx_hashes last entry must match tx_hash",
                )),
                Some(_) => Ok(()),
            }
        }
    }
}
