//! Bridge messages as the node carries them between chains: the message, its hash (the signal
//! the source bridge sends) and the signal slot the destination proves (protocol.md §3, §4).

use alloy::{
    primitives::{Address, B256, Bytes, keccak256},
    sol_types::SolValue,
};
use bindings::Message;
use common::ids::SignalSlot;
use serde::{Deserialize, Serialize};

/// `Bridge.hashMessage`: `keccak256(abi.encode("TAIKO_MESSAGE", message))`.
pub fn hash_message(message: &Message) -> B256 {
    keccak256(("TAIKO_MESSAGE".to_string(), message.clone()).abi_encode_params())
}

/// `SignalService.getSignalSlot`: `keccak256("SIGNAL" ‖ uint64 chainId ‖ app ‖ signal)`.
pub fn signal_slot(chain_id: u64, app: Address, signal: B256) -> SignalSlot {
    let mut packed = Vec::with_capacity(66);
    packed.extend_from_slice(b"SIGNAL");
    packed.extend_from_slice(&chain_id.to_be_bytes());
    packed.extend_from_slice(app.as_slice());
    packed.extend_from_slice(signal.as_slice());
    SignalSlot(keccak256(packed))
}

/// A message sent through a source-chain bridge, with what its destination needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredMessage", into = "StoredMessage")]
pub struct BridgeMessage {
    /// The message as the source bridge emitted it (id, from and source chain filled in).
    pub message: Message,
    /// `hashMessage(message)`: the signal the source bridge sent.
    pub hash: B256,
    /// Where the source SignalService stored that signal.
    pub slot: SignalSlot,
}

impl BridgeMessage {
    /// The message sent through `source_bridge` (the app of its signal).
    pub fn new(message: Message, source_bridge: Address) -> Self {
        let hash = hash_message(&message);
        let slot = signal_slot(message.srcChainId, source_bridge, hash);
        Self {
            message,
            hash,
            slot,
        }
    }
}

/// How a [`BridgeMessage`] is persisted: its ABI encoding and the bridge it came through (the
/// hash and slot are recomputed, so a stored record cannot carry a slot that does not match).
#[derive(Serialize, Deserialize)]
struct StoredMessage {
    abi: Bytes,
    hash: B256,
    slot: SignalSlot,
}

impl From<BridgeMessage> for StoredMessage {
    fn from(m: BridgeMessage) -> Self {
        Self {
            abi: m.message.abi_encode().into(),
            hash: m.hash,
            slot: m.slot,
        }
    }
}

impl TryFrom<StoredMessage> for BridgeMessage {
    type Error = String;

    fn try_from(stored: StoredMessage) -> Result<Self, String> {
        let message = Message::abi_decode(&stored.abi)
            .map_err(|e| format!("stored bridge message does not decode: {e}"))?;
        if hash_message(&message) != stored.hash {
            return Err(format!(
                "stored bridge message {} does not hash to its recorded hash",
                message.id
            ));
        }
        Ok(Self {
            message,
            hash: stored.hash,
            slot: stored.slot,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use alloy::primitives::U256;
    use serde_json::Value;

    fn vectors() -> Value {
        let raw = std::fs::read_to_string(bindings::vectors::path()).unwrap();
        serde_json::from_str(&raw).unwrap()
    }

    fn message_of(v: &Value) -> Message {
        let s = |k: &str| {
            v[k].as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v[k].to_string())
        };
        Message {
            id: s("id").parse().unwrap(),
            fee: s("fee").parse().unwrap(),
            gasLimit: s("gasLimit").parse().unwrap(),
            from: s("from").parse().unwrap(),
            srcChainId: s("srcChainId").parse().unwrap(),
            srcOwner: s("srcOwner").parse().unwrap(),
            destChainId: s("destChainId").parse().unwrap(),
            destOwner: s("destOwner").parse().unwrap(),
            to: s("to").parse().unwrap(),
            value: s("value").parse::<U256>().unwrap(),
            data: s("data").parse().unwrap(),
        }
    }

    #[test]
    fn hash_and_slot_match_the_reference_vectors() {
        let v = vectors();
        let hashes = &v["hashes"];
        let cases = hashes["hashMessage"].as_array().unwrap();
        assert!(!cases.is_empty());
        for case in cases {
            let want: B256 = case["msgHash"].as_str().unwrap().parse().unwrap();
            assert_eq!(hash_message(&message_of(&case["message"])), want, "{case}");
        }
        let cases = hashes["getSignalSlot"].as_array().unwrap();
        assert!(!cases.is_empty());
        for case in cases {
            let chain_id = case["chainId"].as_u64().unwrap();
            let app: Address = case["app"].as_str().unwrap().parse().unwrap();
            let signal: B256 = case["signal"].as_str().unwrap().parse().unwrap();
            let want: B256 = case["slot"].as_str().unwrap().parse().unwrap();
            assert_eq!(signal_slot(chain_id, app, signal).0, want, "{case}");
        }
    }

    #[test]
    fn the_id_is_hashed_and_a_stored_message_round_trips() {
        let v = vectors();
        let case = &v["hashes"]["hashMessage"][0];
        let bridge: Address = v["hashes"]["getSignalSlot"][0]["app"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let original = BridgeMessage::new(message_of(&case["message"]), bridge);
        let mut message = original.message.clone();
        message.id += 3;
        let renumbered = BridgeMessage::new(message, bridge);
        assert_ne!(renumbered.hash, original.hash, "the id is part of the hash");
        assert_ne!(renumbered.slot, original.slot);

        let json = serde_json::to_string(&renumbered).unwrap();
        assert_eq!(
            serde_json::from_str::<BridgeMessage>(&json).unwrap(),
            renumbered
        );
        let tampered = json.replace(&format!("{}", renumbered.hash), &format!("{}", B256::ZERO));
        assert!(serde_json::from_str::<BridgeMessage>(&tampered).is_err());
    }
}
