//! Deploys the protocol doubles and demo apps on both chains and wires them the way the real
//! deployment scripts do: the inbox is the L1 SignalService's syncer, the L2 Anchor the L2 one's,
//! the bridges know each other, the demo apps know their peers.

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder, ext::AnvilApi},
};
use anyhow::{Context, Result};
use bindings::doubles;
use common::anchor::GOLDEN_TOUCH_ADDRESS;
use url::Url;

use crate::accounts::{self, OWNER_KEY, PROVER_KEY, TEST_KEYS};

/// Basefee-sharing percentage the inbox is configured with.
pub const BASEFEE_SHARING_PCTG: u8 = 75;
/// Forced-inclusion settings of the inbox: the Surge realtime deployment's defaults
/// (surge-taiko-mono `DeployRealTimeSurgeL1.s.sol`): due after an hour, 0.01 ETH, the fee
/// doubled once 100 inclusions wait.
pub const FORCED_INCLUSION_DELAY_SEC: u16 = 3600;
/// Base forced-inclusion fee in gwei.
pub const FORCED_INCLUSION_FEE_GWEI: u64 = 10_000_000;
/// Queue length at which the forced-inclusion fee has doubled.
pub const FORCED_INCLUSION_FEE_DOUBLE_THRESHOLD: u64 = 100;
/// Mock-ECDSA proof flag under which the dummy verifier is registered.
pub const MOCK_ECDSA_FLAG: u8 = 1;
/// Owns the Credible Layer demo's `OwnableTarget` (the last test key).
pub const OWNABLE_OWNER_KEY: &str = accounts::TEST_KEYS[6];
/// Tickets the L1 ticket seller starts with.
pub const TICKET_STOCK: u64 = 5;

/// Where everything was deployed.
#[derive(Debug, Clone, Copy)]
pub struct Contracts {
    /// L1 RealTimeInbox.
    pub inbox: Address,
    /// L1 SurgeVerifier (the inbox's proof verifier).
    pub surge_verifier: Address,
    /// L1 ProofVerifierDummy under flag 1 (checks the mock signature).
    pub mock_verifier: Address,
    /// L1 SignalService.
    pub l1_signal_service: Address,
    /// L1 Bridge.
    pub l1_bridge: Address,
    /// The proposer's Multicall.
    pub multicall: Address,
    /// A UserOpsSubmitter owned by the first test key.
    pub user_ops_submitter: Address,
    /// Demo: L1 side of the L1→L2→L1 round trip.
    pub ping_l1: Address,
    /// Demo: L1 market of the L2→L1→L2 swap.
    pub swap_market_l1: Address,
    /// Demo: L1 ticket seller (sales that depend on each other), with a stock of
    /// [`TICKET_STOCK`].
    pub tickets_l1: Address,
    /// L2 SignalService.
    pub l2_signal_service: Address,
    /// L2 Bridge.
    pub l2_bridge: Address,
    /// L2 Anchor.
    pub anchor: Address,
    /// Demo: L2 side of the round trip.
    pub counter_l2: Address,
    /// Demo: L2 side of the swap.
    pub flash_swap_l2: Address,
    /// Demo: L2 record of ticket sales.
    pub tickets_l2: Address,
    /// The Credible Layer demo's protected contract (L2); its owner is [`OWNABLE_OWNER_KEY`].
    pub ownable_target: Address,
    /// The L2 block the inbox was activated with (the chain the node builds on).
    pub l2_genesis_hash: B256,
}

fn owner_provider(url: &Url) -> DynProvider {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(accounts::signer(OWNER_KEY)))
        .connect_http(url.clone())
        .erased()
}

async fn confirm<P: Provider, D: alloy::contract::CallDecoder>(
    call: alloy::contract::CallBuilder<P, D>,
    what: &str,
) -> Result<()> {
    let receipt = call
        .send()
        .await
        .with_context(|| format!("sending {what}"))?
        .get_receipt()
        .await
        .with_context(|| format!("waiting for {what}"))?;
    anyhow::ensure!(receipt.status(), "{what} reverted");
    Ok(())
}

/// Deploys on an L1 that mines on every transaction and an L2 whose automining is switched on
/// for the duration; activates the inbox with the resulting L2 head.
pub async fn deploy(
    l1_url: &Url,
    l2_url: &Url,
    l1_chain_id: u64,
    l2_chain_id: u64,
) -> Result<Contracts> {
    let l1 = owner_provider(l1_url);
    let l2 = owner_provider(l2_url);
    let owner = accounts::address(OWNER_KEY);
    l2.anvil_set_auto_mine(true)
        .await
        .context("enabling L2 automine for the deployment")?;

    let ss1 = doubles::SignalService::deploy(&l1, owner)
        .await
        .context("L1 SignalService")?;
    let bridge1 = doubles::Bridge::deploy(&l1, owner, *ss1.address())
        .await
        .context("L1 Bridge")?;
    let verifier = doubles::SurgeVerifier::deploy(&l1, 1, owner)
        .await
        .context("SurgeVerifier")?;
    let dummy =
        doubles::ProofVerifierDummy::deploy(&l1, accounts::address(PROVER_KEY), l2_chain_id)
            .await
            .context("ProofVerifierDummy")?;
    confirm(
        verifier.setVerifier(MOCK_ECDSA_FLAG, *dummy.address()),
        "setVerifier",
    )
    .await?;
    let inbox = doubles::RealTimeInbox::deploy(
        &l1,
        owner,
        *verifier.address(),
        *ss1.address(),
        BASEFEE_SHARING_PCTG,
        FORCED_INCLUSION_DELAY_SEC,
        FORCED_INCLUSION_FEE_GWEI,
        FORCED_INCLUSION_FEE_DOUBLE_THRESHOLD,
    )
    .await
    .context("RealTimeInbox")?;
    let multicall = doubles::Multicall::deploy(&l1).await.context("Multicall")?;
    let submitter = doubles::UserOpsSubmitter::deploy(&l1, accounts::address(TEST_KEYS[0]))
        .await
        .context("UserOpsSubmitter")?;
    let ping = doubles::PingL1::deploy(&l1, *bridge1.address(), l2_chain_id)
        .await
        .context("PingL1")?;
    let market = doubles::SwapMarketL1::deploy(&l1, *bridge1.address(), l2_chain_id)
        .await
        .context("SwapMarketL1")?;
    let tickets1 = doubles::TicketsL1::deploy(
        &l1,
        *bridge1.address(),
        l2_chain_id,
        U256::from(TICKET_STOCK),
    )
    .await
    .context("TicketsL1")?;

    let ss2 = doubles::SignalService::deploy(&l2, owner)
        .await
        .context("L2 SignalService")?;
    let bridge2 = doubles::Bridge::deploy(&l2, owner, *ss2.address())
        .await
        .context("L2 Bridge")?;
    let anchor = doubles::Anchor::deploy(&l2, *ss2.address(), l1_chain_id)
        .await
        .context("Anchor")?;
    let counter = doubles::CounterL2::deploy(&l2, *bridge2.address(), l1_chain_id)
        .await
        .context("CounterL2")?;
    let swap = doubles::FlashSwapL2::deploy(&l2, *bridge2.address(), l1_chain_id)
        .await
        .context("FlashSwapL2")?;
    let tickets2 = doubles::TicketsL2::deploy(&l2, *bridge2.address(), l1_chain_id)
        .await
        .context("TicketsL2")?;
    let ownable = doubles::OwnableTarget::deploy(&l2, accounts::address(OWNABLE_OWNER_KEY))
        .await
        .context("OwnableTarget")?;

    confirm(
        ss1.init(*inbox.address(), *ss2.address()),
        "L1 SignalService.init",
    )
    .await?;
    confirm(
        ss2.init(*anchor.address(), *ss1.address()),
        "L2 SignalService.init",
    )
    .await?;
    confirm(
        bridge1.setRemoteBridge(l2_chain_id, *bridge2.address()),
        "L1 setRemoteBridge",
    )
    .await?;
    confirm(
        bridge2.setRemoteBridge(l1_chain_id, *bridge1.address()),
        "L2 setRemoteBridge",
    )
    .await?;
    confirm(ping.setPeer(*counter.address()), "PingL1.setPeer").await?;
    confirm(counter.setPeer(*ping.address()), "CounterL2.setPeer").await?;
    confirm(market.setPeer(*swap.address()), "SwapMarketL1.setPeer").await?;
    confirm(swap.setPeer(*market.address()), "FlashSwapL2.setPeer").await?;
    confirm(tickets1.setPeer(*tickets2.address()), "TicketsL1.setPeer").await?;
    confirm(tickets2.setPeer(*tickets1.address()), "TicketsL2.setPeer").await?;

    // Anchors pay the block's base fee; message values are paid out of the bridges.
    let ether = U256::from(10).pow(U256::from(18));
    l2.anvil_set_balance(GOLDEN_TOUCH_ADDRESS, ether * U256::from(1_000))
        .await
        .context("funding golden touch")?;
    l2.anvil_set_balance(*bridge2.address(), ether * U256::from(1_000))
        .await
        .context("funding the L2 bridge")?;
    l1.anvil_set_balance(*bridge1.address(), ether * U256::from(1_000))
        .await
        .context("funding the L1 bridge")?;

    l2.anvil_set_auto_mine(false)
        .await
        .context("disabling L2 automine")?;
    let head = l2
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await?
        .context("L2 has no head block")?;
    confirm(inbox.activate(head.header.hash), "RealTimeInbox.activate").await?;

    Ok(Contracts {
        inbox: *inbox.address(),
        surge_verifier: *verifier.address(),
        mock_verifier: *dummy.address(),
        l1_signal_service: *ss1.address(),
        l1_bridge: *bridge1.address(),
        multicall: *multicall.address(),
        user_ops_submitter: *submitter.address(),
        ping_l1: *ping.address(),
        swap_market_l1: *market.address(),
        tickets_l1: *tickets1.address(),
        l2_signal_service: *ss2.address(),
        l2_bridge: *bridge2.address(),
        anchor: *anchor.address(),
        counter_l2: *counter.address(),
        flash_swap_l2: *swap.address(),
        tickets_l2: *tickets2.address(),
        ownable_target: *ownable.address(),
        l2_genesis_hash: head.header.hash,
    })
}
