//! `adsim`: the simulator as a standalone server. Prints one line per listener with its URL
//! and the admin DN, serves until Ctrl-C, and optionally loads an LDIF seed at start and
//! dumps the directory as LDIF on exit.

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
