//! What the batch manager is doing between two messages, and the pure rules that move it: a
//! tick starts only when nothing else runs, a rollback asked for mid-tick follows the tick, and
//! a block whose driver answer was lost holds building back for a few ticks at most; block
//! production counts as failing from the first tick that could not build and as working again
//! after the first that could.

use common::health::BlockProduction;

/// The batch manager's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Reading the start-up facts (and taking back blocks a restart cannot keep).
    Starting,
    /// Waiting for the next tick.
    Idle,
    /// A tick's observation or block is under way.
    Ticking,
    /// The L2 is being rolled back.
    Rewinding,
}

/// What happened to the batch manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Event {
    /// The start-up facts are in; `rewind` if a block must be taken back first.
    Started { rewind: bool },
    /// A heartbeat; `l1_head` says whether the chain monitor told an L1 head yet.
    Tick { l1_head: bool },
    /// The tick's work ended (block recorded, nothing to build, or failed).
    TickDone,
    /// The tick found the L2 head moved or a bad block: it rolls back before going on.
    TickRewinds,
    /// Another actor asked for a rollback (`RewindL2`).
    RewindAsked,
    /// A rollback ended (done or failed).
    RewindDone,
}

/// What the batch manager does about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    /// Nothing now.
    Nothing,
    /// Observe the chains for a block.
    Observe,
    /// Count a missed tick: earlier work still runs.
    Miss,
    /// Skip this tick: no L1 head to anchor to yet.
    NoL1Head,
    /// Keep the rollback asked for; it runs when the current work ends.
    Defer,
    /// Start the rollback asked for.
    Rewind,
    /// End the tick: seal on the slot clock if due, publish.
    EndTick,
}

/// The next phase and what to do, given whether a rollback is waiting.
pub(super) fn next(phase: Phase, event: Event, rewind_waiting: bool) -> (Phase, Action) {
    use Action::*;
    use Phase::*;
    match (phase, event) {
        (Starting, Event::Started { rewind: true }) => (Rewinding, Nothing),
        (Starting, Event::Started { rewind: false }) | (Ticking, Event::TickDone) => {
            after_work(rewind_waiting)
        }
        (Rewinding, Event::RewindDone) => after_work(rewind_waiting),
        (Starting, Event::Tick { .. }) => (Starting, Nothing),
        (Idle, Event::Tick { l1_head: true }) => (Ticking, Observe),
        (Idle, Event::Tick { l1_head: false }) => (Idle, NoL1Head),
        (Ticking | Rewinding, Event::Tick { .. }) => (phase, Miss),
        (Ticking, Event::TickRewinds) => (Rewinding, Nothing),
        (Idle, Event::RewindAsked) => (Rewinding, Rewind),
        (Starting | Ticking | Rewinding, Event::RewindAsked) => (phase, Defer),
        // Out of order (a late message of a restarted task): nothing changes.
        (_, Event::Started { .. } | Event::TickDone | Event::TickRewinds | Event::RewindDone) => {
            (phase, Nothing)
        }
    }
}

fn after_work(rewind_waiting: bool) -> (Phase, Action) {
    if rewind_waiting {
        (Phase::Rewinding, Action::Rewind)
    } else {
        (Phase::Idle, Action::EndTick)
    }
}

/// Ticks to wait for a block whose driver answer was lost before treating it as not inserted.
pub(super) const UNKNOWN_OUTCOME_GRACE_TICKS: u32 = 2;

/// A block whose driver answer was lost and that is not the L2 head yet, seen once more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unknown {
    /// Do not build on top: it may still appear.
    Wait,
    /// It did not appear in time: build as if it was never sent.
    GiveUp,
}

/// Whether to keep waiting for a lost block after `ticks_waited` ticks without it.
pub(super) fn still_unknown(ticks_waited: u32) -> Unknown {
    if ticks_waited <= UNKNOWN_OUTCOME_GRACE_TICKS {
        Unknown::Wait
    } else {
        Unknown::GiveUp
    }
}

/// Block production after a tick that ended with `failure` (`None`: it worked).
pub(super) fn production_after(
    before: BlockProduction,
    failure: Option<String>,
) -> BlockProduction {
    match failure {
        None => BlockProduction::default(),
        Some(error) => BlockProduction {
            failed_ticks: before.failed_ticks.saturating_add(1),
            last_error: Some(error),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{Action::*, Event::*, Phase::*, *};

    #[test]
    fn production_fails_from_the_first_failed_tick_and_works_after_the_first_good_one() {
        let once = production_after(BlockProduction::default(), Some("driver: refused".into()));
        assert_eq!(once.failed_ticks, 1);
        let twice = production_after(once, Some("pool: reset".into()));
        assert_eq!(twice.failed_ticks, 2);
        assert_eq!(twice.last_error.as_deref(), Some("pool: reset"));
        assert_eq!(production_after(twice, None), BlockProduction::default());
    }

    #[test]
    fn ticks_wait_for_the_start_and_for_an_l1_head() {
        assert_eq!(
            next(Starting, Tick { l1_head: true }, false),
            (Starting, Nothing)
        );
        assert_eq!(
            next(Starting, Started { rewind: false }, false),
            (Idle, EndTick)
        );
        assert_eq!(next(Idle, Tick { l1_head: false }, false), (Idle, NoL1Head));
        assert_eq!(
            next(Idle, Tick { l1_head: true }, false),
            (Ticking, Observe)
        );
    }

    #[test]
    fn a_tick_while_work_runs_is_missed_not_queued() {
        assert_eq!(
            next(Ticking, Tick { l1_head: true }, false),
            (Ticking, Miss)
        );
        assert_eq!(
            next(Rewinding, Tick { l1_head: true }, false),
            (Rewinding, Miss)
        );
        assert_eq!(next(Ticking, TickDone, false), (Idle, EndTick));
    }

    #[test]
    fn a_rollback_asked_mid_tick_follows_the_tick() {
        assert_eq!(next(Ticking, RewindAsked, false), (Ticking, Defer));
        assert_eq!(next(Ticking, TickDone, true), (Rewinding, Rewind));
        assert_eq!(next(Rewinding, RewindDone, false), (Idle, EndTick));
        // Asked while another rollback runs: the next one follows it.
        assert_eq!(next(Rewinding, RewindAsked, true), (Rewinding, Defer));
        assert_eq!(next(Rewinding, RewindDone, true), (Rewinding, Rewind));
        // Asked while idle: at once. Asked during the start: after it.
        assert_eq!(next(Idle, RewindAsked, true), (Rewinding, Rewind));
        assert_eq!(next(Starting, RewindAsked, true), (Starting, Defer));
        assert_eq!(
            next(Starting, Started { rewind: false }, true),
            (Rewinding, Rewind)
        );
    }

    #[test]
    fn the_tick_and_the_start_roll_back_their_own_blocks_before_going_on() {
        assert_eq!(next(Ticking, TickRewinds, false), (Rewinding, Nothing));
        assert_eq!(
            next(Starting, Started { rewind: true }, false),
            (Rewinding, Nothing)
        );
        assert_eq!(next(Rewinding, RewindDone, false), (Idle, EndTick));
    }

    #[test]
    fn late_completions_change_nothing() {
        for phase in [Starting, Idle, Ticking, Rewinding] {
            if phase != Rewinding {
                assert_eq!(
                    next(phase, RewindDone, false),
                    (phase, Nothing),
                    "{phase:?}"
                );
            }
            if phase != Ticking {
                assert_eq!(next(phase, TickDone, false), (phase, Nothing), "{phase:?}");
                assert_eq!(
                    next(phase, TickRewinds, false),
                    (phase, Nothing),
                    "{phase:?}"
                );
            }
            if phase != Starting {
                let started = next(phase, Started { rewind: false }, false);
                assert_eq!(started, (phase, Nothing), "{phase:?}");
            }
        }
    }

    #[test]
    fn a_lost_block_holds_building_back_for_the_grace_ticks_only() {
        let waits: Vec<_> = (1..=UNKNOWN_OUTCOME_GRACE_TICKS + 1)
            .map(still_unknown)
            .collect();
        assert_eq!(waits, vec![Unknown::Wait, Unknown::Wait, Unknown::GiveUp]);
    }
}
