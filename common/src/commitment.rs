//! The hashes a proof commits to, computed exactly as the inbox computes them (protocol.md §1.8),
//! and the mock verifier's public input (§2).

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    sol_types::SolValue,
};
use bindings::{Checkpoint, Commitment, Proposal};

/// `hashSignalSlots`: zero for no slots, else `keccak256(abi.encode(bytes32[]))`.
pub fn signal_slots_hash(slots: &[B256]) -> B256 {
    if slots.is_empty() {
        B256::ZERO
    } else {
        keccak256(slots.to_vec().abi_encode())
    }
}

/// `hashProposal`: `keccak256(abi.encode(proposal))`.
pub fn proposal_hash(proposal: &Proposal) -> B256 {
    keccak256(proposal.abi_encode())
}

/// `hashCommitment` of a proposal on top of `last_finalized_block_hash`, ending at `checkpoint`.
pub fn commitment_hash(
    proposal_hash: B256,
    last_finalized_block_hash: B256,
    checkpoint: &Checkpoint,
) -> B256 {
    keccak256(
        Commitment {
            proposalHash: proposal_hash,
            lastFinalizedBlockHash: last_finalized_block_hash,
            checkpoint: checkpoint.clone(),
        }
        .abi_encode(),
    )
}

/// The public input every Surge verifier checks (ProofVerifierDummy signs it directly):
/// `keccak256("VERIFY_PROOF" ‖ l2ChainId ‖ verifier ‖ commitmentHash ‖ 0)`, each a 32-byte word.
pub fn public_input(l2_chain_id: u64, verifier: Address, commitment_hash: B256) -> B256 {
    keccak256(
        (
            B256::right_padding_from(b"VERIFY_PROOF"),
            U256::from(l2_chain_id),
            U256::from_be_slice(verifier.as_slice()),
            commitment_hash,
            B256::ZERO,
        )
            .abi_encode(),
    )
}
