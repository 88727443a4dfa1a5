//! `cargo xtask gen-devices`: a realistic Graph `/devices` export of N devices, deterministic
//! under a seed, for tests, benches and trying `devwb writeback` by hand.
//!
//! ```text
//! cargo xtask gen-devices --count 100000 --seed 7 --out devices.json
//!     [--format json|jsonl|pages] [--page-size 999]
//!     [--owner-domain-sid S-1-5-21-...]... [--foreign-domain-sid S-1-5-21-... --foreign-fraction 0.1]
//! ```
//!
//! The generator itself is `devwb_writeback::synthetic` (the tests and benches use the same
//! code); this module only parses arguments and writes the file, streaming.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use devwb_model::Sid;
use devwb_writeback::synthetic::{
    default_owner_domain, write_export, write_pages, ExportLayout, SyntheticConfig,
    SyntheticDevice, SyntheticDevices,
};

const USAGE: &str = "usage: cargo xtask gen-devices --count N --seed S --out FILE \
[--format json|jsonl|pages] [--page-size N] [--owner-domain-sid SID]... \
[--foreign-domain-sid SID]... [--foreign-fraction F]";

pub fn run(args: &[String]) -> Result<()> {
    let mut count: Option<u64> = None;
    let mut seed: u64 = 1;
    let mut out: Option<PathBuf> = None;
    let mut format = "json".to_owned();
    let mut page_size = 999usize;
    let mut owners: Vec<Sid> = Vec::new();
    let mut foreign: Vec<Sid> = Vec::new();
    let mut foreign_fraction = 0.0f64;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--count" => count = Some(value()?.parse().context("--count: not a number")?),
            "--seed" => seed = value()?.parse().context("--seed: not a number")?,
            "--out" => out = Some(PathBuf::from(value()?)),
            "--format" => format = value()?.clone(),
            "--page-size" => page_size = value()?.parse().context("--page-size: not a number")?,
            "--owner-domain-sid" => owners.push(parse_sid(value()?)?),
            "--foreign-domain-sid" => foreign.push(parse_sid(value()?)?),
            "--foreign-fraction" => {
                foreign_fraction = value()?
                    .parse()
                    .context("--foreign-fraction: not a number")?
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let (Some(count), Some(out)) = (count, out) else {
        bail!("--count and --out are required\n{USAGE}");
    };
    if owners.is_empty() {
        owners.push(default_owner_domain());
    }
    let config = SyntheticConfig {
        count,
        seed,
        owner_domains: owners,
        foreign_domains: foreign,
        foreign_fraction,
    };
    let devices = SyntheticDevices::new(config).map(|d: SyntheticDevice| d.to_json());
    match format.as_str() {
        "pages" => {
            let pages = write_pages(devices, page_size, &out)
                .with_context(|| format!("cannot write pages into {}", out.display()))?;
            println!(
                "gen-devices: {count} devices in {pages} pages under {}",
                out.display()
            );
        }
        "json" | "jsonl" => {
            let layout = if format == "json" {
                ExportLayout::Page
            } else {
                ExportLayout::JsonLines
            };
            let file =
                File::create(&out).with_context(|| format!("cannot create {}", out.display()))?;
            let mut writer = BufWriter::new(file);
            write_export(devices, layout, &mut writer)
                .and_then(|()| writer.flush())
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("gen-devices: {count} devices written to {}", out.display());
        }
        other => bail!("--format {other:?}: expected json, jsonl or pages"),
    }
    Ok(())
}

fn parse_sid(text: &str) -> Result<Sid> {
    Sid::parse(text).with_context(|| format!("{text:?} is not a SID"))
}
