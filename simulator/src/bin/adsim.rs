//! `adsim`: the simulator as a standalone server. Prints one line per listener with its URL
//! and the admin DN, serves until Ctrl-C, and optionally loads an LDIF seed at start and
//! dumps the directory as LDIF on exit. With `--entra`, it also serves a fake Entra tenant
//! (token endpoint and Microsoft Graph) over HTTPS with the same certificate.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use devwb_model::SchemaLevel;
use devwb_simulator::Simulator;

/// An LDAP server that behaves like an Active Directory domain controller.
#[derive(Debug, Parser)]
#[command(name = "adsim", version)]
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
    /// Turn the plain LDAP listener off.
    #[arg(long)]
    no_plain: bool,
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
    /// LDIF file loaded at start (content and change records).
    #[arg(long)]
    seed: Vec<PathBuf>,
    /// LDIF file the directory is written to on exit.
    #[arg(long)]
    dump: Option<PathBuf>,
    /// Seed for deterministic GUIDs and SIDs.
    #[arg(long)]
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

#[allow(clippy::print_stdout)]
fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let level: SchemaLevel = args
        .schema_level
        .parse()
        .map_err(|e| anyhow::anyhow!("--schema-level {}: {e}", args.schema_level))?;
    let mut builder = Simulator::builder()
        .forest(&args.forest)
        .schema_level(level)
        .listen((!args.no_plain).then_some(args.listen))
        .ldaps(Some(args.ldaps))
        .allow_plain_bind(args.allow_plain_bind);
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
        .map_err(|e| anyhow::anyhow!("--fault {e}"))?;
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
    runtime.block_on(async move {
        let sim = builder
            .start()
            .await
            .context("cannot start the simulator")?;
        if !sim.url().is_empty() {
            println!("ldap  {} admin {}", sim.url(), sim.admin_dn());
        }
        println!("ldaps {} admin {}", sim.ldaps_url(), sim.admin_dn());
        if args.admin_password.is_none() {
            println!("admin password {}", sim.admin_password());
        }
        if let Some(path) = &args.write_cert {
            std::fs::write(path, sim.certificate_pem())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        let _entra = match args.entra {
            Some(address) => Some(start_entra(&args, address, &sim).await?),
            None => None,
        };
        tokio::signal::ctrl_c()
            .await
            .context("cannot wait for Ctrl-C")?;
        if let Some(path) = &args.dump {
            std::fs::write(path, sim.dump_ldif())
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("dumped {} to {}", sim.forest().store.len(), path.display());
        }
        drop(sim);
        anyhow::Ok(())
    })
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
