//! Attribute lists and range options as a DC reads them: one table each.

use devwb_model::SchemaLevel;

use super::*;

/// The selection `attributes` ask for, shown as `*` (when all stored attributes are) then each
/// name (with `;range=low-high` when ranged), separated by spaces; empty for no attribute.
fn check(attributes: &[&str], expected: &str) {
    let schema = Schema::for_level(SchemaLevel::W2016);
    let list: Vec<rasn_ldap::LdapString> = attributes.iter().map(|a| (*a).into()).collect();
    let selection = Selection::parse(&list, &schema);
    let mut shown: Vec<String> = Vec::new();
    if selection.all_user {
        shown.push("*".to_string());
    }
    for requested in &selection.names {
        shown.push(match requested.range {
            Some(ValueRange { low, high }) => format!(
                "{};range={low}-{}",
                requested.name,
                high.map_or("*".to_string(), |h| h.to_string())
            ),
            None => requested.name.clone(),
        });
    }
    assert_eq!(shown.join(" "), expected, "{attributes:?}");
}

#[test]
fn attribute_lists_select_what_a_windows_dc_selects() {
    // An empty list is `*`; `*` wherever it stands.
    check(&[], "*");
    check(&["*"], "*");
    check(&["cn", "*"], "* cn");
    // `+` is no attribute's name (AD has no RFC 3673): alone it selects nothing.
    check(&["+"], "");
    check(&["*", "+"], "*");
    check(&["+", "createTimeStamp"], "createTimeStamp");
    // `1.1` alone selects nothing; with other names it is ignored.
    check(&["1.1"], "");
    check(&["1.1", "cn"], "cn");
    check(&["1.1", "*"], "*");
    // Names in the schema's spelling, whatever the request's; OIDs by their name.
    check(
        &["SAMACCOUNTNAME", "objectguid"],
        "sAMAccountName objectGUID",
    );
    check(&["1.2.840.113556.1.4.221"], "sAMAccountName");
    check(&["subschemaSubentry"], "subSchemaSubEntry");
    check(&["CreateTimeStamp"], "createTimeStamp");
    // Asked for twice (in any spelling): once, as first asked.
    check(&["cn", "CN", "2.5.4.3"], "cn");
    check(&["member;range=0-9", "member"], "member;range=0-9");
    // Unknown to the schema: kept as asked (rootDSE attributes are not in the schema); the
    // entry decides whether anything comes back.
    check(&["currentTime", "noSuchThing"], "currentTime noSuchThing");
    // A malformed range makes the description unknown; empty names are nothing.
    check(&["member;range=x-1", "", "  "], "");
}

#[test]
fn base_only_attributes_are_refused_outside_base_searches() {
    let schema = Schema::for_level(SchemaLevel::W2016);
    let scope_check = |attributes: &[&str], base_scope: bool| {
        let list: Vec<rasn_ldap::LdapString> = attributes.iter().map(|a| (*a).into()).collect();
        Selection::parse(&list, &schema)
            .check_scope(&schema, base_scope)
            .map_err(|error| error.code)
    };
    for base_only in [
        "tokenGroups",
        "TOKENGROUPSNOGCACCEPTABLE",
        "tokenGroupsGlobalAndUniversal",
        "msds-memberOfTransitive",
        "msds-tokenGroupNames",
    ] {
        assert_eq!(scope_check(&["cn", base_only], true), Ok(()), "{base_only}");
        assert_eq!(
            scope_check(&["cn", base_only], false),
            Err(ResultCode::OPERATIONS_ERROR),
            "{base_only}"
        );
    }
    for anywhere in [
        "*",
        "createTimeStamp",
        "canonicalName",
        "primaryGroupToken",
        "+",
    ] {
        assert_eq!(scope_check(&[anywhere], false), Ok(()), "{anywhere}");
    }
}

/// `option` parsed, then the window over `total` values with MaxValRange `limit`, shown as
/// `start..end name-suffix` or `none`.
fn check_range(option: &str, total: usize, limit: usize, expected: &str) {
    let range = match parse_range(option) {
        RangeOption::None => None,
        RangeOption::Valid(range) => Some(range),
        RangeOption::Malformed => {
            assert_eq!("malformed", expected, "{option}");
            return;
        }
    };
    let shown = match value_window(total, range, limit) {
        None => "none".to_string(),
        Some((window, suffix)) => format!(
            "{}..{} {}",
            window.start,
            window.end,
            suffix.as_deref().unwrap_or("plain")
        ),
    };
    assert_eq!(
        shown, expected,
        "{option} over {total} values, limit {limit}"
    );
}

#[test]
fn ranges_never_overflow_and_answer_like_ad() {
    check_range("binary", 3, 1500, "0..3 plain");
    check_range("binary", 2000, 1500, "0..1500 0-1499");
    check_range("range=0-*", 3, 1500, "0..3 0-*");
    check_range("range=0-1", 3, 1500, "0..2 0-1");
    check_range("range=1-2", 3, 1500, "1..3 1-*");
    check_range("Range=1-1", 3, 1500, "1..2 1-1");
    check_range("RANGE=0-*", 2000, 1500, "0..1500 0-1499");
    check_range("range=1500-*", 2000, 1500, "1500..2000 1500-*");
    // The overflow of issue 13: `(h + 1)` with h = u64::MAX.
    check_range("range=0-18446744073709551615", 3, 1500, "0..3 0-*");
    check_range(
        "range=18446744073709551615-18446744073709551615",
        3,
        1500,
        "none",
    );
    check_range("range=18446744073709551615-*", 3, 1500, "none");
    check_range("range=0-99999999999999999999999999", 3, 1500, "0..3 0-*");
    check_range("range=2-18446744073709551615", 2000, 1500, "2..1502 2-1501");
    // Reversed and past-the-end ranges: no values, the attribute is left out.
    check_range("range=5-2", 10, 1500, "none");
    check_range("range=3-*", 3, 1500, "none");
    check_range("range=0-*", 0, 1500, "none");
    // Malformed: the attribute description is unknown.
    for malformed in [
        "range=",
        "range=5",
        "range=-3",
        "range=a-b",
        "range=1-",
        "range=*-3",
        "range=1-2-3",
        "range=+1-2",
        "range= 1-2",
    ] {
        check_range(malformed, 3, 1500, "malformed");
    }
}
