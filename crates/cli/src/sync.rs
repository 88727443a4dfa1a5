//! `devwb sync`: device writeback as a service. A full round first (the whole tenant against the
//! whole container, as `writeback --tenant`), then delta rounds every `--interval` that apply only
//! what Graph's `devices/delta` says changed, and a full round again every `--full-every` (to
//! catch drift made in AD by hand) or when the delta link expired.
//!
//! Durable state (`--state-dir`, file `state.json`): the delta link, when the last full round
//! ran, how many devices writeback owns, and what the last round did. It is written atomically
//! (a temporary file, fsync, rename, fsync of the directory) and only after a round's changes are
//! applied, so a process killed at any point restarts from the last completed round and replays
//! what came after; replays converge (an add meets `entryAlreadyExists` and becomes the modify
//! that makes it match, modifies replace, a delete of a gone object is done).
//!
//! A full round takes the next round's delta link *before* it lists the devices: a change made
//! while the round runs is then in the next delta round (perhaps applied twice, which converges),
//! never lost between them. The link is Graph's "sync from now" (`$deltatoken=latest`, one
//! request), so the tenant is read once a round; a service that refuses it gets a whole first
//! `devices/delta` round instead, read before the listing (see
//! [`crate::graph::delta_link_before_listing`]).
//!
//! Deletes withheld by a guard (over `--max-deletes`, or input that cannot decide them) stay
//! pending, nothing is lost: a delta round that withheld deletes, or had a change fail, does not
//! advance the delta link, so the next round sees the same changes again (with any new ones)
//! until the deletes are allowed; a full round that withheld deletes or had a failure makes the
//! next round a full one. The state records why (`pending`).
//!
//! SIGTERM and SIGINT end the service after the round in flight, with the state saved, exit 0;
//! a second signal ends it at once (the state is still the last completed round's).
//!
//! This module is glue: planning and applying are devwb-writeback's, Graph reads devwb-graph's.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::Args;
use devwb_graph::{DeltaLink, GraphClient};
use devwb_ldap::{ApplyOptions, Client};
use devwb_model::{Dn, Guid};
use devwb_writeback::observe::observe;
use devwb_writeback::undo::write_undo_file;
use devwb_writeback::{
    apply, discover, plan_partial, DeleteLimit, DeltaChanges, PlanOptions, Planner, RemovedDevice,
    Target, WritebackOptions, WritebackPlan, WritebackReport,
};
use serde::{Deserialize, Serialize};

use crate::args::ConnectionArgs;
use crate::exit::Exit;
use crate::graph::{
    delta_link_before_listing, delta_round, is_delta_token_expired, owners_of, DeviceListing,
    GraphArgs,
};
use crate::output::{err_line, out_line};

/// The state file's name in `--state-dir`.
pub const STATE_FILE: &str = "state.json";
/// The device id of each Entra object id seen, one `<objectId> <deviceId>` a line, in
/// `--state-dir`: a delta round's `@removed` devices carry only their object id, and this finds
/// their objects by DN instead of by a search of the whole container. The pairs never change, so
/// the file only grows between full rounds (which rewrite it); a line cut by a crash is skipped.
pub const INDEX_FILE: &str = "devices.idx";
/// The state file's format version.
const STATE_VERSION: u32 = 1;

/// Arguments of `devwb sync`.
#[derive(Args, Debug)]
#[command(mut_arg("tenant", |arg| arg.required(true)))]
pub struct SyncArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub graph: GraphArgs,

    /// The device container (default: what the DeviceRegistrationService's msDS-DeviceLocation
    /// names).
    #[arg(long, value_name = "DN", value_parser = parse_dn)]
    pub container: Option<Dn>,

    /// Where the delta link and the last round's outcome are kept. Default:
    /// $XDG_STATE_HOME/devwb/sync (~/.local/state/devwb/sync).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Run one round and exit: the first run is the full round, later ones delta rounds from the
    /// saved state. The exit status is writeback's (4 a change failed, 5 deletes withheld).
    #[arg(long)]
    pub once: bool,

    /// The time between the start of one round and the next: 500ms, 1s, 2m, 1h.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub interval: Duration,

    /// A full round (the whole tenant against the whole container) at least this often.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
    pub full_every: Duration,

    /// The most device objects one round may delete: a number, or `none`. Over it the round
    /// applies everything but the deletes, which stay pending (see `devwb sync --help`).
    /// Default: writeback's (500, or 10% of the devices writeback owns, at least 10).
    #[arg(long, value_name = "N|none")]
    pub max_deletes: Option<DeleteLimit>,

    /// Where each round that deletes or modifies writes its undo file. Default:
    /// $XDG_STATE_HOME/devwb/undo.
    #[arg(long, value_name = "DIR")]
    pub undo_dir: Option<PathBuf>,

    /// One JSON object a round, one a line, on standard output.
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

/// `500ms`, `1s`, `2m`, `1h` (a whole number and a unit; `0` alone is not a duration).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a whole number and a unit (500ms, 1s, 2m, 1h)"))?;
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number.saturating_mul(60)),
        "h" => Duration::from_secs(number.saturating_mul(3600)),
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use ms, s, m or h: 500ms, 1s, 2m, 1h)"
            ))
        }
    };
    if duration.is_zero() {
        return Err(format!("{text:?}: a duration must be more than zero"));
    }
    Ok(duration)
}

/// The examples shown by `devwb sync --help`.
pub const EXAMPLES: &str = "\
Examples:
  # Keep the forest's device container in step with the tenant, a delta round a minute:
  DEVWB_CLIENT_SECRET=... devwb sync --url ldaps://dc1.contoso.lab --bind 'CONTOSO\\\\svc-aadc' \\\\
      --password-file /etc/devwb/connector.pw \\\\
      --tenant contoso.onmicrosoft.com --client-id 00000000-0000-0000-0000-000000000000

  # From cron: one round a run (the first is the full round), one JSON line each:
  devwb sync ... --once --json

Pending deletes: a round whose deletes are withheld (over --max-deletes, or input that cannot
decide them) keeps them pending: a delta round does not advance its delta link, a full round
makes the next round full again, until the deletes are allowed (--max-deletes N).";

/// What `state.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SyncState {
    /// The format version.
    pub version: u32,
    /// The tenant and Graph URL and container the delta link belongs to: another one starts
    /// with a full round.
    pub tenant: String,
    pub graph_url: String,
    pub container: String,
    /// Where the next delta round starts; `None`: the next round is a full one.
    pub delta_link: Option<DeltaLink>,
    /// When the last full round completed (seconds since the Unix epoch).
    pub last_full_round: u64,
    /// The devices writeback owns in the container, counted by the last full round and kept up
    /// to date by delta rounds: the default deletion limit is a share of it.
    pub owned_devices: u64,
    /// Why the next round repeats work (deletes withheld, a change failed), if it does.
    pub pending: Option<String>,
    /// Rounds completed so far.
    pub rounds: u64,
    /// What the last round did.
    pub last_round: Option<RoundReport>,
}

/// One round's outcome: the log line, and the JSON line with `--json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RoundReport {
    /// The round's number (1 is the first this state has seen).
    pub round: u64,
    /// `full` or `delta`.
    pub kind: String,
    /// Changes the round saw: devices listed (a full round) or delta items (a delta round).
    pub seen: u64,
    /// Changes applied: added, modified, deleted (converged adds and already-gone deletes
    /// included).
    pub applied: u64,
    pub added: u64,
    pub modified: u64,
    pub deleted: u64,
    /// Devices skipped (out of scope, not owned) and bad records.
    pub skipped: u64,
    /// Changes the directory refused.
    pub failed: u64,
    /// Deletes withheld, and why.
    pub deletes_withheld: u64,
    pub withheld_reason: Option<String>,
    /// The round's undo file, when it deleted or modified.
    pub undo_file: Option<PathBuf>,
    /// Whether the delta link advanced (false: the next round sees these changes again).
    pub advanced: bool,
    /// Something the operator should know (an expired delta link, another tenant's state).
    pub note: Option<String>,
    /// Wall time of the round, seconds.
    pub duration_seconds: f64,
}

/// `$XDG_STATE_HOME/devwb/sync`, else `~/.local/state/devwb/sync`, else `./devwb-sync`.
pub fn default_state_dir() -> PathBuf {
    let undo = crate::writeback::default_undo_dir();
    match undo.parent() {
        Some(devwb) if undo.ends_with("devwb/undo") => devwb.join("sync"),
        _ => PathBuf::from("devwb-sync"),
    }
}

/// Reads the state; `None` when there is none yet.
pub fn read_state(dir: &Path) -> anyhow::Result<Option<SyncState>> {
    let path = dir.join(STATE_FILE);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(error).with_context(|| format!("reading the state {}", path.display()))
        }
    };
    let state: SyncState = serde_json::from_slice(&text).with_context(|| {
        format!(
            "the state {} is not a devwb sync state (move it away to start with a full round)",
            path.display()
        )
    })?;
    if state.version != STATE_VERSION {
        bail!(
            "the state {} has version {}, this devwb reads version {STATE_VERSION}",
            path.display(),
            state.version
        );
    }
    Ok(Some(state))
}

/// Writes the state atomically: a temporary file in the same directory, fsynced, renamed over
/// the state, and the directory fsynced, so that after a crash the file is the old state or the
/// new one, whole.
pub fn write_state(dir: &Path, state: &SyncState) -> anyhow::Result<()> {
    let text = serde_json::to_vec_pretty(state)
        .with_context(|| format!("saving the state in {}", dir.display()))?;
    write_atomically(dir, STATE_FILE, &text)
}

/// Replaces `dir/name` with `bytes`: a temporary file in `dir`, fsynced, renamed over it, and
/// the directory fsynced.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let context = || format!("saving {name} in {}", dir.display());
    std::fs::create_dir_all(dir).with_context(context)?;
    let path = dir.join(name);
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&temporary).with_context(context)?;
    file.write_all(bytes).with_context(context)?;
    file.sync_all().with_context(context)?;
    drop(file);
    std::fs::rename(&temporary, &path).with_context(context)?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(context)?;
    Ok(())
}

/// Reads the device index (see [`INDEX_FILE`]); empty when there is none.
fn read_index(dir: &Path) -> anyhow::Result<HashMap<u128, Guid>> {
    let path = dir.join(INDEX_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(error) => {
            return Err(error).with_context(|| format!("reading the index {}", path.display()))
        }
    };
    Ok(text
        .lines()
        .filter_map(|line| {
            let (object_id, device_id) = line.split_once(' ')?;
            Some((
                Guid::parse(object_id).ok()?.as_u128(),
                Guid::parse(device_id).ok()?,
            ))
        })
        .collect())
}

fn index_lines(pairs: &[(Guid, Guid)]) -> String {
    pairs
        .iter()
        .map(|(object_id, device_id)| format!("{object_id} {device_id}\n"))
        .collect()
}

/// Replaces the device index atomically (a full round).
fn write_index(dir: &Path, pairs: &[(Guid, Guid)]) -> anyhow::Result<()> {
    write_atomically(dir, INDEX_FILE, index_lines(pairs).as_bytes())
}

/// Appends pairs to the device index, durably (a delta round's new devices).
fn append_index(dir: &Path, pairs: &[(Guid, Guid)]) -> anyhow::Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let path = dir.join(INDEX_FILE);
    let context = || format!("appending to the index {}", path.display());
    std::fs::create_dir_all(dir).with_context(context)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(context)?;
    // A line cut by an earlier crash ends here, so the first new pair starts a line of its own.
    file.write_all(format!("\n{}", index_lines(pairs)).as_bytes())
        .with_context(context)?;
    file.sync_all().with_context(context)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Signals seen: 1 after the first SIGTERM/SIGINT (finish the round, save, exit 0).
static SIGNALS: AtomicU32 = AtomicU32::new(0);

/// Listens for SIGTERM and SIGINT on a thread of its own (tokio's signal support, already in
/// the workspace). The first asks the service to stop after the round in flight; a second ends
/// the process at once.
fn install_signal_handlers(stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the signal listener")?;
    std::thread::Builder::new()
        .name("devwb-signals".into())
        .spawn(move || {
            runtime.block_on(async move {
                #[cfg(unix)]
                {
                    use tokio::signal::unix::{signal, SignalKind};
                    let (Ok(mut term), Ok(mut int)) = (
                        signal(SignalKind::terminate()),
                        signal(SignalKind::interrupt()),
                    ) else {
                        err_line("warning: cannot listen for SIGTERM/SIGINT");
                        return;
                    };
                    loop {
                        tokio::select! {
                            _ = term.recv() => {}
                            _ = int.recv() => {}
                        }
                        if SIGNALS.fetch_add(1, Ordering::SeqCst) >= 1 {
                            err_line("second signal: stopping now; the state is the last completed round's");
                            std::process::exit(130);
                        }
                        stop.store(true, Ordering::SeqCst);
                        err_line("signal received: finishing the round in flight, then saving the state");
                    }
                }
                #[cfg(not(unix))]
                {
                    loop {
                        if tokio::signal::ctrl_c().await.is_err() {
                            return;
                        }
                        if SIGNALS.fetch_add(1, Ordering::SeqCst) >= 1 {
                            std::process::exit(130);
                        }
                        stop.store(true, Ordering::SeqCst);
                    }
                }
            })
        })
        .context("starting the signal listener")?;
    Ok(())
}

/// The lock file of a state directory.
const LOCK_FILE: &str = "lock";

/// Takes `<dir>/lock` exclusively (flock), for as long as the returned file is open: a second
/// `devwb sync` on the same state directory stops here, saying so, instead of running rounds
/// beside the first (both would apply the same changes and advance the same delta link). The
/// kernel releases the lock when the process ends, `kill -9` included, so a restart is never
/// locked out by a dead process. The file holds the holder's process id, for the message.
pub fn lock_state_dir(dir: &Path) -> anyhow::Result<std::fs::File> {
    use std::io::{Read, Seek};
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the state directory {}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening the lock file {}", path.display()))?;
    #[cfg(unix)]
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(errno) if errno == rustix::io::Errno::WOULDBLOCK => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            bail!(
                "another devwb sync is using the state directory {} (process {}): one sync per \
                 state directory; stop that one, or give this one its own --state-dir",
                dir.display(),
                if holder.is_empty() { "unknown" } else { holder }
            );
        }
        Err(errno) => {
            return Err(std::io::Error::from(errno))
                .with_context(|| format!("locking {}", path.display()))
        }
    }
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| write!(file, "{}", std::process::id()))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(file)
}

/// Runs `devwb sync`.
pub fn run(args: &SyncArgs) -> anyhow::Result<Exit> {
    let stop = Arc::new(AtomicBool::new(false));
    if !args.once {
        install_signal_handlers(stop.clone())?;
    }
    let graph = args.graph.client()?;
    let client = args.connection.connect()?;
    let target =
        discover(&client, args.container.clone()).context("finding the device container")?;
    // A container in another domain of the forest is written through that domain's DC.
    let holder = client
        .holder_of(&target.container)
        .context("reaching the device container's domain controller")?;
    let client: &Client = holder.as_deref().unwrap_or(&client);
    let state_dir = args.state_dir.clone().unwrap_or_else(default_state_dir);
    // Held until the process ends: two syncs on one state would both advance its delta link.
    let _lock = lock_state_dir(&state_dir)?;
    let service = Service {
        args,
        graph: &graph,
        client,
        target: &target,
        state_dir: &state_dir,
        options: WritebackOptions {
            apply: ApplyOptions {
                connections: args.connections.max(1),
                in_flight_per_connection: args.in_flight.max(1),
                ..ApplyOptions::default()
            },
            undo_dir: Some(
                args.undo_dir
                    .clone()
                    .unwrap_or_else(crate::writeback::default_undo_dir),
            ),
        },
        undo_dir: args
            .undo_dir
            .clone()
            .unwrap_or_else(crate::writeback::default_undo_dir),
    };
    if args.once {
        let (_, exit) = service.round()?;
        return Ok(exit);
    }
    if !args.json {
        out_line(&format!(
            "devwb sync: {} into {}, a round every {:?}, a full round every {:?}; state in {}.",
            args.graph.tenant.as_deref().unwrap_or_default(),
            target.container,
            args.interval,
            args.full_every,
            state_dir.display()
        ));
    }
    while !stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        if let Err(error) = service.round() {
            // A service outlives a failed round (Graph or the DC unreachable for a while): the
            // state was not advanced, so the next round does the work again.
            err_line(&format!(
                "error: round failed: {error:#}; next round in {:?}",
                args.interval
            ));
        }
        while !stop.load(Ordering::SeqCst) && started.elapsed() < args.interval {
            std::thread::sleep(Duration::from_millis(50).min(args.interval));
        }
    }
    if !args.json {
        out_line("devwb sync: stopped; the state is saved.");
    }
    Ok(Exit::Ok)
}

struct Service<'a> {
    args: &'a SyncArgs,
    graph: &'a GraphClient,
    client: &'a Client,
    target: &'a Target,
    state_dir: &'a Path,
    options: WritebackOptions,
    undo_dir: PathBuf,
}

/// What a round planned and applied.
struct Applied {
    plan: WritebackPlan,
    report: WritebackReport,
    undo_file: Option<PathBuf>,
}

impl Service<'_> {
    fn plan_options(&self) -> PlanOptions {
        PlanOptions {
            no_delete: false,
            max_deletes: self.args.max_deletes.unwrap_or_default(),
        }
    }

    fn fresh_state(&self) -> SyncState {
        SyncState {
            version: STATE_VERSION,
            tenant: self.args.graph.tenant.clone().unwrap_or_default(),
            graph_url: self.graph.config().graph_url.to_string(),
            container: self.target.container.to_string(),
            delta_link: None,
            last_full_round: 0,
            owned_devices: 0,
            pending: None,
            rounds: 0,
            last_round: None,
        }
    }

    /// One round, full or delta as the state says; the state saved after it. Returns the report
    /// and the exit a `--once` run ends with.
    fn round(&self) -> anyhow::Result<(RoundReport, Exit)> {
        let started = Instant::now();
        let fresh = self.fresh_state();
        let mut note = None;
        let mut state = match read_state(self.state_dir)? {
            Some(saved)
                if saved.tenant == fresh.tenant
                    && saved.graph_url == fresh.graph_url
                    && saved.container.eq_ignore_ascii_case(&fresh.container) =>
            {
                saved
            }
            Some(saved) => {
                note = Some(format!(
                    "the saved state belongs to tenant {} at {} into {}: starting over with a \
                     full round",
                    saved.tenant, saved.graph_url, saved.container
                ));
                SyncState {
                    rounds: saved.rounds,
                    ..fresh
                }
            }
            None => fresh,
        };
        let full_due = unix_now().saturating_sub(state.last_full_round)
            >= self.args.full_every.as_secs().max(1);
        let delta_from = state.delta_link.clone().filter(|_| !full_due);
        let mut report = match delta_from {
            Some(link) => match self.delta_round(&mut state, link) {
                Ok(report) => report,
                Err(error) if is_delta_token_expired(&error) => {
                    let why = "the delta link expired (Graph answered syncStateNotFound): \
                               running a full round to resynchronise";
                    err_line(&format!("note: {why}"));
                    note = Some(why.to_owned());
                    self.full_round(&mut state)?
                }
                Err(error) => return Err(error),
            },
            None => self.full_round(&mut state)?,
        };
        state.rounds += 1;
        report.round = state.rounds;
        report.note = note.or(report.note);
        report.duration_seconds = started.elapsed().as_secs_f64();
        state.last_round = Some(report.clone());
        write_state(self.state_dir, &state)?;
        self.print(&report)?;
        let exit = if report.failed > 0 {
            Exit::ApplyFailed
        } else if report.deletes_withheld > 0 {
            Exit::DeletesWithheld
        } else {
            Exit::Ok
        };
        Ok((report, exit))
    }

    /// The whole tenant against the whole container; the next round's delta link first (see the
    /// module documentation).
    fn full_round(&self, state: &mut SyncState) -> anyhow::Result<RoundReport> {
        let baseline =
            delta_link_before_listing(self.graph).context("taking the next round's delta link")?;
        // Only now the listing: everything it misses happened after the link. Its first pages
        // are read while the container is.
        let listing = DeviceListing::start(self.graph);
        let observed = match observe(self.client, self.target) {
            Ok(observed) => observed,
            Err(error) => {
                // Stops the listing's reader; the container's error is the one to report.
                let _ = listing.finish();
                return Err(error).context("reading the device container");
            }
        };
        let mut planner = Planner::new(observed, self.target.scope.clone(), self.plan_options());
        planner.keep_listed_ids();
        let summary = planner.push_source(&listing.source);
        listing.finish()?;
        let summary = summary.context("planning the full round")?;
        let pairs = planner.take_listed_ids();
        let plan = planner.finish(&summary);
        let applied = self.apply(plan)?;
        write_index(self.state_dir, &pairs)?;
        let counts = &applied.plan.counts;
        let mut report = round_report("full", counts.source_records, &applied);
        state.last_full_round = unix_now();
        state.owned_devices = counts.unchanged
            + applied.report.added
            + applied.report.modified
            + applied.report.converged_existing
            + counts.deletes_withheld;
        match pending_reason(&report) {
            Some(why) => {
                // No delta link: the next round is a full one, which plans the deletes again
                // (a device that left before the baseline is in no later delta round).
                state.pending = Some(format!("{why}: the next round is a full round again"));
                state.delta_link = None;
                report.advanced = false;
            }
            None => {
                state.pending = None;
                state.delta_link = Some(baseline);
                report.advanced = true;
            }
        }
        Ok(report)
    }

    /// The changes since the saved delta link.
    fn delta_round(&self, state: &mut SyncState, from: DeltaLink) -> anyhow::Result<RoundReport> {
        let (pages, next) = delta_round(self.graph, Some(from), true)?;
        let changes = DeltaChanges::from_pages("graph devices/delta", &pages)?;
        let seen = changes.items();
        let changed: Vec<String> = changes.changed_object_ids().map(str::to_owned).collect();
        let index = read_index(self.state_dir)?;
        let removed: Vec<RemovedDevice> = changes
            .removed_object_ids()
            .iter()
            .map(|object_id| RemovedDevice {
                object_id: *object_id,
                device_id: index.get(&object_id.as_u128()).copied(),
            })
            .collect();
        let new_pairs: Vec<(Guid, Guid)> = changes
            .changed_id_pairs()
            .into_iter()
            .filter(|(object_id, _)| !index.contains_key(&object_id.as_u128()))
            .collect();
        let owners = owners_of(self.graph, &changed)?;
        let source = changes.into_source("graph devices/delta", &owners)?;
        let plan = plan_partial(
            self.client,
            self.target,
            &source,
            &removed,
            self.plan_options(),
            state.owned_devices,
        )
        .context("planning the delta round")?;
        let applied = self.apply(plan)?;
        append_index(self.state_dir, &new_pairs)?;
        let mut report = round_report("delta", seen, &applied);
        state.owned_devices =
            (state.owned_devices + applied.report.added).saturating_sub(applied.report.deleted);
        match pending_reason(&report) {
            Some(why) => {
                // The link stays where it was: the next round lists these changes again.
                state.pending = Some(format!("{why}: the delta link was not advanced"));
                report.advanced = false;
            }
            None => {
                state.pending = None;
                state.delta_link = Some(next);
                report.advanced = true;
            }
        }
        Ok(report)
    }

    /// Writes the undo file (when the plan deletes or modifies) and applies the plan.
    fn apply(&self, plan: WritebackPlan) -> anyhow::Result<Applied> {
        let undo = write_undo_file(self.client, &plan, &self.undo_dir, SystemTime::now())
            .with_context(|| format!("writing the undo file into {}", self.undo_dir.display()))?;
        let report =
            apply(self.client, &plan, &self.options, &mut |_| {}).context("applying the round")?;
        for failure in &report.failures {
            err_line(&format!(
                "failed: {} {}: {} ({})",
                failure.operation, failure.dn, failure.message, failure.code_name
            ));
        }
        for bad in &plan.bad_records {
            err_line(&format!("bad record, skipped: {bad}"));
        }
        Ok(Applied {
            plan,
            report,
            undo_file: undo.map(|u| u.path),
        })
    }

    fn print(&self, report: &RoundReport) -> anyhow::Result<()> {
        if self.args.json {
            out_line(&serde_json::to_string(report)?);
            return Ok(());
        }
        let mut line = format!(
            "round {} ({}): {} changes seen, {} applied ({} added, {} modified, {} deleted), {} skipped, {} failed, in {:.2}s",
            report.round,
            report.kind,
            report.seen,
            report.applied,
            report.added,
            report.modified,
            report.deleted,
            report.skipped,
            report.failed,
            report.duration_seconds
        );
        if let Some(why) = &report.withheld_reason {
            line.push_str(&format!(
                "; {} deletes withheld and kept pending: {why}",
                report.deletes_withheld
            ));
        }
        if let Some(undo) = &report.undo_file {
            line.push_str(&format!("; undo file {}", undo.display()));
        }
        out_line(&line);
        Ok(())
    }
}

fn round_report(kind: &str, seen: u64, applied: &Applied) -> RoundReport {
    let (plan, report) = (&applied.plan, &applied.report);
    let withheld = plan.counts.deletes_withheld;
    RoundReport {
        kind: kind.to_owned(),
        seen,
        applied: report.added
            + report.modified
            + report.deleted
            + report.converged_existing
            + report.already_deleted,
        added: report.added,
        modified: report.modified,
        deleted: report.deleted,
        skipped: plan.counts.skipped + plan.counts.bad_records,
        failed: report.failures.len() as u64,
        deletes_withheld: withheld,
        withheld_reason: plan
            .deletes_withheld
            .as_ref()
            .filter(|_| withheld > 0)
            .map(ToString::to_string),
        undo_file: applied.undo_file.clone(),
        ..RoundReport::default()
    }
}

/// Why a round's work is not finished (deletes withheld, changes failed), if it is not.
fn pending_reason(report: &RoundReport) -> Option<String> {
    match (report.deletes_withheld, report.failed) {
        (0, 0) => None,
        (0, failed) => Some(format!("{failed} change(s) failed")),
        (withheld, 0) => Some(format!("{withheld} delete(s) withheld")),
        (withheld, failed) => Some(format!(
            "{withheld} delete(s) withheld and {failed} change(s) failed"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_sync_on_the_same_state_directory_is_refused_until_the_first_ends() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let first = lock_state_dir(&state).expect("the first sync takes the lock");
        let refused = lock_state_dir(&state).expect_err("a second sync is refused");
        let text = format!("{refused:#}");
        assert!(
            text.contains("another devwb sync")
                && text.contains(&std::process::id().to_string())
                && text.contains(&state.display().to_string()),
            "{text}"
        );
        drop(first);
        lock_state_dir(&state).expect("free again once the first ends");
    }

    #[test]
    fn durations_take_a_number_and_a_unit() {
        let cases = [
            ("500ms", Ok(Duration::from_millis(500))),
            ("1s", Ok(Duration::from_secs(1))),
            ("2m", Ok(Duration::from_secs(120))),
            ("1h", Ok(Duration::from_secs(3600))),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), expected, "{text}");
        }
        for bad in ["", "5", "1d", "ms", "-1s", "0s", "1.5s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_state_is_replaced_whole_and_read_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(read_state(dir.path()).expect("no state").is_none());
        let mut state = SyncState {
            version: STATE_VERSION,
            tenant: "t".into(),
            graph_url: "https://graph.example/".into(),
            container: "CN=RegisteredDevices,DC=contoso,DC=lab".into(),
            delta_link: Some(
                DeltaLink::new("https://graph.example/v1.0/devices/delta?$deltatoken=1")
                    .expect("link"),
            ),
            last_full_round: 1,
            owned_devices: 3,
            pending: None,
            rounds: 1,
            last_round: None,
        };
        write_state(dir.path(), &state).expect("write");
        state.rounds = 2;
        write_state(dir.path(), &state).expect("write again");
        let read = read_state(dir.path()).expect("read").expect("a state");
        assert_eq!((read.rounds, read.owned_devices), (2, 3));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, [STATE_FILE], "no temporary file is left behind");
        let pair = |n: u128| (Guid::from_u128(n), Guid::from_u128(n + 1000));
        write_index(dir.path(), &[pair(1), pair(2)]).expect("index");
        // A crash cut the last line; an append starts a fresh line and the cut one is skipped.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(INDEX_FILE))
            .expect("open index");
        file.write_all(b"00000000-0000-0000-0000-0000000")
            .expect("cut line");
        append_index(dir.path(), &[pair(3)]).expect("append");
        let index = read_index(dir.path()).expect("read index");
        assert_eq!(index.len(), 3);
        assert_eq!(index[&3], Guid::from_u128(1003));
        std::fs::remove_file(dir.path().join(INDEX_FILE)).expect("remove index");
        std::fs::write(dir.path().join(STATE_FILE), b"{").expect("corrupt");
        let error = read_state(dir.path()).expect_err("corrupt");
        assert!(
            format!("{error:#}").contains("not a devwb sync state"),
            "{error:#}"
        );
    }
}
