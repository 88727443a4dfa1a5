//! The source's tests: each shape read whole, cut, broken and bad, one helper per kind of check.

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
        (
            b"{\"value\": [\n{} {}]}",
            "broken.json: line 2, column 4: not valid JSON: expected ',' or ']' after a device",
        ),
        (
            b"{\"value\": [{\"a\": \"b}",
            "broken.json: line 1, column 21: not valid JSON: the file ends inside a value",
        ),
        (
            b"{\"value\": 3}",
            "broken.json: line 1, column 11: not valid JSON: \"value\" must be an array of devices",
        ),
        (
            b"{\"count\": 3}",
            "broken.json: a Graph page needs a \"value\" array of devices",
        ),
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
        page["@odata.nextLink"] = "https://graph.microsoft.com/v1.0/devices?$skiptoken=x".into();
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
    let (ids, incomplete) = read_stream(vec![page_of(&[1], true), page_of(&[2], true)]).unwrap();
    assert_eq!(ids.len(), 2);
    let why = incomplete.expect("a stream that stops at a nextLink is incomplete");
    assert!(
        why.contains("graph /devices page 2") && why.contains("last page still has"),
        "{why}"
    );
    // A page without nextLink in the middle.
    let (_, incomplete) = read_stream(vec![page_of(&[1], false), page_of(&[2], false)]).unwrap();
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

    let source =
        DeviceSource::graph_page_stream("graph /devices", vec![page_of(&[1], false)].into_iter());
    assert_eq!(source.read_all().unwrap().0.len(), 1);
    let again = source.read_all().unwrap_err().to_string();
    assert!(again.contains("read only once"), "{again}");

    let closed =
        DeviceSource::graph_page_stream("graph /devices", vec![page_of(&[1], false)].into_iter());
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
