//! Manifests for the decoders: valid ones to encode and mutate, and RLP trees (any shape, or a
//! valid manifest's tree with nodes replaced, wrapped, cut or turned into strings), so decoding
//! reaches every field's check instead of stopping at the first header.

use alloy::rlp::{Buf, Header};
use common::codec::manifest::{BlockManifest, DerivationSourceManifest};
use proptest::{collection::vec, prelude::*, sample::Index};

use super::txs::{address, tx, u64_edge};

/// One block with up to four txs of any type.
pub fn block() -> BoxedStrategy<BlockManifest> {
    (
        u64_edge(),
        address(),
        u64_edge(),
        u64_edge(),
        vec(tx(), 0..4),
    )
        .prop_map(
            |(timestamp, coinbase, anchor_block_number, gas_limit, transactions)| BlockManifest {
                timestamp,
                coinbase,
                anchor_block_number,
                gas_limit,
                transactions,
            },
        )
        .boxed()
}

/// Up to four blocks.
pub fn manifest() -> BoxedStrategy<DerivationSourceManifest> {
    vec(block(), 0..4)
        .prop_map(|blocks| DerivationSourceManifest { blocks })
        .boxed()
}

/// An RLP item.
#[derive(Debug, Clone)]
pub enum Rlp {
    /// A byte string.
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<Rlp>),
}

impl Rlp {
    /// The canonical encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Rlp::Bytes(bytes) if bytes.len() == 1 && bytes[0] < 0x80 => out.push(bytes[0]),
            Rlp::Bytes(bytes) => {
                Header {
                    list: false,
                    payload_length: bytes.len(),
                }
                .encode(out);
                out.extend_from_slice(bytes);
            }
            Rlp::List(items) => {
                let mut payload = Vec::new();
                for item in items {
                    item.encode(&mut payload);
                }
                Header {
                    list: true,
                    payload_length: payload.len(),
                }
                .encode(out);
                out.extend_from_slice(&payload);
            }
        }
    }

    /// The encoding as a vector.
    pub fn encoded(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Parses canonical-or-not RLP; `None` for malformed input. Typed txs, being byte strings,
    /// stay whole.
    pub fn parse(mut data: &[u8]) -> Option<Rlp> {
        let item = Self::parse_one(&mut data)?;
        data.is_empty().then_some(item)
    }

    fn parse_one(data: &mut &[u8]) -> Option<Rlp> {
        let header = Header::decode(data).ok()?;
        let payload = data.get(..header.payload_length)?;
        data.advance(header.payload_length);
        if !header.list {
            return Some(Rlp::Bytes(payload.to_vec()));
        }
        let mut rest = payload;
        let mut items = Vec::new();
        while !rest.is_empty() {
            items.push(Self::parse_one(&mut rest)?);
        }
        Some(Rlp::List(items))
    }

    fn count(&self) -> usize {
        match self {
            Rlp::Bytes(_) => 1,
            Rlp::List(items) => 1 + items.iter().map(Rlp::count).sum::<usize>(),
        }
    }

    /// The `n`th node in pre-order.
    fn nth_mut(&mut self, n: &mut usize) -> Option<&mut Rlp> {
        if *n == 0 {
            return Some(self);
        }
        *n -= 1;
        match self {
            Rlp::Bytes(_) => None,
            Rlp::List(items) => items.iter_mut().find_map(|item| item.nth_mut(n)),
        }
    }
}

/// Any RLP tree a few levels deep, its strings biased to what manifest fields hold.
pub fn rlp_tree() -> BoxedStrategy<Rlp> {
    let leaf = prop_oneof![
        Just(Rlp::Bytes(vec![])),
        Just(Rlp::Bytes(vec![0])),
        any::<u64>().prop_map(|n| Rlp::Bytes(
            n.to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect()
        )),
        any::<[u8; 20]>().prop_map(|a| Rlp::Bytes(a.to_vec())),
        vec(any::<u8>(), 0..70).prop_map(Rlp::Bytes),
        (0u8..5, vec(any::<u8>(), 0..40)).prop_map(|(ty, body)| {
            // A typed tx's shape: the type byte, then an RLP list.
            let mut bytes = vec![ty];
            Rlp::List(body.into_iter().map(|b| Rlp::Bytes(vec![b])).collect()).encode(&mut bytes);
            Rlp::Bytes(bytes)
        }),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| vec(inner, 0..7).prop_map(Rlp::List))
        .boxed()
}

/// A change to one node of an RLP tree.
#[derive(Debug, Clone)]
pub enum TreeEdit {
    /// Replace it.
    Replace { node: Index, with: Rlp },
    /// Put it in a one-element list.
    Wrap { node: Index },
    /// Keep only the first `keep` items of a list.
    Cut { node: Index, keep: u8 },
    /// Turn a list into a string holding its encoding (a typed tx's form).
    Stringify { node: Index },
    /// Repeat the last item of a list.
    Repeat { node: Index },
}

/// Up to `max` tree edits.
pub fn tree_edits(max: usize) -> impl Strategy<Value = Vec<TreeEdit>> {
    let edit = prop_oneof![
        3 => (any::<Index>(), rlp_tree()).prop_map(|(node, with)| TreeEdit::Replace { node, with }),
        1 => any::<Index>().prop_map(|node| TreeEdit::Wrap { node }),
        2 => (any::<Index>(), 0..6u8).prop_map(|(node, keep)| TreeEdit::Cut { node, keep }),
        1 => any::<Index>().prop_map(|node| TreeEdit::Stringify { node }),
        1 => any::<Index>().prop_map(|node| TreeEdit::Repeat { node }),
    ];
    vec(edit, 1..=max)
}

/// Applies `edits` in order.
pub fn edit_tree(tree: &mut Rlp, edits: &[TreeEdit]) {
    for edit in edits {
        let (TreeEdit::Replace { node, .. }
        | TreeEdit::Wrap { node }
        | TreeEdit::Cut { node, .. }
        | TreeEdit::Stringify { node }
        | TreeEdit::Repeat { node }) = edit;
        let mut n = node.index(tree.count());
        let Some(target) = tree.nth_mut(&mut n) else {
            continue;
        };
        match (edit, &mut *target) {
            (TreeEdit::Replace { with, .. }, _) => *target = with.clone(),
            (TreeEdit::Wrap { .. }, _) => *target = Rlp::List(vec![target.clone()]),
            (TreeEdit::Cut { keep, .. }, Rlp::List(items)) => items.truncate(usize::from(*keep)),
            (TreeEdit::Stringify { .. }, Rlp::List(_)) => *target = Rlp::Bytes(target.encoded()),
            (TreeEdit::Repeat { .. }, Rlp::List(items)) => {
                if let Some(last) = items.last().cloned() {
                    items.push(last);
                }
            }
            _ => {}
        }
    }
}

/// Whether every tx in the manifest `rlp` is one whole encoding as the strict RLP tree reads it:
/// a legacy list, or a string holding exactly one typed tx. alloy's tx decoding, which Raiko
/// shares, also accepts a typed tx under a string header that states the wrong length, or with
/// no string header (`Decodable2718::network_decode`); only manifests without those must be
/// canonical to be accepted.
pub fn txs_strictly_wrapped(rlp: &[u8]) -> bool {
    use alloy::{consensus::TxEnvelope, eips::Decodable2718};
    // The manifest is `[[block…]]`. Not even a strict tree: a header alloy did not check is
    // wrong.
    let Some(Rlp::List(outer)) = Rlp::parse(rlp) else {
        return false;
    };
    let Some(Rlp::List(blocks)) = outer.first() else {
        return true;
    };
    blocks.iter().all(|block| match block {
        Rlp::List(fields) => match fields.get(4) {
            Some(Rlp::List(txs)) => txs.iter().all(|tx| match tx {
                Rlp::List(_) => true,
                Rlp::Bytes(bytes) => {
                    bytes.len() > 1
                        && bytes[0] < 0x80
                        && TxEnvelope::decode_2718_exact(bytes).is_ok()
                }
            }),
            _ => true,
        },
        Rlp::Bytes(_) => true,
    })
}
