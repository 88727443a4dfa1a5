//! `cargo xtask module-cycles`: no two top-level modules of a workspace crate import each
//! other, even through others. Each crate is layered (the simulator's request path from the
//! request vocabulary up to the server, writeback's source -> map -> observe -> diff -> plan ->
//! apply), so a change to a lower layer never needs a higher one.
//!
//! Read from the sources: every `crate::<module>` path (in `use` lines and inline, `use
//! crate::{a, b}` groups included, comments left out) in a file under a top-level module is an
//! edge to that module. Unit-test modules (from a `#[cfg(test)]` line to the end of a file)
//! are left out: a test may reach across layers. `cargo xtask test` runs it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("could not list {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The top-level module a file belongs to (`None` for the crate root and the binaries).
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main" | "bin")).then(|| name.to_string())
}

fn identifier_at(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The top-level modules `code` names through `crate::`.
fn referenced_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or_default();
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `crate::{a, b::c, d::{e, f}}`: the names at depth one.
                let mut depth = 1;
                let mut expecting_name = true;
                for (index, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 1 => break,
                        '}' => depth -= 1,
                        ',' if depth == 1 => expecting_name = true,
                        c if expecting_name && depth == 1 && (c.is_alphanumeric() || c == '_') => {
                            found.insert(identifier_at(&group[index..]).to_string());
                            expecting_name = false;
                        }
                        _ => {}
                    }
                }
            } else {
                let name = identifier_at(rest);
                if !name.is_empty() {
                    found.insert(name.to_string());
                }
            }
        }
    }
    found
}

fn module_graph(src: &Path) -> Result<Graph> {
    let mut files = Vec::new();
    rust_files(src, &mut files)?;
    let mut graph = Graph::new();
    for file in files {
        let Some(module) = top_module(src, &file) else {
            continue;
        };
        let code = std::fs::read_to_string(&file)
            .with_context(|| format!("could not read {}", file.display()))?;
        let code = code.split("#[cfg(test)]").next().unwrap_or_default();
        let targets = graph.entry(module.clone()).or_default();
        targets.extend(
            referenced_modules(code)
                .into_iter()
                .filter(|target| *target != module),
        );
    }
    Ok(graph)
}

/// A cycle of `graph`, as the modules along it, if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        graph: &Graph,
        module: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|m| m == module) {
            let mut cycle = path[start..].to_vec();
            cycle.push(module.to_string());
            return Some(cycle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_string());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(graph, next, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(module.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|module| visit(graph, module, &mut Vec::new(), &mut done))
}

/// The `src` directory of every workspace member (cargo metadata), and the crate's name.
fn workspace_sources(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = std::process::Command::new(&cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .with_context(|| format!("could not start {cargo} metadata"))?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("cargo metadata printed no JSON")?;
    let mut sources = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let (Some(name), Some(manifest)) =
            (package["name"].as_str(), package["manifest_path"].as_str())
        else {
            continue;
        };
        if let Some(dir) = Path::new(manifest).parent() {
            let src = dir.join("src");
            if src.is_dir() {
                sources.push((name.to_string(), src));
            }
        }
    }
    sources.sort();
    Ok(sources)
}

pub fn run(_args: &[String]) -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask lives in the workspace")?;
    let sources = workspace_sources(root)?;
    if sources.len() < 2 {
        bail!(
            "found {} crate sources in {}",
            sources.len(),
            root.display()
        );
    }
    let mut failures = Vec::new();
    for (name, src) in &sources {
        let graph = module_graph(src)?;
        if let Some(cycle) = find_cycle(&graph) {
            failures.push(format!("{name}: {}", cycle.join(" -> ")));
        }
    }
    if !failures.is_empty() {
        bail!("module cycles:\n  {}", failures.join("\n  "));
    }
    println!(
        "xtask module-cycles: no module cycle in {} crates",
        sources.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reader_sees_uses_groups_and_inline_paths_but_not_comments() {
        let code = "use crate::request::{Identity, Operation};\n\
                    use crate::{codec::{self, Limits}, error::OpError, store};\n\
                    let x = crate::filter::equal(a, b); // crate::semantics in a comment\n\
                    /// [`crate::forest::Forest`]\n";
        let found: Vec<String> = referenced_modules(code).into_iter().collect();
        assert_eq!(found, ["codec", "error", "filter", "request", "store"]);
        let mut graph = Graph::new();
        for (from, to) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
            graph
                .entry(from.to_string())
                .or_default()
                .insert(to.to_string());
        }
        assert_eq!(
            find_cycle(&graph),
            Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
        );
    }

    #[test]
    fn every_workspace_crate_is_read() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let sources = workspace_sources(root).unwrap();
        assert!(sources.iter().any(|(name, _)| name == "devwb-simulator"));
        let graph = module_graph(
            &sources
                .iter()
                .find(|(n, _)| n == "devwb-simulator")
                .unwrap()
                .1,
        )
        .unwrap();
        assert!(graph.contains_key("semantics") && graph.contains_key("handler"));
    }
}
