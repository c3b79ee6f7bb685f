//! Byte-level mutations of a valid encoding: flip, set, insert, remove, truncate, extend,
//! duplicate. Positions favour both ends, where headers, scheme bytes, length words, tags and
//! checksums live, as well as anywhere in between.

use proptest::{collection::vec, prelude::*, sample::Index};

/// Where a mutation lands.
#[derive(Debug, Clone)]
pub enum At {
    /// This many bytes from the start.
    Start(u8),
    /// This many bytes before the end.
    End(u8),
    /// Anywhere, uniformly.
    Anywhere(Index),
}

impl At {
    /// A position in `0..len` (for `len > 0`), or `len` itself when `past_end` allows it.
    fn position(&self, len: usize, past_end: bool) -> usize {
        let room = if past_end { len + 1 } else { len };
        match self {
            At::Start(k) => usize::from(*k).min(room.saturating_sub(1)),
            At::End(k) => room.saturating_sub(1 + usize::from(*k)),
            At::Anywhere(index) => index.index(room.max(1)),
        }
    }
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// XOR one byte with a non-zero mask.
    Flip { at: At, mask: u8 },
    /// Overwrite one byte.
    Set { at: At, byte: u8 },
    /// Insert bytes.
    Insert { at: At, bytes: Vec<u8> },
    /// Remove up to `len` bytes.
    Remove { at: At, len: u8 },
    /// Cut everything from a position on.
    Truncate { at: At },
    /// Append bytes.
    Extend { bytes: Vec<u8> },
    /// Insert a copy of up to `len` bytes right after them (repeats a structure).
    Duplicate { at: At, len: u8 },
}

fn at() -> impl Strategy<Value = At> {
    prop_oneof![
        2 => any::<u8>().prop_map(At::Start),
        2 => any::<u8>().prop_map(At::End),
        3 => any::<Index>().prop_map(At::Anywhere),
    ]
}

/// Bytes to insert: mostly short, sometimes the values decoders treat specially.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(any::<u8>(), 1..8),
        1 => vec(prop_oneof![Just(0u8), Just(0x7f), Just(0x80), Just(0xb7), Just(0xb8),
            Just(0xbf), Just(0xc0), Just(0xf7), Just(0xf8), Just(0xff)], 1..4),
        1 => vec(any::<u8>(), 8..300),
    ]
}

/// One mutation.
pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (at(), 1..=255u8).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        3 => (at(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        2 => (at(), bytes()).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        2 => (at(), 1..=64u8).prop_map(|(at, len)| Mutation::Remove { at, len }),
        1 => at().prop_map(|at| Mutation::Truncate { at }),
        1 => bytes().prop_map(|bytes| Mutation::Extend { bytes }),
        1 => (at(), 1..=64u8).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
    ]
}

/// One to `max` mutations.
pub fn mutations(max: usize) -> BoxedStrategy<Vec<Mutation>> {
    vec(mutation(), 1..=max).boxed()
}

/// Applies `mutations` in order.
pub fn apply(data: &mut Vec<u8>, mutations: &[Mutation]) {
    for mutation in mutations {
        let len = data.len();
        match mutation {
            Mutation::Flip { at, mask } if len > 0 => data[at.position(len, false)] ^= mask,
            Mutation::Set { at, byte } if len > 0 => data[at.position(len, false)] = *byte,
            Mutation::Insert { at, bytes } => {
                let i = at.position(len, true);
                data.splice(i..i, bytes.iter().copied());
            }
            Mutation::Remove { at, len: n } if len > 0 => {
                let i = at.position(len, false);
                data.drain(i..(i + usize::from(*n)).min(len));
            }
            Mutation::Truncate { at } => data.truncate(at.position(len, true)),
            Mutation::Extend { bytes } => data.extend_from_slice(bytes),
            Mutation::Duplicate { at, len: n } if len > 0 => {
                let i = at.position(len, false);
                let end = (i + usize::from(*n)).min(len);
                let copy = data[i..end].to_vec();
                data.splice(end..end, copy);
            }
            _ => {}
        }
    }
}

/// `data` with `mutations` applied.
pub fn mutated(data: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut out = data.to_vec();
    apply(&mut out, mutations);
    out
}

/// No mutation (`none` in `none + some` cases) or one to `max`.
pub fn maybe(none: u32, some: u32, max: usize) -> BoxedStrategy<Vec<Mutation>> {
    prop_oneof![none => Just(Vec::new()), some => mutations(max)].boxed()
}

/// Any bytes, short or a few hundred long.
pub fn any_bytes() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![vec(any::<u8>(), 0..80), vec(any::<u8>(), 80..600)].boxed()
}
