//! Which L1 block the next block anchors to: the open proposal's anchor, or for a new proposal
//! a block a little behind the L1 head, read from L1 unless the previous block already anchors to
//! it; when L1 cannot be read, the previous anchor is kept (the Anchor contract accepts a
//! repeated one), so blocks go on while L1 is away.

use super::{BatchManager, io::AnchorChoice};

/// Blocks kept between the anchor and the L1 head (`blockhash` needs a past block).
const MIN_ANCHOR_OFFSET: u64 = 2;

impl BatchManager {
    /// The number of the last block's anchor.
    fn last_anchor(&self) -> u64 {
        self.known_anchor.map_or(self.start_anchor, |a| a.number)
    }

    /// The anchor of the next block: the open proposal's, or a new proposal's at the L1 head.
    pub(super) fn anchor_choice(&self, l1_head: u64) -> AnchorChoice {
        if let Some(anchor) = self.proposals.open_anchor() {
            return AnchorChoice::Known(anchor);
        }
        let number = choose_anchor(l1_head, self.last_anchor(), self.setup.config.anchor_lag);
        match self.known_anchor {
            Some(known) if known.number == number => AnchorChoice::Known(known),
            _ => AnchorChoice::Fetch {
                number,
                previous: self.known_anchor,
            },
        }
    }
}

/// The anchor of a new proposal: `ANCHOR_L1_HEIGHT_LAG` behind the L1 head, never before the
/// previous anchor (the Anchor contract ignores a lower number), and at least
/// `MIN_ANCHOR_OFFSET` below the head.
pub fn choose_anchor(l1_head: u64, last_anchor: u64, lag: u64) -> u64 {
    l1_head
        .saturating_sub(lag)
        .max(last_anchor)
        .min(l1_head.saturating_sub(MIN_ANCHOR_OFFSET))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_lags_never_goes_back_and_stays_below_the_head() {
        assert_eq!(choose_anchor(100, 0, 8), 92);
        assert_eq!(choose_anchor(100, 95, 8), 95);
        assert_eq!(choose_anchor(100, 99, 8), 98);
        assert_eq!(choose_anchor(3, 0, 8), 0);
    }
}
