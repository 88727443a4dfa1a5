//! `adsim`: the simulator as a standalone server. Prints one line per listener with its URL
//! and the admin DN, serves until SIGINT (Ctrl-C) or SIGTERM, and optionally loads an LDIF seed
//! at start and dumps the directory as LDIF on exit (passwords included, see
//! `SimHandle::dump_ldif`). Errors are one line on stderr; exit status 2 for a wrong argument
//! or a file it names (missing, unreadable, not valid LDIF, refused by the directory), 1 for
//! anything else. It does not daemonise or reload: a restart with `--seed` of a dump does that.
//! With `--entra`, it also serves a fake Entra tenant (token endpoint and Microsoft Graph) over
//! HTTPS with the same certificate.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use devwb_model::SchemaLevel;
use devwb_simulator::{SimError, Simulator};

/// mimalloc rather than glibc's allocator, as the `devwb` binary: a paged search allocates and
/// frees many small buffers per entry, and glibc's allocator took about a third of adsim's CPU
/// serving one (perf: `_int_malloc`, `_int_free`, `malloc_consolidate`, `unlink_chunk`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An LDAP server that behaves like an Active Directory domain controller.
#[derive(Debug, Parser)]
#[command(
    name = "adsim",
    version,
    after_help = "Exit status: 0 after SIGINT or SIGTERM, 2 for a wrong argument or a file it names, 1 otherwise."
)]
struct Args {
    /// The forest's DNS name.
    #[arg(long, default_value = "contoso.lab")]
    forest: String,
    /// Schema level: 2008r2, 2012, 2012r2, 2016, 2019, 2025.
    #[arg(long, default_value = "2016")]
    schema_level: String,
    /// Plain LDAP listener address.
    #[arg(long, default_value = "127.0.0.1:3389")]
    listen: SocketAddr,
    /// LDAPS listener address.
    #[arg(long, default_value = "127.0.0.1:3636")]
    ldaps: SocketAddr,
    /// Turn the plain LDAP listener off (the root domain's DC; other DCs and the global
    /// catalog given without addresses too).
    #[arg(long)]
    no_plain: bool,
    /// Another domain of the forest, repeatable: a child domain (`emea.contoso.lab`) or a new
    /// tree (`fabrikam.lab`). `NAME=LDAP_ADDR,LDAPS_ADDR` puts its DC there; without `=...`
    /// on free ports of 127.0.0.1.
    #[arg(long = "domain", value_name = "NAME[=LDAP_ADDR,LDAPS_ADDR]")]
    domains: Vec<String>,
    /// The global catalog's listeners (AD's 3268 and 3269). Without it, a forest with
    /// --domain gets one on free ports of 127.0.0.1, a single-domain forest none.
    #[arg(long, value_name = "LDAP_ADDR,LDAPS_ADDR")]
    gc: Option<String>,
    /// The Administrator's password (generated and printed when absent).
    #[arg(long, env = "ADSIM_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Accept simple binds without TLS.
    #[arg(long)]
    allow_plain_bind: bool,
    /// Certificate chain (PEM) for LDAPS and StartTLS; a self-signed one is generated otherwise.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// An LDIF FILE of entries loaded at start (content and change records; a --dump file
    /// loads back with its passwords). Repeatable. Not a number: see --id-seed.
    #[arg(long, value_name = "LDIF_FILE")]
    seed: Vec<PathBuf>,
    /// LDIF file the whole directory is written to on exit, passwords included (so that
    /// --seed gives it back): the file is created readable by its owner only.
    #[arg(long, value_name = "LDIF_FILE")]
    dump: Option<PathBuf>,
    /// A NUMBER that makes generated GUIDs, SIDs and the admin password repeatable from run to
    /// run. Not a file: an LDIF file of entries is --seed.
    #[arg(long, value_name = "NUMBER")]
    id_seed: Option<u64>,
    /// A fault to inject, repeatable: `;`-separated `op=add,modify`, `dn=<subtree>`,
    /// `p=<fraction>` and one action `latency=<ms>`, `code=busy|unavailable|unwillingToPerform|<n>`
    /// or `drop`. Example: `op=add;p=0.1;code=busy`.
    #[arg(long = "fault", value_name = "RULE")]
    faults: Vec<String>,
    /// Seed of the faults' probabilistic decisions.
    #[arg(long, default_value_t = 0)]
    fault_seed: u64,
    /// Close each connection after it has sent this many operations.
    #[arg(long)]
    drop_after_ops: Option<u64>,
    /// Close a connection in the middle of a search after this many entries.
    #[arg(long)]
    drop_search_after: Option<u64>,
    /// Refuse every new connection (accept and close at once).
    #[arg(long)]
    refuse_connections: bool,
    /// The DC of this domain (DNS or NetBIOS name, the root's too) refuses every new
    /// connection while the others serve: a domain controller that is down. Repeatable.
    #[arg(long = "refuse-domain", value_name = "NAME")]
    refuse_domains: Vec<String>,
    /// Write the TLS certificate (PEM) of LDAPS and the Entra listener here, for clients that
    /// verify it (`curl --cacert`, `devwb --graph-ca-file`, `--ca-file`).
    #[arg(long, value_name = "FILE")]
    write_cert: Option<PathBuf>,
    /// Serve a fake Entra tenant (token endpoint and Microsoft Graph) over HTTPS here.
    #[arg(long, value_name = "ADDR")]
    entra: Option<SocketAddr>,
    /// The fake tenant's id.
    #[arg(long, default_value = devwb_simulator::entra::DEFAULT_TENANT_ID, requires = "entra")]
    entra_tenant: String,
    /// The client id of the app registered in the fake tenant.
    #[arg(long, default_value = devwb_simulator::entra::DEFAULT_CLIENT_ID, requires = "entra")]
    entra_client_id: String,
    /// A file holding the app's client secret (or set ADSIM_ENTRA_CLIENT_SECRET). Without a
    /// secret or certificate, one is generated and printed.
    #[arg(long, value_name = "FILE", requires = "entra")]
    entra_client_secret_file: Option<PathBuf>,
    /// A certificate (PEM, RSA) registered on the app for client assertions; repeatable.
    #[arg(long, value_name = "FILE", requires = "entra")]
    entra_client_cert: Vec<PathBuf>,
    /// Seed this many synthetic devices, owned by users of the forest's root domain.
    #[arg(long, default_value_t = 0, requires = "entra")]
    entra_devices: u64,
    /// The synthetic generator's seed (same seed as `cargo xtask gen-devices --seed`, same devices).
    #[arg(long, default_value_t = 1, requires = "entra")]
    entra_device_seed: u64,
    /// Access tokens' lifetime in seconds.
    #[arg(long, default_value_t = 3599, requires = "entra")]
    entra_token_lifetime: u64,
    /// A Graph-side fault, repeatable: `;`-separated `route=token,devices,delta,device,users`,
    /// `p=<fraction>` or `next=<n>`, and one action `status=429` (`retry-after=<s>`),
    /// `status=503`, `latency=<ms>`, `drop`, `expire=delta-token` or `expire=access-token`.
    #[arg(long = "entra-fault", value_name = "RULE", requires = "entra")]
    entra_faults: Vec<String>,
    /// Seed of the Graph faults' probabilistic decisions.
    #[arg(long, default_value_t = 0, requires = "entra")]
    entra_fault_seed: u64,
}

/// One `--domain`.
#[derive(Clone, Debug)]
struct DomainArg {
    name: String,
    addresses: Option<(SocketAddr, SocketAddr)>,
}

/// `LDAP_ADDR,LDAPS_ADDR`.
fn parse_address_pair(text: &str) -> Result<(SocketAddr, SocketAddr), String> {
    let (plain, ldaps) = text.split_once(',').ok_or_else(|| {
        format!("{text:?} is not LDAP_ADDR,LDAPS_ADDR (two addresses, a comma between)")
    })?;
    let address = |part: &str| {
        part.trim().parse::<SocketAddr>().map_err(|e| {
            format!(
                "{:?} is not an address such as 127.0.0.1:3268: {e}",
                part.trim()
            )
        })
    };
    Ok((address(plain)?, address(ldaps)?))
}

/// `NAME` or `NAME=LDAP_ADDR,LDAPS_ADDR`.
fn parse_domain(text: &str) -> Result<DomainArg, String> {
    let (name, addresses) = match text.split_once('=') {
        Some((name, pair)) => (name, Some(parse_address_pair(pair)?)),
        None => (text, None),
    };
    let name = name.trim();
    if name.is_empty() || !name.contains('.') {
        return Err(format!(
            "{name:?} is not a domain DNS name such as emea.contoso.lab"
        ));
    }
    Ok(DomainArg {
        name: name.to_string(),
        addresses,
    })
}

/// Why adsim stopped with an error: the exit status says which kind.
enum Failure {
    /// A wrong argument or a file it names (exit 2).
    Usage(anyhow::Error),
    /// Anything else (exit 1).
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        Failure::Other(error)
    }
}

/// The error and its causes on one line, each cause once (a message that already quotes its
/// cause is not followed by it again).
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}

#[allow(clippy::print_stderr)]
fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(error)) => {
            eprintln!("adsim: {}", one_line(&error));
            ExitCode::from(2)
        }
        Err(Failure::Other(error)) => {
            eprintln!("adsim: {}", one_line(&error));
            ExitCode::from(1)
        }
    }
}

/// SIGINT and SIGTERM, listened for from before the listener lines are printed: a script
/// that stops adsim as soon as it has read them must not kill it before it can dump.
struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn listen() -> anyhow::Result<StopSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(StopSignals {
                interrupt: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
                terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(StopSignals {})
        }
    }

    /// Waits for either; returns which.
    async fn wait(&mut self) -> anyhow::Result<&'static str> {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => Ok("SIGINT"),
                _ = self.terminate.recv() => Ok("SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c()
                .await
                .context("cannot wait for Ctrl-C")?;
            Ok("Ctrl-C")
        }
    }
}

/// Writes the dump readable by its owner only: it holds the accounts' passwords.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    // The mode above applies to a new file only: an existing one is made private too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Prints a line on stdout. Whoever started adsim may have stopped reading it: that is no
/// reason to fail (println! would panic on the broken pipe, before the dump is reported).
fn say(line: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

fn run(args: Args) -> Result<(), Failure> {
    let usage = Failure::Usage;
    let level: SchemaLevel = args
        .schema_level
        .parse()
        .map_err(|e| usage(anyhow::anyhow!("--schema-level {}: {e}", args.schema_level)))?;
    let mut builder = Simulator::builder()
        .forest(&args.forest)
        .schema_level(level)
        .listen((!args.no_plain).then_some(args.listen))
        .ldaps(Some(args.ldaps))
        .allow_plain_bind(args.allow_plain_bind);
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let domains = args
        .domains
        .iter()
        .map(|text| parse_domain(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| usage(anyhow::anyhow!("--domain {e}")))?;
    let gc = args
        .gc
        .as_deref()
        .map(parse_address_pair)
        .transpose()
        .map_err(|e| usage(anyhow::anyhow!("--gc {e}")))?;
    for domain in &domains {
        let (plain, ldaps) = match domain.addresses {
            Some((plain, ldaps)) => (Some(plain), ldaps),
            None => ((!args.no_plain).then_some(loopback), loopback),
        };
        builder = builder.domain_listeners(&domain.name, plain, Some(ldaps));
    }
    if let Some((plain, ldaps)) = gc {
        builder = builder.global_catalog(Some(plain), Some(ldaps));
    } else if args.no_plain && !args.domains.is_empty() {
        builder = builder.global_catalog(None, Some(loopback));
    }
    if let Some(password) = &args.admin_password {
        builder = builder.admin_password(password);
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        builder = builder.tls(cert, key);
    }
    for seed in &args.seed {
        builder = builder.seed_ldif(seed);
    }
    if let Some(seed) = args.id_seed {
        builder = builder.seed(seed);
    }
    let rules = args
        .faults
        .iter()
        .map(|text| devwb_simulator::faults::FaultRule::parse(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| usage(anyhow::anyhow!("--fault {e}")))?;
    builder = builder.faults(devwb_simulator::faults::FaultConfig {
        seed: args.fault_seed,
        rules,
        drop_connection_after: args.drop_after_ops,
        drop_search_after_entries: args.drop_search_after,
        refuse_connections: args.refuse_connections,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let result = runtime.block_on(async move {
        let mut signals = StopSignals::listen()?;
        let sim = builder.start().await.map_err(|error| {
            // The seed, TLS files and forest name are the user's; a port in use or a
            // runtime failure is not.
            let is_usage = matches!(
                error,
                SimError::File { .. }
                    | SimError::Ldif { .. }
                    | SimError::LdifApply { .. }
                    | SimError::ForestName { .. }
                    | SimError::DomainName { .. }
                    | SimError::Tls(_)
            );
            let error = anyhow::Error::new(error).context("cannot start the simulator");
            if is_usage {
                Failure::Usage(error)
            } else {
                Failure::Other(error)
            }
        })?;
        for domain in &args.refuse_domains {
            if !sim.set_dc_refusing(domain, true) {
                return Err(usage(anyhow::anyhow!(
                    "--refuse-domain {domain}: not a domain of the forest {}",
                    sim.forest().names.dns_name
                )));
            }
        }
        print_listeners(&sim);
        if args.admin_password.is_none() {
            say(format_args!("admin password {}", sim.admin_password()));
        }
        if let Some(path) = &args.write_cert {
            std::fs::write(path, sim.certificate_pem())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        let _entra = match args.entra {
            Some(address) => Some(start_entra(&args, address, &sim).await?),
            None => None,
        };
        let signal = signals.wait().await?;
        tracing::info!(signal, "stopping");
        if let Some(path) = &args.dump {
            write_private(path, &sim.dump_ldif())
                .with_context(|| format!("cannot write {}", path.display()))?;
            say(format_args!(
                "dumped {} to {}",
                sim.forest().store.len(),
                path.display()
            ));
        }
        drop(sim);
        Ok::<(), Failure>(())
    });
    // A request still being handled on a worker or blocking thread must not hold the exit:
    // wait a moment for connections to send their notices, then go.
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

/// One line per listener, in a stable format (docs/simulator.md): `ldap  <url> admin <DN>`
/// and `ldaps <url> admin <DN>` per DC, followed by ` domain <dns name>` when the forest has
/// several domains; then `gc    <url> forest <dns name>` and `gcs   <url> forest <dns name>`
/// for the global catalog's plain and LDAPS listeners.
fn print_listeners(sim: &devwb_simulator::SimHandle) {
    let several = sim.domains().len() > 1;
    for domain in sim.domains() {
        let Some(dc) = sim.dc(&domain.dns_name) else {
            continue;
        };
        let suffix = if several {
            format!(" domain {}", domain.dns_name)
        } else {
            String::new()
        };
        if dc.plain.is_some() {
            say(format_args!(
                "ldap  {} admin {}{suffix}",
                dc.ldap_url(),
                domain.admin_dn
            ));
        }
        if dc.ldaps.is_some() {
            say(format_args!(
                "ldaps {} admin {}{suffix}",
                dc.ldaps_url(),
                domain.admin_dn
            ));
        }
    }
    if let Some(gc) = sim.global_catalog() {
        let forest = sim.forest().names.dns_name.as_str();
        if gc.plain.is_some() {
            say(format_args!("gc    {} forest {forest}", gc.ldap_url()));
        }
        if gc.ldaps.is_some() {
            say(format_args!("gcs   {} forest {forest}", gc.ldaps_url()));
        }
    }
}

/// Starts the fake tenant and prints its line (and a generated secret, as for the admin password).
#[allow(clippy::print_stdout)]
async fn start_entra(
    args: &Args,
    address: SocketAddr,
    sim: &devwb_simulator::SimHandle,
) -> anyhow::Result<devwb_simulator::entra::EntraHandle> {
    use devwb_simulator::entra::{EntraTenant, GraphFaultConfig, GraphFaultRule};
    let mut secret = match &args.entra_client_secret_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("--entra-client-secret-file {}", path.display()))?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
        ),
        None => std::env::var("ADSIM_ENTRA_CLIENT_SECRET").ok(),
    };
    if secret.as_deref() == Some("") {
        anyhow::bail!("the Entra client secret (ADSIM_ENTRA_CLIENT_SECRET or --entra-client-secret-file) is empty");
    }
    let generated = secret.is_none() && args.entra_client_cert.is_empty();
    if generated {
        let mut bytes = [0u8; 24];
        rustls::crypto::ring::default_provider()
            .secure_random
            .fill(&mut bytes)
            .map_err(|_| anyhow::anyhow!("no randomness for a client secret"))?;
        secret = Some(format!(
            "adsim~{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ));
    }
    let rules = args
        .entra_faults
        .iter()
        .map(|text| GraphFaultRule::parse(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("--entra-fault {e}"))?;
    let mut builder = EntraTenant::builder()
        .listen(address)
        .tenant_id(&args.entra_tenant)
        .tls(sim.tls_material().clone())
        .token_lifetime(std::time::Duration::from_secs(args.entra_token_lifetime))
        .faults(GraphFaultConfig {
            seed: args.entra_fault_seed,
            rules,
        })
        .synthetic_devices(args.entra_devices, args.entra_device_seed, sim.domain_sid());
    if let Some(secret) = &secret {
        builder = builder.client_secret(&args.entra_client_id, secret);
    }
    for path in &args.entra_client_cert {
        builder = builder.client_certificate_file(&args.entra_client_id, path);
    }
    let tenant = builder
        .start()
        .await
        .context("cannot start the fake Entra tenant")?;
    println!(
        "entra {} tenant {} client {} devices {}",
        tenant.url(),
        tenant.tenant_id(),
        args.entra_client_id.to_ascii_lowercase(),
        tenant.device_count()
    );
    if generated {
        if let Some(secret) = &secret {
            println!("entra client secret {secret}");
        }
    }
    Ok(tenant)
}
