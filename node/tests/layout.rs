//! The code's layout rules, checked on the sources: no file over 500 lines in the library
//! crates, no import cycle between modules, tokio tasks spawned only by the one helper (and the
//! supervisor), and an actor table in `docs/architecture.md` that names every message each actor
//! receives.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// The library crates the rules hold for.
const CRATES: [&str; 2] = ["common", "realtime"];
/// Longest source file allowed.
const MAX_LINES: usize = 500;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Every `.rs` file under `dir`, sorted.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The module path of a source file: `src/bridge/rpc/mod.rs` → `["bridge", "rpc"]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The code of a file without comments, literals and a trailing `#[cfg(test)]` module.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    };
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let ident = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || *c == '_');
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == 'r' && matches!(next, Some('#' | '"')) && !ident(chars[..i].last()) {
            let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
            i += 2 + hashes;
            while i < chars.len()
                && !(chars[i] == '"' && chars[i + 1..].iter().take(hashes).all(|c| *c == '#'))
            {
                i += 1;
            }
            i += 1 + hashes;
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && next == Some('\\') {
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Expands the use tree starting at `tree` (after `use `, up to its `;`) into full paths.
fn expand(prefix: &str, tree: &str, into: &mut Vec<String>) {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap().trim();
        if !path.is_empty() {
            into.push(format!("{prefix}{path}"));
        }
        return;
    };
    let head = format!("{prefix}{}", tree[..open].trim());
    let inner = &tree[open + 1..tree.rfind('}').unwrap()];
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                expand(&head, &inner[start..i], into);
                start = i + 1;
            }
            _ => {}
        }
    }
    expand(&head, &inner[start..], into);
}

/// Every path a file names: its `use` trees expanded, and `crate::…`/`super::…` paths inline.
fn paths(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        rest = &rest[at + 4..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let end = rest.find(';').unwrap_or(rest.len());
        expand("", &rest[..end].replace('\n', " "), &mut found);
        rest = &rest[end..];
    }
    for root in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(at) = rest.find(root) {
            let before = rest[..at].chars().last();
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                found.push(tail[..end].to_string());
            }
            rest = &rest[at + root.len()..];
        }
    }
    found
}

/// The module a path points into, resolved against the modules that exist: the longest prefix
/// that is a module. `None` for paths outside this crate.
fn target(
    path: &str,
    from: &[String],
    is_file: bool,
    modules: &BTreeSet<Vec<String>>,
) -> Option<Vec<String>> {
    let mut parts = path.split("::").filter(|p| !p.is_empty());
    let mut at: Vec<String> = match parts.next()? {
        "crate" => Vec::new(),
        "super" => {
            // In `a/b.rs` (module a::b), `super` is `a`; in `a/b/mod.rs` too.
            let mut base = from.to_vec();
            base.pop();
            base
        }
        "self" => from.to_vec(),
        _ => return None,
    };
    let _ = is_file;
    for part in parts {
        match part {
            "super" => {
                at.pop();
            }
            "self" => {}
            name => {
                let mut next = at.clone();
                next.push(name.to_string());
                if modules.contains(&next) {
                    at = next;
                } else {
                    break;
                }
            }
        }
    }
    Some(at)
}

fn is_within(inner: &[String], outer: &[String]) -> bool {
    inner.len() >= outer.len() && inner[..outer.len()] == *outer
}

/// The import graph of one crate between modules that are not nested in one another (a folder
/// and its own files are one unit).
fn import_graph(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let files = sources(src);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in &files {
        let from = module_of(src, file);
        let text = fs::read_to_string(file).unwrap();
        let edges = graph.entry(from.clone()).or_default();
        for path in paths(&code(&text)) {
            let Some(to) = target(&path, &from, true, &modules) else {
                continue;
            };
            if to.is_empty() || is_within(&to, &from) || is_within(&from, &to) {
                continue;
            }
            edges.insert(to);
        }
    }
    graph
}

/// One cycle of the graph, if there is one.
fn find_cycle(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        marks: &mut BTreeMap<Vec<String>, Mark>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = stack.iter().position(|n| n == node).unwrap();
                let mut cycle: Vec<String> = stack[start..].iter().map(|m| m.join("::")).collect();
                cycle.push(node.join("::"));
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.clone(), Mark::Open);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        marks.insert(node.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn the_cycle_finder_finds_a_planted_cycle_and_accepts_nesting() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    fs::create_dir_all(src.join("bridge")).unwrap();
    fs::write(src.join("lib.rs"), "mod bridge; mod config; mod proposal;").unwrap();
    fs::write(src.join("config.rs"), "use crate::bridge::config::X;").unwrap();
    fs::write(
        src.join("bridge/mod.rs"),
        "mod config; use config::X; pub use super::proposal::P;",
    )
    .unwrap();
    fs::write(
        src.join("bridge/config.rs"),
        "use super::{Y, super::proposal::Q};",
    )
    .unwrap();
    fs::write(
        src.join("proposal.rs"),
        "// use crate::config;\nfn f() { let s = \"crate::config\"; }",
    )
    .unwrap();
    assert_eq!(find_cycle(&import_graph(src)), None);
    fs::write(
        src.join("proposal.rs"),
        "fn f() -> crate::config::Limits { todo!() }",
    )
    .unwrap();
    let cycle =
        find_cycle(&import_graph(src)).expect("config → bridge::config → proposal → config");
    assert!(cycle.contains(&"config".to_string()), "{cycle:?}");
    assert!(cycle.contains(&"proposal".to_string()), "{cycle:?}");
}

#[test]
fn no_module_imports_in_a_circle() {
    for krate in CRATES {
        let src = workspace().join(krate).join("src");
        let graph = import_graph(&src);
        assert!(
            graph.len() > 10,
            "{krate}: the graph was read ({} modules)",
            graph.len()
        );
        // Every circle, each found after cutting one edge of the previous ones.
        let mut graph = graph;
        let mut circles = Vec::new();
        while let Some(cycle) = find_cycle(&graph) {
            let last = cycle.len() - 1;
            let from: Vec<String> = cycle[last - 1].split("::").map(str::to_string).collect();
            let to: Vec<String> = cycle[last].split("::").map(str::to_string).collect();
            graph.get_mut(&from).unwrap().remove(&to);
            circles.push(cycle.join(" → "));
        }
        assert!(
            circles.is_empty(),
            "{krate}: modules import each other in a circle:\n{}",
            circles.join("\n")
        );
    }
}

#[test]
fn no_library_source_file_is_over_500_lines() {
    let mut long = Vec::new();
    for krate in CRATES {
        for file in sources(&workspace().join(krate).join("src")) {
            let lines = fs::read_to_string(&file).unwrap().lines().count();
            if lines > MAX_LINES {
                long.push(format!("{} ({lines})", file.display()));
            }
        }
    }
    assert!(long.is_empty(), "files over {MAX_LINES} lines: {long:?}");
}

#[test]
fn tasks_are_spawned_only_by_the_reporting_helper_and_the_supervisor() {
    let allowed = ["common/src/work.rs", "common/src/supervisor/mod.rs"];
    let mut spawning = Vec::new();
    for krate in CRATES {
        for file in sources(&workspace().join(krate).join("src")) {
            let text = fs::read_to_string(&file).unwrap();
            let shown = file
                .strip_prefix(workspace())
                .unwrap()
                .display()
                .to_string();
            let test_only = shown.ends_with("_tests.rs");
            if code(&text).contains("tokio::spawn(")
                && !allowed.contains(&shown.as_str())
                && !test_only
            {
                spawning.push(shown);
            }
        }
    }
    assert!(
        spawning.is_empty(),
        "tokio::spawn outside the helper: {spawning:?}"
    );
}

/// `impl Handler<Message> for Actor` in the library's non-test code: actor → its messages.
fn handlers() -> BTreeMap<String, BTreeSet<String>> {
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in sources(&workspace().join("realtime").join("src")) {
        if file.to_string_lossy().ends_with("_tests.rs") {
            continue;
        }
        let text = code(&fs::read_to_string(&file).unwrap());
        for line in text.lines() {
            let Some(rest) = line.trim().strip_prefix("impl Handler<") else {
                continue;
            };
            let Some((message, rest)) = rest.split_once("> for ") else {
                continue;
            };
            let actor = rest.split_whitespace().next().unwrap().to_string();
            found.entry(actor).or_default().insert(message.to_string());
        }
    }
    found
}

/// The "receives" column of the actor table in `docs/architecture.md`: actor → messages.
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let doc = fs::read_to_string(workspace().join("docs/architecture.md")).unwrap();
    let section = doc
        .split("## Actors")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("docs/architecture.md has an Actors section");
    let mut found = BTreeMap::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let actor = cells[1].split('`').nth(1).unwrap().to_string();
        let names: BTreeSet<String> = cells[3]
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        found.insert(actor, names);
    }
    found
}

#[test]
fn the_actor_table_lists_every_message_each_actor_receives() {
    let code = handlers();
    let doc = documented();
    assert!(code.len() >= 5, "actors found in the code: {code:?}");
    assert_eq!(
        doc, code,
        "docs/architecture.md's actor table (left) differs from the handlers in the code (right)"
    );
}
