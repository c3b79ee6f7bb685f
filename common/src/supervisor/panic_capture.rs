//! Remembers the message of recent panics per tokio task, so the supervisor can report *why* a
//! child died. spawned catches handler panics itself and only logs the payload's `Debug` form,
//! which for `&str`/`String` payloads is an opaque `Any`.

use std::{
    collections::VecDeque,
    panic::PanicHookInfo,
    sync::{Mutex, Once},
};

use tokio::task::Id;

/// How many recent panics are kept; older ones are forgotten.
const KEEP: usize = 64;

static RECENT: Mutex<VecDeque<(Id, String)>> = Mutex::new(VecDeque::new());

/// Installs the capturing hook once per process, chained in front of the existing hook so the
/// usual panic output still appears.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(task) = tokio::task::try_id() {
                record(task, describe(info));
            }
            previous(info);
        }));
    });
}

fn describe(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string());
    match info.location() {
        Some(at) => format!("panicked at {}:{}: {message}", at.file(), at.line()),
        None => format!("panicked: {message}"),
    }
}

fn record(task: Id, message: String) {
    let mut recent = RECENT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if recent.len() == KEEP {
        recent.pop_front();
    }
    recent.push_back((task, message));
}

/// Takes the latest panic message recorded for `task`, if any.
pub(crate) fn take(task: Id) -> Option<String> {
    let mut recent = RECENT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let index = recent.iter().rposition(|(id, _)| *id == task)?;
    recent.remove(index).map(|(_, message)| message)
}
