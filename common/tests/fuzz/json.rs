//! JSON for the answer and params parsers: arbitrary values, the awkward spellings of numbers
//! and hex that parsers disagree on, and edits of a valid document (replace or remove any node,
//! wrap it in an array).

use proptest::{collection::vec, prelude::*, sample::Index};
use serde_json::{Map, Value, json};

/// Strings a hex or quantity parser sees: empty, bare prefixes, odd lengths, bad digits, signs,
/// overflow, non-ASCII.
pub fn awkward_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("0x".to_string()),
        Just("0X1".to_string()),
        Just("0x0".to_string()),
        Just("0x00".to_string()),
        Just("0x123".to_string()),
        Just("0xzz".to_string()),
        Just("0x+1".to_string()),
        Just("-1".to_string()),
        Just("+1".to_string()),
        Just("1e3".to_string()),
        Just(" 1".to_string()),
        Just("0x1_0".to_string()),
        Just("18446744073709551616".to_string()),
        Just(format!("0x1{}", "0".repeat(64))),
        Just(format!("0x{}", "f".repeat(64))),
        Just(format!("0x{}", "ab".repeat(32))),
        Just(format!("0x{}", "ab".repeat(20))),
        Just("0xé".to_string()),
        Just("ü".repeat(3)),
        (0..80usize, any::<u8>()).prop_map(|(n, b)| format!("0x{}", format!("{b:02x}").repeat(n))),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| format!("0x{n:x}")),
        any::<u128>().prop_map(|n| format!("0x{n:x}")),
        "\\PC{0,12}",
    ]
}

/// A JSON number of any kind.
pub fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(|n| json!(n)),
        any::<i64>().prop_map(|n| json!(n)),
        Just(json!(u64::MAX)),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(1.5)),
        Just(json!(1e300)),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(|f| json!(f)),
    ]
}

/// Object keys: the ones `fields` names (so parsers find what they look for) and others.
fn key(fields: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(fields).prop_map(str::to_string),
        1 => "[a-zA-Z_]{0,10}",
        1 => "\\PC{0,6}",
    ]
}

/// Any JSON value, nested up to a few levels, with keys from `fields`.
pub fn value(fields: &'static [&'static str]) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        awkward_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((key(fields), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
    .boxed()
}

/// One structural edit of a JSON document.
#[derive(Debug, Clone)]
pub enum JsonEdit {
    /// Replace a node with another value.
    Replace { node: Index, with: Value },
    /// Remove a node from its object or array (the root becomes `null`).
    Remove { node: Index },
    /// Put a node inside a one-element array.
    Wrap { node: Index },
}

/// Up to `max` edits, with replacement values keyed by `fields`.
pub fn edits(fields: &'static [&'static str], max: usize) -> impl Strategy<Value = Vec<JsonEdit>> {
    let replace =
        (any::<Index>(), value(fields)).prop_map(|(node, with)| JsonEdit::Replace { node, with });
    let edit = prop_oneof![
        3 => replace,
        2 => any::<Index>().prop_map(|node| JsonEdit::Remove { node }),
        1 => any::<Index>().prop_map(|node| JsonEdit::Wrap { node }),
    ];
    vec(edit, 0..=max)
}

/// JSON pointers (RFC 6901) of every node, the root first.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                pointers(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(fields) => {
            for (k, v) in fields {
                let escaped = k.replace('~', "~0").replace('/', "~1");
                pointers(v, format!("{at}/{escaped}"), out);
            }
        }
        _ => {}
    }
}

/// Applies `edits` in order.
pub fn apply(doc: &mut Value, edits: &[JsonEdit]) {
    for edit in edits {
        let mut all = Vec::new();
        pointers(doc, String::new(), &mut all);
        let node = match edit {
            JsonEdit::Replace { node, .. }
            | JsonEdit::Remove { node }
            | JsonEdit::Wrap { node } => all[node.index(all.len())].clone(),
        };
        match edit {
            JsonEdit::Replace { with, .. } => {
                if let Some(target) = doc.pointer_mut(&node) {
                    *target = with.clone();
                }
            }
            JsonEdit::Wrap { .. } => {
                if let Some(target) = doc.pointer_mut(&node) {
                    *target = Value::Array(vec![target.take()]);
                }
            }
            JsonEdit::Remove { .. } => remove(doc, &node),
        }
    }
}

fn remove(doc: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        *doc = Value::Null;
        return;
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    match doc.pointer_mut(parent) {
        Some(Value::Object(fields)) => {
            fields.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < items.len()
            {
                items.remove(i);
            }
        }
        _ => {}
    }
}
