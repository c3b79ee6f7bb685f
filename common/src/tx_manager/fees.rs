//! Fee levels of the proposer's L1 transactions: the first bid, and the replacement bids that
//! the mempool accepts (l1-tx-reliability.md §3-§4: geth, reth and besu want every fee of a
//! blob tx at least doubled, 10 % more for other txs), never above the operator's caps.

use serde::{Deserialize, Serialize};

/// The three fee fields of a type-3 (or type-2, blob fee unused) transaction, in wei.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fees {
    /// `maxFeePerGas`.
    pub max_fee_per_gas: u128,
    /// `maxPriorityFeePerGas`.
    pub max_priority_fee_per_gas: u128,
    /// `maxFeePerBlobGas` (0 for a tx without blobs).
    pub max_fee_per_blob_gas: u128,
}

/// What the chain asks for now (from `eth_feeHistory`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeMarket {
    /// The next block's base fee.
    pub base_fee: u128,
    /// The next block's blob base fee.
    pub blob_base_fee: u128,
    /// The tip recent blocks paid.
    pub tip: u128,
}

/// The operator's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeePolicy {
    /// Lowest tip bid (`MIN_PRIORITY_FEE_PER_GAS_WEI`).
    pub min_tip: u128,
    /// Highest `maxFeePerGas` (`MAX_FEE_PER_GAS_CAP`).
    pub max_fee_cap: u128,
    /// Highest `maxFeePerBlobGas` (`MAX_FEE_PER_BLOB_GAS_CAP`).
    pub max_blob_fee_cap: u128,
}

/// A bid the caps do not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FeeError {
    /// The market's base fee alone is above `MAX_FEE_PER_GAS_CAP`.
    #[error(
        "{field} would have to be {needed} wei but its cap is {cap} wei: raise {var} or wait for lower L1 fees"
    )]
    AboveCap {
        /// The fee field.
        field: &'static str,
        /// The variable that caps it.
        var: &'static str,
        /// What the bid needs.
        needed: u128,
        /// The cap.
        cap: u128,
    },
}

fn capped(
    value: u128,
    cap: u128,
    field: &'static str,
    var: &'static str,
) -> Result<u128, FeeError> {
    if value > cap {
        Err(FeeError::AboveCap {
            field,
            var,
            needed: value,
            cap,
        })
    } else {
        Ok(value)
    }
}

impl FeePolicy {
    /// The first bid: room for the base fee to double (two full blocks) plus the tip, and twice
    /// the blob base fee. A bid above a cap is clamped to it while it still covers the market;
    /// otherwise it is refused.
    pub fn first_bid(&self, market: &FeeMarket, blobs: bool) -> Result<Fees, FeeError> {
        let tip = market.tip.max(self.min_tip);
        capped(
            market.base_fee.saturating_add(tip),
            self.max_fee_cap,
            "maxFeePerGas",
            "MAX_FEE_PER_GAS_CAP",
        )?;
        let max_fee = market
            .base_fee
            .saturating_mul(2)
            .saturating_add(tip)
            .min(self.max_fee_cap);
        let blob_fee = if blobs {
            let blob_fee = market.blob_base_fee.max(1);
            capped(
                blob_fee,
                self.max_blob_fee_cap,
                "maxFeePerBlobGas",
                "MAX_FEE_PER_BLOB_GAS_CAP",
            )?;
            blob_fee.saturating_mul(2).min(self.max_blob_fee_cap)
        } else {
            0
        };
        Ok(Fees {
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip.min(max_fee),
            max_fee_per_blob_gas: blob_fee,
        })
    }

    /// The replacement of `old`: every fee raised to the mempool's threshold (×2 for blob txs,
    /// ×1.1 otherwise, at least +1 wei) or to what the market now asks, whichever is higher.
    /// Refused when a fee would pass its cap: a smaller bump would be rejected as underpriced.
    pub fn bump(&self, old: &Fees, market: &FeeMarket, blobs: bool) -> Result<Fees, FeeError> {
        let fresh = self.first_bid(market, blobs).unwrap_or(*old);
        let tip = replacement_threshold(old.max_priority_fee_per_gas, blobs)
            .max(fresh.max_priority_fee_per_gas);
        let max_fee = replacement_threshold(old.max_fee_per_gas, blobs)
            .max(fresh.max_fee_per_gas)
            .max(tip);
        let max_fee = capped(
            max_fee,
            self.max_fee_cap,
            "maxFeePerGas",
            "MAX_FEE_PER_GAS_CAP",
        )?;
        let blob_fee = if blobs {
            capped(
                replacement_threshold(old.max_fee_per_blob_gas, true)
                    .max(fresh.max_fee_per_blob_gas),
                self.max_blob_fee_cap,
                "maxFeePerBlobGas",
                "MAX_FEE_PER_BLOB_GAS_CAP",
            )?
        } else {
            0
        };
        Ok(Fees {
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            max_fee_per_blob_gas: blob_fee,
        })
    }
}

/// The least a replacement may bid for a fee that was `old`: ceil(old × 2) for blob txs,
/// ceil(old × 1.1) otherwise, and always more than `old`.
pub fn replacement_threshold(old: u128, blobs: bool) -> u128 {
    let bumped = if blobs {
        old.saturating_mul(2)
    } else {
        old.saturating_mul(110).div_ceil(100)
    };
    bumped.max(old.saturating_add(1))
}

/// Whether a mempool accepts `new` as a replacement of `old` (geth's rule: every fee at least
/// the threshold; a blob tx's blob fee too).
pub fn replaces(old: &Fees, new: &Fees, blobs: bool) -> bool {
    new.max_fee_per_gas >= replacement_threshold(old.max_fee_per_gas, blobs)
        && new.max_priority_fee_per_gas
            >= replacement_threshold(old.max_priority_fee_per_gas, blobs)
        && (!blobs
            || new.max_fee_per_blob_gas >= replacement_threshold(old.max_fee_per_blob_gas, true))
        && new.max_priority_fee_per_gas <= new.max_fee_per_gas
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GWEI: u128 = 1_000_000_000;

    fn policy() -> FeePolicy {
        FeePolicy {
            min_tip: GWEI,
            max_fee_cap: 1_000 * GWEI,
            max_blob_fee_cap: 1_000 * GWEI,
        }
    }

    #[test]
    fn first_bid_leaves_room_for_two_full_blocks_and_doubles_the_blob_fee() {
        let market = FeeMarket {
            base_fee: 10 * GWEI,
            blob_base_fee: 3,
            tip: 0,
        };
        let fees = policy().first_bid(&market, true).unwrap();
        assert_eq!(fees.max_fee_per_gas, 21 * GWEI);
        assert_eq!(fees.max_priority_fee_per_gas, GWEI);
        assert_eq!(fees.max_fee_per_blob_gas, 6);
    }

    #[test]
    fn a_market_above_the_cap_is_refused_naming_the_variable() {
        let market = FeeMarket {
            base_fee: 2_000 * GWEI,
            blob_base_fee: 1,
            tip: 0,
        };
        let err = policy().first_bid(&market, true).unwrap_err().to_string();
        assert!(err.contains("MAX_FEE_PER_GAS_CAP"), "{err}");
    }

    #[test]
    fn a_bump_past_the_cap_is_refused_not_shrunk() {
        let old = Fees {
            max_fee_per_gas: 600 * GWEI,
            max_priority_fee_per_gas: GWEI,
            max_fee_per_blob_gas: 1,
        };
        let market = FeeMarket {
            base_fee: GWEI,
            blob_base_fee: 1,
            tip: 0,
        };
        assert!(policy().bump(&old, &market, true).is_err());
        // A non-blob tx needs only 10 % more.
        let bumped = policy().bump(&old, &market, false).unwrap();
        assert_eq!(bumped.max_fee_per_gas, 660 * GWEI);
    }

    proptest! {
        /// Every bump the policy produces is accepted by the mempool as a replacement, follows
        /// a rising market, and stays under the caps.
        #[test]
        fn every_bump_satisfies_the_replacement_rule(
            max_fee in 0u128..=400 * GWEI,
            tip_share in 0u128..=100,
            blob_fee in 0u128..=400 * GWEI,
            base_fee in 0u128..=300 * GWEI,
            blob_base_fee in 0u128..=300 * GWEI,
            market_tip in 0u128..=50 * GWEI,
            blobs in any::<bool>(),
            caps in (1u128..=2_000 * GWEI, 1u128..=2_000 * GWEI),
        ) {
            let old = Fees {
                max_fee_per_gas: max_fee,
                max_priority_fee_per_gas: max_fee * tip_share / 100,
                max_fee_per_blob_gas: if blobs { blob_fee } else { 0 },
            };
            let market = FeeMarket { base_fee, blob_base_fee, tip: market_tip };
            let policy = FeePolicy { min_tip: GWEI, max_fee_cap: caps.0, max_blob_fee_cap: caps.1 };
            match policy.bump(&old, &market, blobs) {
                Ok(new) => {
                    prop_assert!(replaces(&old, &new, blobs), "{old:?} -> {new:?}");
                    prop_assert!(new.max_fee_per_gas <= policy.max_fee_cap);
                    prop_assert!(new.max_fee_per_blob_gas <= policy.max_blob_fee_cap);
                    if let Ok(fresh) = policy.first_bid(&market, blobs) {
                        prop_assert!(new.max_fee_per_gas >= fresh.max_fee_per_gas);
                        prop_assert!(new.max_fee_per_blob_gas >= fresh.max_fee_per_blob_gas);
                    }
                }
                Err(FeeError::AboveCap { needed, cap, .. }) => prop_assert!(needed > cap),
            }
        }
    }
}
