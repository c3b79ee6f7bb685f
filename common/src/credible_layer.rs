//! The Credible Layer sidecar's wire format (package `sidecar.transport.v1`): message types, the
//! `SidecarTransport` client and server, generated at build time from `proto/sidecar.proto`.
//! What the real sidecar enforces on this wire is in `docs/research/credible-layer-sidecar.md`.

/// The generated types (prost) and the client/server (tonic).
#[allow(missing_docs, clippy::all, clippy::unwrap_used, clippy::expect_used)]
pub mod wire {
    tonic::include_proto!("sidecar.transport.v1");
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::wire::{
        CommitHead, Event, GetTransactionResponse, ReorgEvent, ResultStatus, Transaction,
        TransactionEnv, TransactionResult, TxExecutionId, event, get_transaction_response,
    };

    /// The key byte of field `number` with wire type `kind` (0 varint, 2 length-delimited).
    fn key(number: u8, kind: u8) -> u8 {
        (number << 3) | kind
    }

    #[test]
    fn field_numbers_are_the_spec_table() {
        // TxExecutionId: block_number = 1, iteration_id = 2, tx_hash = 3, index = 4.
        let id = TxExecutionId {
            block_number: vec![7],
            iteration_id: 3,
            tx_hash: vec![9],
            index: 5,
        };
        assert_eq!(
            id.encode_to_vec(),
            vec![key(1, 2), 1, 7, key(2, 0), 3, key(3, 2), 1, 9, key(4, 0), 5]
        );
        // Transaction: tx_execution_id = 1, tx_env = 2, prev_tx_hash = 3 (set even when empty).
        let tx = Transaction {
            tx_execution_id: None,
            tx_env: Some(TransactionEnv {
                chain_id: Some(0),
                ..Default::default()
            }),
            prev_tx_hash: Some(vec![]),
        };
        assert_eq!(
            tx.encode_to_vec(),
            vec![key(2, 2), 2, key(9, 0), 0, key(3, 2), 0]
        );
        // CommitHead: n_transactions = 2, block_hash = 5, timestamp = 7.
        let head = CommitHead {
            n_transactions: 4,
            block_hash: vec![1],
            timestamp: vec![2],
            ..Default::default()
        };
        assert_eq!(
            head.encode_to_vec(),
            vec![key(2, 0), 4, key(5, 2), 1, 1, key(7, 2), 1, 2]
        );
        // ReorgEvent: tx_hashes = 2 (repeated).
        let reorg = ReorgEvent {
            tx_execution_id: None,
            tx_hashes: vec![vec![1], vec![2]],
        };
        assert_eq!(
            reorg.encode_to_vec(),
            vec![key(2, 2), 1, 1, key(2, 2), 1, 2]
        );
    }

    #[test]
    fn events_oneofs_and_statuses_round_trip_with_the_spec_numbers() {
        // Event: event_id = 1, then commit_head = 2, new_iteration = 3, transaction = 4, reorg = 5.
        let event = Event {
            event_id: 42,
            event: Some(event::Event::Reorg(ReorgEvent::default())),
        };
        let bytes = event.encode_to_vec();
        assert_eq!(bytes, vec![key(1, 0), 42, key(5, 2), 0]);
        assert_eq!(Event::decode(bytes.as_slice()).unwrap(), event);
        let commit = Event {
            event_id: 1,
            event: Some(event::Event::CommitHead(CommitHead::default())),
        };
        assert_eq!(commit.encode_to_vec()[2], key(2, 2));
        // ResultStatus values, as the sidecar sends them.
        let statuses = [
            (ResultStatus::Unspecified, 0),
            (ResultStatus::Success, 1),
            (ResultStatus::Reverted, 2),
            (ResultStatus::Halted, 3),
            (ResultStatus::Failed, 4),
            (ResultStatus::AssertionFailed, 5),
        ];
        for (status, number) in statuses {
            assert_eq!(status as i32, number, "{status:?}");
        }
        // GetTransactionResponse: result = 1, not_found = 2.
        let missing = GetTransactionResponse {
            outcome: Some(get_transaction_response::Outcome::NotFound(vec![3])),
        };
        assert_eq!(missing.encode_to_vec(), vec![key(2, 2), 1, 3]);
        let found = TransactionResult {
            status: ResultStatus::AssertionFailed as i32,
            ..Default::default()
        };
        assert_eq!(found.encode_to_vec(), vec![key(2, 0), 5]);
        assert_eq!(found.status(), ResultStatus::AssertionFailed);
    }
}
