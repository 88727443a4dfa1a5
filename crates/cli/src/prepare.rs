//! `devwb prepare`: plan the forest preparation from what is there, show it, and apply it, or
//! write it out as LDIF or a PowerShell script. The planning and applying are devwb-prepare's;
//! this module reads arguments, prints and picks the exit status.

use clap::{Args, ValueEnum};
use devwb_model::Dn;
use devwb_prepare::{ErrorKind as PrepareErrorKind, PlanOptions, PrepareRequest};

use crate::args::{parse_domain, ConnectionArgs};
use crate::exit::Exit;
use crate::output::{err_line, out, out_json, out_line};

/// The formats `--emit` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    /// LDIF for OpenLDAP's `ldapmodify -f`.
    Ldif,
    /// A PowerShell script for an enterprise admin (ActiveDirectory module and dsacls).
    Ps1,
}

/// Arguments of `devwb prepare`.
#[derive(Args, Debug)]
pub struct PrepareArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// The domain that receives devices, as a DNS name or a DN (default: the forest root domain).
    #[arg(long, value_parser = parse_domain, value_name = "DOMAIN")]
    pub domain: Option<Dn>,

    /// The account Entra Connect's AD connector uses: `CONTOSO\svc-aadc`, a UPN or a DN.
    #[arg(long, value_name = "ACCOUNT")]
    pub connector_account: String,

    /// Show the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Write the plan to standard output in this format instead of applying it.
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "dry_run")]
    pub emit: Option<Emit>,

    /// Repoint an existing DeviceRegistrationService that devwb did not create and that names
    /// another device container.
    #[arg(long)]
    pub allow_repoint: bool,

    /// Print the plan and outcome as JSON.
    #[arg(long, conflicts_with = "emit")]
    pub json: bool,
}

/// The example shown by `devwb prepare --help`.
pub const EXAMPLES: &str = "\
Examples:
  # See what would change (password from DEVWB_PASSWORD or a prompt):
  devwb prepare --url ldaps://dc1.contoso.lab --bind 'CONTOSO\\admin' \\
      --connector-account 'CONTOSO\\svc-aadc' --dry-run

  # Apply it:
  devwb prepare --url ldaps://dc1.contoso.lab --bind 'CONTOSO\\admin' \\
      --connector-account 'CONTOSO\\svc-aadc'

  # Hand the same change to an enterprise admin as a PowerShell script:
  devwb prepare --url ldaps://dc1.contoso.lab --bind 'CONTOSO\\reader' \\
      --connector-account 'CONTOSO\\svc-aadc' --emit ps1 > prepare.ps1";

#[derive(serde::Serialize)]
struct JsonOutcome<'a> {
    plan: Option<&'a devwb_prepare::Plan>,
    refusal: Option<String>,
    applied: Option<devwb_prepare::Applied>,
    error: Option<String>,
}

/// Runs `devwb prepare`.
pub fn run(args: &PrepareArgs) -> anyhow::Result<Exit> {
    let client = args.connection.connect()?;
    let request = PrepareRequest {
        domain: args.domain.clone(),
        connector: args.connector_account.clone(),
    };
    let observation = match devwb_prepare::observe(&client, &request) {
        Ok(observation) => observation,
        Err(error) => {
            if let PrepareErrorKind::Refused(refusal) = error.kind() {
                return refused(args, refusal.to_string());
            }
            return Err(error.into());
        }
    };
    let plan = match devwb_prepare::plan(
        &observation,
        &PlanOptions {
            allow_repoint: args.allow_repoint,
        },
    ) {
        Ok(plan) => plan,
        Err(refusal) => return refused(args, refusal.to_string()),
    };
    match args.emit {
        Some(Emit::Ldif) => {
            out(&devwb_prepare::render_ldif(&plan));
            return Ok(Exit::Ok);
        }
        Some(Emit::Ps1) => {
            out(&devwb_prepare::render_ps1(&plan));
            return Ok(Exit::Ok);
        }
        None => {}
    }
    if args.dry_run || plan.is_empty() {
        if args.json {
            out_json(&JsonOutcome {
                plan: Some(&plan),
                refusal: None,
                applied: None,
                error: None,
            })?;
        } else {
            out(&plan.to_string());
            if plan.is_empty() {
                out_line("The forest is prepared: nothing to do.");
            } else {
                out_line("Dry run: nothing was changed.");
            }
        }
        return Ok(Exit::Ok);
    }
    if !args.json {
        out(&plan.to_string());
    }
    apply_plan(&client, &plan, args.json)
}

/// Applies `plan` and reports it. (`verify --fix` applies its plan itself: its JSON reports the
/// verification before and after, not this outcome.)
fn apply_plan(
    client: &devwb_ldap::Client,
    plan: &devwb_prepare::Plan,
    json: bool,
) -> anyhow::Result<Exit> {
    match devwb_prepare::apply(client, plan) {
        Ok(applied) => {
            if json {
                out_json(&JsonOutcome {
                    plan: Some(plan),
                    refusal: None,
                    applied: Some(applied),
                    error: None,
                })?;
            } else {
                out_line(&format!("Applied {} step(s).", applied.steps));
            }
            Ok(Exit::Ok)
        }
        Err(error) if matches!(error.kind(), PrepareErrorKind::Step { .. }) => {
            let error = anyhow::Error::from(error);
            let chain = format!("{error:#}");
            if json {
                out_json(&JsonOutcome {
                    plan: Some(plan),
                    refusal: None,
                    applied: None,
                    error: Some(chain),
                })?;
            } else {
                err_line(&format!("error: {chain}"));
            }
            Ok(Exit::ApplyFailed)
        }
        Err(error) => Err(error.into()),
    }
}

fn refused(args: &PrepareArgs, refusal: String) -> anyhow::Result<Exit> {
    if args.json {
        out_json(&JsonOutcome {
            plan: None,
            refusal: Some(refusal),
            applied: None,
            error: None,
        })?;
    } else {
        err_line(&format!("prepare refused: {refusal}"));
    }
    Ok(Exit::Failed)
}
