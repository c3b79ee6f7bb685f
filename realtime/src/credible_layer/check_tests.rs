use super::*;

fn h(n: u8) -> B256 {
    B256::repeat_byte(n)
}

fn user(hash: u8, sender: u8) -> Candidate {
    Candidate {
        hash: h(hash),
        sender: Address::repeat_byte(sender),
        node_made: false,
    }
}

fn anchor() -> Candidate {
    Candidate {
        hash: h(0xaa),
        sender: Address::repeat_byte(0xaa),
        node_made: true,
    }
}

fn sent(progress: &Progress) -> Vec<(u64, Option<B256>)> {
    match progress {
        Progress::Send(out) => out
            .iter()
            .filter_map(|o| match o {
                Outgoing::Tx { index, prev, .. } => Some((*index, *prev)),
                Outgoing::Reorg { .. } => None,
            })
            .collect(),
        _ => vec![],
    }
}

/// Answers every tx of the round with `status_of(hash)`; returns the last progress.
fn answer(check: &mut BlockCheck, status_of: impl Fn(B256) -> ResultStatus) -> Progress {
    let mut last = Progress::Wait;
    for (index, hash) in check.missing() {
        last = check.on_result(index, hash, status_of(hash));
    }
    last
}

#[test]
fn every_candidate_is_sent_at_once_each_naming_its_predecessor() {
    let (check, progress) = BlockCheck::start(vec![anchor(), user(1, 1), user(2, 2)], |_| false);
    assert_eq!(
        sent(&progress),
        vec![(0, None), (1, Some(h(0xaa))), (2, Some(h(1)))]
    );
    assert_eq!(check.missing().len(), 3);
}

#[test]
fn a_clean_block_keeps_everything_once_all_verdicts_are_in() {
    let (mut check, _) = BlockCheck::start(vec![anchor(), user(1, 1), user(2, 2)], |_| false);
    assert_eq!(
        check.on_result(2, h(2), ResultStatus::Success),
        Progress::Wait
    );
    assert_eq!(
        check.on_result(1, h(1), ResultStatus::Reverted),
        Progress::Wait
    );
    // A verdict for a tx that is not at that index (stale) changes nothing.
    assert_eq!(
        check.on_result(0, h(9), ResultStatus::AssertionFailed),
        Progress::Wait
    );
    assert_eq!(
        check.on_result(0, h(0xaa), ResultStatus::Success),
        Progress::Done(Judgement::default())
    );
}

#[test]
fn an_assertion_failure_rolls_back_the_tail_and_resends_the_survivors() {
    // anchor, A1, B1, A2 (A's later tx), C1: A1 fails.
    let candidates = vec![
        anchor(),
        user(1, 0xa),
        user(2, 0xb),
        user(3, 0xa),
        user(4, 0xc),
    ];
    let (mut check, _) = BlockCheck::start(candidates, |_| false);
    let progress = answer(&mut check, |hash| {
        if hash == h(1) {
            ResultStatus::AssertionFailed
        } else {
            ResultStatus::Success
        }
    });
    let Progress::Send(out) = &progress else {
        panic!("expected a rollback and a resend, got {progress:?}");
    };
    // The rollback names the whole executed tail from the failed tx, newest last.
    assert_eq!(
        out[0],
        Outgoing::Reorg {
            index: 4,
            hashes: vec![h(1), h(2), h(3), h(4)],
        }
    );
    // B1 and C1 run again from index 1, after the anchor; A2 goes with A1.
    assert_eq!(sent(&progress), vec![(1, Some(h(0xaa))), (2, Some(h(2)))]);
    let done = answer(&mut check, |_| ResultStatus::Success);
    assert_eq!(
        done,
        Progress::Done(Judgement {
            dropped: vec![h(1)],
            deferred: vec![h(3)],
            fail_open: None,
        })
    );
}

#[test]
fn the_last_tx_failing_leaves_only_a_rollback() {
    let (mut check, _) = BlockCheck::start(vec![anchor(), user(1, 1)], |_| false);
    let progress = answer(&mut check, |hash| {
        if hash == h(1) {
            ResultStatus::AssertionFailed
        } else {
            ResultStatus::Success
        }
    });
    assert_eq!(
        progress,
        Progress::Send(vec![Outgoing::Reorg {
            index: 1,
            hashes: vec![h(1)],
        }])
    );
    assert!(check.settled());
    assert_eq!(check.judgement().dropped, vec![h(1)]);
}

#[test]
fn node_made_txs_are_kept_whatever_their_verdict_and_held_txs_are_not_sent() {
    let candidates = vec![anchor(), user(1, 5), user(2, 5), user(3, 6)];
    let (mut check, progress) = BlockCheck::start(candidates, |hash| *hash == h(1));
    // tx 1 is held: it and its sender's later tx 2 are deferred, not sent.
    assert_eq!(sent(&progress), vec![(0, None), (1, Some(h(0xaa)))]);
    let done = answer(&mut check, |hash| {
        if hash == h(0xaa) {
            ResultStatus::AssertionFailed
        } else {
            ResultStatus::Success
        }
    });
    assert_eq!(
        done,
        Progress::Done(Judgement {
            dropped: vec![],
            deferred: vec![h(1), h(2)],
            fail_open: None,
        })
    );
}

#[test]
fn a_tx_the_sidecar_cannot_run_ends_the_check_open() {
    let (mut check, _) = BlockCheck::start(vec![anchor(), user(1, 1), user(2, 2)], |_| false);
    let done = answer(&mut check, |hash| {
        if hash == h(1) {
            ResultStatus::Failed
        } else {
            ResultStatus::AssertionFailed
        }
    });
    assert_eq!(
        done,
        Progress::Done(Judgement {
            fail_open: Some(FailOpen::Diverged),
            ..Judgement::default()
        })
    );
}

#[test]
fn giving_up_keeps_what_was_decided() {
    let candidates = vec![anchor(), user(1, 1), user(2, 2)];
    let (mut check, _) = BlockCheck::start(candidates, |_| false);
    answer(&mut check, |hash| {
        if hash == h(1) {
            ResultStatus::AssertionFailed
        } else {
            ResultStatus::Success
        }
    });
    let judgement = check.give_up(FailOpen::Timeout);
    assert_eq!(judgement.dropped, vec![h(1)]);
    assert_eq!(judgement.fail_open, Some(FailOpen::Timeout));
    assert_eq!(check.missing(), vec![(1, h(2))]);
}
