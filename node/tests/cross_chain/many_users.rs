//! Several users at once whose user ops depend on what the ops before them change on L1: each
//! block's ops are simulated together, in the order they run, and an op that fails only after
//! the others is rejected alone.

use std::time::Duration;

use alloy::{
    primitives::{Bytes, U256},
    sol_types::{SolCall, SolEvent},
};
use bindings::doubles::{TicketsL1, TicketsL2};
use devnet::deploy::TICKET_STOCK;

use crate::client::*;

fn buy(count: u64) -> Bytes {
    TicketsL1::buyCall {
        _count: U256::from(count),
    }
    .abi_encode()
    .into()
}

/// The L2 blocks that recorded a ticket sale, one per sale.
async fn recorded_in(net: &crate::support::Network) -> Vec<u64> {
    let tickets = net.devnet.contracts.tickets_l2;
    l2_event_blocks(net, tickets, TicketsL2::Recorded::SIGNATURE_HASH).await
}

#[tokio::test]
async fn ops_that_read_what_the_op_before_changed_land_in_one_proposal_with_the_values_l1_produced()
{
    let _serial = SERIAL.lock().await;
    let net = start().await;
    let c = net.devnet.contracts;
    let held = hold_cross_chain(&net).await;
    // Four users buy a ticket each, back to back: each sale's number is L1 state that the
    // sale before it changed, and each alone was simulated as the first sale.
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(send_op_to(&net, c.tickets_l1, buy(1)).await);
    }
    simulated(&net, 1 + ids.len()).await;
    release(&net, held).await;

    for &id in &ids {
        let seen = until_final(&net, id, Duration::from_secs(90)).await;
        assert_eq!(
            seen.last().unwrap()["status"],
            "Executed",
            "op {id}: {seen:?}"
        );
    }
    let blocks = recorded_in(&net).await;
    assert_eq!(blocks.len(), 4);
    assert!(
        blocks.iter().all(|b| *b == blocks[0]),
        "one proposal: {blocks:?}"
    );
    let tickets = TicketsL2::new(c.tickets_l2, net.l2.clone());
    assert_eq!(tickets.sales().call().await.unwrap(), U256::from(4));
    let mut numbers = Vec::new();
    for first in 1..=4u64 {
        let count = tickets.countOf(U256::from(first)).call().await.unwrap();
        assert_eq!(
            count,
            U256::from(1),
            "ticket {first} reached L2 as L1 numbered it"
        );
        numbers.push(first);
    }
    let (ops, answers, runs) = l1_runs(&net, 4).expect("the block's L1 run was reported");
    println!(
        "RESULT e2e many_users dependent ids={ids:?} block={} tickets={numbers:?} user_ops={ops} answers={answers} l1_runs={runs}",
        blocks[0]
    );
    assert_eq!(runs, 1, "one L1 run for the whole block");
}

#[tokio::test]
async fn an_op_that_fails_only_after_the_op_before_it_is_rejected_alone() {
    let _serial = SERIAL.lock().await;
    let net = start().await;
    let c = net.devnet.contracts;
    let held = hold_cross_chain(&net).await;
    // The first buys the whole stock; the second (fine alone) then finds it sold out; the
    // third asks for nothing and runs either way.
    let all = send_op_to(&net, c.tickets_l1, buy(TICKET_STOCK)).await;
    let one = send_op_to(&net, c.tickets_l1, buy(1)).await;
    let none = send_op_to(&net, c.tickets_l1, buy(0)).await;
    simulated(&net, 4).await;
    release(&net, held).await;

    let mut finals = Vec::new();
    for id in [all, one, none] {
        let seen = until_final(&net, id, Duration::from_secs(90)).await;
        finals.push(seen);
    }
    let last = |i: usize| finals[i].last().unwrap().clone();
    assert_eq!(last(0)["status"], "Executed", "{finals:?}");
    assert_eq!(last(2)["status"], "Executed", "{finals:?}");
    assert_eq!(last(1)["status"], "Rejected", "{finals:?}");
    let reason = last(1)["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("sold out"), "its own reason: {reason}");
    let blocks = recorded_in(&net).await;
    assert!(
        blocks.len() == 2 && blocks[0] == blocks[1],
        "the other two share a block: {blocks:?}"
    );
    assert!(
        !finals[1].iter().any(|s| s["status"] == "ProvingBlock"),
        "the failing op never went into a block: {:?}",
        finals[1]
    );
    let l1 = TicketsL1::new(c.tickets_l1, net.l1());
    assert_eq!(l1.sold().call().await.unwrap(), U256::from(TICKET_STOCK));
    let l2 = TicketsL2::new(c.tickets_l2, net.l2.clone());
    assert_eq!(l2.sales().call().await.unwrap(), U256::from(2));
    assert_eq!(
        l2.countOf(U256::from(1)).call().await.unwrap(),
        U256::from(TICKET_STOCK)
    );
    let (ops, answers, runs) = l1_runs(&net, 2).expect("the block's L1 run was reported");
    println!(
        "RESULT e2e many_users combined_failure rejected={one} reason={reason:?} user_ops={ops} answers={answers} l1_runs={runs}"
    );
    assert_eq!(
        runs, 2,
        "one run finds the failing op, one confirms the rest"
    );
}
