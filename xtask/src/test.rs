//! `cargo xtask test`: everything CI checks, in the order that fails fastest.
//!
//! Steps: `cargo fmt --check`, `cargo clippy --workspace --all-targets -D warnings`, the
//! generated schema table's check mode, the module-cycle check of every crate, a bounded fuzz loop over the model's parsers, then
//! `cargo test --workspace`. The suites that need something from outside the workspace
//! (Docker for Samba, OpenLDAP's tools) live in the crates' own tests, which check their
//! precondition and print plainly why they did not run.
//!
//! `--quick` skips fmt and clippy, for the edit-test loop.

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

pub fn run(args: &[String]) -> Result<()> {
    let mut quick = false;
    let mut passthrough: Vec<String> = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--quick" => quick = true,
            _ => passthrough.push(arg.clone()),
        }
    }
    let started = Instant::now();
    if !quick {
        cargo("format check", &["fmt", "--all", "--", "--check"])?;
        cargo(
            "clippy",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ],
        )?;
    }
    if !quick {
        // Generated files have a check mode: a stale committed schema table fails here.
        println!("xtask test: generated schema table: cargo xtask gen-schema --check");
        crate::gen_schema::run(&["--check".to_string()])?;
        // Each crate's modules are layered: no import cycle between its top-level modules.
        println!("xtask test: module layering: cargo xtask module-cycles");
        crate::module_cycles::run(&[])?;
        // A bounded, deterministic fuzz loop over every parser: 200,000 inputs or 10 s a target,
        // whichever comes first (the export reader and the LDAP handler are the slow ones).
        println!("xtask test: fuzz smoke: cargo xtask fuzz --seconds 10");
        crate::fuzz::run(&["--seconds".to_string(), "10".to_string()])?;
    }
    // Say up front whether the Samba suite will run, and if not, why (the tests say it too, but
    // cargo hides a passing test's output).
    match devwb_samba::docker_available() {
        Ok(()) => println!(
            "xtask test: the Samba suite runs against {}:{}",
            devwb_samba::NAME,
            devwb_samba::TAG
        ),
        Err(why) => println!("xtask test: the Samba suite did NOT run: {why}"),
    }
    let mut test_args = vec!["test", "--workspace", "--locked"];
    test_args.extend(passthrough.iter().map(String::as_str));
    cargo("tests", &test_args)?;
    println!("xtask test: all steps passed in {:.0?}", started.elapsed());
    Ok(())
}

/// Runs one cargo step, echoing it, and fails naming the step.
fn cargo(step: &str, args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    println!("xtask test: {step}: cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .status()
        .with_context(|| format!("could not start {cargo}"))?;
    if !status.success() {
        bail!("{step} failed ({status}): cargo {}", args.join(" "));
    }
    Ok(())
}
