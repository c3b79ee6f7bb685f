#![allow(clippy::unwrap_used)]
use super::*;

fn op(n: u8) -> UserOp {
    UserOp {
        submitter: Address::repeat_byte(n),
        calldata: Bytes::from(vec![n; 3]),
    }
}

#[test]
fn status_json_is_catalysts() {
    let cases = [
        (UserOpStatus::Pending, r#"{"status":"Pending"}"#.to_string()),
        (
            UserOpStatus::Processing {
                tx_hash: B256::repeat_byte(0xab),
            },
            format!(
                r#"{{"status":"Processing","tx_hash":"0x{}"}}"#,
                "ab".repeat(32)
            ),
        ),
        (
            UserOpStatus::ProvingBlock { block_id: 42 },
            r#"{"status":"ProvingBlock","block_id":42}"#.to_string(),
        ),
        (
            UserOpStatus::Rejected {
                reason: "no message".into(),
            },
            r#"{"status":"Rejected","reason":"no message"}"#.to_string(),
        ),
        (
            UserOpStatus::Executed,
            r#"{"status":"Executed"}"#.to_string(),
        ),
    ];
    for (status, json) in cases {
        assert_eq!(serde_json::to_string(&status).unwrap(), json);
        assert_eq!(serde_json::from_str::<UserOpStatus>(&json).unwrap(), status);
    }
}

#[tokio::test]
async fn ids_survive_a_reopen_and_statuses_only_move_forward() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = {
        let db = common::store::open(dir.path()).unwrap();
        let store = StatusStore::open(&db).unwrap();
        let a = store.intake(op(1)).await.unwrap();
        let b = store.intake(op(2)).await.unwrap();
        assert_eq!((a, b), (UserOpId(1), UserOpId(2)));
        store
            .ready(ReadyOp {
                id: b,
                op: op(2),
                messages: vec![],
            })
            .await
            .unwrap();
        store
            .set(&[a.into()], UserOpStatus::ProvingBlock { block_id: 7 })
            .await
            .unwrap();
        store.set(&[a.into()], UserOpStatus::Pending).await.unwrap();
        (a, b)
    };
    let db = common::store::open(dir.path()).unwrap();
    let store = StatusStore::open(&db).unwrap();
    assert_eq!(
        store.get(a).unwrap(),
        Some(UserOpStatus::ProvingBlock { block_id: 7 }),
        "a status never moves back"
    );
    let c = store.intake(op(3)).await.unwrap();
    assert_eq!(c, UserOpId(3), "ids are not reused after a reopen");
    assert_eq!(store.ready_ops(10).unwrap()[0].id, b);
    let unfinished: Vec<_> = store
        .unfinished()
        .unwrap()
        .into_iter()
        .map(|u| (u.id, u.ready))
        .collect();
    assert_eq!(unfinished, vec![(a, false), (b, true), (c, false)]);

    store
        .set(&[b.into()], UserOpStatus::Executed)
        .await
        .unwrap();
    store
        .set(
            &[b.into()],
            UserOpStatus::Rejected {
                reason: "late".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        store.get(b).unwrap(),
        Some(UserOpStatus::Executed),
        "final is final"
    );
    assert!(
        store.ready_ops(10).unwrap().is_empty(),
        "a final op waits for no block"
    );
    assert_eq!(store.get(UserOpId(99)).unwrap(), None);

    assert_eq!(store.sweep(Duration::from_secs(3600)).await.unwrap(), 0);
    assert_eq!(store.sweep_final_before(unix_now() + 2).await.unwrap(), 1);
    assert_eq!(store.get(b).unwrap(), None, "swept after its retention");
    assert!(
        store.get(a).unwrap().is_some(),
        "unfinished ops are never swept"
    );
}

#[tokio::test]
async fn a_tracked_tx_starts_at_its_first_status_moves_forward_and_is_swept() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::store::open(dir.path()).unwrap();
    let store = StatusStore::open(&db).unwrap();
    let tx = StatusKey::Tx(B256::repeat_byte(7));
    assert_eq!(store.get_tx(B256::repeat_byte(7)).unwrap(), None);
    store
        .set(&[tx], UserOpStatus::ProvingBlock { block_id: 4 })
        .await
        .unwrap();
    store.set(&[tx], UserOpStatus::Pending).await.unwrap();
    assert_eq!(
        store
            .get_tx(B256::repeat_byte(7))
            .unwrap()
            .map(|t| t.status),
        Some(UserOpStatus::ProvingBlock { block_id: 4 }),
        "a tx status never moves back either"
    );
    store.set(&[tx], UserOpStatus::Executed).await.unwrap();
    assert_eq!(store.get(UserOpId(0)).unwrap(), None, "txs are not ops");
    assert_eq!(store.sweep_final_before(unix_now() + 2).await.unwrap(), 1);
    assert_eq!(store.get_tx(B256::repeat_byte(7)).unwrap(), None);
}

#[tokio::test]
async fn a_retry_goes_back_to_pending_and_ready_until_the_attempts_run_out() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::store::open(dir.path()).unwrap();
    let store = StatusStore::open_with(&db, 2).unwrap();
    let id = store.intake(op(1)).await.unwrap();
    let ready = ReadyOp {
        id,
        op: op(1),
        messages: vec![],
    };
    store.ready(ready.clone()).await.unwrap();
    let in_block = UserOpStatus::ProvingBlock { block_id: 3 };
    store.set(&[id.into()], in_block.clone()).await.unwrap();
    assert!(
        store.ready_ops(10).unwrap().is_empty(),
        "taken into a block"
    );

    store
        .retry(vec![Retry::Ready(ready.clone())], "proof failed".into())
        .await
        .unwrap();
    assert_eq!(store.get(id).unwrap(), Some(UserOpStatus::Pending));
    assert_eq!(
        store.ready_ops(10).unwrap(),
        vec![ready.clone()],
        "ready again"
    );
    store.set(&[id.into()], in_block).await.unwrap();
    store
        .retry(vec![Retry::Ready(ready)], "proof failed again".into())
        .await
        .unwrap();
    let Some(UserOpStatus::Rejected { reason }) = store.get(id).unwrap() else {
        panic!("rejected after its attempts");
    };
    assert!(
        reason.contains("proof failed again") && reason.contains("2 proposals"),
        "{reason}"
    );
    assert!(store.ready_ops(10).unwrap().is_empty());

    // A tracked tx: its note is kept, and a final status is never retried.
    let hash = B256::repeat_byte(9);
    store.track_soon(hash, UserOpStatus::Pending, Some("held back".into()));
    store
        .set(&[StatusKey::Tx(hash)], UserOpStatus::Executed)
        .await
        .unwrap();
    store
        .retry(vec![Retry::Tx(hash)], "late".into())
        .await
        .unwrap();
    let tracked = store.get_tx(hash).unwrap().unwrap();
    assert_eq!(tracked.status, UserOpStatus::Executed);
    assert_eq!(tracked.note.as_deref(), Some("held back"));
}

#[tokio::test]
async fn concurrent_intakes_get_distinct_ids() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::store::open(dir.path()).unwrap();
    let store = StatusStore::open(&db).unwrap();
    // All 200 intakes are in flight at once (one future each), racing for the counter.
    let intakes = (0..200u8).map(|n| store.intake(op(n)));
    let mut ids: Vec<u64> = futures::future::join_all(intakes)
        .await
        .into_iter()
        .map(|id| id.unwrap().0)
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=200).collect::<Vec<_>>());
}
