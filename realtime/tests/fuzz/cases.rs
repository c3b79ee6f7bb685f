//! The inputs of `realtime`'s fuzz targets: Raiko's answers, the `surge_*` params and forced
//! inclusions' blobs, each valid by construction and then damaged or not.

use std::time::Duration;

use alloy::{
    eips::eip4844::Blob,
    primitives::{Address, B256, Bytes, U256},
};
use common::codec::{blob, manifest::DerivationSourceManifest, payload, privacy};
use proptest::{collection::vec, prelude::*, sample::select};
use realtime::{
    forced_inclusion::Keys,
    prover::wire::{Answer, ProofError},
};
use serde_json::{Value, json};

use crate::fuzz::{
    json::{self as fuzz_json, JsonEdit},
    manifests,
    mutation::{self, Mutation, mutated},
    txs,
};

/// No mutation (two cases in three) or a few.
fn maybe_mutations() -> BoxedStrategy<Vec<Mutation>> {
    mutation::maybe(2, 1, 3)
}

/// No JSON edit (two cases in three) or a few.
fn maybe_edits(fields: &'static [&'static str]) -> BoxedStrategy<Vec<JsonEdit>> {
    prop_oneof![2 => Just(Vec::new()), 1 => fuzz_json::edits(fields, 2)].boxed()
}

/// A document, then JSON edits and byte mutations: the body as text (lossy, as a body that is
/// not UTF-8 reaches the parsers).
pub fn damaged(mut doc: Value, edits: &[JsonEdit], mutations: &[Mutation]) -> String {
    fuzz_json::apply(&mut doc, edits);
    let bytes = mutated(&serde_json::to_vec(&doc).unwrap(), mutations);
    String::from_utf8_lossy(&bytes).into_owned()
}

// ---- raiko ----

/// Every `TaskStatus` name Raiko writes, and a few it does not.
const TASK_STATUSES: &[&str] = &[
    "success",
    "registered",
    "work_in_progress",
    "proof_failure__generic",
    "proof_failure__out_of_memory",
    "cancelled",
    "cancelled__never_started",
    "cancelled__aborted",
    "cancellation_in_progress",
    "invalid_or_unsupported_block",
    "zk_any_not_drawn",
    "sgx_any_not_drawn",
    "unspecified_failure_reason",
    "system_paused",
    "",
    "SUCCESS",
];

/// The keys of Raiko's answers.
const RAIKO_FIELDS: &[&str] = &["status", "data", "proof", "message", "error", "proof_type"];

/// What one Raiko answer says.
#[derive(Debug, Clone)]
pub enum RaikoBody {
    Proof(Vec<u8>),
    Status(&'static str),
    Failure { name: String, reason: String },
    Error(String),
    Json(Value),
}

/// One Raiko answer: its HTTP status, `Retry-After` (seconds) and body, then damage or not.
#[derive(Debug, Clone)]
pub struct RaikoCase {
    pub http: u16,
    pub retry_after: Option<u64>,
    pub body: RaikoBody,
    pub edits: Vec<JsonEdit>,
    pub mutations: Vec<Mutation>,
}

impl RaikoCase {
    /// The body as Raiko writes it.
    pub fn doc(&self) -> Value {
        let ok = |data: Value| json!({"status": "ok", "proof_type": "sp1", "data": data});
        match &self.body {
            RaikoBody::Proof(proof) => ok(json!({"proof": {"proof": Bytes::from(proof.clone())}})),
            RaikoBody::Status(name) => ok(json!({"status": name})),
            RaikoBody::Failure { name, reason } => ok(json!({"status": {name.clone(): reason}})),
            RaikoBody::Error(message) => {
                json!({"status": "error", "error": "task_failed", "message": message})
            }
            RaikoBody::Json(value) => value.clone(),
        }
    }

    /// What `interpret` must answer, when that is known.
    pub fn expected(&self) -> Option<Answer> {
        let retry_after = self.retry_after.map(Duration::from_secs);
        match self.http {
            401 | 403 => return Some(Answer::Final(ProofError::Unauthorized(self.http))),
            429 | 503 => return Some(Answer::RateLimited(retry_after)),
            _ if !self.edits.is_empty() || !self.mutations.is_empty() || self.http >= 500 => {
                return None;
            }
            _ => {}
        }
        Some(match &self.body {
            RaikoBody::Proof(proof) => Answer::Proof(Bytes::from(proof.clone())),
            RaikoBody::Status(name) => match *name {
                "registered" | "work_in_progress" | "success" => {
                    Answer::Pending(json!(name).to_string())
                }
                "zk_any_not_drawn" | "sgx_any_not_drawn" => {
                    Answer::NotDrawn(json!(name).to_string())
                }
                other => Answer::Final(ProofError::Failed(other.to_string())),
            },
            RaikoBody::Failure { name, reason } => {
                Answer::Final(ProofError::Failed(format!("{name}: {reason}")))
            }
            RaikoBody::Error(message)
                if message.to_ascii_lowercase().contains("proof not found") =>
            {
                Answer::Unknown(message.clone())
            }
            RaikoBody::Error(message) => Answer::Final(ProofError::Refused(message.clone())),
            RaikoBody::Json(_) => return None,
        })
    }
}

/// Inputs of the raiko target.
pub fn raiko_case() -> BoxedStrategy<RaikoCase> {
    let http = prop_oneof![
        6 => Just(200u16),
        1 => select(vec![201u16, 400, 401, 403, 404, 429, 500, 502, 503]),
        1 => any::<u16>(),
    ];
    let body = prop_oneof![
        2 => vec(any::<u8>(), 0..200).prop_map(RaikoBody::Proof),
        2 => select(TASK_STATUSES).prop_map(RaikoBody::Status),
        1 => ("[a-z_]{0,20}", "\\PC{0,20}")
            .prop_map(|(name, reason)| RaikoBody::Failure { name, reason }),
        1 => prop_oneof![
            Just("proof not found: expired or never submitted".to_string()),
            Just("Proof Not Found".to_string()),
            "\\PC{0,30}",
        ]
        .prop_map(RaikoBody::Error),
        2 => fuzz_json::value(RAIKO_FIELDS).prop_map(RaikoBody::Json),
    ];
    (
        http,
        proptest::option::of(0..120u64),
        body,
        maybe_edits(RAIKO_FIELDS),
        maybe_mutations(),
    )
        .prop_map(|(http, retry_after, body, edits, mutations)| RaikoCase {
            http,
            retry_after,
            body,
            edits,
            mutations,
        })
        .boxed()
}

// ---- surge_params ----

/// The keys of the `surge_*` params.
const PARAM_FIELDS: &[&str] = &[
    "submitter",
    "calldata",
    "userOpId",
    "txHash",
    "from",
    "to",
    "data",
    "input",
    "value",
];

/// A `value` as clients write it: absent, a JSON number, a decimal or a 0x-hex string.
#[derive(Debug, Clone)]
pub enum CallValue {
    Absent,
    Number(u64),
    Decimal(U256),
    Hex(U256),
}

/// The params of one `surge_*` call (any JSON, or none at all, for the last two).
#[derive(Debug, Clone)]
pub enum Call {
    Send {
        submitter: Address,
        calldata: Bytes,
    },
    Status(u64),
    TxStatus {
        id: Option<u64>,
        hash: Option<B256>,
    },
    Return {
        from: Address,
        to: Address,
        data: Bytes,
        value: CallValue,
    },
    Json(Value),
    Absent,
}

/// One call's params, maybe wrapped in a one-element array, then damaged or not.
#[derive(Debug, Clone)]
pub struct ParamsCase {
    pub call: Call,
    pub wrapped: bool,
    pub edits: Vec<JsonEdit>,
    pub mutations: Vec<Mutation>,
}

impl ParamsCase {
    /// The params' JSON text, `None` for a call without params.
    pub fn text(&self) -> Option<String> {
        let doc = match &self.call {
            Call::Send {
                submitter,
                calldata,
            } => json!({"submitter": submitter, "calldata": calldata}),
            Call::Status(id) => return Some(damaged(json!([id]), &self.edits, &self.mutations)),
            Call::TxStatus { id, hash } => {
                let mut doc = json!({});
                if let Some(id) = id {
                    doc["userOpId"] = json!(id);
                }
                if let Some(hash) = hash {
                    doc["txHash"] = json!(hash);
                }
                doc
            }
            Call::Return {
                from,
                to,
                data,
                value,
            } => {
                let mut doc = json!({"from": from, "to": to, "data": data});
                match value {
                    CallValue::Absent => {}
                    CallValue::Number(n) => doc["value"] = json!(n),
                    CallValue::Decimal(n) => doc["value"] = json!(n.to_string()),
                    CallValue::Hex(n) => doc["value"] = json!(format!("{n:#x}")),
                }
                doc
            }
            Call::Json(value) => value.clone(),
            Call::Absent => return None,
        };
        let doc = if self.wrapped { json!([doc]) } else { doc };
        Some(damaged(doc, &self.edits, &self.mutations))
    }

    /// Whether the params are as the client wrote them.
    pub fn untouched(&self) -> bool {
        self.edits.is_empty() && self.mutations.is_empty()
    }
}

/// Inputs of the surge_params target.
pub fn params_case() -> BoxedStrategy<ParamsCase> {
    let bytes = || vec(any::<u8>(), 0..80).prop_map(Bytes::from);
    let value = prop_oneof![
        Just(CallValue::Absent),
        any::<u64>().prop_map(CallValue::Number),
        txs::u256_edge().prop_map(CallValue::Decimal),
        txs::u256_edge().prop_map(CallValue::Hex),
    ];
    let call = prop_oneof![
        3 => (txs::address(), bytes())
            .prop_map(|(submitter, calldata)| Call::Send { submitter, calldata }),
        1 => txs::u64_edge().prop_map(Call::Status),
        2 => (proptest::option::of(txs::u64_edge()), proptest::option::of(any::<[u8; 32]>()))
            .prop_map(|(id, hash)| Call::TxStatus { id, hash: hash.map(B256::from) }),
        3 => (txs::address(), txs::address(), bytes(), value)
            .prop_map(|(from, to, data, value)| Call::Return { from, to, data, value }),
        2 => fuzz_json::value(PARAM_FIELDS).prop_map(Call::Json),
        1 => Just(Call::Absent),
    ];
    (
        call,
        any::<bool>(),
        maybe_edits(PARAM_FIELDS),
        maybe_mutations(),
    )
        .prop_map(|(call, wrapped, edits, mutations)| ParamsCase {
            call,
            wrapped,
            edits,
            mutations,
        })
        .boxed()
}

// ---- forced ----

/// A forced inclusion's blob: `manifest` compressed, framed under `scheme` (0x00 plaintext,
/// 0x01 AES with `symmetric`), at `offset` in the blob payload, then damage to the payload and
/// to the blob; opened with or without the key. `size_high` is a byte of the frame's size word
/// Raiko never reads (one of its high 24) and a value for it.
#[derive(Debug, Clone)]
pub struct ForcedCase {
    pub manifest: DerivationSourceManifest,
    pub scheme: u8,
    pub symmetric: [u8; 32],
    pub forced: [u8; 32],
    pub with_keys: bool,
    pub offset: u32,
    pub payload_mutations: Vec<Mutation>,
    pub blob_mutations: Vec<Mutation>,
    pub size_high: (u8, u8),
}

impl ForcedCase {
    /// The blob payload: `offset` filler bytes, then the framed (and damaged) manifest.
    pub fn payload(&self) -> Vec<u8> {
        let plain = self.manifest.plaintext_payload();
        let framed = match self.scheme {
            0x01 => privacy::encrypt(&plain, &self.symmetric).unwrap(),
            other => {
                // Another scheme byte in front of the compressed manifest.
                let mut inner = payload::unframe(&plain).unwrap().to_vec();
                inner[0] = other;
                payload::frame(&inner)
            }
        };
        let mut data = vec![0xa5; self.offset as usize];
        data.extend(mutated(&framed, &self.payload_mutations));
        data
    }

    /// The blob of `data` (the payload: computed once, as encryption draws a fresh nonce),
    /// with the size word's byte `size_high` set when asked and the payload still has it.
    pub fn blob(&self, mut data: Vec<u8>, size_high: bool) -> Option<Blob> {
        let (i, value) = self.size_high;
        let at = self.offset as usize + 32 + usize::from(i);
        if size_high {
            *data.get_mut(at)? = value;
        }
        if data.len() > blob::MAX_BLOB_PAYLOAD {
            return None;
        }
        let mut blobs = blob::encode(&data);
        if !self.blob_mutations.is_empty() {
            let damaged = mutated(blobs[0].as_slice(), &self.blob_mutations);
            let n = damaged.len().min(blobs[0].len());
            blobs[0].fill(0);
            blobs[0][..n].copy_from_slice(&damaged[..n]);
        }
        blobs.pop()
    }

    /// The keys the node opens with.
    pub fn keys(&self) -> Keys {
        match self.with_keys {
            true => Keys {
                symmetric: Some(self.symmetric),
                forced: Some(self.forced),
            },
            false => Keys::default(),
        }
    }
}

/// Inputs of the forced target.
pub fn forced_case() -> BoxedStrategy<ForcedCase> {
    let scheme = prop_oneof![3 => Just(0u8), 3 => Just(1u8), 1 => Just(2u8), 1 => any::<u8>()];
    let blob_mutations = prop_oneof![3 => Just(Vec::new()), 1 => mutation::mutations(2)];
    (
        manifests::manifest(),
        scheme,
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        prop_oneof![4 => Just(true), 1 => Just(false)],
        prop_oneof![3 => Just(0u32), 1 => 0..300u32],
        maybe_mutations(),
        blob_mutations,
        (0..24u8, 1..=255u8),
    )
        .prop_map(
            |(
                manifest,
                scheme,
                symmetric,
                forced,
                with_keys,
                offset,
                payload_mutations,
                blob_mutations,
                size_high,
            )| {
                ForcedCase {
                    manifest,
                    scheme,
                    symmetric,
                    forced,
                    with_keys,
                    offset,
                    payload_mutations,
                    blob_mutations,
                    size_high,
                }
            },
        )
        .boxed()
}
