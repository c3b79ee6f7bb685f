use common::credible_layer::wire::{BlockEnv, TransactionEnv};

use super::*;

fn u256(n: u64) -> Vec<u8> {
    let mut bytes = vec![0u8; 24];
    bytes.extend(n.to_be_bytes());
    bytes
}

fn h(n: u8) -> Vec<u8> {
    vec![n; 32]
}

fn ev(id: u64, payload: event::Event) -> Event {
    Event {
        event_id: id,
        event: Some(payload),
    }
}

fn commit(id: u64, block: u64, n: u64, last: Option<u8>) -> Event {
    ev(
        id,
        event::Event::CommitHead(CommitHead {
            last_tx_hash: last.map(h),
            n_transactions: n,
            block_number: u256(block),
            selected_iteration_id: 1,
            block_hash: h(0xbb),
            timestamp: u256(100),
            ..Default::default()
        }),
    )
}

fn iteration(id: u64, block: u64) -> Event {
    ev(
        id,
        event::Event::NewIteration(NewIteration {
            block_env: Some(BlockEnv {
                number: u256(block),
                beneficiary: vec![0; 20],
                timestamp: u256(100),
                difficulty: u256(0),
                ..Default::default()
            }),
            iteration_id: 1,
            ..Default::default()
        }),
    )
}

fn tx_id(block: u64, index: u64, hash: u8) -> TxExecutionId {
    TxExecutionId {
        block_number: u256(block),
        iteration_id: 1,
        tx_hash: h(hash),
        index,
    }
}

fn tx(id: u64, block: u64, index: u64, hash: u8, prev: Option<u8>) -> Event {
    ev(
        id,
        event::Event::Transaction(Transaction {
            tx_execution_id: Some(tx_id(block, index, hash)),
            tx_env: Some(TransactionEnv {
                caller: vec![1; 20],
                gas_price: vec![0; 16],
                value: vec![0; 32],
                ..Default::default()
            }),
            prev_tx_hash: prev.map(h),
        }),
    )
}

fn reorg(id: u64, block: u64, index: u64, hashes: &[u8]) -> Event {
    ev(
        id,
        event::Event::Reorg(ReorgEvent {
            tx_execution_id: Some(tx_id(block, index, *hashes.last().unwrap_or(&0))),
            tx_hashes: hashes.iter().map(|n| h(*n)).collect(),
        }),
    )
}

/// Applies `event`, running transactions with `verdict`.
fn apply(state: &mut SidecarState, event: Event, verdict: Verdict) -> Result<Processed, Refusal> {
    state.on_event(event, |_| verdict)
}

fn ok(state: &mut SidecarState, event: Event) -> Processed {
    apply(state, event, Verdict::Success).unwrap()
}

/// A sidecar whose head is block 10.
fn started() -> SidecarState {
    let mut state = SidecarState::new();
    assert_eq!(
        ok(&mut state, commit(1, 10, 0, None)),
        Processed::Invalidated(Invalidation::Bootstrap)
    );
    state
}

#[test]
fn nothing_but_a_commit_head_is_taken_before_the_first_one() {
    let mut state = SidecarState::new();
    assert_eq!(
        apply(&mut state, iteration(1, 11), Verdict::Success),
        Err(Refusal::NoCommitHead)
    );
    assert_eq!(
        apply(&mut state, Event::default(), Verdict::Success),
        Err(Refusal::NoPayload)
    );
    ok(&mut state, commit(2, 10, 0, None));
    assert_eq!(state.head(), Some(10));
    assert_eq!(ok(&mut state, iteration(3, 11)), Processed::Applied);
}

#[test]
fn event_ids_are_deduplicated_service_wide_even_when_the_event_failed() {
    let mut state = started();
    assert_eq!(ok(&mut state, commit(1, 11, 0, None)), Processed::Duplicate);
    let refused = apply(&mut state, reorg(7, 11, 0, &[]), Verdict::Success);
    assert!(refused.is_err());
    // The failed event used its id up: sent again, it is skipped (and acked).
    assert_eq!(ok(&mut state, iteration(7, 11)), Processed::Duplicate);
    assert_eq!(state.stats.duplicates, 2);
}

#[test]
fn a_transaction_runs_only_right_after_its_predecessor() {
    let mut state = started();
    ok(&mut state, iteration(2, 11));
    // Index 1 before index 0, and index 1 without prev_tx_hash: held back, never run.
    assert_eq!(
        ok(&mut state, tx(3, 11, 1, 0xa1, Some(0xa0))),
        Processed::Parked
    );
    assert_eq!(ok(&mut state, tx(4, 11, 0, 0xa0, None)), Processed::Applied);
    assert_eq!(ok(&mut state, tx(5, 11, 1, 0xa1, None)), Processed::Parked);
    assert_eq!(
        ok(&mut state, tx(6, 11, 1, 0xa1, Some(0xa0))),
        Processed::Applied
    );
    assert_eq!(state.stats.parked, 2);
    assert_eq!(state.result(&tx_id(11, 1, 0xa1)), Some(&Verdict::Success));
    assert_eq!(
        ok(&mut state, commit(7, 11, 2, Some(0xa1))),
        Processed::Applied
    );
    assert_eq!(state.head(), Some(11));
}

#[test]
fn an_assertion_failure_counts_and_a_rollback_from_the_tail_removes_it() {
    let mut state = started();
    ok(&mut state, iteration(2, 11));
    ok(&mut state, tx(3, 11, 0, 0xa0, None));
    let bad = apply(
        &mut state,
        tx(4, 11, 1, 0xa1, Some(0xa0)),
        Verdict::AssertionFailed,
    );
    assert_eq!(bad, Ok(Processed::Applied));
    assert_eq!(
        state.result(&tx_id(11, 1, 0xa1)),
        Some(&Verdict::AssertionFailed)
    );
    // Only from the tail, newest last, naming the newest executed tx.
    assert_eq!(ok(&mut state, reorg(5, 11, 1, &[0xa1])), Processed::Applied);
    assert_eq!(state.result(&tx_id(11, 1, 0xa1)), None);
    // The next tx takes the freed index after the survivor.
    assert_eq!(
        ok(&mut state, tx(6, 11, 1, 0xa2, Some(0xa0))),
        Processed::Applied
    );
    assert_eq!(
        ok(&mut state, commit(7, 11, 2, Some(0xa2))),
        Processed::Applied
    );
    assert_eq!(state.stats.reorgs, 1);
    assert!(
        !state
            .stats
            .invalidations
            .contains_key(&Invalidation::Engine)
    );
}

#[test]
fn a_reorg_that_is_not_the_executed_tail_invalidates_and_malformed_ones_are_refused() {
    let mut state = started();
    ok(&mut state, iteration(2, 11));
    ok(&mut state, tx(3, 11, 0, 0xa0, None));
    ok(&mut state, tx(4, 11, 1, 0xa1, Some(0xa0)));
    assert_eq!(
        apply(&mut state, reorg(5, 11, 0, &[]), Verdict::Success),
        Err(Refusal::Invalid("reorg: tx_hashes must not be empty"))
    );
    // The middle tx alone: not the tail.
    assert_eq!(
        ok(&mut state, reorg(6, 11, 0, &[0xa0])),
        Processed::Invalidated(Invalidation::Engine)
    );
}

#[test]
fn a_failed_tx_blocks_its_block_until_it_is_rolled_back() {
    let mut state = started();
    ok(&mut state, iteration(2, 11));
    let failed = apply(
        &mut state,
        tx(3, 11, 0, 0xa0, None),
        Verdict::Failed("nonce".into()),
    );
    assert_eq!(failed, Ok(Processed::Applied));
    assert_eq!(
        state.result(&tx_id(11, 0, 0xa0)).map(Verdict::status),
        Some(ResultStatus::Failed)
    );
    assert_eq!(
        ok(&mut state, tx(4, 11, 1, 0xa1, Some(0xa0))),
        Processed::Invalidated(Invalidation::Engine)
    );
    // Rolled back right away instead, the block goes on.
    let mut state = started();
    ok(&mut state, iteration(2, 11));
    apply(
        &mut state,
        tx(3, 11, 0, 0xa0, None),
        Verdict::Failed("nonce".into()),
    )
    .unwrap();
    assert_eq!(ok(&mut state, reorg(4, 11, 0, &[0xa0])), Processed::Applied);
    assert_eq!(ok(&mut state, tx(5, 11, 0, 0xa1, None)), Processed::Applied);
    assert_eq!(
        ok(&mut state, commit(6, 11, 1, Some(0xa1))),
        Processed::Applied
    );
}

#[test]
fn commit_checks_invalidate_the_cache_with_their_cause() {
    let cases = [
        // (iteration opened, commit block, n, last) → cause
        (true, 11, 2, Some(0xa0), Invalidation::Count),
        (true, 11, 1, Some(0xee), Invalidation::LastHash),
        (false, 11, 0, None, Invalidation::NoIteration),
    ];
    for (open, block, n, last, cause) in cases {
        let mut state = started();
        if open {
            ok(&mut state, iteration(2, 11));
            ok(&mut state, tx(3, 11, 0, 0xa0, None));
        }
        assert_eq!(
            ok(&mut state, commit(9, block, n, last)),
            Processed::Invalidated(cause),
            "{cause:?}"
        );
        assert_eq!(state.head(), Some(block), "the head moves on anyway");
    }
    // An iteration for a block that is not the head's successor.
    let mut state = started();
    assert_eq!(
        ok(&mut state, iteration(2, 13)),
        Processed::Invalidated(Invalidation::Head)
    );
    // Events about blocks at or below the head are dropped, a CommitHead too (a restarted
    // node names the head the sidecar has): no invalidation.
    assert_eq!(ok(&mut state, iteration(3, 10)), Processed::Stale);
    assert_eq!(ok(&mut state, commit(4, 10, 0, None)), Processed::Stale);
    assert_eq!(
        state.stats.invalidations.get(&Invalidation::NoIteration),
        None
    );
}

#[test]
fn the_id_memory_forgets_the_oldest_ids() {
    let mut state = started();
    for id in 100..100 + EVENT_ID_MEMORY as u64 {
        ok(&mut state, iteration(id, 12));
    }
    // Id 1 (the first CommitHead) is gone from the buffer: a reuse is processed again.
    assert_ne!(ok(&mut state, iteration(1, 11)), Processed::Duplicate);
    assert_eq!(ok(&mut state, iteration(150, 11)), Processed::Duplicate);
}

#[test]
fn fields_of_the_wrong_width_are_refused_as_upstream_decodes_them() {
    let mut state = started();
    ok(&mut state, iteration(2, 11));
    let mut short_fee = tx(3, 11, 0, 0xa0, None);
    let mut big_type = tx(4, 11, 0, 0xa0, None);
    if let Some(event::Event::Transaction(t)) = &mut short_fee.event {
        t.tx_env.as_mut().unwrap().gas_price = vec![0; 8];
    }
    if let Some(event::Event::Transaction(t)) = &mut big_type.event {
        t.tx_env.as_mut().unwrap().tx_type = 256;
    }
    assert_eq!(
        apply(&mut state, short_fee, Verdict::Success),
        Err(Refusal::Invalid("tx_env.gas_price"))
    );
    assert_eq!(
        apply(&mut state, big_type, Verdict::Success),
        Err(Refusal::Invalid("tx_env.tx_type"))
    );
}
