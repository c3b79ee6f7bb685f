//! The L2 base fee: EIP-4396 as Taiko Shasta computes it (protocol.md Appendix B). The node
//! and taiko-geth must agree, or the driver rejects the block.

/// Base fee of the first block after genesis.
pub const SHASTA_INITIAL_BASE_FEE: u64 = 25_000_000;
/// Lower clamp on every chain but Taiko mainnet.
pub const MIN_BASE_FEE: u64 = 5_000_000;
/// Lower clamp on Taiko mainnet (chain 167000).
pub const MIN_BASE_FEE_MAINNET: u64 = 10_000_000;
/// Upper clamp.
pub const MAX_BASE_FEE: u64 = 1_000_000_000;
/// Taiko mainnet's chain id.
pub const TAIKO_MAINNET_CHAIN_ID: u64 = 167_000;

const MAX_CHANGE_DENOMINATOR: u128 = 8;
const MAX_GAS_TARGET_PERCENT: u128 = 95;
const BLOCK_TIME_TARGET: u128 = 2;

/// What the next base fee depends on: the parent header and its parent's timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParentFacts {
    /// Parent block number.
    pub number: u64,
    /// Parent timestamp (seconds).
    pub timestamp: u64,
    /// Parent gas limit (anchor included).
    pub gas_limit: u64,
    /// Parent gas used.
    pub gas_used: u64,
    /// Parent base fee.
    pub base_fee: u64,
    /// Grandparent timestamp (seconds).
    pub grandparent_timestamp: u64,
}

/// The lower clamp for `chain_id`.
pub fn min_base_fee(chain_id: u64) -> u64 {
    if chain_id == TAIKO_MAINNET_CHAIN_ID {
        MIN_BASE_FEE_MAINNET
    } else {
        MIN_BASE_FEE
    }
}

/// Base fee of the block after `parent`.
pub fn next_base_fee(parent: &ParentFacts, min_base_fee: u64) -> u64 {
    if parent.number == 0 {
        return SHASTA_INITIAL_BASE_FEE;
    }
    let block_time = u128::from(
        parent
            .timestamp
            .saturating_sub(parent.grandparent_timestamp),
    );
    let gas_limit = u128::from(parent.gas_limit);
    let base_target = gas_limit / 2;
    let adjusted_target = (base_target * block_time / BLOCK_TIME_TARGET)
        .min(gas_limit * MAX_GAS_TARGET_PERCENT / 100);
    let fee = u128::from(parent.base_fee);
    let used = u128::from(parent.gas_used);
    let next = if base_target == 0 {
        fee
    } else if used > adjusted_target {
        let delta = fee * (used - adjusted_target) / base_target / MAX_CHANGE_DENOMINATOR;
        fee + delta.max(1)
    } else if used < adjusted_target {
        let delta = fee * (adjusted_target - used) / base_target / MAX_CHANGE_DENOMINATOR;
        fee.saturating_sub(delta)
    } else {
        fee
    };
    next.clamp(u128::from(min_base_fee), u128::from(MAX_BASE_FEE)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent(gas_used: u64, block_time: u64, base_fee: u64) -> ParentFacts {
        ParentFacts {
            number: 10,
            timestamp: 1_000 + block_time,
            gas_limit: 31_000_000,
            gas_used,
            base_fee,
            grandparent_timestamp: 1_000,
        }
    }

    #[test]
    fn genesis_child_gets_the_initial_fee() {
        let p = ParentFacts {
            number: 0,
            ..parent(0, 2, 1)
        };
        assert_eq!(next_base_fee(&p, MIN_BASE_FEE), SHASTA_INITIAL_BASE_FEE);
    }

    #[test]
    fn on_target_keeps_the_fee() {
        // 2 s block time: target = gas_limit / 2 = 15.5M.
        assert_eq!(
            next_base_fee(&parent(15_500_000, 2, 50_000_000), MIN_BASE_FEE),
            50_000_000
        );
    }

    #[test]
    fn full_block_raises_by_an_eighth() {
        // used − target = 15.5M = base_target → +fee/8.
        assert_eq!(
            next_base_fee(&parent(31_000_000, 2, 80_000_000), MIN_BASE_FEE),
            90_000_000
        );
    }

    #[test]
    fn empty_block_lowers_and_clamps() {
        // 2 s, empty: −fee/8.
        assert_eq!(
            next_base_fee(&parent(0, 2, 80_000_000), MIN_BASE_FEE),
            70_000_000
        );
        // Long gaps widen the target up to 95 % of the limit: −fee·29.45/15.5/8.
        assert_eq!(
            next_base_fee(&parent(0, 60, 80_000_000), MIN_BASE_FEE),
            80_000_000 - 80_000_000u64 * 29_450_000 / 15_500_000 / 8
        );
        assert_eq!(
            next_base_fee(&parent(0, 2, 5_100_000), MIN_BASE_FEE),
            MIN_BASE_FEE
        );
        assert_eq!(
            next_base_fee(
                &parent(0, 2, 5_100_000),
                min_base_fee(TAIKO_MAINNET_CHAIN_ID)
            ),
            MIN_BASE_FEE_MAINNET
        );
    }

    #[test]
    fn tiny_excess_still_moves_by_one_and_max_clamps() {
        assert_eq!(
            next_base_fee(&parent(15_500_001, 2, 5_000_000), MIN_BASE_FEE),
            5_000_001
        );
        assert_eq!(
            next_base_fee(&parent(31_000_000, 2, MAX_BASE_FEE), MIN_BASE_FEE),
            MAX_BASE_FEE
        );
        // Zero block time: target 0, any gas raises the fee.
        assert_eq!(
            next_base_fee(&parent(15_500_000, 0, 80_000_000), MIN_BASE_FEE),
            90_000_000
        );
    }
}
