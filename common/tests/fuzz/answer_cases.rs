//! The inputs of the answer targets (the engine's pool content, the driver's answers): each a
//! well-formed answer, then JSON edits and byte mutations or not, or any JSON or bytes.

use alloy::{consensus::TxEnvelope, primitives::B256};
use common::driver::InsertedBlock;
use proptest::{collection::vec, prelude::*, sample::select};
use serde_json::{Value, json};

use crate::fuzz::{
    json::{self as fuzz_json, JsonEdit},
    mutation::{self, Mutation, mutated},
    txs,
};

/// How one field of an EIP-1559 tx's JSON is changed.
#[derive(Debug, Clone)]
pub enum FieldEdit {
    /// Set to this value.
    Set(Value),
    /// Removed.
    Remove,
    /// The same hex with `n` leading zero digits.
    LeadingZeros(u8),
    /// The same hex in upper case.
    Upper,
}

/// Inputs of the pool target.
#[derive(Debug, Clone)]
pub enum PoolCase {
    /// A pool answer with `txs` (repeated `copies` times: past 64 they decode across cores),
    /// under `TxList` or `txList`, then JSON `edits` and byte `mutations`.
    Txs {
        txs: Vec<TxEnvelope>,
        copies: usize,
        camel: bool,
        edits: Vec<JsonEdit>,
        mutations: Vec<Mutation>,
    },
    /// One EIP-1559 tx with one field changed.
    Field {
        tx: Box<TxEnvelope>,
        field: &'static str,
        edit: FieldEdit,
    },
    /// Any JSON as the body.
    Json(Value),
    /// Any bytes as the body.
    Raw(Vec<u8>),
}

/// The keys a pool answer and its txs have.
const POOL_FIELDS: &[&str] = &[
    "jsonrpc",
    "id",
    "result",
    "error",
    "code",
    "message",
    "TxList",
    "txList",
    "type",
    "chainId",
    "nonce",
    "gas",
    "gasPrice",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "to",
    "value",
    "input",
    "accessList",
    "address",
    "storageKeys",
    "r",
    "s",
    "v",
    "yParity",
    "hash",
];

/// The fields of an EIP-1559 tx's JSON the fast path reads (it ignores the engine's `hash`,
/// which alloy checks, on purpose: see `decode_eip1559`).
const EIP1559_FIELDS: &[&str] = &[
    "type",
    "chainId",
    "nonce",
    "gas",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "to",
    "value",
    "input",
    "accessList",
    "r",
    "s",
    "v",
    "yParity",
];

impl PoolCase {
    /// The tx's JSON after the field edit (only for [`PoolCase::Field`]).
    fn edited_tx(&self) -> Option<Value> {
        let PoolCase::Field { tx, field, edit } = self else {
            return None;
        };
        let mut json = serde_json::to_value(tx).ok()?;
        let fields = json.as_object_mut()?;
        let hex = |text: &str| text.strip_prefix("0x").map(str::to_string);
        match edit {
            FieldEdit::Set(value) => {
                fields.insert((*field).to_string(), value.clone());
            }
            FieldEdit::Remove => {
                fields.remove(*field);
            }
            FieldEdit::LeadingZeros(n) => {
                if let Some(digits) = fields.get(*field).and_then(Value::as_str).and_then(hex) {
                    let zeros = "0".repeat(usize::from(*n));
                    fields.insert((*field).to_string(), json!(format!("0x{zeros}{digits}")));
                }
            }
            FieldEdit::Upper => {
                if let Some(digits) = fields.get(*field).and_then(Value::as_str).and_then(hex) {
                    let upper = digits.to_ascii_uppercase();
                    fields.insert((*field).to_string(), json!(format!("0x{upper}")));
                }
            }
        }
        Some(json)
    }

    /// The response body.
    pub fn body(&self) -> Vec<u8> {
        let answer =
            |list: Value, key: &str| json!({"jsonrpc": "2.0", "id": 1, "result": [{key: list}]});
        match self {
            PoolCase::Txs {
                txs,
                copies,
                camel,
                edits,
                mutations,
            } => {
                let list: Vec<&TxEnvelope> = txs.iter().cycle().take(txs.len() * copies).collect();
                let key = if *camel { "txList" } else { "TxList" };
                let mut doc = answer(json!(list), key);
                fuzz_json::apply(&mut doc, edits);
                mutated(&serde_json::to_vec(&doc).unwrap_or_default(), mutations)
            }
            PoolCase::Field { .. } => {
                let tx = self.edited_tx().unwrap_or_default();
                serde_json::to_vec(&answer(json!([tx]), "TxList")).unwrap_or_default()
            }
            PoolCase::Json(value) => serde_json::to_vec(value).unwrap_or_default(),
            PoolCase::Raw(bytes) => bytes.clone(),
        }
    }

    /// What the parser must return: for an undamaged answer, its txs.
    pub fn expected(&self) -> Option<Vec<TxEnvelope>> {
        match self {
            PoolCase::Txs {
                txs,
                copies,
                edits,
                mutations,
                ..
            } if edits.is_empty() && mutations.is_empty() => Some(
                txs.iter()
                    .cycle()
                    .take(txs.len() * copies)
                    .cloned()
                    .collect(),
            ),
            _ => None,
        }
    }

    /// alloy's reading of the edited tx (only for [`PoolCase::Field`]).
    pub fn reference(&self) -> Option<TxEnvelope> {
        serde_json::from_value(self.edited_tx()?).ok()
    }
}

/// Inputs of the pool target.
pub fn pool_case() -> BoxedStrategy<PoolCase> {
    let edit = prop_oneof![
        3 => fuzz_json::value(EIP1559_FIELDS).prop_map(FieldEdit::Set),
        1 => Just(FieldEdit::Remove),
        2 => (1..4u8).prop_map(FieldEdit::LeadingZeros),
        1 => Just(FieldEdit::Upper),
    ];
    let copies = prop_oneof![6 => Just(1usize), 1 => Just(70usize)];
    let answer = (
        vec(txs::tx(), 0..5),
        copies,
        any::<bool>(),
        fuzz_json::edits(POOL_FIELDS, 2),
        mutation::maybe(3, 1, 3),
    )
        .prop_map(|(txs, copies, camel, edits, mutations)| PoolCase::Txs {
            txs,
            copies,
            camel,
            edits,
            mutations,
        });
    let field = (txs::eip1559_tx(), select(EIP1559_FIELDS), edit).prop_map(|(tx, field, edit)| {
        PoolCase::Field {
            tx: Box::new(tx),
            field,
            edit,
        }
    });
    prop_oneof![
        4 => answer,
        3 => field,
        1 => fuzz_json::value(POOL_FIELDS).prop_map(PoolCase::Json),
        1 => mutation::any_bytes().prop_map(PoolCase::Raw),
    ]
    .boxed()
}

/// A `preconfBlocks` answer's header.
#[derive(Debug, Clone)]
pub struct Header {
    number: u64,
    /// 0: a JSON number, 1: 0x-hex, 2: a decimal string.
    number_form: u8,
    hash: B256,
    parent_hash: B256,
    state_root: Option<B256>,
}

impl Header {
    /// The block the parser must return.
    pub fn expected(&self) -> InsertedBlock {
        InsertedBlock {
            number: self.number,
            hash: self.hash,
            state_root: self.state_root.unwrap_or(B256::ZERO),
            parent_hash: self.parent_hash,
        }
    }

    fn json(&self) -> Value {
        let number = match self.number_form {
            0 => json!(self.number),
            1 => json!(format!("{:#x}", self.number)),
            _ => json!(self.number.to_string()),
        };
        let mut header =
            json!({"number": number, "hash": self.hash, "parentHash": self.parent_hash});
        if let Some(root) = self.state_root {
            header["stateRoot"] = json!(root);
        }
        json!({"blockHeader": header})
    }
}

/// Inputs of the driver target: each answer the driver gives, then JSON edits and byte
/// mutations.
#[derive(Debug, Clone)]
pub enum DriverCase {
    /// `preconfBlocks`.
    Inserted {
        block: Header,
        edits: Vec<JsonEdit>,
        mutations: Vec<Mutation>,
    },
    /// `status`.
    Status {
        highest: u64,
        eos: Option<B256>,
        edits: Vec<JsonEdit>,
        mutations: Vec<Mutation>,
    },
    /// `reorgStaleBlock`.
    Reorg {
        head: B256,
        removed: u64,
        edits: Vec<JsonEdit>,
        mutations: Vec<Mutation>,
    },
    /// Any bytes.
    Raw(Vec<u8>),
}

const DRIVER_FIELDS: &[&str] = &[
    "blockHeader",
    "number",
    "hash",
    "parentHash",
    "stateRoot",
    "highestUnsafeL2PayloadBlockID",
    "endOfSequencingBlockHash",
    "newHeadBlockHash",
    "blocksRemoved",
];

impl DriverCase {
    /// The answer's body.
    pub fn body(&self) -> Vec<u8> {
        let (mut doc, edits, mutations) = match self {
            DriverCase::Inserted {
                block,
                edits,
                mutations,
            } => (block.json(), edits, mutations),
            DriverCase::Status {
                highest,
                eos,
                edits,
                mutations,
            } => {
                let mut doc = json!({"highestUnsafeL2PayloadBlockID": highest});
                if let Some(eos) = eos {
                    doc["endOfSequencingBlockHash"] = json!(eos);
                }
                (doc, edits, mutations)
            }
            DriverCase::Reorg {
                head,
                removed,
                edits,
                mutations,
            } => (
                json!({"newHeadBlockHash": head, "blocksRemoved": removed}),
                edits,
                mutations,
            ),
            DriverCase::Raw(bytes) => return bytes.clone(),
        };
        fuzz_json::apply(&mut doc, edits);
        mutated(&serde_json::to_vec(&doc).unwrap_or_default(), mutations)
    }

    /// Whether the answer is as the driver wrote it.
    pub fn untouched(&self) -> bool {
        match self {
            DriverCase::Inserted {
                edits, mutations, ..
            }
            | DriverCase::Status {
                edits, mutations, ..
            }
            | DriverCase::Reorg {
                edits, mutations, ..
            } => edits.is_empty() && mutations.is_empty(),
            DriverCase::Raw(_) => false,
        }
    }
}

/// Inputs of the driver target.
pub fn driver_case() -> BoxedStrategy<DriverCase> {
    let hash = || any::<[u8; 32]>().prop_map(B256::from);
    let edits = || fuzz_json::edits(DRIVER_FIELDS, 2);
    let mutations = || mutation::maybe(2, 1, 3);
    let header = (
        txs::u64_edge(),
        0..3u8,
        hash(),
        hash(),
        proptest::option::of(hash()),
    )
        .prop_map(
            |(number, number_form, hash, parent_hash, state_root)| Header {
                number,
                number_form,
                hash,
                parent_hash,
                state_root,
            },
        );
    let inserted =
        (header, edits(), mutations()).prop_map(|(block, edits, mutations)| DriverCase::Inserted {
            block,
            edits,
            mutations,
        });
    let status = (
        txs::u64_edge(),
        proptest::option::of(hash()),
        edits(),
        mutations(),
    )
        .prop_map(|(highest, eos, edits, mutations)| DriverCase::Status {
            highest,
            eos,
            edits,
            mutations,
        });
    let reorg = (hash(), txs::u64_edge(), edits(), mutations()).prop_map(
        |(head, removed, edits, mutations)| DriverCase::Reorg {
            head,
            removed,
            edits,
            mutations,
        },
    );
    prop_oneof![
        3 => inserted,
        2 => status,
        2 => reorg,
        1 => mutation::any_bytes().prop_map(DriverCase::Raw),
    ]
    .boxed()
}
