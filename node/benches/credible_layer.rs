//! CL: the node-side latency the Credible Layer adds to a block of 100 candidate txs, against
//! the sidecar stand-in on loopback (which runs every tx on an anvil L2), as a ratio to the same
//! block built without it: assembly alone (the baseline, measured in the same run) vs. the
//! check (sender recovery, encoding, the event stream, verdicts) plus assembly. Also the
//! disabled path (`CREDIBLE_LAYER_URL` unset) against the baseline. Ends with `BENCH CL …`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench: a panic is the failure report

use std::time::{Duration, Instant};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    network::TxSignerSync,
    primitives::{Address, B256, TxKind, U256},
    providers::{ProviderBuilder, ext::AnvilApi},
};
use common::{
    anchor::GOLDEN_TOUCH_ADDRESS,
    basefee::{self, ParentFacts},
    rpc::RpcEndpoint,
    supervisor::{Restart, SupervisorBuilder, SupervisorConfig},
};
use devnet::{
    accounts::DEV_KEYS,
    anvil::{Anvil, AnvilOptions},
    credible::CredibleSidecar,
};
use realtime::{
    block_build::{self, BlockFrame, ParentBlock},
    credible_layer::{
        CredibleLayerClient, CredibleLayerSetup,
        ask::{self, BlockTxs, CredibleLayerAsk},
        config::CredibleLayerConfig,
        encode::BlockHeaderEnv,
    },
    proposal::L1Anchor,
};

const TXS: usize = 100;
const ROUNDS: usize = 15;
const QUIET_ROUNDS: usize = 400;
const CHAIN_ID: u64 = 31_337;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// 100 transfers: 10 per dev account, nonces 0..10 (valid on a fresh anvil).
fn candidates() -> Vec<TxEnvelope> {
    (0..TXS)
        .map(|i| {
            let signer = devnet::accounts::signer(DEV_KEYS[i % 10]);
            let mut tx = TxEip1559 {
                chain_id: CHAIN_ID,
                nonce: (i / 10) as u64,
                gas_limit: 21_000,
                max_fee_per_gas: 20_000_000_000,
                max_priority_fee_per_gas: 1,
                to: TxKind::Call(Address::with_last_byte(i as u8)),
                value: U256::from(1),
                ..Default::default()
            };
            let signature = signer.sign_transaction_sync(&mut tx).unwrap();
            TxEnvelope::Eip1559(tx.into_signed(signature))
        })
        .collect()
}

fn parent() -> ParentBlock {
    ParentBlock {
        number: 0,
        hash: B256::repeat_byte(1),
        facts: ParentFacts {
            number: 0,
            timestamp: 1,
            gas_limit: 30_000_000,
            gas_used: 0,
            base_fee: 1_000_000_000,
            grandparent_timestamp: 1,
        },
    }
}

fn frame(parent: &ParentBlock) -> BlockFrame {
    BlockFrame {
        chain_id: CHAIN_ID,
        anchor_contract: Address::repeat_byte(0xaa),
        coinbase: Address::repeat_byte(0xbb),
        basefee_sharing_pctg: 75,
        golden_touch_nonce: 0,
        anchor: L1Anchor {
            number: 1,
            hash: B256::repeat_byte(2),
            state_root: B256::repeat_byte(3),
        },
        signal_slots: vec![],
        timestamp: common::fork::unix_now(),
        base_fee: parent.next_base_fee(basefee::MIN_BASE_FEE),
        gas_limit: parent.gas_limit_without_anchor(),
    }
}

/// The block as the batch manager builds it: an optional check, then assembly.
async fn block(ask: Option<&CredibleLayerAsk>, txs: &[TxEnvelope]) -> (Duration, usize) {
    let parent = parent();
    let frame = frame(&parent);
    let started = Instant::now();
    let mut txs = txs.to_vec();
    if let Some(ask) = ask {
        let anchor = block_build::anchor_tx(&frame);
        let env = BlockHeaderEnv::of(&parent, &frame);
        let block = BlockTxs {
            anchor: &anchor,
            txs: &txs,
            node_made: 0,
            node_signer: None,
        };
        let reply = ask::check(ask, env, block).await;
        assert_eq!(reply.judgement.fail_open, None, "{reply:?}");
        ask::apply(&reply.judgement, &mut txs);
    }
    let assembled = block_build::assemble(&parent, &frame, txs);
    (started.elapsed(), assembled.manifest.transactions.len())
}

/// Waits until `ask`'s client judges a block in full (it connected).
async fn connected(ask: &CredibleLayerAsk, txs: &[TxEnvelope]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let parent = parent();
        let frame = frame(&parent);
        let anchor = block_build::anchor_tx(&frame);
        let env = BlockHeaderEnv::of(&parent, &frame);
        let probe = BlockTxs {
            anchor: &anchor,
            txs: &txs[..1],
            node_made: 0,
            node_signer: None,
        };
        let reply = ask::check(ask, env, probe).await;
        if reply.judgement.fail_open.is_none() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the client did not connect: {reply:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter("warn,realtime=info")
        .init();
    let l2 = Anvil::start(&AnvilOptions::default()).unwrap();
    // The anchor's sender pays the base fee, as on the devnet L2.
    ProviderBuilder::new()
        .connect_http(l2.url.clone())
        .anvil_set_balance(GOLDEN_TOUCH_ADDRESS, U256::from(10).pow(U256::from(21)))
        .await
        .unwrap();
    let executing = CredibleSidecar::start(&l2.url, Address::repeat_byte(0x77), 0).unwrap();
    let instant = CredibleSidecar::start_with(None, Address::repeat_byte(0x77), 0).unwrap();
    let mut supervisor = SupervisorBuilder::new(SupervisorConfig::new(
        5,
        Duration::from_secs(60),
        Duration::from_secs(5),
    ));
    let asks = [
        ("credible_layer", &executing),
        ("credible_layer_instant", &instant),
    ]
    .map(|(name, sidecar)| {
        let config = CredibleLayerConfig {
            url: sidecar.url.clone(),
            block_budget: Duration::from_secs(10),
            retry_after_blocks: 10,
        };
        let setup = CredibleLayerSetup {
            config: config.clone(),
            l2: RpcEndpoint::new(l2.url.clone(), Duration::from_secs(5)),
        };
        let client = supervisor.child(name, Restart::Permanent, move |link| {
            Ok::<_, std::convert::Infallible>(CredibleLayerClient::new(setup.clone(), link))
        });
        CredibleLayerAsk {
            client,
            budget: config.block_budget,
        }
    });
    let _running = supervisor.start();
    let txs = candidates();
    for ask in &asks {
        connected(ask, &txs).await;
    }
    let (mut base, mut with, mut protocol, mut prep) = (vec![], vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        let (t, n) = block(None, &txs).await;
        assert_eq!(n, TXS);
        base.push(t);
        let (t, n) = block(Some(&asks[0]), &txs).await;
        assert_eq!(n, TXS, "a plain transfer was left out");
        with.push(t);
        protocol.push(block(Some(&asks[1]), &txs).await.0);
        // The node's own CPU work of a check (sender recovery and encoding).
        let parent = parent();
        let anchor = block_build::anchor_tx(&frame(&parent));
        let started = Instant::now();
        let prepared = ask::prepare(&BlockTxs {
            anchor: &anchor,
            txs: &txs,
            node_made: 0,
            node_signer: None,
        });
        prep.push(started.elapsed());
        assert_eq!(prepared.0.len(), TXS + 1);
    }
    // Disabled (what the batch manager runs when CREDIBLE_LAYER_URL is unset) against the
    // baseline: many alternating rounds, as the difference is below a millisecond.
    let (mut quiet_base, mut disabled) = (Vec::new(), Vec::new());
    let none: Option<&CredibleLayerAsk> = None;
    for round in 0..QUIET_ROUNDS {
        if round % 2 == 0 {
            quiet_base.push(block(None, &txs).await.0);
            disabled.push(block(none, &txs).await.0);
        } else {
            disabled.push(block(none, &txs).await.0);
            quiet_base.push(block(None, &txs).await.0);
        }
    }
    let (base, with, prep) = (median(base), median(with), median(prep));
    let protocol = median(protocol);
    let (quiet_base, disabled) = (median(quiet_base), median(disabled));
    println!("block of {TXS} txs, median of {ROUNDS}:");
    println!(
        "  without the Credible Layer (baseline): {:.2} ms",
        ms(base)
    );
    println!(
        "  with the check against a local sidecar: {:.2} ms",
        ms(with)
    );
    println!(
        "  with the check against a sidecar that runs nothing (the protocol alone): {:.2} ms",
        ms(protocol)
    );
    println!(
        "    of which the node's own work (recovery, encoding): {:.2} ms",
        ms(prep)
    );
    println!(
        "  baseline vs disabled (CREDIBLE_LAYER_URL unset), median of {QUIET_ROUNDS}: {:.3} ms vs {:.3} ms",
        ms(quiet_base),
        ms(disabled)
    );
    println!(
        "BENCH CL txs={TXS} rounds={ROUNDS} base_ms={:.3} with_ms={:.3} added_ms={:.3} ratio={:.2} protocol_ms={:.3} protocol_ratio={:.2} node_prep_ms={:.3} disabled_base_ms={:.3} disabled_ms={:.3} disabled_ratio={:.3}",
        ms(base),
        ms(with),
        ms(with.saturating_sub(base)),
        with.as_secs_f64() / base.as_secs_f64(),
        ms(protocol),
        protocol.as_secs_f64() / base.as_secs_f64(),
        ms(prep),
        ms(quiet_base),
        ms(disabled),
        disabled.as_secs_f64() / quiet_base.as_secs_f64()
    );
}
