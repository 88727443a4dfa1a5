//! The `devwb` binary. Glue only: arguments (clap), output (human and JSON), exit codes.
//!
//! One module per subcommand (`prepare`, `verify`, `writeback`, `sync`, `demo`, each an arm of
//! [`Command`]); the Graph options `writeback` and `sync` share are in `graph`; the connection options all of them share are in
//! `args`, the exit codes in `exit`. Errors print their whole cause chain.

mod args;
mod demo;
mod exit;
mod graph;
mod output;
mod prepare;
mod sync;
mod verify;
mod writeback;

use std::process::ExitCode;

/// mimalloc rather than glibc's allocator: writeback allocates and frees many small buffers
/// (JSON values, LDAP messages), and glibc's spent a quarter of a run's CPU on them (perf:
/// `_int_free`, `malloc_consolidate`); the benches use the same allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

/// Device writeback for Active Directory, in the open: prepare a forest, verify it against
/// Microsoft's troubleshooting list, write Entra devices back.
#[derive(Parser, Debug)]
#[command(name = "devwb", version, about, after_help = exit::HELP)]
struct Cli {
    /// More logs on standard error (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

/// The subcommands. Each arm's arguments live in its module.
#[derive(Subcommand, Debug)]
enum Command {
    /// Prepare a forest for device writeback: the Device Registration objects and the
    /// connector account's ACEs, planned from what is there.
    #[command(after_help = format!("{}\n\n{}", prepare::EXAMPLES, exit::HELP))]
    Prepare(prepare::PrepareArgs),
    /// Check a forest against Microsoft's device writeback troubleshooting list; --fix repairs.
    #[command(after_help = format!("{}\n\n{}", verify::EXAMPLES, exit::HELP))]
    Verify(verify::VerifyArgs),
    /// Write Entra devices (a Microsoft Graph /devices export) into the device container, by
    /// delta: adds, minimal modifies, deletes of devices that left.
    #[command(after_help = format!("{}\n\n{}", writeback::EXAMPLES, exit::HELP))]
    Writeback(writeback::WritebackArgs),
    /// Keep the device container in step with an Entra tenant: a full round, then a delta round
    /// every --interval (Microsoft Graph devices/delta), with durable state.
    #[command(after_help = format!("{}\n\n{}", sync::EXAMPLES, exit::HELP))]
    Sync(sync::SyncArgs),
    /// Run the whole story on a simulated forest in this process: prepare, writeback, verify.
    #[command(after_help = format!("{}\n\n{}", demo::EXAMPLES, exit::HELP))]
    Demo(demo::DemoArgs),
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Logs go to standard error so that standard output stays the result (report, plan, JSON).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match &cli.command {
        Command::Prepare(args) => prepare::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Writeback(args) => writeback::run(args),
        Command::Sync(args) => sync::run(args),
        Command::Demo(args) => demo::run(args),
    };
    match result {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(error) => {
            // `{:#}` prints the whole chain: "connecting to ...: cannot connect to ...: ...".
            output::err_line(&format!("error: {error:#}"));
            if let Some(hint) = hint(&error) {
                output::err_line(&format!("hint: {hint}"));
            }
            ExitCode::from(exit::code_for_error(&error))
        }
    }
}

/// What to do about an error whose remedy is one of our flags. The client crate says why the
/// server's certificate was refused; only the binary knows the flags that change that.
fn hint(error: &anyhow::Error) -> Option<&'static str> {
    use devwb_ldap::CertificateProblem;
    let ldap = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<devwb_ldap::Error>())?;
    Some(match ldap.certificate_problem()? {
        CertificateProblem::Untrusted => {
            "the server's certificate is not signed by a CA this machine trusts: pass the certificate of the CA that issued it (PEM) with --ca-file FILE. For a throwaway lab only, --insecure-skip-verify accepts any certificate."
        }
        CertificateProblem::WrongName => {
            "the server's certificate does not name the host in --url: connect by a name the certificate has (usually the domain controller's DNS name, not an IP address or an alias)."
        }
        CertificateProblem::OutOfDate => {
            "the server's certificate has expired or is not valid yet: renew it on the domain controller, or check this machine's clock."
        }
        // CertificateProblem is non-exhaustive: what it adds later gets the general advice.
        _ => {
            "the server's certificate was refused: check it on the domain controller, and pass its CA's certificate (PEM) with --ca-file FILE."
        }
    })
}
