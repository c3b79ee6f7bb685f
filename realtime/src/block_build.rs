//! Assembles one L2 block from the pool's txs: the golden-touch anchor tx, the driver's
//! `preconfBlocks` request and the block's manifest entry. Pure and synchronous: this is the
//! node-side work per block that benchmark P2 measures.

use alloy::{
    consensus::TxEnvelope,
    primitives::{Address, B256, Bytes, aliases::U48},
};
use bindings::Checkpoint;
use common::{
    anchor::{self, ANCHOR_GAS_LIMIT, AnchorParams},
    basefee::{self, ParentFacts},
    codec::{deflate, manifest::BlockManifest, manifest_stream::DeflatedTxs},
    driver::{ExecutableData, PreconfBlockRequest},
    ids::SignalSlot,
};
use flate2::Compression;

use crate::{
    bridge::{signals::ReturnSignals, status::ReadyOp},
    forced_inclusion::ForcedSource,
    proposal::L1Anchor,
};

/// The L2 head a block is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParentBlock {
    /// Number.
    pub number: u64,
    /// Hash.
    pub hash: B256,
    /// What the base fee depends on.
    pub facts: ParentFacts,
}

impl ParentBlock {
    /// Gas the next block offers to txs: the parent's limit less the anchor's share (genesis has
    /// no anchor).
    pub fn gas_limit_without_anchor(&self) -> u64 {
        if self.number == 0 {
            self.facts.gas_limit
        } else {
            self.facts.gas_limit.saturating_sub(ANCHOR_GAS_LIMIT)
        }
    }

    /// The next block's base fee.
    pub fn next_base_fee(&self, min_base_fee: u64) -> u64 {
        basefee::next_base_fee(&self.facts, min_base_fee)
    }
}

/// Everything about the block except its txs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockFrame {
    /// L2 chain id.
    pub chain_id: u64,
    /// The L2 Anchor contract.
    pub anchor_contract: Address,
    /// Coinbase (the proposer).
    pub coinbase: Address,
    /// The inbox's basefee-sharing percentage (first byte of `extraData`).
    pub basefee_sharing_pctg: u8,
    /// Golden-touch nonce at the parent.
    pub golden_touch_nonce: u64,
    /// The proposal's anchor.
    pub anchor: L1Anchor,
    /// Fast signals (only a proposal's first block).
    pub signal_slots: Vec<SignalSlot>,
    /// Block timestamp.
    pub timestamp: u64,
    /// Block base fee.
    pub base_fee: u64,
    /// Gas limit without the anchor.
    pub gas_limit: u64,
}

/// A block ready for the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssembledBlock {
    /// Body of `POST /preconfBlocks`.
    pub request: PreconfBlockRequest,
    /// What the proposal's blob will carry for this block.
    pub manifest: BlockManifest,
    /// Hash of the anchor tx: identifies the block if the driver's answer is lost.
    pub anchor_tx_hash: B256,
    /// A large block's txs deflated once, for the proposal's payload too.
    pub txs: Option<DeflatedTxs>,
    /// User ops whose L2 txs end its tx list (their slots are the frame's fast signals).
    pub user_ops: Vec<ReadyOp>,
    /// Its L2→L1→L2 txs (their answers' slots end the frame's fast signals).
    pub returns: ReturnSignals,
    /// The forced inclusion it is, if it is one.
    pub forced: Option<ForcedSource>,
}

/// `extraData`: basefee-sharing percentage, then the 6-byte proposal id (0 in real time).
pub fn extra_data(basefee_sharing_pctg: u8) -> Bytes {
    Bytes::from(vec![basefee_sharing_pctg, 0, 0, 0, 0, 0, 0])
}

/// The block's anchor tx (its first).
pub fn anchor_tx(frame: &BlockFrame) -> TxEnvelope {
    anchor::signed(&AnchorParams {
        chain_id: frame.chain_id,
        nonce: frame.golden_touch_nonce,
        base_fee: u128::from(frame.base_fee),
        anchor: frame.anchor_contract,
        checkpoint: Checkpoint {
            blockNumber: U48::from(frame.anchor.number),
            blockHash: frame.anchor.hash,
            stateRoot: frame.anchor.state_root,
        },
        signal_slots: frame.signal_slots.iter().map(|s| s.0).collect(),
    })
}

/// Builds the anchor tx, the compressed tx list and the manifest entry.
pub fn assemble(parent: &ParentBlock, frame: &BlockFrame, txs: Vec<TxEnvelope>) -> AssembledBlock {
    let anchor_tx = anchor_tx(frame);
    let anchor_tx_hash = *anchor_tx.tx_hash();
    let (transactions, deflated_txs) = compressed_tx_list(&anchor_tx, &txs);
    AssembledBlock {
        request: PreconfBlockRequest {
            executable_data: ExecutableData {
                base_fee_per_gas: frame.base_fee,
                block_number: parent.number + 1,
                extra_data: extra_data(frame.basefee_sharing_pctg),
                fee_recipient: frame.coinbase,
                gas_limit: frame.gas_limit + ANCHOR_GAS_LIMIT,
                parent_hash: parent.hash,
                timestamp: frame.timestamp,
                transactions,
            },
            end_of_sequencing: false,
            is_forced_inclusion: false,
        },
        manifest: BlockManifest {
            timestamp: frame.timestamp,
            coinbase: frame.coinbase,
            anchor_block_number: frame.anchor.number,
            gas_limit: frame.gas_limit,
            transactions: txs,
        },
        anchor_tx_hash,
        txs: deflated_txs,
        user_ops: Vec::new(),
        returns: ReturnSignals::default(),
        forced: None,
    }
}

/// zlib(RLP([anchor, txs…])). A large block's txs are deflated once, at the default level,
/// and the same data ends the proposal's payload ([`DeflatedTxs`]); a small block's list is
/// compressed on its own at the fast level (the driver only inflates it).
fn compressed_tx_list(anchor_tx: &TxEnvelope, txs: &[TxEnvelope]) -> (Bytes, Option<DeflatedTxs>) {
    use alloy::rlp::Encodable;
    let txs_len = txs.iter().map(Encodable::length).sum::<usize>();
    let header = alloy::rlp::Header {
        list: true,
        payload_length: anchor_tx.length() + txs_len,
    };
    let mut head = Vec::with_capacity(header.length() + anchor_tx.length());
    header.encode(&mut head);
    anchor_tx.encode(&mut head);
    let mut txs_rlp = Vec::with_capacity(txs_len);
    for tx in txs {
        tx.encode(&mut txs_rlp);
    }
    if txs_rlp.len() < DeflatedTxs::MIN_LEN {
        let rlp = [head, txs_rlp].concat();
        return (Bytes::from(deflate::zlib(&rlp, Compression::fast())), None);
    }
    let shared = DeflatedTxs::new(txs_rlp);
    let head_deflated = deflate::continuing(&[], &head, Compression::default());
    let adler = deflate::adler32_combine(
        deflate::adler32(&[&head]),
        shared.adler(),
        shared.rlp().len(),
    );
    let zlib = deflate::zlib_of(
        Compression::default(),
        &[&head_deflated, shared.deflated()],
        adler,
    );
    (Bytes::from(zlib), Some(shared))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{consensus::transaction::SignerRecoverable, rlp::Decodable};
    use common::{anchor::GOLDEN_TOUCH_ADDRESS, codec::payload};

    fn parent() -> ParentBlock {
        ParentBlock {
            number: 5,
            hash: B256::repeat_byte(9),
            facts: ParentFacts {
                number: 5,
                timestamp: 100,
                gas_limit: 31_000_000,
                gas_used: 0,
                base_fee: 25_000_000,
                grandparent_timestamp: 98,
            },
        }
    }

    fn frame(parent: &ParentBlock) -> BlockFrame {
        BlockFrame {
            chain_id: 167_001,
            anchor_contract: Address::repeat_byte(0xaa),
            coinbase: Address::repeat_byte(0xbb),
            basefee_sharing_pctg: 75,
            golden_touch_nonce: 4,
            anchor: L1Anchor {
                number: 12,
                hash: B256::repeat_byte(1),
                state_root: B256::repeat_byte(2),
            },
            signal_slots: vec![],
            timestamp: 102,
            base_fee: parent.next_base_fee(basefee::MIN_BASE_FEE),
            gas_limit: parent.gas_limit_without_anchor(),
        }
    }

    #[test]
    fn large_block_shares_its_tx_deflate_with_the_proposal() {
        use alloy::{
            consensus::{SignableTransaction, TxEip1559},
            primitives::{Signature, TxKind, U256},
        };
        use common::codec::{
            manifest::DerivationSourceManifest,
            manifest_stream::{EncodedBlock, ManifestStream},
        };
        let txs: Vec<TxEnvelope> = (0..800u64)
            .map(|n| {
                let tx = TxEip1559 {
                    chain_id: 167_001,
                    nonce: n,
                    gas_limit: 21_000,
                    to: TxKind::Call(Address::with_last_byte(n as u8)),
                    value: U256::from(n),
                    ..Default::default()
                };
                let sig = Signature::new(
                    U256::from(n + 1) << 200,
                    U256::from(n * 31 + 7) << 190,
                    n % 2 == 1,
                );
                TxEnvelope::Eip1559(tx.into_signed(sig))
            })
            .collect();
        let parent = parent();
        let block = assemble(&parent, &frame(&parent), txs.clone());
        let shared = block
            .txs
            .clone()
            .expect("a large block shares its tx deflate");
        let rlp = payload::decompress(&block.request.executable_data.transactions).unwrap();
        let sent = Vec::<TxEnvelope>::decode(&mut rlp.as_slice()).unwrap();
        assert_eq!(sent.len(), 801);
        assert_eq!(*sent[0].tx_hash(), block.anchor_tx_hash);
        assert_eq!(sent[1..], txs[..]);

        let mut stream = ManifestStream::new();
        let encoded = EncodedBlock::new(&block.manifest, Some(shared));
        stream.push(encoded);
        let decoded = DerivationSourceManifest::from_plaintext_payload(&stream.payload()).unwrap();
        assert_eq!(decoded.blocks, vec![block.manifest]);
    }

    #[test]
    fn request_carries_anchor_first_then_txs_and_the_manifest_omits_the_anchor() {
        let parent = parent();
        let frame = frame(&parent);
        let block = assemble(&parent, &frame, vec![]);
        let data = &block.request.executable_data;
        assert_eq!(data.block_number, 6);
        assert_eq!(data.gas_limit, 31_000_000);
        assert_eq!(block.manifest.gas_limit, 30_000_000);
        assert_eq!(data.extra_data.as_ref(), &[75, 0, 0, 0, 0, 0, 0]);
        let rlp = payload::decompress(&data.transactions).unwrap();
        let txs = Vec::<TxEnvelope>::decode(&mut rlp.as_slice()).unwrap();
        assert_eq!(txs.len(), 1);
        assert_eq!(txs[0].recover_signer().unwrap(), GOLDEN_TOUCH_ADDRESS);
        assert_eq!(*txs[0].tx_hash(), block.anchor_tx_hash);
        assert!(block.manifest.transactions.is_empty());
    }
}
