//! Watching one tx until it is mined: the state between polls and its pure transitions (what a
//! publication's answer and a new L1 head mean), then the loop that does the I/O around them.

use super::{
    BlobTxWithSidecar, Included, NONCE_TOO_LOW_LIMIT, Published, TxError, TxManager,
    journal::JournalEntry, mempool::Refusal, metrics, show,
};

/// Where the watch of one tx stands between two polls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Watch {
    /// Some bid at this nonce reached a mempool, or may have: its nonce stays taken.
    published: bool,
    /// Publish the current bid before the next receipt check.
    publish: bool,
    /// Times L1 answered "nonce too low" without a receipt of ours.
    nonce_too_low: u32,
    /// The bid was underpriced: replace it at the next poll, not after the block count.
    bump_now: bool,
    /// The last publication went unanswered: publish the same bid again.
    unanswered: bool,
    /// Replacements signed so far.
    replacements: u32,
    /// L1 head when the bid was last replaced (or the watch started).
    last_replaced_at: u64,
}

/// What the watch does after a publication's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AfterPublish {
    /// Check for a receipt, then wait for the next poll.
    Watch,
    /// The account cannot pay: give the nonce back, the tx is nowhere.
    InsufficientFunds,
    /// The first bid was refused for good: give the nonce back.
    Refused(String),
}

/// What the watch does at a poll that found no receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AfterPoll {
    /// Another tx took the nonce: give up on it.
    NonceTaken,
    /// Wait for the next poll, publishing again first when `publish` says so.
    Wait,
    /// Replace the bid now (underpriced, or not mined within the block count).
    Replace,
}

impl Watch {
    /// A watch starting at L1 head `head`; `before` says whether an earlier run published it.
    pub(super) fn new(before: Published, head: u64) -> Self {
        Self {
            published: before == Published::Before,
            publish: true,
            nonce_too_low: 0,
            bump_now: false,
            unanswered: false,
            replacements: 0,
            last_replaced_at: head,
        }
    }

    /// Whether to publish before the next receipt check.
    pub(super) fn publish_due(&self) -> bool {
        self.publish
    }

    /// Replacements signed so far.
    pub(super) fn replacements(&self) -> u32 {
        self.replacements
    }

    /// A publication's answer: `Ok` is accepted, `Err` L1's refusal.
    pub(super) fn published(&mut self, answer: Result<(), Refusal>) -> AfterPublish {
        self.unanswered = false;
        match answer {
            Ok(()) | Err(Refusal::AlreadyKnown) => self.published = true,
            // Not a refusal: the tx may be in the pool and may be mined, so its nonce stays
            // taken; watch for it and publish the same tx again.
            Err(Refusal::NoAnswer) => {
                self.published = true;
                self.unanswered = true;
            }
            Err(Refusal::Underpriced) => {
                self.published = true;
                self.bump_now = true;
            }
            Err(Refusal::NonceTooLow) => self.nonce_too_low += 1,
            Err(Refusal::InsufficientFunds) if !self.published => {
                return AfterPublish::InsufficientFunds;
            }
            Err(Refusal::Other(message)) if !self.published && self.replacements == 0 => {
                return AfterPublish::Refused(message);
            }
            // A later bid refused: the earlier one may still be mined.
            Err(_) => {}
        }
        AfterPublish::Watch
    }

    /// A poll without a receipt, at L1 head `head` (`None`: unreadable, so no replacement is
    /// due), replacing after `replace_after` blocks.
    pub(super) fn polled(&mut self, head: Option<u64>, replace_after: u64) -> AfterPoll {
        if self.nonce_too_low >= NONCE_TOO_LOW_LIMIT {
            return AfterPoll::NonceTaken;
        }
        let head = head.unwrap_or(self.last_replaced_at);
        let due = head >= self.last_replaced_at + replace_after;
        self.publish = self.bump_now || due || self.nonce_too_low > 0 || self.unanswered;
        if !(self.bump_now || due) {
            return AfterPoll::Wait;
        }
        self.bump_now = false;
        self.last_replaced_at = head;
        AfterPoll::Replace
    }

    /// A replacement bid was signed and journaled.
    pub(super) fn replaced(&mut self) {
        self.replacements += 1;
    }
}

impl TxManager {
    /// Publishes and waits for any of the entry's hashes to be mined, replacing the tx every
    /// `replace_after_blocks` L1 blocks.
    pub(super) async fn watch(
        &mut self,
        mut entry: JournalEntry,
        mut body: BlobTxWithSidecar,
        before: Published,
    ) -> Result<Included, TxError> {
        let started = tokio::time::Instant::now();
        let nonce = entry.nonce;
        let mut watch = Watch::new(before, self.head().await.unwrap_or(0));
        show(&entry.fees);
        loop {
            if watch.publish_due() {
                let answer = self.broadcast(&entry.raw).await;
                if answer == Err(Refusal::NoAnswer) {
                    tracing::warn!(
                        nonce,
                        "L1 did not answer the publication (no answer in time, or no connection); watching for the tx and publishing it again"
                    );
                }
                match watch.published(answer) {
                    AfterPublish::Watch => {}
                    AfterPublish::InsufficientFunds => {
                        self.give_back(nonce)?;
                        return Err(TxError::InsufficientFunds {
                            account: self.address(),
                            message: "insufficient funds for gas and blobs".into(),
                        });
                    }
                    AfterPublish::Refused(message) => {
                        self.give_back(nonce)?;
                        return Err(TxError::Refused(message));
                    }
                }
            }
            if let Some(receipt) = self.receipt(&entry.hashes).await {
                self.journal.remove(nonce)?;
                metrics()
                    .inclusion_seconds
                    .observe(started.elapsed().as_secs_f64());
                let block = receipt.block_number.unwrap_or_default();
                if !receipt.status() {
                    return Err(TxError::Reverted {
                        hash: receipt.transaction_hash,
                        block,
                        receipt: Box::new(receipt),
                    });
                }
                let replacements = watch.replacements();
                tracing::info!(hash = %receipt.transaction_hash, nonce, block, replacements,
                    waited_ms = started.elapsed().as_millis() as u64, "L1 tx mined");
                return Ok(Included {
                    receipt,
                    nonce,
                    fees: entry.fees,
                    replacements,
                });
            }
            tokio::time::sleep(self.config.poll_interval).await;
            let head = self.head().await;
            match watch.polled(head, self.config.replace_after_blocks) {
                AfterPoll::NonceTaken => {
                    self.give_back(nonce)?;
                    return Err(TxError::NonceTaken { nonce });
                }
                AfterPoll::Wait => continue,
                AfterPoll::Replace => {}
            }
            if let Ok(chain) = self.chain_nonce().await
                && chain < nonce
            {
                self.give_back(nonce)?;
                return Err(TxError::NonceGap { nonce, chain });
            }
            let market = match self.market().await {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, nonce, "fee history unavailable; re-publishing the current bid");
                    continue;
                }
            };
            match self.config.fees.bump(&entry.fees, &market, true) {
                Ok(fees) => {
                    body.tx.max_fee_per_gas = fees.max_fee_per_gas;
                    body.tx.max_priority_fee_per_gas = fees.max_priority_fee_per_gas;
                    body.tx.max_fee_per_blob_gas = fees.max_fee_per_blob_gas;
                    let (hash, raw) = self.sign(&mut body)?;
                    entry.hashes.push(hash);
                    entry.raw = raw;
                    entry.fees = fees;
                    self.journal.put(&entry)?;
                    watch.replaced();
                    metrics().replacements.with_label_values(&["blob"]).inc();
                    show(&fees);
                    tracing::warn!(%hash, nonce, replacements = watch.replacements(), ?head,
                        max_fee = fees.max_fee_per_gas, tip = fees.max_priority_fee_per_gas,
                        blob_fee = fees.max_fee_per_blob_gas,
                        "L1 tx not mined in time; publishing a replacement");
                }
                Err(e) => {
                    tracing::error!(error = %e, nonce, "L1 tx not mined and cannot be bumped; re-publishing the current bid")
                }
            }
        }
    }

    /// Forgets a tx that is nowhere (refused, or its nonce taken): the nonce is read afresh.
    fn give_back(&mut self, nonce: u64) -> Result<(), TxError> {
        self.journal.remove(nonce)?;
        self.next_nonce = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPLACE_AFTER: u64 = 3;

    fn fresh() -> Watch {
        Watch::new(Published::Not, 100)
    }

    #[test]
    fn an_accepted_bid_waits_and_is_replaced_after_the_block_count() {
        let mut w = fresh();
        assert!(w.publish_due());
        assert_eq!(w.published(Ok(())), AfterPublish::Watch);
        assert_eq!(w.published(Err(Refusal::AlreadyKnown)), AfterPublish::Watch);
        assert_eq!(w.polled(Some(101), REPLACE_AFTER), AfterPoll::Wait);
        assert!(!w.publish_due(), "nothing to publish again while waiting");
        assert_eq!(w.polled(Some(103), REPLACE_AFTER), AfterPoll::Replace);
        assert!(w.publish_due(), "the replacement is published");
        w.replaced();
        assert_eq!(w.replacements(), 1);
        assert_eq!(
            w.polled(Some(104), REPLACE_AFTER),
            AfterPoll::Wait,
            "counted from the replacement"
        );
        assert_eq!(w.polled(Some(106), REPLACE_AFTER), AfterPoll::Replace);
    }

    #[test]
    fn an_underpriced_bid_is_replaced_at_the_next_poll() {
        let mut w = fresh();
        assert_eq!(w.published(Err(Refusal::Underpriced)), AfterPublish::Watch);
        assert_eq!(w.polled(Some(100), REPLACE_AFTER), AfterPoll::Replace);
        assert_eq!(
            w.polled(Some(100), REPLACE_AFTER),
            AfterPoll::Wait,
            "only once"
        );
    }

    #[test]
    fn an_unanswered_publication_is_published_again_and_keeps_the_nonce() {
        let mut w = fresh();
        assert_eq!(w.published(Err(Refusal::NoAnswer)), AfterPublish::Watch);
        assert_eq!(w.polled(Some(100), REPLACE_AFTER), AfterPoll::Wait);
        assert!(w.publish_due(), "the same bid goes out again");
        // It may be in a mempool: a later refusal for funds does not give the nonce back.
        assert_eq!(
            w.published(Err(Refusal::InsufficientFunds)),
            AfterPublish::Watch
        );
        assert_eq!(w.polled(Some(100), REPLACE_AFTER), AfterPoll::Wait);
        assert!(!w.publish_due(), "answered now: no need to publish again");
    }

    #[test]
    fn first_bid_refusals_give_the_nonce_back_later_ones_do_not() {
        let mut w = fresh();
        assert_eq!(
            w.published(Err(Refusal::InsufficientFunds)),
            AfterPublish::InsufficientFunds
        );
        let mut w = fresh();
        assert_eq!(
            w.published(Err(Refusal::Other("bad blob".into()))),
            AfterPublish::Refused("bad blob".into())
        );
        // Published by an earlier run: it may be pending somewhere.
        let mut w = Watch::new(Published::Before, 100);
        assert_eq!(
            w.published(Err(Refusal::Other("x".into()))),
            AfterPublish::Watch
        );
        assert_eq!(
            w.published(Err(Refusal::InsufficientFunds)),
            AfterPublish::Watch
        );
        // A replacement refused: the earlier bid may still be mined.
        let mut w = fresh();
        w.published(Err(Refusal::NonceTooLow));
        w.replaced();
        assert_eq!(
            w.published(Err(Refusal::Other("x".into()))),
            AfterPublish::Watch
        );
        assert_eq!(
            w.published(Err(Refusal::IncompatibleType)),
            AfterPublish::Watch
        );
    }

    #[test]
    fn an_unreadable_head_makes_no_replacement_due() {
        let mut w = fresh();
        w.published(Ok(()));
        assert_eq!(w.polled(None, REPLACE_AFTER), AfterPoll::Wait);
        assert_eq!(w.polled(Some(103), REPLACE_AFTER), AfterPoll::Replace);
    }

    #[test]
    fn nonce_too_low_is_published_again_until_the_limit_then_the_nonce_is_taken() {
        let mut w = fresh();
        for seen in 1..NONCE_TOO_LOW_LIMIT {
            assert_eq!(w.published(Err(Refusal::NonceTooLow)), AfterPublish::Watch);
            assert_eq!(
                w.polled(Some(100), REPLACE_AFTER),
                AfterPoll::Wait,
                "seen {seen}"
            );
            assert!(w.publish_due(), "asked again after {seen}");
        }
        w.published(Err(Refusal::NonceTooLow));
        assert_eq!(w.polled(Some(100), REPLACE_AFTER), AfterPoll::NonceTaken);
    }
}
