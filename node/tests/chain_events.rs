//! The ChainMonitor on a real L1 (anvil), over http (polling) and ws (subscription plus
//! polling): a `ProposedAndProved` log is published as landed, and after the L1 block holding
//! it is reorged out (snapshot revert, new blocks) it is published as reorged.
//!
//! The inbox is stood in by a few bytes of EVM code that emits the real event (topic and ABI
//! data) from calldata: the monitor only reads logs, and a real proposal needs a proof.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::{sync::Arc, time::Duration};

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, aliases::U48},
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    sol_types::SolEvent,
};
use bindings::{Checkpoint, IRealTimeInbox::ProposedAndProved};
use common::{
    health::ChainStatus,
    rpc::RpcEndpoint,
    supervisor::{Restart, Subscriber, SupervisorBuilder, SupervisorConfig},
};
use devnet::anvil::{Anvil, AnvilOptions};
use realtime::{
    chain_monitor::{ChainMonitor, ChainMonitorSetup, ChainSubscribers, L1Head},
    landed_proposals::ProposalEvent,
};
use tokio::sync::{mpsc, watch};

const INBOX: Address = Address::repeat_byte(0x1b);

/// Runtime code: `LOG2(data = calldata[32..], topic0 = ProposedAndProved, topic1 = calldata[0..32])`.
fn log_emitter() -> Bytes {
    let mut code = vec![0x36, 0x60, 0x00, 0x60, 0x00, 0x37]; // CALLDATACOPY(0, 0, CALLDATASIZE)
    code.extend([0x60, 0x00, 0x51]); // topic1 = MLOAD(0)
    code.push(0x7f); // PUSH32 topic0
    code.extend_from_slice(ProposedAndProved::SIGNATURE_HASH.as_slice());
    code.extend([0x60, 0x20, 0x36, 0x03]); // size = CALLDATASIZE - 32
    code.extend([0x60, 0x20, 0xa2, 0x00]); // LOG2(32, size, topic0, topic1); STOP
    code.into()
}

fn event(n: u8) -> ProposedAndProved {
    ProposedAndProved {
        proposalHash: B256::repeat_byte(n),
        lastFinalizedBlockHash: B256::repeat_byte(n + 1),
        maxAnchorBlockNumber: U48::from(7),
        basefeeSharingPctg: 75,
        sources: vec![],
        signalSlots: vec![],
        checkpoint: Checkpoint {
            blockNumber: U48::from(u64::from(n) * 10),
            blockHash: B256::repeat_byte(n + 2),
            stateRoot: B256::repeat_byte(n + 3),
        },
    }
}

async fn next_proposal_event(
    events: &mut mpsc::UnboundedReceiver<ProposalEvent>,
    want: impl Fn(&ProposalEvent) -> bool,
) -> ProposalEvent {
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let e = events.recv().await.unwrap();
            if want(&e) {
                return e;
            }
        }
    })
    .await
    .expect("the proposal event arrives")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn landed_and_reorged_proposals_are_published_over_http_and_ws() {
    let anvil = Anvil::start(&AnvilOptions::default()).unwrap();
    let provider = ProviderBuilder::new().connect_http(anvil.url.clone());
    provider
        .raw_request::<_, ()>("anvil_setCode".into(), (INBOX, log_emitter()))
        .await
        .unwrap();
    let sender = provider.get_accounts().await.unwrap()[0];

    let ws = {
        let mut url = anvil.url.clone();
        url.set_scheme("ws").unwrap();
        url
    };
    for (round, url) in [anvil.url.clone(), ws].into_iter().enumerate() {
        // The monitor's messages, as its subscribers receive them.
        let (events, mut rx) = mpsc::unbounded_channel();
        let (heads, mut head_rx) = mpsc::unbounded_channel();
        let (landed, reorged) = (events.clone(), events);
        let subscribers = ChainSubscribers {
            l1_heads: vec![Subscriber::from_fn(move |L1Head(head)| {
                let _ = heads.send(head);
                Ok(())
            })],
            landed: vec![Subscriber::from_fn(
                move |m: realtime::chain_monitor::ProposalLanded| {
                    let _ = landed.send(ProposalEvent::Landed(m.0));
                    Ok(())
                },
            )],
            reorged: vec![Subscriber::from_fn(
                move |m: realtime::chain_monitor::ProposalReorged| {
                    let _ = reorged.send(ProposalEvent::Reorged(m.0));
                    Ok(())
                },
            )],
            forced: vec![],
        };
        let endpoint = RpcEndpoint::new(url.clone(), Duration::from_secs(5));
        let setup = ChainMonitorSetup {
            l1: endpoint.clone(),
            l2: endpoint,
            inbox: INBOX,
            interval: Duration::from_millis(100),
            status: Arc::new(watch::channel(ChainStatus::default()).0),
            subscribers,
        };
        let mut builder = SupervisorBuilder::new(SupervisorConfig::new(
            3,
            Duration::from_secs(60),
            Duration::from_secs(2),
        ));
        builder.child("chain_monitor", Restart::Permanent, move |link| {
            Ok::<_, std::convert::Infallible>(ChainMonitor::new(setup.clone(), link))
        });
        let supervisor = builder.start();

        let snapshot: String = provider
            .raw_request("evm_snapshot".into(), ())
            .await
            .unwrap();
        let e = event(10 * (round as u8 + 1));
        let mut input = e.proposalHash.to_vec();
        input.extend(e.encode_data());
        // The nonce is read each time: the revert below rewinds it.
        let nonce = provider.get_transaction_count(sender).await.unwrap();
        let receipt = provider
            .send_transaction(
                TransactionRequest::default()
                    .with_from(sender)
                    .with_nonce(nonce)
                    .with_to(INBOX)
                    .with_input(input),
            )
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(receipt.status(), "{url}: the log emitter ran");

        let landed = next_proposal_event(
            &mut rx,
            |ev| matches!(ev, ProposalEvent::Landed(p) if p.proposal_hash == e.proposalHash),
        )
        .await;
        let ProposalEvent::Landed(p) = landed else {
            unreachable!()
        };
        assert_eq!(p.last_finalized_block_hash, e.lastFinalizedBlockHash);
        assert_eq!(
            p.checkpoint,
            alloy::eips::BlockNumHash::new(
                u64::from(10 * (round as u8 + 1)) * 10,
                e.checkpoint.blockHash
            )
        );
        assert_eq!(Some(p.l1_block.hash), receipt.block_hash, "{url}");
        // The new L1 head is told too (a streamed log may arrive before the poll sees it).
        tokio::time::timeout(Duration::from_secs(15), async {
            while head_rx.recv().await.unwrap().number < p.l1_block.number {}
        })
        .await
        .expect("the L1 head holding the log is told");
        println!(
            "RESULT chain_events url={url} landed l1_block={}",
            p.l1_block.number
        );

        // Reorg the block out: back to the snapshot, then a longer chain without the log.
        let reverted: bool = provider
            .raw_request("evm_revert".into(), (snapshot,))
            .await
            .unwrap();
        assert!(reverted);
        provider
            .raw_request::<_, ()>("anvil_mine".into(), (3u64,))
            .await
            .unwrap();
        let reorged = next_proposal_event(
            &mut rx,
            |ev| matches!(ev, ProposalEvent::Reorged(p) if p.proposal_hash == e.proposalHash),
        )
        .await;
        assert_eq!(reorged, ProposalEvent::Reorged(p), "{url}");
        println!("RESULT chain_events url={url} reorged");
        supervisor.shutdown().await.unwrap();
    }
}
