//! `cargo xtask fuzz`: the fuzz checks of devwb-model's parsers, the simulator's LDAP codec and
//! writeback's export reader (`fuzz/src/lib.rs`: `dn`, `sid`, `sddl`, `sd_binary`, `ldap_codec`,
//! `export`; seeds of the last two in `fuzz/corpus/`).
//!
//! By default a bounded, deterministic random loop on stable Rust: inputs are mutations of
//! seeds (every default security descriptor of Microsoft's schema, their binary encodings, a
//! few SIDs, and for `ldap_codec` the small valid LDAP messages kept in
//! `fuzz/corpus/ldap_codec/*.ber`) and plain random bytes. A panic is a finding: the input is written to
//! `fuzz/artifacts/<target>/` and the command fails. `--libfuzzer` runs the same checks under
//! cargo-fuzz instead (needs the nightly toolchain and `cargo install cargo-fuzz`).
//!
//! usage: cargo xtask fuzz [TARGET...] [--iterations N] [--seconds S] [--seed N] [--libfuzzer]

#[path = "../../fuzz/src/lib.rs"]
mod checks;

use anyhow::{bail, Context, Result};
use devwb_model::sd::{SddlContext, SecurityDescriptor};
use devwb_model::Sid;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

struct Options {
    targets: Vec<String>,
    iterations: u64,
    seconds: u64,
    seed: u64,
    libfuzzer: bool,
}

fn parse_options(args: &[String]) -> Result<Options> {
    let mut options = Options {
        targets: Vec::new(),
        iterations: 200_000,
        seconds: 30,
        seed: 0x5eed_d3b1,
        libfuzzer: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<u64> {
            let value = args
                .next()
                .with_context(|| format!("{name} needs a number"))?;
            value
                .parse()
                .with_context(|| format!("{name} {value:?} is not a number"))
        };
        match arg.as_str() {
            "--iterations" => options.iterations = number("--iterations")?,
            "--seconds" => options.seconds = number("--seconds")?,
            "--seed" => options.seed = number("--seed")?,
            "--libfuzzer" => options.libfuzzer = true,
            name if checks::TARGETS.iter().any(|(target, _)| *target == name) => {
                options.targets.push(name.to_string())
            }
            other => {
                let names: Vec<&str> = checks::TARGETS.iter().map(|(name, _)| *name).collect();
                bail!("unknown argument {other:?}: targets are {names:?}, options --iterations N --seconds S --seed N --libfuzzer")
            }
        }
    }
    if options.targets.is_empty() {
        options.targets = checks::TARGETS
            .iter()
            .map(|(name, _)| name.to_string())
            .collect();
    }
    Ok(options)
}

/// Runs the fuzz checks; see the module documentation.
pub fn run(args: &[String]) -> Result<()> {
    let options = parse_options(args)?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let seeds = Seeds::load(&root)?;
    if options.libfuzzer {
        return run_libfuzzer(&root, &options, &seeds);
    }
    let mut findings = Vec::new();
    for target in &options.targets {
        let Some((_, check)) = checks::TARGETS.iter().find(|(name, _)| name == target) else {
            continue;
        };
        let corpus = seeds.for_target(target);
        let started = Instant::now();
        let budget = Duration::from_secs(options.seconds);
        let mut rng = XorShift(options.seed ^ 0x9e37_79b9_7f4a_7c15);
        let mut done = 0u64;
        let mut accepted = 0u64;
        // The seeds themselves first, then mutations.
        let mut failure = None;
        while done < options.iterations && started.elapsed() < budget {
            let input = match corpus.get(done as usize) {
                Some(seed) => seed.clone(),
                None => mutate(&mut rng, &corpus),
            };
            done += 1;
            match catch_unwind(AssertUnwindSafe(|| check(&input))) {
                Ok(true) => accepted += 1,
                Ok(false) => {}
                Err(_) => {
                    failure = Some(input);
                    break;
                }
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        match failure {
            None => println!("fuzz {target}: {done} inputs ({accepted} accepted by the parser) in {elapsed:.1} s, no finding"),
            Some(input) => {
                let path = save_artifact(&root, target, &input)?;
                println!(
                    "fuzz {target}: FINDING after {done} inputs, input saved to {}",
                    path.display()
                );
                findings.push(format!("{target}: {}", path.display()));
            }
        }
    }
    if findings.is_empty() {
        Ok(())
    } else {
        bail!("fuzz findings (replay with `cargo +nightly fuzz run <target> <file>`): {findings:?}")
    }
}

fn run_libfuzzer(root: &Path, options: &Options, seeds: &Seeds) -> Result<()> {
    let fuzz_dir = root.join("fuzz");
    for target in &options.targets {
        let corpus_dir = fuzz_dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus_dir)
            .with_context(|| format!("creating {}", corpus_dir.display()))?;
        // ldap_codec's and export's seeds already are files of that directory.
        let written = if target == "ldap_codec" || target == "export" {
            Vec::new()
        } else {
            seeds.for_target(target)
        };
        for (index, seed) in written.iter().enumerate() {
            let path = corpus_dir.join(format!("seed-{index:04}"));
            std::fs::write(&path, seed).with_context(|| format!("writing {}", path.display()))?;
        }
        let status = Command::new("cargo")
            .args(["+nightly", "fuzz", "run", target, "--"])
            .arg(format!("-max_total_time={}", options.seconds))
            .arg(format!("-seed={}", options.seed))
            .current_dir(&fuzz_dir)
            .status()
            .context("running cargo +nightly fuzz (needs the nightly toolchain and cargo-fuzz)")?;
        if !status.success() {
            bail!("cargo fuzz run {target} failed ({status}); findings are in fuzz/artifacts/{target}/");
        }
    }
    Ok(())
}

fn save_artifact(root: &Path, target: &str, input: &[u8]) -> Result<PathBuf> {
    let dir = root.join("fuzz").join("artifacts").join(target);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    });
    let path = dir.join(format!("crash-{hash:016x}"));
    std::fs::write(&path, input).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Seed inputs per target.
struct Seeds {
    sids: Vec<Vec<u8>>,
    sddl: Vec<Vec<u8>>,
    binary: Vec<Vec<u8>>,
    ldap: Vec<Vec<u8>>,
    export: Vec<Vec<u8>>,
}

impl Seeds {
    fn load(root: &Path) -> Result<Seeds> {
        let table = root.join("crates/model/tests/it/sd/data/default_security_descriptors.tsv");
        let text = std::fs::read_to_string(&table)
            .with_context(|| format!("reading {}", table.display()))?;
        let context = SddlContext::with_root(
            Sid::from_parts(5, &[21, 1_004_336_348, 1_177_238_915, 682_003_330]),
            Sid::from_parts(5, &[21, 11, 22, 33]),
        );
        let mut sddl: Vec<Vec<u8>> = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_once('\t'))
            .map(|(_, sddl)| sddl.as_bytes().to_vec())
            .collect();
        sddl.push(b"O:DAG:DAD:PAI(A;CI;RPWPCCDCLCLORCSDDTSW;;;S-1-5-21-1-2-3-1105)S:AI(AU;SAFA;0x1f;;;WD)".to_vec());
        sddl.push(b"D:NO_ACCESS_CONTROLS:(OU;CIIOIDSA;WP;5df2b673-6d41-4774-b3e8-d52e8ee9ff99;;S-1-0x123456789ABC-7)".to_vec());
        let mut binary = Vec::new();
        for text in &sddl {
            let parsed = std::str::from_utf8(text)
                .ok()
                .and_then(|text| SecurityDescriptor::from_sddl(text, &context).ok());
            if let Some(bytes) = parsed.and_then(|sd| sd.to_bytes().ok()) {
                binary.push(bytes);
            }
        }
        let sid_texts = [
            "S-1-5-21-1004336348-1177238915-682003330-512",
            "S-1-1-0",
            "S-1-0x123456789ABC-7",
            "S-1-5",
        ];
        let mut sids: Vec<Vec<u8>> = sid_texts
            .iter()
            .map(|text| text.as_bytes().to_vec())
            .collect();
        for text in sid_texts {
            if let Ok(sid) = Sid::parse(text) {
                sids.push(sid.to_bytes());
            }
        }
        let ldap = corpus_files(&root.join("fuzz/corpus/ldap_codec"), "ber")?;
        let export = corpus_files(&root.join("fuzz/corpus/export"), "json")?;
        Ok(Seeds {
            sids,
            sddl,
            binary,
            ldap,
            export,
        })
    }

    fn for_target(&self, target: &str) -> Vec<Vec<u8>> {
        match target {
            "dn" => DN_SEEDS.iter().map(|s| s.as_bytes().to_vec()).collect(),
            "sid" => self.sids.clone(),
            "sddl" => self.sddl.clone(),
            "ldap_codec" => self.ldap.clone(),
            "export" => self.export.clone(),
            _ => self.binary.clone(),
        }
    }
}

/// The seed files (`*.<extension>`) of a corpus directory kept in the repository, in name order.
fn corpus_files(dir: &Path, extension: &str) -> Result<Vec<Vec<u8>>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == extension))
        .collect();
    files.sort();
    let seeds = files
        .iter()
        .map(|path| std::fs::read(path).with_context(|| format!("reading {}", path.display())))
        .collect::<Result<Vec<_>>>()?;
    if seeds.is_empty() {
        bail!("no seeds in {} (*.{extension})", dir.display());
    }
    Ok(seeds)
}

/// DNs with every kind of escape the parser knows, for the `dn` target to mutate.
const DN_SEEDS: &[&str] = &[
    "CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab",
    "CN=RegisteredDevices, DC=contoso, DC=lab",
    r"CN=Smith\, John+UID=js,OU=a\2Cb,DC=x",
    r"CN=\#hash\ ,CN=\ lead,CN=q\22uote\3Cx\3E\3B\3D\5C,DC=x",
    "CN=#04024869,DC=x",
    r"CN=caf\C3\A9,1.2.840.113556.1.4.1=v,DC=x",
];

/// xorshift64*: deterministic and dependency-free; quality is plenty for mutation choices.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        if bound == 0 {
            0
        } else {
            (self.next() % bound as u64) as usize
        }
    }
}

/// Characters that matter to the SID and SDDL grammars, so text mutations stay near them.
const ALPHABET: &[u8] = b"();:-0123456789ABCDEFOGSPIDULNRWxa{} \t";

fn mutate(rng: &mut XorShift, corpus: &[Vec<u8>]) -> Vec<u8> {
    if corpus.is_empty() || rng.below(10) == 0 {
        let length = rng.below(64);
        return (0..length).map(|_| rng.next() as u8).collect();
    }
    let mut input = corpus[rng.below(corpus.len())].clone();
    for _ in 0..=rng.below(4) {
        let length = input.len();
        match rng.below(7) {
            0 if length > 0 => {
                let at = rng.below(length);
                input[at] = rng.next() as u8;
            }
            1 => {
                let at = rng.below(length + 1);
                input.insert(at, ALPHABET[rng.below(ALPHABET.len())]);
            }
            2 if length > 0 => {
                let start = rng.below(length);
                let end = (start + 1 + rng.below(8)).min(length);
                input.drain(start..end);
            }
            3 if length > 0 => {
                input.truncate(rng.below(length));
            }
            4 if length > 0 => {
                let start = rng.below(length);
                let end = (start + 1 + rng.below(16)).min(length);
                let piece = input[start..end].to_vec();
                let at = rng.below(input.len() + 1);
                input.splice(at..at, piece);
            }
            5 => {
                let other = &corpus[rng.below(corpus.len())];
                if !other.is_empty() {
                    let start = rng.below(other.len());
                    let end = (start + 1 + rng.below(32)).min(other.len());
                    let at = rng.below(input.len() + 1);
                    input.splice(at..at, other[start..end].iter().copied());
                }
            }
            _ if length > 1 => {
                // Small integer tweaks hit length and offset fields of binary forms.
                let at = rng.below(length);
                input[at] = input[at].wrapping_add(rng.below(5) as u8).wrapping_sub(2);
            }
            _ => {}
        }
    }
    input
}
