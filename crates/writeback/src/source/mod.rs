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

use devwb_model::{Guid, Sid};
use serde_json_borrow::Value;

use crate::error::{FieldProblem, RecordError, RecordLocation, RecordRef, WritebackError};
use crate::page::PageScanner;

mod check;
mod pipeline;

use check::{parse_user, strip_position};

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

#[cfg(test)]
mod tests;
