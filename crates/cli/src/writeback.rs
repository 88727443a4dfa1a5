//! `devwb writeback`: write the devices of a Graph `/devices` export into the forest's device
//! container, by delta. Reading, planning and applying are devwb-writeback's; this module reads
//! arguments, shows progress (a bar on a terminal, plain lines otherwise), prints the plan or
//! the summary, and picks the exit status.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{ArgGroup, Args, ValueEnum};
use devwb_ldap::{ApplyOptions, Client};
use devwb_model::Dn;
use devwb_writeback::undo::{write_undo_file, UndoRecord};
use devwb_writeback::{apply, discover, plan, Target};
use devwb_writeback::{
    DeleteLimit, DeviceSource, PlanOptions, SourceFormat, WritebackOptions, WritebackPlan,
    WritebackProgress, WritebackReport,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::ConnectionArgs;
use crate::exit::Exit;
use crate::graph::{DeviceListing, GraphArgs};
use crate::output::{err_line, out, out_json, out_line};

/// The shapes of an export `--format` can force (the default guesses from the path).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One Graph page: `{"value": [...]}`.
    Json,
    /// One device object a line.
    Jsonl,
    /// A directory of Graph pages, read in `@odata.nextLink` (file name) order.
    Pages,
}

/// Arguments of `devwb writeback`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("devices").required(true).args(["export", "tenant"])))]
pub struct WritebackArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// The Graph `/devices` export: a JSON page, a `.jsonl` file, or a directory of pages.
    /// Or read the tenant live with --tenant.
    #[arg(long, value_name = "PATH")]
    pub export: Option<PathBuf>,

    #[command(flatten)]
    pub graph: GraphArgs,

    /// The export's shape (default: a directory is pages, `.jsonl`/`.ndjson` is JSON Lines,
    /// anything else one page).
    #[arg(long, value_enum, value_name = "FORMAT", requires = "export")]
    pub format: Option<ExportFormat>,

    /// A Graph `/users` export (`id`, `onPremisesSecurityIdentifier`) resolving owners that the
    /// device export names only by id.
    #[arg(long, value_name = "PATH", requires = "export")]
    pub users: Option<PathBuf>,

    /// The device container (default: what the DeviceRegistrationService's msDS-DeviceLocation
    /// names).
    #[arg(long, value_name = "DN", value_parser = parse_dn)]
    pub container: Option<Dn>,

    /// Print the plan as LDIF (or, with --json, its summary) and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Keep device objects whose device left Entra or left scope.
    #[arg(long)]
    pub no_delete: bool,

    /// The most device objects one run may delete: a number, or `none` for no limit. Over it,
    /// the run applies its adds and modifies, deletes nothing and exits with 5. Default: 500, or
    /// 10% of the devices writeback owns in the container (at least 10), whichever is smaller.
    #[arg(long, value_name = "N|none")]
    pub max_deletes: Option<DeleteLimit>,

    /// Where the undo file of each run goes: every object a run deletes, and the previous values
    /// of every attribute it modifies, as LDIF for `ldapmodify -a -f`, written before the first
    /// change. Default: $XDG_STATE_HOME/devwb/undo (~/.local/state/devwb/undo).
    #[arg(long, value_name = "DIR")]
    pub undo_dir: Option<PathBuf>,

    /// Do not ask before deleting (on a terminal a run that deletes asks first; without a
    /// terminal it never asks, and --max-deletes is the guard).
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Print counts, every skipped device and bad record with its reason, and the outcome as JSON.
    #[arg(long)]
    pub json: bool,

    /// Connections used to apply.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub connections: usize,

    /// Operations outstanding at once on each connection.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub in_flight: usize,
}

fn parse_dn(text: &str) -> Result<Dn, String> {
    Dn::parse(text).map_err(|e| e.to_string())
}

/// The examples shown by `devwb writeback --help`.
pub const EXAMPLES: &str = "\
Examples:
  # Export the devices with their owners (Microsoft Graph, Device.Read.All), then see the delta:
  #   GET /v1.0/devices?$expand=registeredOwners($select=id,onPremisesSecurityIdentifier)
  devwb writeback --url ldaps://dc1.contoso.lab --bind 'CONTOSO\\svc-aadc' \\
      --export devices.json --dry-run

  # Apply it as the connector account (password from DEVWB_PASSWORD or a prompt):
  devwb writeback --url ldaps://dc1.contoso.lab --bind 'CONTOSO\\svc-aadc' --export devices.json

  # A directory of saved pages, owners from a users export, never delete:
  devwb writeback --url ldaps://dc1.contoso.lab --bind svc-aadc@contoso.lab \\
      --export pages/ --users users.json --no-delete --json

  # Live from the tenant (app with Device.Read.All and User.Read.All; secret from the environment):
  DEVWB_CLIENT_SECRET=... devwb writeback --url ldaps://dc1.contoso.lab --bind 'CONTOSO\\svc-aadc' \\
      --tenant contoso.onmicrosoft.com --client-id 00000000-0000-0000-0000-000000000000 --dry-run";

/// Runs `devwb writeback`.
pub fn run(args: &WritebackArgs) -> anyhow::Result<Exit> {
    let client = args.connection.connect()?;
    let (source, listing) = open_source(args)?;
    let target =
        discover(&client, args.container.clone()).context("finding the device container")?;
    // A container in another domain of the forest is written through that domain's DC.
    let holder = client
        .holder_of(&target.container)
        .context("reaching the device container's domain controller")?;
    let client: &Client = holder.as_deref().unwrap_or(&client);
    let options = WritebackOptions {
        apply: ApplyOptions {
            connections: args.connections.max(1),
            in_flight_per_connection: args.in_flight.max(1),
            ..ApplyOptions::default()
        },
        undo_dir: Some(args.undo_dir.clone().unwrap_or_else(default_undo_dir)),
    };
    let run = Run {
        client,
        target: &target,
        source: &source,
        plan_options: PlanOptions {
            no_delete: args.no_delete,
            max_deletes: args.max_deletes.unwrap_or_default(),
        },
        options: &options,
        dry_run: args.dry_run,
        json: args.json,
        undo_dir: Some(args.undo_dir.clone().unwrap_or_else(default_undo_dir)),
        confirm_deletes: !args.yes,
    };
    let executed = run.execute();
    if let Some(listing) = listing {
        // A listing that failed is the cause of a failed plan: its error says more.
        listing.finish()?;
    }
    Ok(executed?.1)
}

/// `$XDG_STATE_HOME/devwb/undo`, else `~/.local/state/devwb/undo`, else `./devwb-undo`.
pub fn default_undo_dir() -> PathBuf {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| Path::new(&home).join(".local/state"))
        });
    match state {
        Some(state) => state.join("devwb").join("undo"),
        None => PathBuf::from("devwb-undo"),
    }
}

/// The export, or the live listing (with the listing, to be finished after the run).
fn open_source(args: &WritebackArgs) -> anyhow::Result<(DeviceSource, Option<DeviceListing>)> {
    let Some(export) = &args.export else {
        // clap makes --export or --tenant required: this is the live source.
        let listing = DeviceListing::start(&args.graph.client()?);
        return Ok((listing.source.clone(), Some(listing)));
    };
    let format = match args.format {
        Some(ExportFormat::Json) => SourceFormat::GraphPage,
        Some(ExportFormat::Jsonl) => SourceFormat::JsonLines,
        Some(ExportFormat::Pages) => SourceFormat::GraphPages,
        None => SourceFormat::detect(export),
    };
    let source = DeviceSource::open_as(export, format)
        .with_context(|| format!("opening the export {}", export.display()))?;
    let Some(users) = &args.users else {
        return Ok((source, None));
    };
    let (source, bad_users) = source
        .with_users_export(users)
        .with_context(|| format!("reading the users export {}", users.display()))?;
    for bad in &bad_users {
        err_line(&format!("warning: users export: {bad} (skipped)"));
    }
    Ok((source, None))
}

/// One writeback, planned and (unless a dry run) applied, with its output. Shared with `demo`.
pub struct Run<'a> {
    pub client: &'a Client,
    pub target: &'a Target,
    pub source: &'a DeviceSource,
    pub plan_options: PlanOptions,
    pub options: &'a WritebackOptions,
    pub dry_run: bool,
    pub json: bool,
    /// Where the undo file goes; `None` writes none (the demo's throwaway forest).
    pub undo_dir: Option<PathBuf>,
    /// Ask on a terminal before deleting.
    pub confirm_deletes: bool,
}

#[derive(serde::Serialize)]
struct JsonOutcome<'a> {
    plan: devwb_writeback::PlanReport<'a>,
    dry_run: bool,
    undo_file: Option<&'a Path>,
    applied: Option<&'a WritebackReport>,
}

/// The exit of a run that went through: deletes withheld by a guard (not by --no-delete) are
/// worth a status of their own, so that an unattended run that stopped deleting is noticed.
fn exit_for(plan: &WritebackPlan, report: Option<&WritebackReport>) -> Exit {
    if report.is_some_and(|r| !r.succeeded()) {
        Exit::ApplyFailed
    } else if plan.counts.deletes_withheld > 0
        && plan.deletes_withheld.as_ref().is_some_and(|w| w.is_guard())
    {
        Exit::DeletesWithheld
    } else {
        Exit::Ok
    }
}

impl Run<'_> {
    /// Plans, prints, applies, summarises. Returns the report (none for a dry run) and the exit.
    pub fn execute(&self) -> anyhow::Result<(Option<WritebackReport>, Exit)> {
        let started = Instant::now();
        let plan = plan(self.client, self.target, self.source, self.plan_options)
            .context("planning the writeback")?;
        let planned_in = started.elapsed();
        if self.dry_run {
            if self.json {
                out_json(&JsonOutcome {
                    plan: plan.report(),
                    dry_run: true,
                    undo_file: None,
                    applied: None,
                })?;
            } else {
                let mut ldif = Vec::new();
                plan.write_ldif(&mut ldif)?;
                out(&String::from_utf8_lossy(&ldif));
                out_line("# Dry run: nothing was changed.");
            }
            return Ok((None, exit_for(&plan, None)));
        }
        if !self.json {
            report_problems(&plan);
            out_line(&format!(
                "Planned in {:.1?}: {} to add, {} to modify, {} to delete, {} unchanged, {} skipped, {} bad records.",
                planned_in,
                plan.counts.adds,
                plan.counts.modifies,
                plan.counts.deletes,
                plan.counts.unchanged,
                plan.counts.skipped,
                plan.counts.bad_records
            ));
        }
        if !plan.deletes.is_empty() && self.confirm_deletes && !confirm_deletes(&plan)? {
            out_line("Nothing was changed.");
            return Ok((None, Exit::Failed));
        }
        let undo = match &self.undo_dir {
            Some(dir) => write_undo_file(self.client, &plan, dir, std::time::SystemTime::now())
                .with_context(|| format!("writing the undo file into {}", dir.display()))?,
            None => None,
        };
        if let (Some(undo), false) = (&undo, self.json) {
            out_line(&format!(
                "Undo file: {} ({} deleted and {} modified objects as they were; restore with ldapmodify -a -f).",
                undo.path.display(),
                undo.deletes,
                undo.modifies
            ));
        }
        let mut progress = Progress::new(plan.operation_count(), self.json);
        let report = apply(self.client, &plan, self.options, &mut |p| {
            progress.update(p)
        })
        .context("applying the writeback")?;
        progress.finish();
        if self.json {
            out_json(&JsonOutcome {
                plan: plan.report(),
                dry_run: false,
                undo_file: undo.as_ref().map(|u: &UndoRecord| u.path.as_path()),
                applied: Some(&report),
            })?;
        } else {
            summarise(&report);
            if let Some(why) = plan.deletes_withheld.as_ref().filter(|w| w.is_guard()) {
                if plan.counts.deletes_withheld > 0 {
                    out_line(&format!(
                        "{} deletes withheld: {why}",
                        plan.counts.deletes_withheld
                    ));
                }
            }
        }
        let exit = exit_for(&plan, Some(&report));
        Ok((Some(report), exit))
    }
}

/// Bad records, skipped devices and withheld deletes, on standard error.
fn report_problems(plan: &WritebackPlan) {
    for bad in &plan.bad_records {
        err_line(&format!("bad record, skipped: {bad}"));
    }
    for skipped in &plan.skipped {
        err_line(&format!(
            "skipped device {} ({}): {}",
            skipped.device_id, skipped.record, skipped.reason
        ));
    }
    if let Some(why) = &plan.deletes_withheld {
        err_line(&format!(
            "deletes withheld ({} device objects kept): {why}",
            plan.counts.deletes_withheld
        ));
    }
    for ignored in &plan.ignored_entries {
        err_line(&format!("left alone: {ignored}"));
    }
}

/// On a terminal, asks before deleting; `true` to go ahead. Without a terminal it does not ask:
/// the deletion limit is the guard there.
fn confirm_deletes(plan: &WritebackPlan) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(true);
    }
    let shown = 10;
    for delete in plan.deletes.iter().take(shown) {
        err_line(&format!("  delete {} ({})", delete.dn, delete.reason));
    }
    if plan.deletes.len() > shown {
        err_line(&format!("  ... and {} more", plan.deletes.len() - shown));
    }
    crate::output::confirm(&format!(
        "Delete {} device objects from {}? Each is kept in the undo file first.",
        plan.deletes.len(),
        plan.container
    ))
}

fn summarise(report: &WritebackReport) {
    for failure in &report.failures {
        err_line(&format!(
            "failed: {} {}: {} ({})",
            failure.operation, failure.dn, failure.message, failure.code_name
        ));
    }
    out_line(&format!(
        "Done in {:.1?}: {} added, {} modified, {} deleted, {} existing converged, {} already gone, {} failed ({} retries, {} reconnects).",
        report.elapsed,
        report.added,
        report.modified,
        report.deleted,
        report.converged_existing,
        report.already_deleted,
        report.failures.len(),
        report.retries,
        report.reconnects
    ));
    if !report.succeeded() {
        out_line("Some changes failed; running the same command again continues from where this run stopped.");
    }
}

/// A progress bar on a terminal; plain lines (every 10% or 5 seconds) otherwise; nothing with
/// --json (standard output is the JSON document).
enum Progress {
    Bar(ProgressBar),
    Lines {
        total: usize,
        next_percent: usize,
        last: Instant,
    },
    Quiet,
}

impl Progress {
    fn new(total: usize, json: bool) -> Progress {
        if json || total == 0 {
            Progress::Quiet
        } else if total < 1_000 && !std::io::stderr().is_terminal() {
            // A small plan is done before a line would help; the summary says what happened.
            Progress::Quiet
        } else if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total as u64);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} changes ({per_sec}, eta {eta}) {msg}",
            ) {
                bar.set_style(style);
            }
            Progress::Bar(bar)
        } else {
            Progress::Lines {
                total,
                next_percent: 10,
                last: Instant::now(),
            }
        }
    }

    fn update(&mut self, p: &WritebackProgress) {
        match self {
            Progress::Bar(bar) => {
                bar.set_position(p.done as u64);
                if p.failed > 0 || p.retries > 0 {
                    bar.set_message(format!("{} failed, {} retries", p.failed, p.retries));
                }
            }
            Progress::Lines {
                total,
                next_percent,
                last,
            } => {
                let percent = p.done * 100 / (*total).max(1);
                if percent >= *next_percent || last.elapsed() >= Duration::from_secs(5) {
                    err_line(&format!(
                        "progress: {}/{} changes ({percent}%), {} failed, {} retries",
                        p.done, total, p.failed, p.retries
                    ));
                    *next_percent = (percent / 10 + 1) * 10;
                    *last = Instant::now();
                }
            }
            Progress::Quiet => {}
        }
    }

    fn finish(&mut self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
