//! `devwb demo`: the whole story on this machine, with nothing to install. It starts a simulated
//! AD forest in this process (devwb-simulator, over real LDAPS on 127.0.0.1), creates a connector
//! account, prepares the forest, writes back a sample Graph export that is compiled into the
//! binary (testdata/graph/sample-devices.json), runs verify, and says where to look.
//!
//! The sample's owners are users of an on-premises domain whose SID the sample writes as
//! [`SAMPLE_DOMAIN_SID`]; the demo forest gets a fresh domain SID, so the sample's text is
//! rewritten to it before reading (three devices whose owners are in another forest, and one
//! device without a usable key, stay as they are and are skipped with their reasons).

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;
use devwb_ldap::{Client, ConnectOptions, Credentials, Password};
use devwb_model::SchemaLevel;
use devwb_simulator::{SimHandle, Simulator};
use devwb_verify::{CollectOptions, Expected, Outcome, RenderOptions};
use devwb_writeback::apply::{desired_device_ids, discover};
use devwb_writeback::{DeviceSource, PlanOptions, SourceFormat, WritebackOptions};

use crate::exit::Exit;
use crate::output::{out, out_line, stdout_is_terminal};
use crate::writeback::Run;

/// The bundled sample export (50 devices), compiled in so the released binary works anywhere.
const SAMPLE: &str = include_str!("../../../testdata/graph/sample-devices.json");
/// The on-premises domain SID the sample's owners belong to (`cargo xtask gen-devices`' default).
pub const SAMPLE_DOMAIN_SID: &str = "S-1-5-21-1004336348-1177238915-682003330";
/// The demo forest.
const FOREST: &str = "contoso.lab";
/// The connector account the demo creates and prepares for.
const CONNECTOR: &str = "svc-aadc";

/// Arguments of `devwb demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Keep the simulated forest running afterwards (until Ctrl-C) and print how to look at it
    /// with ldapsearch.
    #[arg(long)]
    pub keep_running: bool,
}

/// The example shown by `devwb demo --help`.
pub const EXAMPLES: &str = "\
Examples:
  cargo run -p devwb -- demo
  devwb demo --keep-running     # then point ldapsearch at the printed URL";

/// Runs `devwb demo`.
pub fn run(args: &DemoArgs) -> anyhow::Result<Exit> {
    out_line("devwb demo: a simulated AD forest, prepared for device writeback, Entra devices written back, verified.\n");
    let sim = Simulator::builder()
        .forest(FOREST)
        .schema_level(SchemaLevel::W2016)
        .start_blocking()
        .context("starting the simulated forest")?;
    let ca_file = write_ca_file(&sim)?;
    out_line(&format!(
        "1. Started a simulated forest {FOREST} (schema level 2016, domain SID {}) at {}.",
        sim.domain_sid(),
        sim.ldaps_url()
    ));

    let connector_password = demo_password();
    let (connector_dn, connector_sid) = sim
        .add_user(CONNECTOR, &connector_password)
        .context("creating the connector account")?;
    out_line(&format!(
        "2. Created the connector account {connector_dn} ({connector_sid})."
    ));

    let options = ConnectOptions::new(&sim.ldaps_url())?.with_ca_file(&ca_file);
    let admin = Client::connect(
        &options,
        Some(&Credentials::new(
            sim.admin_dn(),
            Password::new(sim.admin_password()),
        )),
    )
    .context("binding as the administrator")?;
    let connector_name = format!("{}\\{CONNECTOR}", sim.netbios_name());
    let request = devwb_prepare::PrepareRequest {
        domain: None,
        connector: connector_name.clone(),
    };
    let observation = devwb_prepare::observe(&admin, &request).context("reading the forest")?;
    let plan = devwb_prepare::plan(&observation, &devwb_prepare::PlanOptions::default())
        .map_err(|refusal| anyhow::anyhow!("prepare refused: {refusal}"))?;
    out_line(&format!(
        "3. Prepared the forest as the administrator (devwb prepare --connector-account '{connector_name}'):"
    ));
    out(&indent(&plan.to_string()));
    let applied = devwb_prepare::apply(&admin, &plan).context("applying the preparation")?;
    out_line(&format!("   Applied {} step(s).", applied.steps));

    let connector = Client::connect(
        &options,
        Some(&Credentials::new(
            format!("{CONNECTOR}@{FOREST}"),
            Password::new(connector_password.clone()),
        )),
    )
    .context("binding as the connector account")?;
    let target = discover(&connector, None).context("finding the device container")?;
    let sample = SAMPLE.replace(SAMPLE_DOMAIN_SID, &sim.domain_sid().to_string());
    let source = DeviceSource::bundled(
        "sample-devices.json (bundled)",
        sample.into_bytes(),
        SourceFormat::GraphPage,
    );
    out_line(&format!(
        "4. Writing back the bundled sample export (50 Entra devices) as the connector account into {}:",
        target.container
    ));
    let run = Run {
        client: &connector,
        target: &target,
        source: &source,
        plan_options: PlanOptions::default(),
        options: &WritebackOptions::default(),
        dry_run: false,
        json: false,
        // The demo's forest lives as long as this process: nothing to restore it into later.
        undo_dir: None,
        confirm_deletes: false,
    };
    let (report, writeback_exit) = run.execute()?;
    let rerun = devwb_writeback::apply::plan(&connector, &target, &source, PlanOptions::default())?;
    out_line(&format!(
        "   A second run would change nothing: {} to add, {} to modify, {} to delete, {} unchanged.",
        rerun.counts.adds, rerun.counts.modifies, rerun.counts.deletes, rerun.counts.unchanged
    ));

    out_line("5. Verify (devwb verify), every check of Microsoft's troubleshooting list plus the device comparison:");
    let expected = Expected {
        devices: Some(desired_device_ids(&source, &target.scope)?),
        invocation: None,
    };
    let collected = devwb_verify::collect(
        &admin,
        &CollectOptions {
            domain: None,
            connector_account: Some(connector_name.clone()),
            connector_password: Some(Password::new(connector_password.clone())),
            read_devices: true,
        },
    )
    .context("collecting what verify checks")?;
    let verdict = devwb_verify::run(&collected.observed, &expected);
    out(&indent(&devwb_verify::render(
        &verdict,
        RenderOptions {
            colour: stdout_is_terminal(),
        },
    )));

    let written = report.map(|r| r.added).unwrap_or(0);
    out_line(&format!(
        "\nDone: {written} devices written back; the skipped ones, on standard error, say why (same-forest rule, no usable key)."
    ));
    out_line("Where to look next: README.md, docs/cli.md; run it against your own forest with `devwb prepare`, `devwb writeback --export <graph export>`, `devwb verify`.");
    let exit = match (writeback_exit, verdict.outcome) {
        (Exit::Ok, Outcome::Passed) => Exit::Ok,
        _ => Exit::Failed,
    };
    if args.keep_running {
        keep_running(&sim, &ca_file, &target.container.to_string());
    } else {
        out_line("Pass --keep-running to keep the forest up and look at it with ldapsearch.");
        let _ = std::fs::remove_file(&ca_file);
    }
    Ok(exit)
}

/// Prints the adsim-style connection lines and an ldapsearch command, then serves until Ctrl-C.
fn keep_running(sim: &SimHandle, ca_file: &std::path::Path, container: &str) -> ! {
    out_line("\nThe forest keeps running until Ctrl-C:");
    out_line(&format!(
        "ldaps {} admin {}",
        sim.ldaps_url(),
        sim.admin_dn()
    ));
    out_line(&format!("admin password {}", sim.admin_password()));
    out_line(&format!("CA certificate {}", ca_file.display()));
    out_line(&format!(
        "Try:\n  LDAPTLS_CACERT={} ldapsearch -H {} -D '{}' -w '{}' -b '{container}' -s one '(objectClass=msDS-Device)' displayName msDS-DeviceOSType msDS-RegisteredOwner",
        ca_file.display(),
        sim.ldaps_url(),
        sim.admin_dn(),
        sim.admin_password()
    ));
    loop {
        // The simulator serves on its own thread; Ctrl-C ends the process.
        std::thread::park();
    }
}

/// Writes the simulator's self-signed certificate where ldapsearch and the client can read it.
fn write_ca_file(sim: &SimHandle) -> anyhow::Result<PathBuf> {
    let path = std::env::temp_dir().join(format!("devwb-demo-{}.pem", std::process::id()));
    std::fs::write(&path, sim.certificate_pem())
        .with_context(|| format!("writing the demo CA certificate to {}", path.display()))?;
    Ok(path)
}

/// A password for the demo's connector account, different every run.
fn demo_password() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("Demo-{nanos:08x}-{}!", std::process::id())
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("   {line}\n")).collect()
}
