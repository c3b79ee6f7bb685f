use super::*;
use alloy::primitives::Bytes;

const ROUTE: ReturnRoute = TEST_ROUTE;

fn to_l1(id: u64, gas: u32) -> Message {
    Message {
        id,
        gasLimit: gas,
        srcChainId: ROUTE.l1.l2_chain_id,
        destChainId: ROUTE.l1_chain_id,
        data: Bytes::from(vec![id as u8]),
        ..Default::default()
    }
}

fn answer(id: u64) -> BridgeMessage {
    let message = Message {
        id,
        srcChainId: ROUTE.l1_chain_id,
        destChainId: ROUTE.l1.l2_chain_id,
        ..Default::default()
    };
    BridgeMessage::new(message, ROUTE.l1.bridge)
}

fn candidate(n: u8, sender: u8, kind: Kind) -> Candidate {
    Candidate {
        hash: B256::repeat_byte(n),
        sender: Some(Address::repeat_byte(sender)),
        kind,
    }
}

fn swap(n: u8, sender: u8, answer_id: u64) -> Candidate {
    candidate(
        n,
        sender,
        Kind::Return {
            consumed: vec![answer(answer_id)],
            sent: vec![to_l1(7, 1_000_000)],
        },
    )
}

#[test]
fn messages_are_numbered_in_block_order_and_only_relayed_ones_are_processed() {
    let candidates = vec![
        candidate(1, 1, Kind::Plain(vec![to_l1(7, 1), to_l1(8, 0)])),
        swap(2, 2, 40),
        candidate(3, 3, Kind::Probe(vec![to_l1(7, 1)])),
    ];
    let none = HashSet::new();
    let block = arrange(&candidates, true, &none, &none, &ROUTE);
    assert_eq!(block.included, vec![0, 1, 2]);
    let ids: Vec<u64> = block.l1_messages.iter().map(|m| m.message.id).collect();
    assert_eq!(
        ids,
        vec![7, 9, 10],
        "8 has no gas limit; later txs count after"
    );
    assert_eq!(block.senders, vec![0, 1, 2]);
    assert!(block.has_returns());
    assert_eq!(block.probe_messages(&candidates), vec![2]);
    let answers = vec![vec![], vec![answer(40)], vec![answer(41)]];
    assert!(unmatched(&block, &answers).is_empty());
    let wrong = vec![vec![], vec![answer(41)], vec![]];
    assert_eq!(unmatched(&block, &wrong), vec![1]);
}

#[test]
fn held_txs_stop_their_senders_and_given_up_ones_go_in_without_answers() {
    let candidates = vec![
        swap(1, 1, 40),
        candidate(2, 1, Kind::Plain(vec![])),
        swap(3, 3, 41),
        candidate(4, 4, Kind::Failing("reverts".into())),
    ];
    let held: HashSet<B256> = [B256::repeat_byte(1)].into();
    let plain: HashSet<B256> = [B256::repeat_byte(3)].into();
    let block = arrange(&candidates, true, &held, &plain, &ROUTE);
    assert_eq!(
        block.included,
        vec![2, 3],
        "tx 2 waits behind its sender's held tx"
    );
    assert!(!block.has_returns());
    let kinds: Vec<&Consumption> = block.consumers.iter().map(|(_, c, _)| c).collect();
    assert_eq!(
        kinds,
        vec![
            &Consumption::GivenUp,
            &Consumption::Failing("reverts".into())
        ]
    );
    assert!(
        block.l1_messages.is_empty(),
        "a tx without its answers sends nothing"
    );

    let closed = arrange(&candidates, false, &HashSet::new(), &HashSet::new(), &ROUTE);
    assert_eq!(
        closed.included,
        vec![3],
        "no return signals: answered txs wait"
    );
}
