//! `devwb demo`: the whole story on this machine, with nothing to install. It starts a simulated
//! AD forest and a fake Entra tenant in this process (devwb-simulator: LDAPS and Microsoft Graph
//! over HTTPS on 127.0.0.1), creates a connector account, prepares the forest, runs `devwb sync
//! --once` for a full round from the tenant (seeded with the sample export compiled into the
//! binary, testdata/graph/sample-devices.json), then changes the tenant (a new device, a disabled
//! one, a deleted one) and runs one delta round that brings AD up to date, runs verify, and says
//! where to look. The sync rounds are the real `devwb sync`, parsed from a command line.
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
use devwb_simulator::entra::{EntraHandle, EntraTenant};
use devwb_simulator::{SimHandle, Simulator};
use devwb_verify::{CollectOptions, Expected, Outcome, RenderOptions};
use devwb_writeback::{desired_device_ids, discover};

use crate::exit::Exit;
use crate::output::{out, out_line, stdout_is_terminal};
use crate::sync::SyncArgs;

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

    // The client trusts the certificate in memory; the file is for the commands shown to the user.
    let options =
        ConnectOptions::new(&sim.ldaps_url())?.with_ca_pem(sim.certificate_pem().as_bytes())?;
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
    let work = DemoDir::create()?;
    let client_secret = demo_password();
    let tenant = start_tenant(&sim, &client_secret)?;
    out_line(&format!(
        "4. Started a fake Entra tenant {} at {} holding the bundled sample (50 devices).",
        tenant.tenant_id(),
        tenant.url()
    ));
    let sync = SyncCommand::new(
        &sim,
        &tenant,
        &ca_file,
        &work,
        &connector_password,
        &client_secret,
    )?;
    out_line("5. devwb sync --once: the first round reads the whole tenant and writes back what is in scope:");
    let full_exit = sync.round()?;

    // Changes in the tenant: a new device, a disabled one, a deleted one.
    let written = written_devices(&admin, &target.container)?;
    let (Some(disabled), Some(deleted)) = (written.first(), written.get(1)) else {
        anyhow::bail!("the sample has fewer than two devices in scope");
    };
    let template = tenant
        .device_json(disabled)
        .context("reading a device of the tenant")?;
    let disabled_name = template["displayName"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let deleted_name = tenant
        .device_json(deleted)
        .and_then(|d| d["displayName"].as_str().map(str::to_owned))
        .unwrap_or_else(|| deleted.clone());
    let added = new_device(template);
    tenant
        .put_device_json(&added)
        .map_err(|e| anyhow::anyhow!("adding a device to the tenant: {e}"))?;
    tenant
        .set_account_enabled(disabled, false)
        .map_err(|e| anyhow::anyhow!("disabling a device in the tenant: {e}"))?;
    tenant
        .delete_device(deleted)
        .map_err(|e| anyhow::anyhow!("deleting a device from the tenant: {e}"))?;
    out_line(&format!(
        "6. In the tenant: added {}, disabled {}, deleted {}.",
        added["displayName"].as_str().unwrap_or_default(),
        disabled_name,
        deleted_name
    ));
    out_line("7. devwb sync --once again: one delta round (Graph devices/delta) carries exactly those changes to AD:");
    let delta_exit = sync.round()?;

    let graph = sync.args.graph.client()?;
    let listing = crate::graph::DeviceListing::start(&graph);
    out_line("8. Verify (devwb verify), every check of Microsoft's troubleshooting list plus the device comparison with the tenant:");
    let desired = desired_device_ids(&listing.source, &target.scope);
    listing.finish().context("listing the tenant")?;
    let expected = Expected {
        devices: Some(desired?),
        invocation: None,
    };
    let observed = devwb_verify::collect(
        &admin,
        &CollectOptions {
            domain: None,
            connector_account: Some(connector_name.clone()),
            connector_password: Some(Password::new(connector_password.clone())),
            read_devices: true,
        },
    )
    .context("collecting what verify checks")?;
    let verdict = devwb_verify::run(&observed, &expected);
    out(&indent(&devwb_verify::render(
        &verdict,
        RenderOptions {
            colour: stdout_is_terminal(),
        },
    )));

    out_line(
        "\nDone: the tenant's devices in scope are in AD, and each change reached it in one delta round. \
         The 4 skipped devices are out of scope (3 owners in another forest, 1 without a usable key); \
         `devwb writeback --tenant ... --dry-run` names each with its reason.",
    );
    out_line("Where to look next: README.md, docs/cli.md; against your own forest and tenant: `devwb prepare`, `devwb sync --tenant ... --client-id ...`, `devwb verify`.");
    let exit = match (full_exit, delta_exit, verdict.outcome) {
        (Exit::Ok, Exit::Ok, Outcome::Passed) => Exit::Ok,
        _ => Exit::Failed,
    };
    drop(tenant);
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

/// A directory for the demo's files (CA certificate copy, secrets, sync state, undo files),
/// removed when the demo ends.
struct DemoDir(PathBuf);

impl DemoDir {
    fn create() -> anyhow::Result<DemoDir> {
        let path = std::env::temp_dir().join(format!("devwb-demo-{}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(DemoDir(path))
    }

    /// Writes a private file (the secrets) and returns its path.
    fn write(&self, name: &str, text: &str) -> anyhow::Result<PathBuf> {
        let path = self.0.join(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        std::io::Write::write_all(&mut file, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

impl Drop for DemoDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The fake tenant, with the demo's app and the bundled sample (its owners moved into the demo
/// forest's domain, as the sample's text is written for another SID).
fn start_tenant(sim: &SimHandle, client_secret: &str) -> anyhow::Result<EntraHandle> {
    let sample = SAMPLE.replace(SAMPLE_DOMAIN_SID, &sim.domain_sid().to_string());
    let page: serde_json::Value =
        serde_json::from_str(&sample).context("reading the bundled sample")?;
    let mut builder = EntraTenant::builder()
        .tls(sim.tls_material().clone())
        .client_secret(devwb_simulator::entra::DEFAULT_CLIENT_ID, client_secret);
    for device in page["value"].as_array().into_iter().flatten() {
        builder = builder.device(device.clone());
    }
    builder
        .start_blocking()
        .map_err(|e| anyhow::anyhow!("starting the fake Entra tenant: {e}"))
}

/// `devwb sync --once` against the demo's forest and tenant, as the connector account.
struct SyncCommand {
    args: SyncArgs,
}

#[derive(clap::Parser)]
struct SyncCommandLine {
    #[command(flatten)]
    sync: SyncArgs,
}

impl SyncCommand {
    fn new(
        sim: &SimHandle,
        tenant: &EntraHandle,
        ca_file: &std::path::Path,
        work: &DemoDir,
        connector_password: &str,
        client_secret: &str,
    ) -> anyhow::Result<SyncCommand> {
        use clap::Parser as _;
        let password_file = work.write("connector.pw", &format!("{connector_password}\n"))?;
        let secret_file = work.write("client.secret", &format!("{client_secret}\n"))?;
        let path = |p: &std::path::Path| p.display().to_string();
        let line = [
            "sync".to_owned(),
            "--url".to_owned(),
            sim.ldaps_url(),
            "--ca-file".to_owned(),
            path(ca_file),
            "--bind".to_owned(),
            format!("{CONNECTOR}@{FOREST}"),
            "--password-file".to_owned(),
            path(&password_file),
            "--tenant".to_owned(),
            tenant.tenant_id().to_owned(),
            "--client-id".to_owned(),
            devwb_simulator::entra::DEFAULT_CLIENT_ID.to_owned(),
            "--client-secret-file".to_owned(),
            path(&secret_file),
            "--authority".to_owned(),
            tenant.url(),
            "--graph-url".to_owned(),
            tenant.url(),
            "--graph-ca-file".to_owned(),
            path(ca_file),
            "--state-dir".to_owned(),
            path(&work.0.join("sync")),
            "--undo-dir".to_owned(),
            path(&work.0.join("undo")),
            "--once".to_owned(),
        ];
        let parsed = SyncCommandLine::try_parse_from(line)
            .map_err(|e| anyhow::anyhow!("the demo's sync command line: {e}"))?;
        Ok(SyncCommand { args: parsed.sync })
    }

    /// One round, its lines indented under the step.
    fn round(&self) -> anyhow::Result<Exit> {
        crate::sync::run(&self.args)
    }
}

/// The Entra object ids of the devices written back into `container` (their
/// `msDS-CloudAnchor` is `Device_<object id>`), sorted.
fn written_devices(admin: &Client, container: &devwb_model::Dn) -> anyhow::Result<Vec<String>> {
    let entries = admin
        .search(
            container,
            devwb_ldap::Scope::OneLevel,
            "(objectClass=msDS-Device)",
            &["msDS-CloudAnchor"],
        )
        .context("reading the device container")?;
    let mut ids: Vec<String> = entries
        .iter()
        .filter_map(|entry| entry.first_str("msDS-CloudAnchor"))
        .filter_map(|anchor| anchor.strip_prefix("Device_").map(str::to_owned))
        .collect();
    ids.sort();
    Ok(ids)
}

/// A device that joins the tenant: the template's owner and key, new ids and name.
fn new_device(mut device: serde_json::Value) -> serde_json::Value {
    device["id"] = "0de40000-0000-4000-8000-000000000001".into();
    device["deviceId"] = "0de40000-0000-4000-8000-0000000000d1".into();
    device["displayName"] = "DEMO-NEW-LAPTOP".into();
    device
}
