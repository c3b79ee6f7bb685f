//! What any outside client does to force-include L2 txs on the devnet (issue 22), written from
//! the protocol's encoding (docs/research/forced-inclusions.md §4, `../shared/spec/protocol.md`
//! Appendix A) and not from the node's codec: the framed manifest payload, its version-0 blob,
//! the `saveForcedInclusion` blob tx; and readers of the inbox's queue and of the proposer's
//! L1 txs (how many inclusions each consumed, and whether one reverted because one was due).

use std::time::{Duration, Instant};

use alloy::{
    consensus::{
        SignableTransaction, Transaction as _, TxEip1559, TxEip4844, TxEip4844WithSidecar,
        TxEnvelope,
    },
    eips::{
        eip2718::Encodable2718,
        eip4844::{BYTES_PER_BLOB, Blob},
        eip7594::BlobTransactionSidecarEip7594,
    },
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, TxKind, U256, Uint},
    providers::{DynProvider, Provider},
    rlp::{Encodable, Header},
    rpc::types::{Transaction, TransactionReceipt},
    sol_types::{SolCall, SolEvent, SolValue},
};
use bindings::{BlobReference, IMulticall, IRealTimeInbox, ProposeInput, ProposeInputV2};
use devnet::accounts::{self, PRECONFER_KEY};
use serde_json::{Value, json};

use super::Network;

const GWEI: u128 = 1_000_000_000;
/// `UnprocessedForcedInclusionIsDue()`.
pub const DUE_SELECTOR: &str = "02967fb6";
/// Payload bytes one version-0 blob carries: 1024 rounds of 4×31+3 bytes, less the header.
pub const MAX_BLOB_PAYLOAD: usize = (4 * 31 + 3) * 1024 - 4;

/// The node's L1 proposer account.
pub fn proposer() -> Address {
    accounts::address(PRECONFER_KEY)
}

/// A signed 1-wei L2 transfer from `key` to `to` (EIP-1559, 21,000 gas, 10 gwei max fee).
pub fn l2_transfer(key: &str, chain_id: u64, nonce: u64, to: Address) -> TxEnvelope {
    let mut tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10 * GWEI,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(to),
        value: U256::from(1),
        ..Default::default()
    };
    let signature = accounts::signer(key)
        .sign_transaction_sync(&mut tx)
        .unwrap();
    TxEnvelope::Eip1559(tx.into_signed(signature))
}

/// The blob payload of a forced inclusion of `txs`: the manifest
/// `RLP([[[timestamp 0, coinbase 0x0, anchorBlockNumber 0, gasLimit 0, [tx…]]]])` (one block;
/// the outer list is `DerivationSourceManifest`, wrapping the blocks list), then
/// `inner = 0x00 ‖ zlib(rlp)`, then the frame `bytes32(1) ‖ bytes32(len(inner)) ‖ inner`.
pub fn fi_payload(txs: &[TxEnvelope]) -> Vec<u8> {
    let txs: Vec<Vec<u8>> = txs.iter().map(network_encoding).collect();
    let block = rlp_list(&[
        rlp(&0u64),
        rlp(&Address::ZERO),
        rlp(&0u64),
        rlp(&0u64),
        rlp_list(&txs),
    ]);
    let manifest = rlp_list(&[rlp_list(&[block])]);
    let mut inner = vec![0x00];
    inner.extend(zlib(&manifest));
    let mut payload = word(1).to_vec();
    payload.extend(word(inner.len() as u64));
    payload.extend(inner);
    payload
}

/// A tx as block bodies carry it: a legacy tx is its RLP list, a typed tx an RLP string
/// holding its EIP-2718 envelope (`type ‖ rlp(fields)`).
fn network_encoding(tx: &TxEnvelope) -> Vec<u8> {
    let envelope = tx.encoded_2718();
    if envelope[0] >= 0xc0 {
        return envelope; // legacy: already an RLP list
    }
    let mut out = Vec::with_capacity(envelope.len() + 4);
    Header {
        list: false,
        payload_length: envelope.len(),
    }
    .encode(&mut out);
    out.extend_from_slice(&envelope);
    out
}

fn rlp<T: Encodable>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    value.encode(&mut out);
    out
}

/// An RLP list of already encoded items.
fn rlp_list(items: &[Vec<u8>]) -> Vec<u8> {
    let payload_length = items.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(payload_length + 9);
    Header {
        list: true,
        payload_length,
    }
    .encode(&mut out);
    for item in items {
        out.extend_from_slice(item);
    }
    out
}

/// A big-endian 32-byte word.
fn word(value: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[24..].copy_from_slice(&value.to_be_bytes());
    out
}

/// An RFC 1950 zlib stream of `data` in stored (uncompressed) deflate blocks: what any zlib
/// decoder inflates (the node's test crate has no compressor; the level is not part of the
/// protocol).
fn zlib(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01]; // deflate, 32 KiB window; (0x7801 % 31 == 0)
    let mut chunks = data.chunks(0xFFFF).peekable();
    if data.is_empty() {
        out.extend([0x01, 0x00, 0x00, 0xFF, 0xFF]);
    }
    while let Some(chunk) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none())); // BFINAL, BTYPE = 00 (stored)
        let len = chunk.len() as u16;
        out.extend(len.to_le_bytes());
        out.extend((!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    out.extend(((b << 16) | a).to_be_bytes());
    out
}

/// Reads payload bytes in order; past the end it yields zeros.
struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn byte(&mut self) -> u8 {
        let byte = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        byte
    }

    fn fill(&mut self, out: &mut [u8]) {
        for slot in out {
            *slot = self.byte();
        }
    }
}

/// Packs `payload` into one blob, OP/Kona "version 0" (protocol.md Appendix A): 1024 rounds
/// of 4 field elements; each FE's bytes 1..32 carry 31 payload bytes and its byte 0 six bits
/// of the round's 3 spare bytes x, y, z; round 0 starts with version 0 and a 3-byte length.
pub fn blob_of(payload: &[u8]) -> Blob {
    assert!(
        payload.len() <= MAX_BLOB_PAYLOAD,
        "a forced inclusion is one blob: {} bytes do not fit",
        payload.len()
    );
    let mut blob = vec![0u8; BYTES_PER_BLOB];
    let mut input = Cursor {
        data: payload,
        at: 0,
    };
    for round in 0..1024 {
        if round > 0 && input.at >= payload.len() {
            break;
        }
        let fe = |i: usize| (round * 4 + i) * 32;
        if round == 0 {
            blob[1] = 0; // encoding version
            blob[2..5].copy_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
            input.fill(&mut blob[5..32]);
        } else {
            input.fill(&mut blob[fe(0) + 1..fe(0) + 32]);
        }
        let x = input.byte();
        blob[fe(0)] = x & 0x3F;
        input.fill(&mut blob[fe(1) + 1..fe(1) + 32]);
        let y = input.byte();
        blob[fe(1)] = (y & 0x0F) | ((x & 0xC0) >> 2);
        input.fill(&mut blob[fe(2) + 1..fe(2) + 32]);
        let z = input.byte();
        blob[fe(2)] = z & 0x3F;
        input.fill(&mut blob[fe(3) + 1..fe(3) + 32]);
        blob[fe(3)] = ((z & 0xC0) >> 2) | ((y & 0xF0) >> 4);
    }
    Blob::from_slice(&blob)
}

/// A blob KZG accepts (every field element's top byte is 0) that is not a forced inclusion:
/// seeded random bytes whose encoding-version byte is 0xFF, so no version-0 packing of a frame.
pub fn garbage_blob(seed: u64) -> Blob {
    let mut state = seed;
    let mut blob = vec![0u8; BYTES_PER_BLOB];
    for chunk in blob.chunks_mut(8) {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    for fe in blob.chunks_mut(32) {
        fe[0] = 0;
    }
    blob[1] = 0xFF; // not encoding version 0, whatever the seed
    Blob::from_slice(&blob)
}

/// The EIP-7594 (cell-proof) sidecar of one blob: commitment and 128 cell proofs, with the
/// standard trusted setup, on a blocking thread (seconds in a debug build).
pub async fn sidecar_of(blob: Blob) -> BlobTransactionSidecarEip7594 {
    tokio::task::spawn_blocking(move || {
        BlobTransactionSidecarEip7594::try_from_blobs(vec![blob]).unwrap()
    })
    .await
    .unwrap()
}

/// The inbox's current forced-inclusion fee, in wei.
pub async fn current_fee_wei(net: &Network) -> U256 {
    let l1 = net.l1();
    let inbox = IRealTimeInbox::new(net.devnet.contracts.inbox, &l1);
    let gwei = inbox.getCurrentForcedInclusionFee().call().await.unwrap();
    U256::from(gwei) * U256::from(GWEI)
}

/// The inbox's forced-inclusion queue: (head, tail).
pub async fn queue(net: &Network) -> (u64, u64) {
    let l1 = net.l1();
    let inbox = IRealTimeInbox::new(net.devnet.contracts.inbox, &l1);
    let state = inbox.getForcedInclusionState().call().await.unwrap();
    (state.head.to::<u64>(), state.tail.to::<u64>())
}

/// Signs the type-3 tx `saveForcedInclusion((blobStartIndex 0, numBlobs 1, offset 0))` from
/// `key` to the inbox, paying `value`, with `sidecar`; its hash and network encoding.
async fn save_tx(
    net: &Network,
    key: &str,
    sidecar: BlobTransactionSidecarEip7594,
    nonce: u64,
    value: U256,
) -> (B256, Bytes) {
    let l1 = net.l1();
    let chain_id = l1.get_chain_id().await.unwrap();
    let gas_price = l1.get_gas_price().await.unwrap();
    let blob_fee = l1.get_blob_base_fee().await.unwrap();
    let input = IRealTimeInbox::saveForcedInclusionCall {
        _blobReference: BlobReference {
            blobStartIndex: 0,
            numBlobs: 1,
            offset: Uint::ZERO,
        },
    }
    .abi_encode();
    let mut tx = TxEip4844WithSidecar::from_tx_and_sidecar(
        TxEip4844 {
            chain_id,
            nonce,
            gas_limit: 1_000_000,
            max_fee_per_gas: 2 * gas_price + 2 * GWEI,
            max_priority_fee_per_gas: GWEI,
            to: net.devnet.contracts.inbox,
            value,
            access_list: Default::default(),
            blob_versioned_hashes: sidecar.versioned_hashes().collect(),
            max_fee_per_blob_gas: 2 * blob_fee + GWEI,
            input: input.into(),
        },
        sidecar,
    );
    let signature = accounts::signer(key)
        .sign_transaction_sync(&mut tx)
        .unwrap();
    let signed = tx.into_signed(signature);
    (*signed.hash(), Bytes::from(signed.encoded_2718()))
}

/// Waits (up to 60 s) for the L1 receipt of `hash`.
pub async fn receipt_of(l1: &DynProvider, hash: B256) -> TransactionReceipt {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(receipt) = l1.get_transaction_receipt(hash).await.unwrap() {
            return receipt;
        }
        assert!(Instant::now() < deadline, "no L1 receipt of {hash} in 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Saves one forced inclusion of `blob` from `key`'s account, paying exactly the current fee;
/// waits for the receipt and checks it succeeded and logged `ForcedInclusionSaved`.
pub async fn save_forced_inclusion(net: &Network, key: &str, blob: Blob) -> TransactionReceipt {
    save_forced_inclusions(net, key, vec![blob]).await.remove(0)
}

/// Saves one forced inclusion per blob, back to back (consecutive nonces, all sent before any
/// receipt is awaited, so they land in the same or consecutive L1 blocks). A burst pays twice
/// the current fee each, since the fee grows with the queue; the inbox refunds the excess.
pub async fn save_forced_inclusions(
    net: &Network,
    key: &str,
    blobs: Vec<Blob>,
) -> Vec<TransactionReceipt> {
    let l1 = net.l1();
    let count = blobs.len();
    // All sidecars at once, one blocking thread each, before anything is sent.
    let tasks: Vec<_> = blobs
        .into_iter()
        .map(|blob| tokio::spawn(sidecar_of(blob)))
        .collect();
    let mut built = Vec::with_capacity(count);
    for task in tasks {
        built.push(task.await.unwrap());
    }
    let from = accounts::address(key);
    let nonce = l1.get_transaction_count(from).pending().await.unwrap();
    let fee = current_fee_wei(net).await;
    let value = if count == 1 { fee } else { fee * U256::from(2) };
    let mut sent = Vec::with_capacity(count);
    for (i, sidecar) in built.into_iter().enumerate() {
        let versioned: Vec<B256> = sidecar.versioned_hashes().collect();
        let (hash, raw) = save_tx(net, key, sidecar, nonce + i as u64, value).await;
        // Receipts are awaited below, once all are sent.
        let _pending = l1
            .send_raw_transaction(&raw)
            .await
            .unwrap_or_else(|e| panic!("saveForcedInclusion {i} from {from}: {e}"));
        sent.push((hash, versioned[0]));
    }
    let mut receipts = Vec::with_capacity(count);
    for (hash, versioned) in sent {
        let receipt = receipt_of(&l1, hash).await;
        assert!(
            receipt.status(),
            "saveForcedInclusion reverted: {receipt:?}"
        );
        let saved = receipt
            .inner
            .logs()
            .iter()
            .filter(|log| log.address() == net.devnet.contracts.inbox)
            .find_map(|log| IRealTimeInbox::ForcedInclusionSaved::decode_log(&log.inner).ok())
            .unwrap_or_else(|| panic!("no ForcedInclusionSaved in {receipt:?}"));
        assert_eq!(
            saved.forcedInclusion.blobSlice.blobHashes,
            vec![versioned],
            "the saved inclusion references the tx's blob"
        );
        receipts.push(receipt);
    }
    receipts
}

/// One tx the proposer sent to L1, as the chain has it.
#[derive(Debug, Clone)]
pub struct ProposeTxSeen {
    pub hash: B256,
    pub l1_block: u64,
    /// `propose`, `tentativePropose`, or either inside `multicall(…)`.
    pub shape: &'static str,
    /// `numForcedInclusions` of its `ProposeInput` / `ProposeInputV2`.
    pub num_forced_inclusions: u16,
    /// Receipt status.
    pub success: bool,
    /// It reverted with `UnprocessedForcedInclusionIsDue()`.
    pub due_revert: bool,
}

/// `numForcedInclusions` of a `propose` or `tentativePropose` call to the inbox.
fn inbox_call(data: &[u8]) -> Option<(&'static str, u16)> {
    if let Ok(call) = IRealTimeInbox::proposeCall::abi_decode(data) {
        let input = ProposeInput::abi_decode(&call._data).ok()?;
        return Some(("propose", input.numForcedInclusions));
    }
    let call = IRealTimeInbox::tentativeProposeCall::abi_decode(data).ok()?;
    let input = ProposeInputV2::abi_decode(&call._data).ok()?;
    Some(("tentativePropose", input.numForcedInclusions))
}

/// The proposal a proposer tx carries, straight to the inbox or through the Multicall.
fn decode_proposal(inbox: Address, input: &[u8]) -> Option<(&'static str, u16)> {
    if let Some(found) = inbox_call(input) {
        return Some(found);
    }
    let calls = IMulticall::multicallCall::abi_decode(input).ok()?.calls;
    let (shape, n) = calls
        .iter()
        .filter(|c| c.target == inbox)
        .find_map(|c| inbox_call(&c.data))?;
    let shape = match shape {
        "propose" => "multicall(propose)",
        _ => "multicall(tentativePropose)",
    };
    Some((shape, n))
}

/// Every proposal tx the proposer got mined on L1 from block `from_block` on (canonical
/// blocks), with its `numForcedInclusions`, status and whether it reverted as "due".
pub async fn proposals_since(net: &Network, from_block: u64) -> Vec<ProposeTxSeen> {
    let l1 = net.l1();
    let head = l1.get_block_number().await.unwrap();
    let mut out = Vec::new();
    for number in from_block..=head {
        let Some(block) = l1.get_block_by_number(number.into()).full().await.unwrap() else {
            continue;
        };
        for tx in block.transactions.into_transactions() {
            if tx.inner.signer() != proposer() {
                continue;
            }
            let Some((shape, num)) = decode_proposal(net.devnet.contracts.inbox, tx.input()) else {
                continue; // e.g. a nonce-taking cancel
            };
            let hash = *tx.inner.tx_hash();
            let success = receipt_of(&l1, hash).await.status();
            let due_revert = !success && reverted_as_due(&l1, &tx, number).await;
            out.push(ProposeTxSeen {
                hash,
                l1_block: number,
                shape,
                num_forced_inclusions: num,
                success,
                due_revert,
            });
        }
    }
    out
}

/// Whether a failed tx's revert data is (or wraps, as `MULTICALL_CALL_FAILED` does)
/// `UnprocessedForcedInclusionIsDue()`: its call trace, and the same call re-run with
/// `eth_call` against the state before its block and at its block.
async fn reverted_as_due(l1: &DynProvider, tx: &Transaction, block: u64) -> bool {
    let hash = *tx.inner.tx_hash();
    let trace: Result<Value, _> = l1
        .raw_request(
            "debug_traceTransaction".into(),
            (hash, json!({"tracer": "callTracer"})),
        )
        .await;
    if let Ok(trace) = trace
        && trace["output"]
            .as_str()
            .is_some_and(|o| o.to_ascii_lowercase().contains(DUE_SELECTOR))
    {
        return true;
    }
    let mut call = json!({
        "from": tx.inner.signer(),
        "to": tx.to(),
        "input": tx.input(),
        "value": tx.value(),
        "gas": format!("{:#x}", tx.gas_limit()),
    });
    if let Some(hashes) = tx.blob_versioned_hashes() {
        call["blobVersionedHashes"] = json!(hashes);
        call["maxFeePerBlobGas"] = json!(format!(
            "{:#x}",
            tx.max_fee_per_blob_gas().unwrap_or_default()
        ));
    }
    for at in [block.saturating_sub(1), block] {
        let answer: Result<Value, _> = l1
            .raw_request("eth_call".into(), (call.clone(), format!("{at:#x}")))
            .await;
        let text = match answer {
            Ok(value) => value.to_string(),
            Err(e) => format!("{e:?}"),
        };
        if text.to_ascii_lowercase().contains(DUE_SELECTOR) {
            return true;
        }
    }
    false
}
