//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! Thin on purpose: each subcommand lives in its own module with a `run(args)` function.
//! This binary may print and read the environment; the libraries never do.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod fuzz;
mod gen_devices;
mod gen_schema;
mod module_cycles;
mod samba_image;
mod test;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [args]

commands:
  test          fmt check, clippy, the workspace tests, then the suites that need
                something from outside (each says plainly when it cannot run)
  bench         run the benchmarks docs/benchmarks.md records, with its commands:
                [writeback|source|simulator|model|client|sync|scale|all], writeback by
                default; scale-1m (a million devices) only when named
  fuzz          bounded fuzz loop over the model's parsers (dn, sid, sddl, sd_binary) and
                the simulator's LDAP codec and handler (ldap_codec);
                --libfuzzer runs cargo-fuzz on nightly instead
  module-cycles fail when two top-level modules of a workspace crate import each other
                (through others too); unit-test modules left out
  gen-schema    regenerate simulator/src/schema/ad-schema.txt from Microsoft's schema
                LDFs (samba-ad-provision); --check fails when the committed file is stale
  gen-devices   write a realistic Graph /devices export of N devices, deterministic under
                --seed (json page, jsonl, or a directory of pages)
  samba-image   build the Samba AD DC image with mmdebstrap and docker import (no registry);
                reuses an existing image of the pinned tag unless --force
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "test" => test::run(rest),
        "bench" => bench::run(rest),
        "fuzz" => fuzz::run(rest),
        "gen-devices" => gen_devices::run(rest),
        "gen-schema" => gen_schema::run(rest),
        "module-cycles" => module_cycles::run(rest),
        "samba-image" => samba_image::run(rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprint!("unknown command {other:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask {command}: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
