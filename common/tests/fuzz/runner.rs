//! Runs one fuzz target with proptest's `TestRunner`. Bounded (CI): `FUZZ_CASES` cases from a
//! fixed seed, so a run is the same every time and a failure is never flaky. Long (by hand):
//! with `FUZZ_SECONDS`, batches of `FUZZ_CASES` from fresh seeds until the time is up. Either
//! way it prints `FUZZ <target> cases=<n> seconds=<s>`; a failure panics with proptest's
//! minimal (shrunk) input and the `FUZZ_SEED` that replays its batch.

use std::{
    env,
    hash::{BuildHasher, RandomState},
    str::FromStr,
    time::{Duration, Instant},
};

use proptest::{
    strategy::Strategy,
    test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner},
};

/// The seed of bounded runs when `FUZZ_SEED` is not set.
const FIXED_SEED: u64 = 0x00c0_ffee_5eed;
/// Shrinking stops after this long or this many steps, whichever comes first: a deep input can
/// take minutes to minimise fully (proptest's own step limit, 4 × cases, is too few for that).
const MAX_SHRINK_MS: u32 = 120_000;
const MAX_SHRINK_ITERS: u32 = 1_000_000;

/// A number from the environment; a set but unreadable value stops the run instead of being
/// ignored, so a typo never silently runs the default.
fn env_number<T: FromStr>(name: &str) -> Option<T> {
    let raw = env::var(name).ok()?;
    match raw.trim().parse() {
        Ok(value) => Some(value),
        Err(_) => panic!("{name}={raw:?} is not a number"),
    }
}

/// A seed nobody chose: `RandomState` is keyed from the OS's randomness.
fn fresh_seed() -> u64 {
    RandomState::new().hash_one(Instant::now())
}

/// Checks `test` on cases drawn from `strategy`; `default_cases` is the bounded run's size
/// when `FUZZ_CASES` is not set.
pub fn run<S: Strategy>(
    target: &str,
    default_cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let cases = env_number("FUZZ_CASES").unwrap_or(default_cases);
    let budget = env_number::<f64>("FUZZ_SECONDS").map(Duration::from_secs_f64);
    let first_seed = env_number::<u64>("FUZZ_SEED");
    let started = Instant::now();
    let mut total = 0u64;
    for batch in 0u64.. {
        let seed = match (batch, first_seed, budget) {
            (0, Some(seed), _) => seed,
            (0, None, None) => FIXED_SEED,
            _ => fresh_seed(),
        };
        let config = Config {
            cases,
            rng_seed: RngSeed::Fixed(seed),
            failure_persistence: None,
            max_shrink_time: MAX_SHRINK_MS,
            max_shrink_iters: MAX_SHRINK_ITERS,
            ..Config::default()
        };
        match TestRunner::new(config).run(&strategy, &test) {
            Ok(()) => {}
            Err(TestError::Fail(why, input)) => panic!(
                "FUZZ {target} failed: {why}\nminimal failing input: {input:#?}\n\
                 replay its batch with FUZZ_SEED={seed} FUZZ_CASES={cases}"
            ),
            Err(TestError::Abort(why)) => {
                panic!("FUZZ {target} aborted: {why} (FUZZ_SEED={seed} FUZZ_CASES={cases})")
            }
        }
        total += u64::from(cases);
        if budget.is_none_or(|budget| started.elapsed() >= budget) {
            break;
        }
    }
    println!(
        "FUZZ {target} cases={total} seconds={:.2}",
        started.elapsed().as_secs_f64()
    );
}
