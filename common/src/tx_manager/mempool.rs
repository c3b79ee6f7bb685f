//! What a mempool's refusal means. Nodes phrase these differently (geth, reth, nethermind,
//! anvil), so the classification matches on the phrases they share (op txmgr does the same).

/// A refused `eth_sendRawTransaction`, by what the sender should do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The node already has this exact tx: it is published.
    AlreadyKnown,
    /// The nonce is used: a tx at it was mined (ours or not).
    NonceTooLow,
    /// A tx at this nonce pays more, or the bid is below the node's floor: bump.
    Underpriced,
    /// The account cannot pay for gas and blobs: an operator must fund it.
    InsufficientFunds,
    /// A blob and a non-blob tx of the account collide in the pool.
    IncompatibleType,
    /// The node did not answer in time: the tx may or may not be in its pool.
    NoAnswer,
    /// Anything else, with the node's message.
    Other(String),
}

impl Refusal {
    /// Classifies the node's error message.
    pub fn classify(message: &str) -> Self {
        let m = message.to_ascii_lowercase();
        if m.contains("already known")
            || m.contains("known transaction")
            || m.contains("already imported")
        {
            Refusal::AlreadyKnown
        } else if m.contains("nonce too low") || m.contains("nonce is too low") {
            Refusal::NonceTooLow
        } else if m.contains("underpriced") || m.contains("fee too low") {
            Refusal::Underpriced
        } else if m.contains("insufficient funds") || m.contains("insufficient balance") {
            Refusal::InsufficientFunds
        } else if m.contains("already reserved") || m.contains("incompatible") {
            Refusal::IncompatibleType
        } else {
            Refusal::Other(message.to_string())
        }
    }

    /// Label for the publish-error metric.
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::AlreadyKnown => "already_known",
            Refusal::NonceTooLow => "nonce_too_low",
            Refusal::Underpriced => "replacement_underpriced",
            Refusal::InsufficientFunds => "insufficient_funds",
            Refusal::IncompatibleType => "pending_tx_of_incompatible_type",
            Refusal::NoAnswer => "no_answer",
            Refusal::Other(_) => "unknown_error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_phrases_of_geth_reth_and_anvil_are_recognised() {
        let cases = [
            ("already known", Refusal::AlreadyKnown),
            (
                "transaction already imported: known transaction 0xab",
                Refusal::AlreadyKnown,
            ),
            (
                "nonce too low: next nonce 5, tx nonce 4",
                Refusal::NonceTooLow,
            ),
            ("replacement transaction underpriced", Refusal::Underpriced),
            (
                "transaction underpriced: tip needed 1, tip permitted 0",
                Refusal::Underpriced,
            ),
            (
                "insufficient funds for gas * price + value",
                Refusal::InsufficientFunds,
            ),
            ("address already reserved", Refusal::IncompatibleType),
        ];
        for (message, expected) in cases {
            assert_eq!(Refusal::classify(message), expected, "{message}");
        }
        assert_eq!(Refusal::classify("boom").label(), "unknown_error");
    }
}
