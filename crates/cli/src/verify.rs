//! `devwb verify`: read the forest back, run every check, print the report (or JSON), and with
//! `--fix` turn the failures into a prepare plan, show it and apply it when confirmed.
//!
//! The checks are devwb-verify's and the planning is devwb-prepare's (it plans from the observed
//! state, so a failed check needs no translation: the planner sees the same gap). Deleting a
//! duplicate DeviceRegistrationService is never implied: only the DNs named with
//! `--delete-duplicate` are deleted, and only when they are among the duplicates found.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use devwb_ldap::Client;
use devwb_model::Dn;
use devwb_prepare::PlanOptions;
use devwb_verify::{
    CollectOptions, Expected, Fixable, Invocation, Observed, Outcome, RenderOptions, Report,
};

use crate::args::{parse_domain, read_password_file, ConnectionArgs, DEFAULT_TIMEOUT_SECONDS};
use crate::exit::Exit;
use crate::output::{confirm, err_line, out, out_json, out_line, stdout_is_terminal};

/// Arguments of `devwb verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// The domain that receives devices, as a DNS name or a DN (default: the forest root domain).
    #[arg(long, value_parser = parse_domain, value_name = "DOMAIN")]
    pub domain: Option<Dn>,

    /// The account Entra Connect's AD connector uses; without it the ACE checks can only say
    /// who holds the grants.
    #[arg(long, value_name = "ACCOUNT")]
    pub connector_account: Option<String>,

    /// Also check that the connector account can bind, with the password in this file.
    #[arg(long, value_name = "FILE", requires = "connector_account")]
    pub connector_password_file: Option<PathBuf>,

    /// Also compare the devices in the device container with this Entra export (a Graph
    /// `/devices` page, a directory of pages, or JSON Lines): the devices writeback would write
    /// must be there, and no others.
    #[arg(long, value_name = "EXPORT")]
    pub devices: Option<PathBuf>,

    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,

    /// Turn the failed checks into a preparation plan, show it, and apply it when confirmed.
    #[arg(long, requires = "connector_account")]
    pub fix: bool,

    /// With --fix: apply without asking.
    #[arg(long, requires = "fix")]
    pub yes: bool,

    /// With --fix: let the plan repoint a DeviceRegistrationService devwb did not create.
    #[arg(long, requires = "fix")]
    pub allow_repoint: bool,

    /// With --fix: delete this duplicate DeviceRegistrationService (repeat for each). Only DNs
    /// verify found as duplicates are accepted.
    #[arg(long, value_name = "DN", requires = "fix", value_parser = parse_dn)]
    pub delete_duplicate: Vec<Dn>,
}

fn parse_dn(text: &str) -> Result<Dn, String> {
    Dn::parse(text).map_err(|error| error.to_string())
}

/// The example shown by `devwb verify --help`.
pub const EXAMPLES: &str = "\
Examples:
  # Check a forest against Microsoft's troubleshooting list, for the connector:
  devwb verify --url ldaps://dc1.contoso.lab --bind 'CONTOSO\\admin' \\
      --connector-account 'CONTOSO\\svc-aadc'

  # The same as JSON, also checking the connector's password:
  devwb verify --url ldaps://dc1.contoso.lab --bind 'CONTOSO\\admin' \\
      --connector-account 'CONTOSO\\svc-aadc' \\
      --connector-password-file ./svc-aadc.pw --json

  # Repair what failed, deleting one duplicate configuration object by name:
  devwb verify --url ldaps://dc1.contoso.lab --bind 'CONTOSO\\admin' \\
      --connector-account 'CONTOSO\\svc-aadc' --fix \\
      --delete-duplicate 'CN=DeviceRegistrationService,CN=Device...'";

#[derive(serde::Serialize)]
struct JsonFix<'a> {
    before: &'a Report,
    deleted: Vec<String>,
    plan: Option<&'a devwb_prepare::Plan>,
    refusal: Option<String>,
    applied: bool,
    after: Option<&'a Report>,
}

impl<'a> JsonFix<'a> {
    /// The outcome of a fix that changed nothing.
    fn unchanged(
        before: &'a Report,
        plan: Option<&'a devwb_prepare::Plan>,
        refusal: Option<String>,
    ) -> JsonFix<'a> {
        JsonFix {
            before,
            deleted: Vec::new(),
            plan,
            refusal,
            applied: false,
            after: None,
        }
    }
}

/// Runs `devwb verify`.
pub fn run(args: &VerifyArgs) -> anyhow::Result<Exit> {
    let client = args.connection.connect()?;
    let options = collect_options(args)?;
    let observed = devwb_verify::collect(&client, &options)?;
    let expected = expected(args, &observed)?;
    let report = devwb_verify::run(&observed, &expected);
    if !args.fix {
        show(&report, args.json)?;
        return Ok(exit_for(&report));
    }
    fix(args, &client, &options, observed, report)
}

fn collect_options(args: &VerifyArgs) -> anyhow::Result<CollectOptions> {
    let connector_password = match &args.connector_password_file {
        Some(path) => Some(read_password_file(path).context("--connector-password-file")?),
        None => None,
    };
    Ok(CollectOptions {
        domain: args.domain.clone(),
        connector_account: args.connector_account.clone(),
        connector_password,
        read_devices: args.devices.is_some(),
    })
}

/// What the user expects beyond the directory: the device ids writeback would write from the
/// export given with `--devices`, scoped to this forest as writeback scopes them.
fn expected(args: &VerifyArgs, observed: &Observed) -> anyhow::Result<Expected> {
    let Some(path) = &args.devices else {
        return Ok(Expected::default());
    };
    let forest = &observed.forest;
    // The crossRefs' domain SIDs, and the two the observation read directly in case the
    // crossRefs' heads were not readable; each once (dedup() would only drop adjacent repeats).
    let mut domain_sids: Vec<devwb_model::Sid> = Vec::new();
    let known = forest.forest.domains.iter().filter_map(|domain| domain.sid);
    for sid in known.chain(forest.domain_sid).chain(forest.root_domain_sid) {
        if !domain_sids.contains(&sid) {
            domain_sids.push(sid);
        }
    }
    let schema_level = forest
        .schema
        .object_version
        .and_then(devwb_model::SchemaLevel::from_object_version)
        .unwrap_or(devwb_model::SchemaLevel::MINIMUM_FOR_DEVICE_WRITEBACK);
    let scope = devwb_writeback::ForestScope {
        domain_sids,
        schema_level,
    };
    let source = devwb_writeback::DeviceSource::open(path)
        .with_context(|| format!("--devices {}", path.display()))?;
    let devices = devwb_writeback::desired_device_ids(&source, &scope)
        .with_context(|| format!("reading --devices {}", path.display()))?;
    Ok(Expected {
        devices: Some(devices),
        invocation: Some(invocation(&args.connection, path)),
    })
}

/// The options of this run that `devwb writeback` needs to reach the same directory the same
/// way, for the devices-match remedy. The password itself never: `--password-file` names a
/// file, and a password given otherwise is asked for or read from DEVWB_PASSWORD again.
fn invocation(connection: &ConnectionArgs, export: &Path) -> Invocation {
    let mut options: Vec<(String, Option<String>)> = Vec::new();
    let mut flag = |name: &str, value: Option<String>| options.push((name.to_string(), value));
    if connection.starttls {
        flag("--starttls", None);
    }
    if connection.plain_ldap_insecure {
        flag("--plain-ldap-insecure", None);
    }
    if let Some(ca_file) = &connection.ca_file {
        flag("--ca-file", Some(ca_file.display().to_string()));
    }
    if connection.insecure_skip_verify {
        flag("--insecure-skip-verify", None);
    }
    if let Some(password_file) = &connection.password_file {
        flag("--password-file", Some(password_file.display().to_string()));
    }
    if connection.timeout != DEFAULT_TIMEOUT_SECONDS {
        flag("--timeout", Some(connection.timeout.to_string()));
    }
    Invocation {
        url: connection.url.clone(),
        bind: connection.bind.clone(),
        connection_options: options,
        export: Some(export.display().to_string()),
    }
}

fn show(report: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        out_json(report)
    } else {
        out(&devwb_verify::render(
            report,
            RenderOptions {
                colour: stdout_is_terminal(),
            },
        ));
        Ok(())
    }
}

fn exit_for(report: &Report) -> Exit {
    match report.outcome {
        Outcome::Passed => Exit::Ok,
        Outcome::Failed => Exit::Failed,
    }
}

fn fix(
    args: &VerifyArgs,
    client: &Client,
    options: &CollectOptions,
    observed: Observed,
    before: Report,
) -> anyhow::Result<Exit> {
    if !args.json {
        show(&before, false)?;
    }
    if before.outcome == Outcome::Passed && args.delete_duplicate.is_empty() {
        if args.json {
            out_json(&JsonFix::unchanged(&before, None, None))?;
        } else {
            out_line("Nothing to fix.");
        }
        return Ok(Exit::Ok);
    }

    // 1. Duplicates: only those named, and only if verify found them as duplicates.
    let duplicates = duplicate_services(&observed);
    for dn in &args.delete_duplicate {
        if !duplicates.contains(dn) {
            bail!(
                "--delete-duplicate {dn}: not one of the duplicate DeviceRegistrationService objects found ({})",
                if duplicates.is_empty() { "none".to_string() } else { join(&duplicates) }
            );
        }
    }
    let unnamed: Vec<&Dn> = duplicates
        .iter()
        .filter(|dn| !args.delete_duplicate.contains(dn))
        .collect();
    if !unnamed.is_empty() && !args.json {
        err_line(&format!(
            "Duplicates are never deleted without being named: pass --delete-duplicate for each of {} to delete it.",
            // Quoted for pasting: a DN from the directory may hold `$(...)` or quotes.
            unnamed.iter().map(|dn| devwb_model::powershell::quoted(&dn.to_string())).collect::<Vec<_>>().join(", ")
        ));
    }

    // 2. The plan, from the state the deletions would leave.
    let mut forest = observed.forest;
    forest
        .registration_services
        .retain(|service| !args.delete_duplicate.contains(&service.dn));
    let plan = devwb_prepare::plan(
        &forest,
        &PlanOptions {
            allow_repoint: args.allow_repoint,
        },
    );
    let (plan, refusal) = match plan {
        Ok(plan) => (Some(plan), None),
        Err(refusal) => (None, Some(refusal.to_string())),
    };
    if !args.json {
        if !args.delete_duplicate.is_empty() {
            out_line("Delete:");
            for dn in &args.delete_duplicate {
                out_line(&format!("  {dn}"));
            }
        }
        match (&plan, &refusal) {
            (Some(plan), _) if !plan.is_empty() => out(&plan.to_string()),
            (Some(_), _) => out_line("Prepare plans no change."),
            (None, Some(refusal)) => err_line(&format!("prepare refused: {refusal}")),
            (None, None) => {}
        }
    }
    let changes = args.delete_duplicate.len() + plan.as_ref().map_or(0, |plan| plan.steps.len());
    let unfixable: Vec<&str> = before
        .failures()
        .filter(|check| check.fixable == Fixable::No)
        .map(|check| check.id.as_str())
        .collect();
    if !unfixable.is_empty() && !args.json {
        err_line(&format!(
            "Not fixable by devwb (see their remedies): {}",
            unfixable.join(", ")
        ));
    }
    if changes == 0 || refusal.is_some() {
        if args.json {
            out_json(&JsonFix::unchanged(&before, plan.as_ref(), refusal))?;
        }
        return Ok(exit_for(&before));
    }

    // 3. Confirmation.
    if !args.yes && !confirm(&format!("Apply these {changes} change(s)?"))? {
        if args.json {
            out_json(&JsonFix::unchanged(&before, plan.as_ref(), refusal))?;
        } else {
            err_line("Not confirmed: nothing was changed.");
        }
        return Ok(Exit::Failed);
    }

    // 4. Apply: deletions first (the planner assumed them), then the plan.
    let mut deleted = Vec::new();
    for dn in &args.delete_duplicate {
        client
            .delete(dn)
            .with_context(|| format!("deleting the duplicate {dn}"))?;
        if !args.json {
            out_line(&format!("Deleted {dn}."));
        }
        deleted.push(dn.to_string());
    }
    let mut applied = false;
    if let Some(plan) = plan.as_ref().filter(|plan| !plan.is_empty()) {
        match devwb_prepare::apply(client, plan) {
            Ok(done) => {
                applied = true;
                if !args.json {
                    out_line(&format!("Applied {} step(s).", done.steps));
                }
            }
            Err(error) => {
                err_line(&format!("error: {:#}", anyhow::Error::from(error)));
                return Ok(Exit::ApplyFailed);
            }
        }
    }

    // 5. Verify again: the verdict is the forest's state after the fix.
    let after = devwb_verify::collect(client, options)?;
    let expected = expected(args, &after)?;
    let after = devwb_verify::run(&after, &expected);
    if args.json {
        out_json(&JsonFix {
            before: &before,
            deleted,
            plan: plan.as_ref(),
            refusal,
            applied,
            after: Some(&after),
        })?;
    } else {
        out_line("\nAfter the fix:");
        show(&after, false)?;
    }
    Ok(exit_for(&after))
}

/// The DeviceRegistrationService objects other than the one verify keeps.
fn duplicate_services(observed: &Observed) -> Vec<Dn> {
    if observed.registration_services().len() < 2 {
        return Vec::new();
    }
    let keep = observed.primary_service().map(|service| service.dn.clone());
    observed
        .registration_services()
        .iter()
        .filter(|service| Some(&service.dn) != keep.as_ref())
        .map(|service| service.dn.clone())
        .collect()
}

fn join(dns: &[Dn]) -> String {
    dns.iter()
        .map(|dn| dn.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}
