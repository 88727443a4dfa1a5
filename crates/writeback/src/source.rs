//! The Entra device source: a Microsoft Graph `/devices` export, read as a stream.
//!
//! Three shapes are accepted (see [`SourceFormat`]):
//! - one Graph page, `{"value": [ ...devices... ], "@odata.nextLink": ...}` (a bare array works too);
//! - a directory of such pages, read in `@odata.nextLink` order, which for saved pages is the
//!   order of their file names compared with numbers as numbers (`page-2.json` before
//!   `page-10.json`); every page but the last must carry `@odata.nextLink`;
//! - JSON Lines, one device object a line, ending with the line `{"@odata.count": N}` where N is
//!   the number of device lines before it.
//!
//! Whether an export can be the whole tenant decides whether writeback may delete (see
//! [`SourceSummary::incomplete`]), so each shape says how a complete one is recognised:
//! - a page is complete when it has no `@odata.nextLink`;
//! - a directory of pages is complete when its pages are numbered without gap or repeat (the last
//!   number in each file name: `page-0001.json`, `page-0002.json`, ...), every page but the last
//!   has `@odata.nextLink` and the last has none. A missing page anywhere breaks the numbering;
//! - JSON Lines has no structure that shows a cut at a line boundary, hence the end line: its
//!   count must match, and no device line may follow it. (`cargo xtask gen-devices --format
//!   jsonl` writes it; a tool that saves Graph pages as JSON Lines adds it after the last page.)
//!
//! Registered owners come expanded in each device (`$expand=registeredOwners` with
//! `onPremisesSecurityIdentifier` selected) or, when the expansion holds only owner ids, from a
//! separate users export in any of the same shapes ([`DeviceSource::with_users_export`]).
//!
//! Nothing here holds a whole file: a page is walked by a small streaming scanner (the private `page` module)
//! that cuts the `value` array into elements, each parsed on its own, one device at a time, so a million devices need the memory
//! of one. Each record is checked into an [`EntraDevice`] or reported as a [`RecordError`] that
//! names the file, the record (index or line) and the field; a bad record never stops the others.
//! A page whose structure is broken (unbalanced brackets, a missing comma between devices) stops
//! the run ([`WritebackError::Json`], with line and column): nothing after it can be trusted. A
//! record that is not JSON inside well-formed brackets, or a JSON Lines line that is not JSON, is
//! one bad record.
//!
//! [`DeviceSource::for_each`] finds the records on one thread of its own and hands their bytes,
//! 256 records to a buffer, round-robin to 2 to 4 checking threads, which parse them into
//! serde_json_borrow's borrowed tree, check them and (with [`DeviceSource::for_each_prepared`])
//! apply the caller's preparation; the caller reads the batches back in the same round-robin
//! order, so it sees the export's order. Channels are bounded: memory is a few batches a thread.
//!
//! This module does not map to AD attributes (that is [`crate::mapping`]) and does not decide scope.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use devwb_model::{Guid, Sid};
use serde_json_borrow::{ObjectAsVec, Value};

use crate::error::{FieldProblem, RecordError, RecordLocation, RecordRef, WritebackError};
use crate::page::PageScanner;

/// The longest `displayName` AD takes (its `rangeUpper`).
pub const MAX_DISPLAY_NAME_CHARS: usize = 256;
/// The longest `msDS-DeviceOSType` AD takes.
pub const MAX_OS_TYPE_CHARS: usize = 1024;
/// The longest `msDS-DeviceOSVersion` AD takes.
pub const MAX_OS_VERSION_CHARS: usize = 512;
/// The longest value of `msDS-DevicePhysicalIDs` AD takes (values are 1..1024 characters).
pub const MAX_PHYSICAL_ID_CHARS: usize = 1024;
/// The most `physicalIds` a device may carry: AD keeps about 1,200 values of non-linked
/// multi-valued attributes per object (and answers adminLimitExceeded past that), and a real
/// device has a handful. More is a broken record, reported as one before anything is sent.
pub const MAX_PHYSICAL_IDS: usize = 1_000;

/// The shape of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceFormat {
    /// One Graph page (`{"value": [...]}`) or a bare JSON array of devices.
    GraphPage,
    /// A directory of Graph pages.
    GraphPages,
    /// One JSON object a line.
    JsonLines,
}

impl SourceFormat {
    /// The format a path most likely holds: a directory is pages, `.jsonl`/`.ndjson` is JSON
    /// Lines, anything else one page.
    pub fn detect(path: &Path) -> SourceFormat {
        if path.is_dir() {
            return SourceFormat::GraphPages;
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext)
                if ext.eq_ignore_ascii_case("jsonl") || ext.eq_ignore_ascii_case("ndjson") =>
            {
                SourceFormat::JsonLines
            }
            _ => SourceFormat::GraphPage,
        }
    }
}

/// One `alternativeSecurityIds` entry of a device, its key already base64-decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlternativeSecurityId {
    /// Graph's `type` (2 is the X509 key writeback uses).
    pub kind: i64,
    /// Graph's `identityProvider`, usually absent.
    pub identity_provider: Option<String>,
    /// The decoded key bytes (for type 2: UTF-16LE text).
    pub key: Vec<u8>,
}

/// The first registered owner of a device, as far as the export tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredOwner {
    /// The owner's Entra object id, when given.
    pub id: Option<Guid>,
    /// The owner's on-premises SID: from the expansion, else from the users export.
    pub on_premises_sid: Option<Sid>,
}

/// One device of the export, checked: every field that is present parsed and within AD's limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntraDevice {
    /// Where it came from.
    pub record: RecordRef,
    /// Graph `id` (the Entra object id).
    pub object_id: Guid,
    /// Graph `deviceId`.
    pub device_id: Guid,
    /// Graph `displayName`, at most 256 characters.
    pub display_name: String,
    /// Graph `accountEnabled`.
    pub account_enabled: bool,
    /// Graph `operatingSystem`.
    pub operating_system: Option<String>,
    /// Graph `operatingSystemVersion`.
    pub operating_system_version: Option<String>,
    /// Graph `physicalIds`.
    pub physical_ids: Vec<String>,
    /// Graph `deviceVersion`.
    pub device_version: Option<i64>,
    /// Graph `alternativeSecurityIds`.
    pub alternative_security_ids: Vec<AlternativeSecurityId>,
    /// Graph `isManaged`.
    pub is_managed: Option<bool>,
    /// Graph `isCompliant`.
    pub is_compliant: Option<bool>,
    /// Graph `trustType` (`Workplace`, `AzureAd`, `ServerAd`).
    pub trust_type: Option<String>,
    /// The first of `registeredOwners`.
    pub owner: Option<RegisteredOwner>,
    /// Whether the record has a `registeredOwners` property at all (Graph's expansion always
    /// gives one, an empty array for a device without owner): an export made without the
    /// expansion cannot place any device in or out of scope.
    pub registered_owners_listed: bool,
}

/// What the source hands out, record by record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceRecord {
    /// A device that passed every check.
    Device(Box<EntraDevice>),
    /// A record that did not: report it, write nothing for it.
    Bad(RecordError),
}

/// Totals of one pass over the source.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SourceSummary {
    /// Records seen (good and bad).
    pub records: u64,
    /// Records reported and skipped.
    pub bad_records: u64,
    /// Files read.
    pub files: u64,
    /// Why the export looks incomplete (a last page still pointing at a next one, a page that is
    /// not the last without `@odata.nextLink`, a gap in the pages' numbering, JSON Lines without
    /// its end line or with a count that does not match). When set, deletes must be withheld: a
    /// device missing from an incomplete export has not necessarily left Entra.
    pub incomplete: Option<String>,
}

#[derive(Clone, Debug)]
enum Input {
    File(PathBuf),
    Bundled {
        name: String,
        data: Cow<'static, [u8]>,
    },
    /// Pages handed over one at a time as they are read (a live Graph listing).
    Stream(PageStream),
}

impl Input {
    fn name(&self) -> String {
        match self {
            Input::File(path) => path.display().to_string(),
            Input::Bundled { name, .. } => name.clone(),
            Input::Stream(stream) => stream.name.clone(),
        }
    }

    fn open(&self) -> Result<Box<dyn BufRead + '_>, WritebackError> {
        match self {
            Input::File(path) => {
                let file = File::open(path).map_err(|source| WritebackError::Io {
                    path: path.clone(),
                    source,
                })?;
                Ok(Box::new(BufReader::with_capacity(256 * 1024, file)))
            }
            Input::Bundled { data, .. } => Ok(Box::new(&data[..])),
            Input::Stream(stream) => Err(WritebackError::Export {
                file: stream.name.clone(),
                message: "a stream of pages is read page by page".to_owned(),
            }),
        }
    }
}

/// What a page stream yields: a page's bytes, or why the listing failed (which fails the read).
pub type StreamedPage = Result<Vec<u8>, String>;

/// Pages that arrive while the source is read, read once: a second read is an error, never an
/// empty export.
#[derive(Clone)]
struct PageStream {
    name: String,
    pages: Arc<Mutex<Option<Box<dyn Iterator<Item = StreamedPage> + Send>>>>,
}

impl PageStream {
    fn take(&self) -> Result<Box<dyn Iterator<Item = StreamedPage> + Send>, WritebackError> {
        let taken = self.pages.lock().map_or(None, |mut pages| pages.take());
        taken.ok_or_else(|| WritebackError::Export {
            file: self.name.clone(),
            message: "the pages of a live listing can be read only once".to_owned(),
        })
    }
}

impl std::fmt::Debug for PageStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageStream")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Checks, page after page, that the pages of a paged export form one whole chain: every page
/// but the last carries `@odata.nextLink`, the last carries none.
#[derive(Default)]
struct PageChain {
    /// The page read last: its name and `@odata.nextLink`.
    last: Option<(Arc<str>, Option<String>)>,
}

impl PageChain {
    /// Takes the next page; returns what is wrong with the page before it, now that another
    /// page follows it.
    fn page(&mut self, name: &Arc<str>, next_link: Option<String>) -> Option<String> {
        let problem = match &self.last {
            Some((before, None)) => Some(format!(
                "{before}: a page without @odata.nextLink is followed by more pages: the pages \
                 are misordered or from different exports"
            )),
            _ => None,
        };
        self.last = Some((name.clone(), next_link));
        problem
    }

    /// What is wrong with the last page, now that no page follows it.
    fn end(&self) -> Option<String> {
        match &self.last {
            Some((name, Some(link))) => Some(format!(
                "{name}: the last page still has @odata.nextLink {link:?}: the export stops \
                 before the end of the device list"
            )),
            _ => None,
        }
    }
}

/// Entra object id to on-premises SID, read from a users export.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnerIndex {
    sids: HashMap<Guid, Sid>,
}

impl OwnerIndex {
    /// The on-premises SID of the user with this Entra object id, when it has one.
    pub fn sid_of(&self, user: &Guid) -> Option<Sid> {
        self.sids.get(user).copied()
    }

    /// How many users with an on-premises SID the index holds.
    pub fn len(&self) -> usize {
        self.sids.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.sids.is_empty()
    }
}

/// A Graph device export, ready to be streamed (see the module documentation).
#[derive(Clone, Debug)]
pub struct DeviceSource {
    format: SourceFormat,
    inputs: Vec<Input>,
    owners: Option<OwnerIndex>,
    /// What is wrong with the pages' numbering, found when the directory was listed.
    chain_problem: Option<String>,
}

impl DeviceSource {
    /// Opens an export, detecting its format from the path (see [`SourceFormat::detect`]).
    pub fn open(path: &Path) -> Result<DeviceSource, WritebackError> {
        DeviceSource::open_as(path, SourceFormat::detect(path))
    }

    /// Opens an export of a given format. For pages, lists the directory's `*.json` files now.
    pub fn open_as(path: &Path, format: SourceFormat) -> Result<DeviceSource, WritebackError> {
        let mut chain_problem = None;
        let inputs = match format {
            SourceFormat::GraphPages => {
                let pages = list_pages(path)?;
                chain_problem = page_numbering_problem(&pages);
                pages.into_iter().map(Input::File).collect()
            }
            SourceFormat::GraphPage | SourceFormat::JsonLines => {
                if !path.is_file() {
                    return Err(WritebackError::Io {
                        path: path.to_owned(),
                        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
                    });
                }
                vec![Input::File(path.to_owned())]
            }
        };
        Ok(DeviceSource {
            format,
            inputs,
            owners: None,
            chain_problem,
        })
    }

    /// An export held in memory (the demo's sample compiled into the binary), named `name` in
    /// messages.
    pub fn bundled(
        name: &str,
        data: impl Into<Cow<'static, [u8]>>,
        format: SourceFormat,
    ) -> DeviceSource {
        DeviceSource {
            format,
            inputs: vec![Input::Bundled {
                name: name.to_owned(),
                data: data.into(),
            }],
            owners: None,
            chain_problem: None,
        }
    }

    /// A listing read from Microsoft Graph, every page held in memory as the response bodies
    /// (`{"value": [...], "@odata.nextLink": ...}`), in the order they were read; page `n` is
    /// named `<name> page <n>` in messages. The caller collects every page before planning, so a
    /// page that fails after its retries fails the run before anything is planned; a listing
    /// that ended without error is the whole collection, and the usual chain check (every page
    /// but the last has `@odata.nextLink`) confirms it.
    pub fn graph_pages(name: &str, pages: Vec<Vec<u8>>) -> DeviceSource {
        DeviceSource {
            format: SourceFormat::GraphPages,
            inputs: pages
                .into_iter()
                .enumerate()
                .map(|(n, data)| Input::Bundled {
                    name: format!("{name} page {}", n + 1),
                    data: Cow::Owned(data),
                })
                .collect(),
            owners: None,
            chain_problem: None,
        }
    }

    /// A listing read from Microsoft Graph while it is planned: `pages` yields each response
    /// body (`{"value": [...], "@odata.nextLink": ...}`) as it arrives, in order, so only a few
    /// pages are in memory at a time. A page the listing could not read is an `Err` with the
    /// reason, which fails the read (and so the plan: nothing is applied). The chain check
    /// applies as for saved pages: a stream that stops at a page still carrying
    /// `@odata.nextLink` is incomplete. Page `n` is named `<name> page <n>`. The source can be
    /// read once.
    pub fn graph_page_stream(
        name: &str,
        pages: impl Iterator<Item = StreamedPage> + Send + 'static,
    ) -> DeviceSource {
        DeviceSource {
            format: SourceFormat::GraphPages,
            inputs: vec![Input::Stream(PageStream {
                name: name.to_owned(),
                pages: Arc::new(Mutex::new(Some(Box::new(pages)))),
            })],
            owners: None,
            chain_problem: None,
        }
    }

    /// Drops what is left of a live listing's pages (see [`DeviceSource::graph_page_stream`]),
    /// so the thread handing them over sees the stream closed and stops, also when nothing read
    /// it. A later read is an error. Does nothing to other sources.
    pub fn close_stream(&self) {
        for input in &self.inputs {
            if let Input::Stream(stream) = input {
                drop(stream.pages.lock().map(|mut pages| pages.take()));
            }
        }
    }

    /// Resolves owners that the device export names only by id through a users export (Graph
    /// `/users?$select=id,onPremisesSecurityIdentifier`, in any of the accepted shapes). Users
    /// without an on-premises SID are cloud-only and resolve to nothing; users whose SID does
    /// not parse are returned as record errors.
    pub fn with_users_export(
        mut self,
        path: &Path,
    ) -> Result<(DeviceSource, Vec<RecordError>), WritebackError> {
        let users = DeviceSource::open(path)?;
        let mut index = OwnerIndex::default();
        let mut errors = Vec::new();
        users.for_each_raw(&mut |raw| match parse_user(&raw) {
            Ok(Some((id, sid))) => {
                index.sids.insert(id, sid);
            }
            Ok(None) => {}
            Err(problems) => errors.push(RecordError {
                record: raw.record,
                device_id: None,
                problems,
            }),
        })?;
        self.owners = Some(index);
        Ok((self, errors))
    }

    /// The format being read.
    pub fn format(&self) -> SourceFormat {
        self.format
    }

    /// Streams every record to `visit`, in export order. Returns the totals; fails only when a
    /// file cannot be read or is not JSON.
    pub fn for_each(
        &self,
        visit: &mut dyn FnMut(SourceRecord),
    ) -> Result<SourceSummary, WritebackError> {
        self.for_each_prepared(&|record| record, visit)
    }

    /// Like [`DeviceSource::for_each`], with `prepare` applied to each checked record on the
    /// checking thread before `visit` sees it: work that needs no state of the caller's (the
    /// planner maps each device for the forest there) runs beside the caller's.
    pub fn for_each_prepared<T: Send>(
        &self,
        prepare: &(dyn Fn(SourceRecord) -> T + Sync),
        visit: &mut dyn FnMut(T),
    ) -> Result<SourceSummary, WritebackError> {
        // A reader thread finds the records and copies their bytes, a few checking threads
        // parse, check and prepare them (the costly part), and this thread hands them to `visit`.
        // Batches go round-robin to the checkers and are read back in the same round-robin order,
        // so `visit` sees export order. Batches (one byte buffer for 256 records) keep the
        // channels and the allocator cheap; the bounds keep memory at a few batches a thread.
        const BATCH: usize = 256;
        let owners = self.owners.as_ref();
        let checkers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(2, 4);
        std::thread::scope(|scope| {
            let mut raw_senders = Vec::with_capacity(checkers);
            let mut receivers = Vec::with_capacity(checkers);
            let mut checking = Vec::with_capacity(checkers);
            for _ in 0..checkers {
                let (raw_sender, raw_receiver) = std::sync::mpsc::sync_channel::<RawBatch>(4);
                let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<T>>(4);
                raw_senders.push(raw_sender);
                receivers.push(receiver);
                checking.push(scope.spawn(move || {
                    let mut bad = 0u64;
                    for raw in raw_receiver {
                        let checked = raw
                            .iter()
                            .map(|raw| {
                                prepare(match check_device(raw, owners) {
                                    Ok(device) => SourceRecord::Device(Box::new(device)),
                                    Err(error) => {
                                        bad += 1;
                                        SourceRecord::Bad(error)
                                    }
                                })
                            })
                            .collect();
                        if sender.send(checked).is_err() {
                            break;
                        }
                    }
                    bad
                }));
            }
            let reader = scope.spawn(move || {
                let mut batch = RawBatch::with_capacity(BATCH);
                let mut sent = 0usize;
                let mut checker_gone = false;
                let mut send = |batch: RawBatch| {
                    if !checker_gone {
                        checker_gone = raw_senders[sent % checkers].send(batch).is_err();
                        sent += 1;
                    }
                };
                let result = self.for_each_raw(&mut |raw| {
                    batch.push(raw);
                    if batch.records.len() == BATCH {
                        send(std::mem::replace(
                            &mut batch,
                            RawBatch::with_capacity(BATCH),
                        ));
                    }
                });
                if !batch.records.is_empty() {
                    send(batch);
                }
                result
            });
            // Batch k is with checker k % checkers; the first channel that ends in that order
            // ends the export (its checker got no batch k: the reader stopped before).
            for k in 0.. {
                let Ok(batch) = receivers[k % checkers].recv() else {
                    break;
                };
                batch.into_iter().for_each(&mut *visit);
            }
            drop(receivers);
            let stopped = || WritebackError::Export {
                file: "(export)".to_owned(),
                message: "the export reader stopped unexpectedly".to_owned(),
            };
            let mut bad = 0;
            for checker in checking {
                bad += checker.join().map_err(|_| stopped())?;
            }
            let summary = reader.join().map_err(|_| stopped())??;
            Ok(SourceSummary {
                bad_records: bad,
                ..summary
            })
        })
    }

    /// Reads the whole export into memory. For tests and small exports only.
    pub fn read_all(&self) -> Result<(Vec<SourceRecord>, SourceSummary), WritebackError> {
        let mut records = Vec::new();
        let summary = self.for_each(&mut |record| records.push(record))?;
        Ok((records, summary))
    }

    fn for_each_raw(
        &self,
        visit: &mut dyn FnMut(RawRecord<'_>),
    ) -> Result<SourceSummary, WritebackError> {
        let mut summary = SourceSummary {
            incomplete: self.chain_problem.clone(),
            ..SourceSummary::default()
        };
        let mut chain = PageChain::default();
        for input in &self.inputs {
            if let Input::Stream(stream) = input {
                for (n, page) in stream.take()?.enumerate() {
                    let page = page.map_err(|message| WritebackError::Export {
                        file: stream.name.clone(),
                        message,
                    })?;
                    let name: Arc<str> = Arc::from(format!("{} page {}", stream.name, n + 1));
                    self.read_input(&name, Box::new(&page[..]), &mut chain, &mut summary, visit)?;
                }
                continue;
            }
            let name: Arc<str> = Arc::from(input.name());
            self.read_input(&name, input.open()?, &mut chain, &mut summary, visit)?;
        }
        if summary.incomplete.is_none() {
            summary.incomplete = chain.end();
        }
        Ok(summary)
    }

    /// Reads one file or page of the source into `summary`, checking the page chain.
    fn read_input(
        &self,
        name: &Arc<str>,
        reader: Box<dyn BufRead + '_>,
        chain: &mut PageChain,
        summary: &mut SourceSummary,
        visit: &mut dyn FnMut(RawRecord<'_>),
    ) -> Result<(), WritebackError> {
        summary.files += 1;
        match self.format {
            SourceFormat::JsonLines => {
                let lines = read_lines(name, reader, visit)?;
                summary.records += lines.records;
                if summary.incomplete.is_none() {
                    summary.incomplete = lines.incompleteness(name);
                }
            }
            SourceFormat::GraphPage | SourceFormat::GraphPages => {
                let page = read_page(name, reader, visit)?;
                summary.records += page.records;
                let problem = chain.page(name, page.next_link);
                if summary.incomplete.is_none() {
                    summary.incomplete = problem;
                }
            }
        }
        Ok(())
    }
}

/// Lists `*.json` pages in a directory, in the order their names sort with numbers as numbers.
fn list_pages(dir: &Path) -> Result<Vec<PathBuf>, WritebackError> {
    let io = |source| WritebackError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut pages = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let is_json = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if is_json && path.is_file() {
            pages.push(path);
        }
    }
    if pages.is_empty() {
        return Err(WritebackError::Export {
            file: dir.display().to_string(),
            message: "the directory holds no *.json page".to_owned(),
        });
    }
    pages.sort_by(|a, b| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
    Ok(pages)
}

/// The sequence number of a page: the last run of digits in its file name (`page-0007.json`: 7).
fn page_number(path: &Path) -> Option<u64> {
    let stem = path.file_stem()?.to_str()?;
    let end = stem.rfind(|c: char| c.is_ascii_digit())? + 1;
    let start = stem[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    stem[start..end].parse().ok()
}

/// Why the pages (sorted) cannot be a whole chain, judged by their numbers: a number missing
/// between two pages (a page lost in the middle), a number given twice, or names without numbers
/// (then nothing shows a lost page).
fn page_numbering_problem(pages: &[PathBuf]) -> Option<String> {
    if pages.len() < 2 {
        return None;
    }
    let name = |p: &PathBuf| {
        p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    let mut previous: Option<(u64, &PathBuf)> = None;
    for page in pages {
        let Some(number) = page_number(page) else {
            return Some(format!(
                "{}: the page's name has no sequence number, so a missing page could not be \
                 noticed (name pages page-1.json, page-2.json, ...)",
                page.display()
            ));
        };
        if let Some((before, before_page)) = previous {
            if number == before {
                return Some(format!(
                    "{} and {} have the same sequence number {number}: pages of two exports?",
                    name(before_page),
                    name(page)
                ));
            }
            if number != before + 1 {
                return Some(format!(
                    "no page numbered {} between {} and {}: pages are missing from the middle \
                     of the export",
                    before + 1,
                    name(before_page),
                    name(page)
                ));
            }
        }
        previous = Some((number, page));
    }
    None
}

/// Compares names so that runs of digits compare as numbers: `p2` < `p10`.
pub(crate) fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, ra) = a.split_at(da);
                let (nb, rb) = b.split_at(db);
                let trim = |n: &[u8]| -> usize { n.iter().take_while(|&&c| c == b'0').count() };
                let (na, nb) = (&na[trim(na)..], &nb[trim(nb)..]);
                let order = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if order.is_ne() {
                    return order;
                }
                a = ra;
                b = rb;
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

/// The field of the end line of a complete JSON Lines export, `{"@odata.count": N}`.
pub const JSON_LINES_END_FIELD: &str = "@odata.count";

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EndLine {
    #[serde(rename = "@odata.count")]
    count: u64,
}

/// What reading a JSON Lines file found.
struct LinesTotals {
    /// Device lines (non-blank lines other than the end line).
    records: u64,
    /// The end line's count and line number, when there was one.
    end: Option<(u64, u64)>,
    /// Device lines after the end line.
    after_end: u64,
}

impl LinesTotals {
    fn incompleteness(&self, name: &str) -> Option<String> {
        match self.end {
            None => Some(format!(
                "{name}: no end line {{\"{JSON_LINES_END_FIELD}\": N}}: a JSON Lines export \
                 cut at a line boundary cannot be told from a whole one without it (add it as \
                 the last line, N the number of device lines)"
            )),
            Some((_, line)) if self.after_end > 0 => Some(format!(
                "{name}: {} device line(s) after the end line (line {line}): several exports \
                 joined together?",
                self.after_end
            )),
            Some((count, line)) if count != self.records => Some(format!(
                "{name}: the end line (line {line}) counts {count} devices, the file has {}",
                self.records
            )),
            Some(_) => None,
        }
    }
}

fn read_lines(
    name: &Arc<str>,
    mut reader: Box<dyn BufRead + '_>,
    visit: &mut dyn FnMut(RawRecord<'_>),
) -> Result<LinesTotals, WritebackError> {
    let mut line = Vec::new();
    let mut number = 0u64;
    let mut totals = LinesTotals {
        records: 0,
        end: None,
        after_end: 0,
    };
    let end_marker = format!("\"{JSON_LINES_END_FIELD}\"");
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| WritebackError::Io {
                path: PathBuf::from(&**name),
                source,
            })?;
        if read == 0 {
            return Ok(totals);
        }
        number += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // The end line is short, and only a short line that names its field is parsed twice:
        // device lines (hundreds of bytes) are not even searched.
        if line.len() <= 80 && contains(&line, end_marker.as_bytes()) {
            if let Ok(end) = serde_json::from_slice::<EndLine>(&line) {
                if totals.end.is_none() {
                    totals.end = Some((end.count, number));
                }
                continue;
            }
        }
        totals.records += 1;
        if totals.end.is_some() {
            totals.after_end += 1;
        }
        let record = RecordRef {
            file: name.clone(),
            location: RecordLocation::Line(number),
        };
        // A line that is not JSON is one bad record, not a broken file: lines are independent.
        visit(RawRecord {
            record,
            bytes: &line,
            starts_on_line: None,
        });
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// One record's bytes as read from the export, not parsed yet.
pub(crate) struct RawRecord<'b> {
    record: RecordRef,
    bytes: &'b [u8],
    /// For an element of a page: the line it starts on (a JSON Lines record is its own line).
    starts_on_line: Option<u64>,
}

impl<'b> RawRecord<'b> {
    /// Parses the record into a borrowed tree (strings without escapes are not copied); JSON
    /// that does not parse is one bad record, named by the returned problem.
    fn parse(&self) -> Result<Value<'b>, FieldProblem> {
        serde_json::from_slice::<Value<'_>>(self.bytes).map_err(|error| FieldProblem {
            field: "(record)".to_owned(),
            problem: match self.starts_on_line {
                None => format!("not JSON: {error}"),
                Some(line) => format!(
                    "not JSON: {} (the record starts on line {line})",
                    strip_position(&error)
                ),
            },
        })
    }
}

/// Records on their way from the reader thread to the checker: their bytes in one buffer.
struct RawBatch {
    bytes: Vec<u8>,
    records: Vec<(RecordRef, std::ops::Range<usize>, Option<u64>)>,
}

impl RawBatch {
    fn with_capacity(records: usize) -> RawBatch {
        RawBatch {
            bytes: Vec::with_capacity(records * 1024),
            records: Vec::with_capacity(records),
        }
    }

    fn push(&mut self, raw: RawRecord<'_>) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(raw.bytes);
        self.records
            .push((raw.record, start..self.bytes.len(), raw.starts_on_line));
    }

    fn iter(&self) -> impl Iterator<Item = RawRecord<'_>> + '_ {
        self.records
            .iter()
            .map(|(record, range, starts_on_line)| RawRecord {
                record: record.clone(),
                bytes: &self.bytes[range.clone()],
                starts_on_line: *starts_on_line,
            })
    }
}

struct PageTotals {
    records: u64,
    next_link: Option<String>,
}

fn read_page(
    name: &Arc<str>,
    reader: Box<dyn BufRead + '_>,
    visit: &mut dyn FnMut(RawRecord<'_>),
) -> Result<PageTotals, WritebackError> {
    let mut records = 0u64;
    let mut scanner = PageScanner::new(name, reader);
    let shape = scanner.scan(&mut |element| {
        let record = RecordRef {
            file: name.clone(),
            location: RecordLocation::Position(records + 1),
        };
        records += 1;
        // Inside balanced brackets, JSON that does not parse is one bad record.
        visit(RawRecord {
            record,
            bytes: element.bytes,
            starts_on_line: Some(element.line),
        });
    })?;
    if !shape.saw_value {
        return Err(WritebackError::Export {
            file: name.to_string(),
            message: "a Graph page needs a \"value\" array of devices".to_owned(),
        });
    }
    Ok(PageTotals {
        records,
        next_link: shape.next_link,
    })
}

/// serde_json's message without its " at line L column C" suffix (positions inside one record
/// mean little to a reader of the whole file).
fn strip_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// Collects the problems of one record while its fields are read.
struct Checker<'a> {
    object: Option<&'a ObjectAsVec<'a>>,
    problems: Vec<FieldProblem>,
}

impl<'a> Checker<'a> {
    fn problem(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.problems.push(FieldProblem {
            field: field.into(),
            problem: problem.into(),
        });
    }

    fn get(&self, field: &str) -> Option<&'a Value<'a>> {
        self.object
            .and_then(|o| o.get(field))
            .filter(|v| !v.is_null())
    }

    fn required_str(&mut self, field: &str) -> Option<&'a str> {
        match self.get(field) {
            None => {
                self.problem(field, "missing");
                None
            }
            Some(Value::Str(s)) => Some(s.as_ref()),
            Some(other) => {
                self.problem(field, format!("expected a string, found {}", kind(other)));
                None
            }
        }
    }

    fn optional_str(&mut self, field: &str, max_chars: usize) -> Option<String> {
        match self.get(field) {
            None => None,
            Some(Value::Str(s)) => {
                let chars = s.chars().count();
                if chars > max_chars {
                    self.problem(
                        field,
                        format!("{chars} characters, AD allows at most {max_chars}"),
                    );
                    None
                } else {
                    Some(s.to_string())
                }
            }
            Some(other) => {
                self.problem(field, format!("expected a string, found {}", kind(other)));
                None
            }
        }
    }

    fn optional_bool(&mut self, field: &str) -> Option<bool> {
        match self.get(field) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                self.problem(
                    field,
                    format!("expected true or false, found {}", kind(other)),
                );
                None
            }
        }
    }

    /// An optional SID string at `field` (null or absent: none).
    fn sid(&mut self, value: Option<&Value<'_>>, field: &str) -> Option<Sid> {
        match value {
            None | Some(Value::Null) => None,
            Some(Value::Str(text)) => match Sid::parse(text) {
                Ok(sid) => Some(sid),
                Err(error) => {
                    self.problem(field, error.to_string());
                    None
                }
            },
            Some(other) => {
                self.problem(field, format!("expected a string, found {}", kind(other)));
                None
            }
        }
    }

    fn guid(&mut self, field: &str) -> Option<Guid> {
        let text = self.required_str(field)?;
        match Guid::parse(text) {
            Ok(guid) => Some(guid),
            Err(error) => {
                self.problem(field, error.to_string());
                None
            }
        }
    }
}

fn kind(value: &Value<'_>) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::Str(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks one device record. Every problem is collected, so one report names them all.
fn check_device(
    raw: RawRecord<'_>,
    owners: Option<&OwnerIndex>,
) -> Result<EntraDevice, RecordError> {
    let parsed = raw.parse();
    let record = raw.record;
    let value = match parsed {
        Ok(value) => value,
        Err(problem) => {
            return Err(RecordError {
                record,
                device_id: None,
                problems: vec![problem],
            })
        }
    };
    let mut c = Checker {
        object: value.as_object(),
        problems: Vec::new(),
    };
    if c.object.is_none() {
        c.problem(
            "(record)",
            format!("expected a device object, found {}", kind(&value)),
        );
        return Err(RecordError {
            record,
            device_id: None,
            problems: c.problems,
        });
    }
    let raw_device_id = c.get("deviceId").and_then(Value::as_str).map(str::to_owned);
    let device_id = c.guid("deviceId");
    let object_id = c.guid("id");
    let display_name = c.required_str("displayName").map(str::to_owned);
    if let Some(name) = &display_name {
        let chars = name.chars().count();
        if chars > MAX_DISPLAY_NAME_CHARS {
            c.problem(
                "displayName",
                format!("{chars} characters, AD allows at most {MAX_DISPLAY_NAME_CHARS}"),
            );
        }
    }
    let account_enabled = c.optional_bool("accountEnabled");
    if c.object.is_some() && c.get("accountEnabled").is_none() {
        c.problem("accountEnabled", "missing");
    }
    let operating_system = c.optional_str("operatingSystem", MAX_OS_TYPE_CHARS);
    let operating_system_version = c.optional_str("operatingSystemVersion", MAX_OS_VERSION_CHARS);
    let physical_ids = check_physical_ids(&mut c);
    let device_version = match c.get("deviceVersion") {
        None => None,
        Some(v) => match v.as_i64() {
            Some(n) => Some(n),
            None => {
                c.problem(
                    "deviceVersion",
                    format!("expected an integer, found {}", kind(v)),
                );
                None
            }
        },
    };
    let alternative_security_ids = check_alternative_security_ids(&mut c);
    let is_managed = c.optional_bool("isManaged");
    let is_compliant = c.optional_bool("isCompliant");
    // Nothing is written from trustType: it is kept as given, whatever its length.
    let trust_type = c
        .get("trustType")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let registered_owners_listed = c.get("registeredOwners").is_some();
    let owner = check_owner(&mut c, owners);

    match (device_id, object_id, display_name, account_enabled) {
        (Some(device_id), Some(object_id), Some(display_name), Some(account_enabled))
            if c.problems.is_empty() =>
        {
            Ok(EntraDevice {
                record,
                object_id,
                device_id,
                display_name,
                account_enabled,
                operating_system,
                operating_system_version,
                physical_ids,
                device_version,
                alternative_security_ids,
                is_managed,
                is_compliant,
                trust_type,
                owner,
                registered_owners_listed,
            })
        }
        _ => Err(RecordError {
            record,
            device_id: raw_device_id,
            problems: c.problems,
        }),
    }
}

fn check_physical_ids(c: &mut Checker<'_>) -> Vec<String> {
    let mut ids = Vec::new();
    match c.get("physicalIds") {
        None => {}
        Some(Value::Array(items)) if items.len() > MAX_PHYSICAL_IDS => c.problem(
            "physicalIds",
            format!(
                "{} values, more than the {MAX_PHYSICAL_IDS} writeback writes (AD keeps about \
                 1,200 values of such an attribute per object)",
                items.len()
            ),
        ),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let field = format!("physicalIds[{i}]");
                match item.as_str() {
                    Some("") => c.problem(field, "empty, AD needs 1 to 1024 characters"),
                    Some(s) if s.chars().count() > MAX_PHYSICAL_ID_CHARS => c.problem(
                        field,
                        format!("{} characters, AD allows at most 1024", s.chars().count()),
                    ),
                    Some(s) => ids.push(s.to_owned()),
                    None => c.problem(field, format!("expected a string, found {}", kind(item))),
                }
            }
        }
        Some(other) => c.problem(
            "physicalIds",
            format!("expected an array, found {}", kind(other)),
        ),
    }
    ids
}

fn check_alternative_security_ids(c: &mut Checker<'_>) -> Vec<AlternativeSecurityId> {
    let mut ids = Vec::new();
    let items = match c.get("alternativeSecurityIds") {
        None => return ids,
        Some(Value::Array(items)) => items,
        Some(other) => {
            let problem = format!("expected an array, found {}", kind(other));
            c.problem("alternativeSecurityIds", problem);
            return ids;
        }
    };
    for (i, item) in items.iter().enumerate() {
        let field = |name: &str| format!("alternativeSecurityIds[{i}].{name}");
        let Some(entry) = item.as_object() else {
            let problem = format!("expected an object, found {}", kind(item));
            c.problem(format!("alternativeSecurityIds[{i}]"), problem);
            continue;
        };
        let kind_value = entry.get("type").and_then(Value::as_i64);
        if kind_value.is_none() {
            c.problem(field("type"), "missing or not an integer");
        }
        let identity_provider = entry
            .get("identityProvider")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let key = match entry.get("key") {
            Some(Value::Str(text)) => {
                match base64::engine::general_purpose::STANDARD.decode(text.as_bytes()) {
                    Ok(bytes) => Some(bytes),
                    Err(error) => {
                        c.problem(field("key"), format!("not base64: {error}"));
                        None
                    }
                }
            }
            None | Some(Value::Null) => {
                c.problem(field("key"), "missing");
                None
            }
            Some(other) => {
                let problem = format!("expected a base64 string, found {}", kind(other));
                c.problem(field("key"), problem);
                None
            }
        };
        if let (Some(kind), Some(key)) = (kind_value, key) {
            ids.push(AlternativeSecurityId {
                kind,
                identity_provider,
                key,
            });
        }
    }
    ids
}

fn check_owner(c: &mut Checker<'_>, owners: Option<&OwnerIndex>) -> Option<RegisteredOwner> {
    let first = match c.get("registeredOwners") {
        None => return None,
        Some(Value::Array(items)) => items.first()?,
        Some(other) => {
            let problem = format!("expected an array, found {}", kind(other));
            c.problem("registeredOwners", problem);
            return None;
        }
    };
    let Some(owner) = first.as_object() else {
        let problem = format!("expected an object, found {}", kind(first));
        c.problem("registeredOwners[0]", problem);
        return None;
    };
    let id = match owner.get("id").filter(|v| !v.is_null()) {
        None => None,
        Some(v) => match v.as_str().map(Guid::parse) {
            Some(Ok(id)) => Some(id),
            Some(Err(error)) => {
                c.problem("registeredOwners[0].id", error.to_string());
                None
            }
            None => {
                let problem = format!("expected a string, found {}", kind(v));
                c.problem("registeredOwners[0].id", problem);
                None
            }
        },
    };
    let field = "registeredOwners[0].onPremisesSecurityIdentifier";
    let mut on_premises_sid = c.sid(owner.get("onPremisesSecurityIdentifier"), field);
    if on_premises_sid.is_none() {
        if let (Some(index), Some(id)) = (owners, id) {
            on_premises_sid = index.sid_of(&id);
        }
    }
    Some(RegisteredOwner {
        id,
        on_premises_sid,
    })
}

/// Reads one user of a users export: `Ok(None)` for a cloud-only user (no on-premises SID).
fn parse_user(raw: &RawRecord<'_>) -> Result<Option<(Guid, Sid)>, Vec<FieldProblem>> {
    let value = &raw.parse().map_err(|problem| vec![problem])?;
    let mut c = Checker {
        object: value.as_object(),
        problems: Vec::new(),
    };
    if c.object.is_none() {
        c.problem(
            "(record)",
            format!("expected a user object, found {}", kind(value)),
        );
        return Err(c.problems);
    }
    let id = c.guid("id");
    let field = "onPremisesSecurityIdentifier";
    let sid = c.sid(c.get(field), field);
    if !c.problems.is_empty() {
        return Err(c.problems);
    }
    Ok(id.zip(sid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const OWNER: &str = "S-1-5-21-1004336348-1177238915-682003330-1105";

    fn good(device_id: &str) -> Value {
        serde_json::json!({
            "id": "11111111-2222-3333-4444-555555555555",
            "deviceId": device_id,
            "displayName": "DESKTOP-1",
            "accountEnabled": true,
            "alternativeSecurityIds": [{"type": 2, "key": "WAA1ADAAOQA6AA=="}],
            "registeredOwners": [{"id": "aaaaaaaa-2222-3333-4444-555555555555",
                                  "onPremisesSecurityIdentifier": OWNER}],
        })
    }

    /// The one helper: reads `text` as `format` and renders every record as a line.
    fn check(format: SourceFormat, text: &str, expected: &[&str]) {
        let data: &'static [u8] = Box::leak(text.as_bytes().to_vec().into_boxed_slice());
        let source = DeviceSource::bundled("export.json", data, format);
        let (records, _) = source.read_all().expect("readable");
        let lines: Vec<String> = records
            .iter()
            .map(|r| match r {
                SourceRecord::Device(d) => format!("ok {} {}", d.record, d.device_id),
                SourceRecord::Bad(e) => format!("bad {e}"),
            })
            .collect();
        assert_eq!(lines, expected);
    }

    #[test]
    fn a_page_streams_good_records_and_names_each_bad_field() {
        let mut missing = good("x");
        missing.as_object_mut().unwrap().remove("deviceId");
        let mut bad_key = good("01234567-89ab-cdef-0123-456789abcdef");
        bad_key["alternativeSecurityIds"][0]["key"] = "not base64!".into();
        let mut long_name = good("01234567-89ab-cdef-0123-456789abcde0");
        long_name["displayName"] = "n".repeat(257).into();
        let mut bad_sid = good("01234567-89ab-cdef-0123-456789abcde1");
        bad_sid["registeredOwners"][0]["onPremisesSecurityIdentifier"] = "S-1-banana".into();
        let page = serde_json::json!({
            "@odata.context": "x",
            "value": [good("01234567-89ab-cdef-0123-456789abcdee"), missing, good("nope"), bad_key, long_name, bad_sid, 7],
        });
        check(
            SourceFormat::GraphPage,
            &page.to_string(),
            &[
                "ok export.json: record 1 01234567-89ab-cdef-0123-456789abcdee",
                "bad export.json: record 2: field deviceId: missing",
                "bad export.json: record 3 (deviceId \"nope\"): field deviceId: invalid GUID \"nope\": expected 36 characters (8-4-4-4-12 hex digits)",
                "bad export.json: record 4 (deviceId \"01234567-89ab-cdef-0123-456789abcdef\"): field alternativeSecurityIds[0].key: not base64: Invalid symbol 32, offset 3.",
                "bad export.json: record 5 (deviceId \"01234567-89ab-cdef-0123-456789abcde0\"): field displayName: 257 characters, AD allows at most 256",
                "bad export.json: record 6 (deviceId \"01234567-89ab-cdef-0123-456789abcde1\"): field registeredOwners[0].onPremisesSecurityIdentifier: invalid SID \"S-1-banana\": identifier authority is not a decimal below 2^32",
                "bad export.json: record 7: field (record): expected a device object, found a number",
            ],
        );
    }

    #[test]
    fn json_lines_report_the_line_of_a_broken_record_and_go_on() {
        let text = format!(
            "{}\n\n{{\"deviceId\": \n{}\n",
            good("01234567-89ab-cdef-0123-456789abcdee"),
            good("01234567-89ab-cdef-0123-456789abcdef")
        );
        check(
            SourceFormat::JsonLines,
            &text,
            &[
                "ok export.json: line 1 01234567-89ab-cdef-0123-456789abcdee",
                "bad export.json: line 3: field (record): not JSON: EOF while parsing a value at line 2 column 0",
                "ok export.json: line 4 01234567-89ab-cdef-0123-456789abcdef",
            ],
        );
    }

    #[test]
    fn a_broken_record_inside_a_page_is_one_bad_record_and_a_broken_page_stops_the_run() {
        let text = format!(
            "{{\"value\": [\n{{\"a\": }},\n{}]}}",
            good("01234567-89ab-cdef-0123-456789abcdee")
        );
        check(
            SourceFormat::GraphPage,
            &text,
            &[
                "bad export.json: record 1: field (record): not JSON: expected value (the record starts on line 2)",
                "ok export.json: record 2 01234567-89ab-cdef-0123-456789abcdee",
            ],
        );
        let cases: [(&[u8], &str); 4] = [
            (b"{\"value\": [\n{} {}]}", "broken.json: line 2, column 4: not valid JSON: expected ',' or ']' after a device"),
            (b"{\"value\": [{\"a\": \"b}", "broken.json: line 1, column 21: not valid JSON: the file ends inside a value"),
            (b"{\"value\": 3}", "broken.json: line 1, column 11: not valid JSON: \"value\" must be an array of devices"),
            (b"{\"count\": 3}", "broken.json: a Graph page needs a \"value\" array of devices"),
        ];
        for (bytes, expected) in cases {
            let source = DeviceSource::bundled("broken.json", bytes, SourceFormat::GraphPage);
            let error = source.read_all().expect_err("broken");
            assert_eq!(error.to_string(), expected);
        }
    }

    /// Writes pages named `names` (the device of each: its number), each with a nextLink when
    /// `next(name)` says so, and reads them back: (device ids in read order, incompleteness).
    fn read_pages(names: &[&str], next: impl Fn(&str) -> bool) -> (Vec<String>, Option<String>) {
        let dir = tempfile::tempdir().unwrap();
        for (n, name) in names.iter().enumerate() {
            let id = format!("00000000-0000-0000-0000-{:012}", n + 1);
            let mut page = serde_json::json!({"value": [good(&id)]});
            if next(name) {
                page["@odata.nextLink"] =
                    "https://graph.microsoft.com/v1.0/devices?$skiptoken=x".into();
            }
            std::fs::write(dir.path().join(name), page.to_string()).unwrap();
        }
        let source = DeviceSource::open(dir.path()).unwrap();
        assert_eq!(source.format(), SourceFormat::GraphPages);
        let (records, summary) = source.read_all().unwrap();
        let ids = records
            .iter()
            .filter_map(|r| match r {
                SourceRecord::Device(d) => Some(d.device_id.to_string()),
                SourceRecord::Bad(_) => None,
            })
            .collect();
        (ids, summary.incomplete)
    }

    #[test]
    fn pages_are_read_in_numeric_order_and_a_dangling_next_link_marks_the_export_incomplete() {
        let names: Vec<String> = (1..=10).rev().map(|n| format!("page-{n}.json")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let (ids, incomplete) = read_pages(&names, |_| true);
        // Written 10 down to 1, read 1 up to 10: page-2 before page-10.
        let expected: Vec<String> = (1..=10)
            .rev()
            .map(|n| format!("00000000-0000-0000-0000-{n:012}"))
            .collect();
        assert_eq!(ids, expected);
        let why = incomplete.expect("incomplete");
        assert!(
            why.contains("page-10.json: the last page still has @odata.nextLink"),
            "{why}"
        );
        let (_, complete) = read_pages(&names, |name| name != "page-10.json");
        assert_eq!(complete, None);
    }

    #[test]
    fn a_page_missing_from_the_middle_repeated_or_unnumbered_marks_the_export_incomplete() {
        let last_has_none = |last: &'static str| move |name: &str| name != last;
        let cases: [(&[&str], &str, &str); 4] = [
            (
                &["page-0001.json", "page-0002.json", "page-0004.json"],
                "page-0004.json",
                "no page numbered 3 between page-0002.json and page-0004.json",
            ),
            (
                &["page-1.json", "page-01.json", "page-2.json"],
                "page-2.json",
                "have the same sequence number 1",
            ),
            (
                &["first.json", "second.json"],
                "second.json",
                "the page's name has no sequence number",
            ),
            (
                &["p2.json", "p3.json", "p4.json"],
                "p3.json",
                "page without @odata.nextLink is followed by more pages",
            ),
        ];
        for (names, last, expected) in cases {
            let (ids, incomplete) = read_pages(names, last_has_none(last));
            assert_eq!(ids.len(), names.len(), "every page is still read");
            let why = incomplete.unwrap_or_default();
            assert!(why.contains(expected), "{names:?}: {why}");
        }
    }

    /// Reads pages handed over as a live listing would: (device ids, incompleteness), or the
    /// read's error.
    fn read_stream(pages: Vec<StreamedPage>) -> Result<(Vec<String>, Option<String>), String> {
        let source = DeviceSource::graph_page_stream("graph /devices", pages.into_iter());
        let (records, summary) = source.read_all().map_err(|e| e.to_string())?;
        let ids = records
            .iter()
            .filter_map(|r| match r {
                SourceRecord::Device(d) => Some(d.device_id.to_string()),
                SourceRecord::Bad(_) => None,
            })
            .collect();
        Ok((ids, summary.incomplete))
    }

    fn page_of(ids: &[u32], next: bool) -> StreamedPage {
        let value: Vec<Value> = ids
            .iter()
            .map(|n| good(&format!("00000000-0000-0000-0000-{n:012}")))
            .collect();
        let mut page = serde_json::json!({ "value": value });
        if next {
            page["@odata.nextLink"] =
                "https://graph.microsoft.com/v1.0/devices?$skiptoken=x".into();
        }
        Ok(page.to_string().into_bytes())
    }

    #[test]
    fn a_live_listing_is_read_as_its_pages_arrive_and_checked_as_one_chain() {
        let id = |n: u32| format!("00000000-0000-0000-0000-{n:012}");
        // Whole: every page but the last points at a next one.
        let (ids, incomplete) = read_stream(vec![
            page_of(&[1, 2], true),
            page_of(&[3], true),
            page_of(&[4], false),
        ])
        .unwrap();
        assert_eq!(ids, [id(1), id(2), id(3), id(4)]);
        assert_eq!(incomplete, None);
        // Cut short: the listing stopped at a page that still points at a next one.
        let (ids, incomplete) =
            read_stream(vec![page_of(&[1], true), page_of(&[2], true)]).unwrap();
        assert_eq!(ids.len(), 2);
        let why = incomplete.expect("a stream that stops at a nextLink is incomplete");
        assert!(
            why.contains("graph /devices page 2") && why.contains("last page still has"),
            "{why}"
        );
        // A page without nextLink in the middle.
        let (_, incomplete) =
            read_stream(vec![page_of(&[1], false), page_of(&[2], false)]).unwrap();
        let why = incomplete.expect("misordered");
        assert!(
            why.contains("graph /devices page 1") && why.contains("followed by more pages"),
            "{why}"
        );
        // No page at all: nothing read, and nothing says it was whole (an empty export, which
        // the planner's own guard withholds deletes for).
        assert_eq!(read_stream(vec![]).unwrap(), (vec![], None));
    }

    #[test]
    fn a_live_listing_that_fails_fails_the_read_and_is_never_read_twice() {
        let error = read_stream(vec![
            page_of(&[1], true),
            Err("listing the tenant's devices: 503 after 6 attempts".to_owned()),
        ])
        .unwrap_err();
        assert!(
            error.contains("graph /devices") && error.contains("503 after 6 attempts"),
            "{error}"
        );

        let source = DeviceSource::graph_page_stream(
            "graph /devices",
            vec![page_of(&[1], false)].into_iter(),
        );
        assert_eq!(source.read_all().unwrap().0.len(), 1);
        let again = source.read_all().unwrap_err().to_string();
        assert!(again.contains("read only once"), "{again}");

        let closed = DeviceSource::graph_page_stream(
            "graph /devices",
            vec![page_of(&[1], false)].into_iter(),
        );
        closed.close_stream();
        assert!(
            closed.read_all().is_err(),
            "a closed stream is not an empty export"
        );
    }

    #[test]
    fn a_device_with_more_physical_ids_than_ad_keeps_is_a_bad_record() {
        let mut device = good("01234567-89ab-cdef-0123-456789abcdee");
        device["physicalIds"] = (0..10_000).map(|n| format!("[GID]:g:{n}")).collect();
        let page = serde_json::json!({ "value": [device] }).to_string();
        let source = DeviceSource::bundled("many.json", page.into_bytes(), SourceFormat::GraphPage);
        let (records, _) = source.read_all().unwrap();
        let [SourceRecord::Bad(error)] = &records[..] else {
            panic!("{records:?}")
        };
        assert!(
            error
                .to_string()
                .contains("field physicalIds: 10000 values, more than the 1000"),
            "{error}"
        );
    }

    #[test]
    fn json_lines_are_complete_only_with_a_matching_end_line_at_the_end() {
        let line = |n: u64| good(&format!("00000000-0000-0000-0000-{n:012}")).to_string();
        let read = |text: String| {
            let source =
                DeviceSource::bundled("devices.jsonl", text.into_bytes(), SourceFormat::JsonLines);
            let (records, summary) = source.read_all().unwrap();
            (records.len(), summary.records, summary.incomplete)
        };
        let body = format!("{}\n{}\n{}\n", line(1), line(2), line(3));
        let cases: [(String, usize, Option<&str>); 6] = [
            (format!("{body}{{\"@odata.count\":3}}\n"), 3, None),
            (format!("{body}{{ \"@odata.count\" : 3 }}"), 3, None),
            (
                body.clone(),
                3,
                Some("devices.jsonl: no end line {\"@odata.count\": N}"),
            ),
            (
                format!("{body}{{\"@odata.count\":4}}\n"),
                3,
                Some("the end line (line 4) counts 4 devices, the file has 3"),
            ),
            (
                format!("{}\n{{\"@odata.count\":1}}\n{}\n", line(1), line(2)),
                2,
                Some("1 device line(s) after the end line (line 2)"),
            ),
            // A device that happens to carry the field is a device, not an end line.
            (
                "{\"@odata.count\":1,\"x\":1}\n{\"@odata.count\":1}\n".to_owned(),
                1,
                None,
            ),
        ];
        for (text, records, incomplete) in cases {
            let (seen, counted, why) = read(text.clone());
            assert_eq!((seen, counted), (records, records as u64), "{text}");
            match incomplete {
                None => assert_eq!(why, None, "{text}"),
                Some(expected) => {
                    let why = why.unwrap_or_default();
                    assert!(why.contains(expected), "{text}: {why}");
                }
            }
        }
    }

    #[test]
    fn owners_named_only_by_id_are_resolved_through_a_users_export() {
        let dir = tempfile::tempdir().unwrap();
        let mut device = good("01234567-89ab-cdef-0123-456789abcdee");
        device["registeredOwners"] =
            serde_json::json!([{"id": "aaaaaaaa-2222-3333-4444-555555555555"}]);
        let devices = dir.path().join("devices.jsonl");
        std::fs::write(&devices, format!("{device}\n")).unwrap();
        let users = dir.path().join("users.json");
        std::fs::write(
            &users,
            serde_json::json!({"value": [
                {"id": "aaaaaaaa-2222-3333-4444-555555555555", "onPremisesSecurityIdentifier": OWNER},
                {"id": "bbbbbbbb-2222-3333-4444-555555555555", "onPremisesSecurityIdentifier": null},
                {"id": "cccccccc-2222-3333-4444-555555555555", "onPremisesSecurityIdentifier": "S-x"},
            ]})
            .to_string(),
        )
        .unwrap();
        let (source, errors) = DeviceSource::open(&devices)
            .unwrap()
            .with_users_export(&users)
            .unwrap();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0]
            .to_string()
            .contains("record 3: field onPremisesSecurityIdentifier"));
        let (records, _) = source.read_all().unwrap();
        let SourceRecord::Device(device) = &records[0] else {
            panic!("{records:?}")
        };
        let owner = device.owner.as_ref().unwrap();
        assert_eq!(owner.on_premises_sid.unwrap().to_string(), OWNER);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_page_reader_or_the_line_reader() {
        let alphabet = b"{}[]\",:\\ \nvalue@odata.nextLinkdeviceId0123-x\xff\xc3\xa9";
        let mut rng = crate::synthetic::SplitMix64::new(5);
        for _ in 0..3000 {
            let len = rng.below(60) as usize;
            let mut bytes: Vec<u8> = b"{\"value\": [".to_vec();
            bytes.extend((0..len).map(|_| alphabet[rng.below(alphabet.len() as u64) as usize]));
            for format in [SourceFormat::GraphPage, SourceFormat::JsonLines] {
                let source = DeviceSource::bundled("fuzz.json", bytes.clone(), format);
                let _ = source.read_all();
            }
        }
    }

    #[test]
    fn natural_order_compares_numbers_as_numbers() {
        let mut names = vec!["p10.json", "p2.json", "p1.json", "p02b.json"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(names, ["p1.json", "p2.json", "p02b.json", "p10.json"]);
    }
}
