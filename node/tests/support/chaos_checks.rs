//! The promises the chaos test checks after every restart, each as a result instead of a panic
//! so one trial's table row shows all of them: the proposer's L1 nonces have no gap and every
//! mined one is a proposal; no proposal landed twice and the landed chain is unbroken; every tx
//! and user op accepted before the kill ends final; no user-op id is handed out twice; the L2
//! continues the inbox's head.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use alloy::{
    consensus::Transaction as _,
    primitives::{Address, B256},
    providers::Provider,
};
use serde_json::{Value, json};

use super::{Network, landed::landed};

/// What the checks carry from one trial to the next.
#[derive(Debug, Default)]
pub struct Ledger {
    /// User-op ids the node answered, in order.
    answered: Vec<u64>,
    /// The highest id the store has (answered or stored before a kill).
    highest_known: u64,
    /// L1 blocks already scanned for the proposer's txs.
    scanned_l1: Option<u64>,
    /// The proposer's next nonce, from the txs scanned.
    next_nonce: u64,
    /// Proposals landed at the last check.
    landed: usize,
}

impl Ledger {
    /// A ledger from the L1 as it is now: txs mined before are the devnet's set-up.
    pub async fn begin(net: &Network, proposer: Address) -> Self {
        let l1 = net.l1();
        let head = l1.get_block_number().await.unwrap();
        let next_nonce = l1
            .get_transaction_count(proposer)
            .block_id(head.into())
            .await
            .unwrap();
        Self {
            scanned_l1: Some(head),
            next_nonce,
            ..Self::default()
        }
    }

    /// The node answered user-op id `id`.
    pub fn answered(&mut self, id: u64) {
        self.answered.push(id);
    }

    /// User ops the store holds.
    pub fn ops(&self) -> u64 {
        self.highest_known
    }

    /// Proposals landed at the last check.
    pub fn landed(&self) -> usize {
        self.landed
    }
}

/// One trial's results, one per promise.
pub struct Row {
    ready: Option<Duration>,
    nonces: Result<(), String>,
    single: Result<(), String>,
    finals: Result<(), String>,
    ids: Result<(), String>,
    head: Result<(), String>,
}

impl Row {
    fn results(&self) -> [&Result<(), String>; 5] {
        [
            &self.nonces,
            &self.single,
            &self.finals,
            &self.ids,
            &self.head,
        ]
    }

    fn ready_in(&self, within: Duration) -> bool {
        self.ready.is_some_and(|r| r <= within)
    }

    /// Whether every promise held, ready within `within` included.
    pub fn all_hold(&self, within: Duration) -> bool {
        self.ready_in(within) && self.results().iter().all(|r| r.is_ok())
    }

    /// The table cells after the timings.
    pub fn cells(&self, within: Duration) -> String {
        let cell = |ok: bool| if ok { "ok" } else { "FAIL" };
        let mut cells = vec![format!("{:<7}", cell(self.ready_in(within)))];
        cells.extend(
            self.results()
                .iter()
                .map(|r| format!("{:<7}", cell(r.is_ok()))),
        );
        cells.join(" ")
    }

    /// Why the failed promises failed.
    pub fn why(&self) -> String {
        let names = ["nonces", "single", "final", "ids", "head"];
        let mut why: Vec<String> = names
            .iter()
            .zip(self.results())
            .filter_map(|(name, r)| r.as_ref().err().map(|e| format!("{name}: {e}")))
            .collect();
        if self.ready.is_none() {
            why.push("ready: /readyz never answered 200 within 30 s".into());
        }
        why.join("; ")
    }
}

/// Checks every promise after a restart; `sent_before` are the L2 txs accepted before the kill.
pub async fn check(
    net: &Network,
    ledger: &mut Ledger,
    proposer: Address,
    sent_before: &[B256],
    ready: Option<Duration>,
) -> Row {
    let finals = finals(net, ledger, sent_before).await;
    let ids = ids(ledger);
    let nonces = nonces(net, ledger, proposer).await;
    let (single, head) = landed_chain(net, ledger).await;
    Row {
        ready,
        nonces,
        single,
        finals,
        ids,
        head,
    }
}

/// Every tx accepted before the kill is in a block, and every stored user op ends final.
async fn finals(net: &Network, ledger: &mut Ledger, sent: &[B256]) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    for hash in sent {
        while net
            .l2
            .get_transaction_receipt(*hash)
            .await
            .ok()
            .flatten()
            .is_none()
        {
            if Instant::now() > deadline {
                return Err(format!("tx {hash} accepted before the kill has no block"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // Ids are handed out in order: the store holds 1..=highest (one stored at the kill moment
    // may never have been answered).
    let mut id = ledger.highest_known + 1;
    while op_status(net, id).await.is_some() {
        id += 1;
    }
    ledger.highest_known = id - 1;
    for id in 1..=ledger.highest_known {
        loop {
            let status = op_status(net, id).await;
            let state = status.as_ref().and_then(|s| s["status"].as_str());
            match state {
                Some("Executed") => break,
                Some("Rejected") => return Err(format!("op {id} rejected: {status:?}")),
                _ if Instant::now() > deadline => {
                    return Err(format!("op {id} not final within 60 s: {status:?}"));
                }
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
    Ok(())
}

/// `surge_txStatus` of op `id`; `None` when the node does not know it.
async fn op_status(net: &Network, id: u64) -> Option<Value> {
    let answer = net.surge("surge_txStatus", json!({"userOpId": id})).await;
    answer.get("result").filter(|r| !r.is_null()).cloned()
}

/// No answered id was answered before, and answered ids only go up.
fn ids(ledger: &Ledger) -> Result<(), String> {
    // Strictly rising covers "never twice": a repeat is never above its first answer.
    match ledger.answered.windows(2).find(|pair| pair[1] <= pair[0]) {
        Some(pair) => Err(format!("id {} answered after {}", pair[1], pair[0])),
        None => Ok(()),
    }
}

/// The proposer's nonces: no tx waits behind a gap in the L1 pool, and every mined tx of the
/// proposer is a proposal to the inbox or the Multicall (no nonce filled by a no-op).
async fn nonces(net: &Network, ledger: &mut Ledger, proposer: Address) -> Result<(), String> {
    let l1 = net.l1();
    let pool: Value = l1
        .raw_request("txpool_content".into(), ())
        .await
        .map_err(|e| format!("txpool_content: {e}"))?;
    let queued = &pool["queued"];
    let gapped = queued
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(from, _)| from.parse::<Address>().ok() == Some(proposer))
        .flat_map(|(_, txs)| {
            txs.as_object()
                .into_iter()
                .flatten()
                .map(|(n, _)| n.clone())
        })
        .collect::<Vec<_>>();
    if !gapped.is_empty() {
        return Err(format!(
            "proposer txs behind a nonce gap: nonces {gapped:?}"
        ));
    }
    let head = l1.get_block_number().await.map_err(|e| e.to_string())?;
    let targets = [net.devnet.contracts.inbox, net.devnet.contracts.multicall];
    let from = ledger.scanned_l1.map_or(0, |n| n + 1);
    // Only the proposer's own account: it signs nothing but proposals.
    for number in from..=head {
        let Some(block) = l1
            .get_block_by_number(number.into())
            .full()
            .await
            .map_err(|e| e.to_string())?
        else {
            continue;
        };
        for tx in block.transactions.txns() {
            if tx.inner.signer() != proposer {
                continue;
            }
            if tx.nonce() != ledger.next_nonce {
                return Err(format!(
                    "proposer nonce {} mined where {} was next",
                    tx.nonce(),
                    ledger.next_nonce
                ));
            }
            ledger.next_nonce += 1;
            let to = tx.to();
            if !to.is_some_and(|to| targets.contains(&to)) || tx.input().is_empty() {
                return Err(format!(
                    "proposer nonce {} was used by a tx that is not a proposal (to {to:?})",
                    tx.nonce()
                ));
            }
        }
    }
    ledger.scanned_l1 = Some(head);
    Ok(())
}

/// No proposal landed twice and each builds on the previous one; the inbox's head is a block
/// of the L2's canonical chain, at or below the L2 head.
async fn landed_chain(
    net: &Network,
    ledger: &mut Ledger,
) -> (Result<(), String>, Result<(), String>) {
    let events = landed(net).await;
    ledger.landed = events.len();
    let mut parent = net.devnet.contracts.l2_genesis_hash;
    let mut checkpoints = HashSet::new();
    let mut single = Ok(());
    for (i, (last_finalized, number, hash, _)) in events.iter().enumerate() {
        if !checkpoints.insert(*hash) {
            single = Err(format!("checkpoint {number} landed twice"));
            break;
        }
        if *last_finalized != parent {
            single = Err(format!("proposal {i} does not build on the one before it"));
            break;
        }
        parent = *hash;
    }
    let head = match events.last() {
        None => Ok(()),
        Some((_, number, hash, _)) => {
            let block = net
                .l2
                .get_block_by_number((*number).into())
                .await
                .ok()
                .flatten();
            match block {
                Some(b) if b.header.hash == *hash => Ok(()),
                other => Err(format!(
                    "the inbox's head {number} ({hash}) is not the L2's block there ({:?})",
                    other.map(|b| b.header.hash)
                )),
            }
        }
    };
    (single, head)
}
