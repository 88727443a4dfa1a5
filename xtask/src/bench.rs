//! `cargo xtask bench [GROUP...]`: runs the benchmarks whose figures docs/benchmarks.md records,
//! with the commands written there, so the figures can be taken again with one command.
//!
//! Groups: `writeback` (full, rerun, memory: the default), `source` (the client side of
//! streaming an export), `simulator` (the request path without sockets, then adsim against
//! OpenLDAP's slapd side by side with `simulator/benches/compare.sh`, which needs Debian's
//! `slapd`), `model` (security descriptors), `client` (devwb-ldap's bulk apply), `sync`
//! (`devwb sync` from the fake Entra tenant against `devwb writeback --export`, each as its own
//! release-built process, with `benches/sync.sh`: full round, delta round, change-to-AD
//! latency), `scale` (`devwb writeback` of 100k and 300k devices into adsim, each its own
//! process, with `benches/scale.sh`: first run, no-change rerun, client peak RSS, adsim's
//! memory per entry), or `all`; `scale-1m` (the same up to 1,000,000 devices) is opt-in.
//! It only runs them: reading the figures, and recording them with the machine and the peer,
//! stays a person's job.

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// The groups, each a list of commands (program and arguments), in the order they run.
const GROUPS: &[(&str, &[&[&str]])] = &[
    (
        "writeback",
        &[
            &[
                "cargo",
                "bench",
                "-p",
                "devwb-benches",
                "--bench",
                "writeback_full",
            ],
            &[
                "cargo",
                "bench",
                "-p",
                "devwb-benches",
                "--bench",
                "writeback_rerun",
            ],
            &[
                "cargo",
                "bench",
                "-p",
                "devwb-benches",
                "--bench",
                "writeback_memory",
            ],
        ],
    ),
    (
        "source",
        &[&[
            "cargo",
            "bench",
            "-p",
            "devwb-benches",
            "--bench",
            "source_stream",
        ]],
    ),
    (
        "simulator",
        &[
            &[
                "cargo",
                "bench",
                "-p",
                "devwb-simulator",
                "--bench",
                "request_path",
            ],
            &["simulator/benches/compare.sh", "5", "20000"],
        ],
    ),
    ("sync", &[&["benches/sync.sh", "3", "100000", "1000", "10"]]),
    ("scale", &[&["benches/scale.sh", "100000 300000", "1"]]),
    // Opt-in (not in `all`): a million devices take about 20 minutes and 4 GB here.
    (
        "scale-1m",
        &[&["benches/scale.sh", "100000 300000 1000000", "1"]],
    ),
    (
        "model",
        &[&["cargo", "bench", "-p", "devwb-model", "--bench", "security"]],
    ),
    (
        "client",
        &[&[
            "cargo",
            "bench",
            "-p",
            "devwb-ldap",
            "--bench",
            "bulk_apply",
        ]],
    ),
];

/// Groups `all` leaves out: ask for them by name.
const OPT_IN: &[&str] = &["scale-1m"];

pub fn run(args: &[String]) -> Result<()> {
    let mut wanted: Vec<&str> = args.iter().map(String::as_str).collect();
    if wanted.is_empty() {
        wanted.push("writeback");
    }
    if wanted.contains(&"all") {
        wanted = GROUPS
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| !OPT_IN.contains(name))
            .collect();
    }
    let mut commands: Vec<&[&str]> = Vec::new();
    for name in &wanted {
        let Some((_, group)) = GROUPS.iter().find(|(group, _)| group == name) else {
            let known: Vec<&str> = GROUPS.iter().map(|(group, _)| *group).collect();
            bail!(
                "unknown bench group {name:?}; groups: {}, all",
                known.join(", ")
            );
        };
        commands.extend(group.iter().copied());
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask lives in the workspace")?;
    let started = Instant::now();
    for command in commands {
        let Some((program, arguments)) = command.split_first() else {
            continue;
        };
        let program = match *program {
            "cargo" => std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()),
            other => other.to_string(),
        };
        println!("xtask bench: {}", command.join(" "));
        let status = Command::new(&program)
            .args(arguments)
            .current_dir(root)
            .status()
            .with_context(|| format!("could not start {program}"))?;
        if !status.success() {
            bail!("{} failed ({status})", command.join(" "));
        }
    }
    println!(
        "xtask bench: {} done in {:.0?}; record the figures in docs/benchmarks.md with the machine and the peer",
        wanted.join(", "),
        started.elapsed()
    );
    Ok(())
}
