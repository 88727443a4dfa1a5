//! What a listing hands out and what it asks for: [`Listing`] (which collection, which
//! properties), [`Page`] (one response body, untouched, with its links parsed out), and
//! [`DeltaLink`] (where the next delta round starts).
//!
//! A page's `value` array is never decoded into devices here: the body goes to the caller as
//! bytes, so the writeback crate streams it through its own parser and this crate knows nothing
//! of the device model. Only the `@odata.*` links are read, and the items counted.

use std::fmt;

use bytes::Bytes;
use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use url::Url;

use crate::error::{Error, Result};

/// Graph's largest page for directory objects.
pub const MAX_PAGE_SIZE: u32 = 999;

/// The `$select` of each owner when owners are expanded or listed: the id to join on, and the SID
/// that becomes the AD device's `msDS-RegisteredOwner`.
pub const OWNER_SELECT: &str = "id,onPremisesSecurityIdentifier";

/// A saved `@odata.deltaLink`: the URL that starts the next delta round. It is an absolute HTTPS
/// URL on the Graph host; [`DeltaLink::new`] checks the form, the client checks the host.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeltaLink(String);

impl DeltaLink {
    /// A delta link read back from saved state.
    pub fn new(link: impl Into<String>) -> Result<DeltaLink> {
        let link = link.into();
        let url = Url::parse(&link)
            .map_err(|e| Error::config(format!("delta link {:?}: {e}", shorten_link(&link))))?;
        if url.scheme() != "https" {
            return Err(Error::config(format!(
                "delta link {:?} is not https",
                shorten_link(&link)
            )));
        }
        Ok(DeltaLink(link))
    }

    /// The link, verbatim.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DeltaLink {
    type Error = Error;

    fn try_from(link: String) -> Result<DeltaLink> {
        DeltaLink::new(link)
    }
}

impl From<DeltaLink> for String {
    fn from(link: DeltaLink) -> String {
        link.0
    }
}

impl fmt::Debug for DeltaLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeltaLink({})", shorten_link(&self.0))
    }
}

impl fmt::Display for DeltaLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which collection to list, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Listing {
    /// `GET /v1.0/devices?$select=..&$top=999`, with
    /// `$expand=registeredOwners($select=id,onPremisesSecurityIdentifier)` when `expand_owners`.
    Devices {
        /// The device properties to select.
        select: Vec<String>,
        /// Whether to expand the registered owners.
        expand_owners: bool,
    },
    /// `GET /v1.0/users?$select=..&$top=999`: owners' SIDs when expand is not available.
    Users {
        /// The user properties to select.
        select: Vec<String>,
    },
    /// `GET /v1.0/devices/delta?$select=..` for a first round, or the saved link for a later one.
    /// Graph does not support `$expand` on delta; owners come from [`Listing::Users`] or
    /// [`Listing::DeviceOwners`].
    DevicesDelta {
        /// Where the round starts: `None` for a first (full) round.
        from: Option<DeltaLink>,
        /// The device properties to select (first round only: later rounds carry it in the link).
        select: Vec<String>,
    },
    /// `GET /v1.0/devices/delta?$select=..&$deltatoken=latest`: "sync from now", no devices and a
    /// link from the tenant's present state (Entra's directory resources support it).
    DevicesDeltaFromNow {
        /// The device properties later rounds report.
        select: Vec<String>,
    },
    /// `GET /v1.0/devices/{id}/registeredOwners?$select=id,onPremisesSecurityIdentifier`.
    DeviceOwners {
        /// The device's object id.
        device_id: String,
    },
}

impl Listing {
    /// Whether answers are delta pages (they end in a delta link, and an expired token is
    /// [`crate::ErrorKind::DeltaTokenExpired`]).
    pub fn is_delta(&self) -> bool {
        matches!(
            self,
            Listing::DevicesDelta { .. } | Listing::DevicesDeltaFromNow { .. }
        )
    }

    /// The first URL of the listing under `base` (the Graph URL with a trailing slash).
    pub(crate) fn first_url(&self, base: &Url) -> Result<Url> {
        let join = |path: &str| {
            base.join(path)
                .map_err(|e| Error::config(format!("{path} under {base}: {e}")))
        };
        let url = match self {
            Listing::Devices {
                select,
                expand_owners,
            } => {
                let mut url = join("v1.0/devices")?;
                let mut query = format!("$select={}", select_list(select)?);
                if *expand_owners {
                    query.push_str(&format!(
                        "&$expand=registeredOwners($select={OWNER_SELECT})"
                    ));
                }
                query.push_str(&format!("&$top={MAX_PAGE_SIZE}"));
                url.set_query(Some(&query));
                url
            }
            Listing::Users { select } => {
                let mut url = join("v1.0/users")?;
                url.set_query(Some(&format!(
                    "$select={}&$top={MAX_PAGE_SIZE}",
                    select_list(select)?
                )));
                url
            }
            Listing::DevicesDelta {
                from: Some(link), ..
            } => Url::parse(link.as_str())
                .map_err(|e| Error::config(format!("delta link {link:?}: {e}")))?,
            Listing::DevicesDelta { from: None, select } => {
                let mut url = join("v1.0/devices/delta")?;
                url.set_query(Some(&format!("$select={}", select_list(select)?)));
                url
            }
            Listing::DevicesDeltaFromNow { select } => {
                let mut url = join("v1.0/devices/delta")?;
                url.set_query(Some(&format!(
                    "$select={}&$deltatoken=latest",
                    select_list(select)?
                )));
                url
            }
            Listing::DeviceOwners { device_id } => {
                let valid = !device_id.is_empty()
                    && device_id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-');
                if !valid {
                    return Err(Error::config(format!(
                        "device id {device_id:?} is not an object id (letters, digits and '-')"
                    )));
                }
                let mut url = join(&format!("v1.0/devices/{device_id}/registeredOwners"))?;
                url.set_query(Some(&format!("$select={OWNER_SELECT}")));
                url
            }
        };
        Ok(url)
    }
}

/// The `$select` value: property names as Graph spells them, comma-separated. Names are checked
/// so that no caller's text can add query parameters.
fn select_list(select: &[String]) -> Result<String> {
    if select.is_empty() {
        return Err(Error::config(
            "$select is empty: name the properties to read",
        ));
    }
    for name in select {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !valid {
            return Err(Error::config(format!(
                "$select property {name:?} is not a property name (letters, digits, '_', '.')"
            )));
        }
    }
    Ok(select.join(","))
}

/// One page of a listing: the response body as received, and what was parsed out of it.
#[derive(Clone)]
pub struct Page {
    /// The page's number in the listing, from 0.
    pub index: usize,
    /// The URL this page was read from.
    pub url: String,
    /// The whole response body (`{"@odata.context": .., "value": [..], "@odata.nextLink": ..}`),
    /// byte for byte.
    pub body: Bytes,
    /// How many items the `value` array holds.
    pub items: usize,
    /// The next page of this listing, when there is one.
    pub next_link: Option<String>,
    /// The link for the next delta round, on the last page of a delta round.
    pub delta_link: Option<DeltaLink>,
}

impl fmt::Debug for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Page")
            .field("index", &self.index)
            .field("url", &shorten_link(&self.url))
            .field("bytes", &self.body.len())
            .field("items", &self.items)
            .field("next_link", &self.next_link.as_deref().map(shorten_link))
            .field("delta_link", &self.delta_link)
            .finish()
    }
}

/// The parts of a page this crate reads.
#[derive(Deserialize)]
struct PageEnvelope {
    value: Option<CountedArray>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink")]
    delta_link: Option<String>,
}

/// A JSON array whose elements are skipped, only counted.
struct CountedArray(usize);

impl<'de> Deserialize<'de> for CountedArray {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Count;
        impl<'de> Visitor<'de> for Count {
            type Value = CountedArray;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CountedArray, A::Error> {
                let mut count = 0usize;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    count += 1;
                }
                Ok(CountedArray(count))
            }
        }
        deserializer.deserialize_seq(Count)
    }
}

/// Reads a page body's links and counts its items. The body must be a JSON object with a
/// `value` array; a page may not carry both links (Graph never sends both).
pub(crate) fn parse_page(index: usize, url: &str, body: Bytes) -> Result<Page> {
    let envelope: PageEnvelope = serde_json::from_slice(&body).map_err(|e| {
        Error::invalid_response(url, format!("page {index} is not a Graph collection: {e}"))
    })?;
    let Some(CountedArray(items)) = envelope.value else {
        return Err(Error::invalid_response(
            url,
            format!("page {index} has no \"value\" array"),
        ));
    };
    if envelope.next_link.is_some() && envelope.delta_link.is_some() {
        return Err(Error::invalid_response(
            url,
            format!("page {index} has both @odata.nextLink and @odata.deltaLink"),
        ));
    }
    let delta_link = match envelope.delta_link {
        Some(link) => Some(DeltaLink::new(link).map_err(|e| {
            Error::invalid_response(url, format!("page {index}: unusable @odata.deltaLink: {e}"))
        })?),
        None => None,
    };
    Ok(Page {
        index,
        url: url.to_string(),
        body,
        items,
        next_link: envelope.next_link,
        delta_link,
    })
}

/// Graph's error body, `{"error": {"code": .., "message": ..}}`, or the identity platform's,
/// `{"error": "invalid_client", "error_description": ..}`. Empty strings when the body is
/// neither (an HTML page from a proxy, say).
pub(crate) fn parse_error_body(body: &[u8]) -> (String, String) {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ErrorField {
        Graph {
            #[serde(default)]
            code: String,
            #[serde(default)]
            message: String,
        },
        OAuth(String),
    }
    #[derive(Deserialize)]
    struct ErrorBody {
        error: Option<ErrorField>,
        #[serde(default)]
        error_description: String,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody {
            error: Some(ErrorField::Graph { code, message }),
            ..
        }) => (code, message),
        Ok(ErrorBody {
            error: Some(ErrorField::OAuth(code)),
            error_description,
        }) => (code, first_line(&error_description)),
        _ => (String::new(), String::new()),
    }
}

/// The identity platform's descriptions run on with trace and correlation ids on further lines;
/// the first line says what is wrong.
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_string()
}

/// Whether an error answer to a delta request means the delta state is gone and the caller must
/// resync: 410 Gone (Outlook and drive resources), or the codes directory objects answer with
/// (400 `syncStateNotFound`), matched without regard to case.
pub(crate) fn is_delta_expiry(status: u16, code: &str) -> bool {
    const CODES: [&str; 5] = [
        "syncStateNotFound",
        "syncStateInvalid",
        "resyncRequired",
        "resyncApplyDifferences",
        "resyncUploadDifferences",
    ];
    status == 410 || CODES.iter().any(|known| known.eq_ignore_ascii_case(code))
}

/// A link for messages and `Debug`: skip and delta tokens run to hundreds of characters, so their
/// values are cut to their first 12. The tokens are paging cursors, not credentials; this is for
/// readability only.
pub fn shorten_link(link: &str) -> String {
    let Some((head, query)) = link.split_once('?') else {
        return link.to_string();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value))
                if (name.eq_ignore_ascii_case("$skiptoken")
                    || name.eq_ignore_ascii_case("$deltatoken"))
                    && value.len() > 16 =>
            {
                let cut = value
                    .char_indices()
                    .nth(12)
                    .map_or(value.len(), |(index, _)| index);
                format!("{name}={}...", &value[..cut])
            }
            _ => pair.to_string(),
        })
        .collect();
    format!("{head}?{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://graph.example/").unwrap()
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn first_urls_are_the_documented_requests() {
        let cases = [
            (
                Listing::Devices { select: names(&["id", "deviceId"]), expand_owners: true },
                "https://graph.example/v1.0/devices?$select=id,deviceId&$expand=registeredOwners($select=id,onPremisesSecurityIdentifier)&$top=999",
            ),
            (
                Listing::Devices { select: names(&["id"]), expand_owners: false },
                "https://graph.example/v1.0/devices?$select=id&$top=999",
            ),
            (
                Listing::Users { select: names(&["id", "onPremisesSecurityIdentifier"]) },
                "https://graph.example/v1.0/users?$select=id,onPremisesSecurityIdentifier&$top=999",
            ),
            (
                Listing::DevicesDelta { from: None, select: names(&["id", "accountEnabled"]) },
                "https://graph.example/v1.0/devices/delta?$select=id,accountEnabled",
            ),
            (
                Listing::DevicesDelta {
                    from: Some(DeltaLink::new("https://graph.example/v1.0/devices/delta?$deltatoken=abc").unwrap()),
                    select: names(&["id"]),
                },
                "https://graph.example/v1.0/devices/delta?$deltatoken=abc",
            ),
            (
                Listing::DeviceOwners { device_id: "0f6a1c52-aaaa-4b0e-9d2b-0123456789ab".into() },
                "https://graph.example/v1.0/devices/0f6a1c52-aaaa-4b0e-9d2b-0123456789ab/registeredOwners?$select=id,onPremisesSecurityIdentifier",
            ),
        ];
        for (listing, expected) in cases {
            assert_eq!(
                listing.first_url(&base()).unwrap().as_str(),
                expected,
                "{listing:?}"
            );
        }
    }

    #[test]
    fn select_names_and_device_ids_cannot_smuggle_parameters() {
        let bad = [
            Listing::Devices {
                select: names(&["id&$filter=x"]),
                expand_owners: false,
            },
            Listing::Users { select: vec![] },
            Listing::DeviceOwners {
                device_id: "../users".into(),
            },
            Listing::DeviceOwners {
                device_id: String::new(),
            },
        ];
        for listing in bad {
            let error = listing.first_url(&base()).unwrap_err().to_string();
            assert!(error.starts_with("invalid configuration"), "{error}");
        }
    }

    #[test]
    fn a_page_keeps_its_body_and_gives_its_links_and_count() {
        let body = br#"{"@odata.context":"x","value":[{"id":"1","extensionAttributes":{"a":[1,2]}},{"id":"2"}],"@odata.nextLink":"https://graph.example/v1.0/devices?$skiptoken=abc"}"#;
        let page = parse_page(3, "u", Bytes::from_static(body)).unwrap();
        assert_eq!(page.items, 2);
        assert_eq!(page.index, 3);
        assert_eq!(&page.body[..], &body[..]);
        assert_eq!(
            page.next_link.as_deref(),
            Some("https://graph.example/v1.0/devices?$skiptoken=abc")
        );
        assert!(page.delta_link.is_none());

        let last = parse_page(
            0,
            "u",
            Bytes::from_static(br#"{"value":[],"@odata.deltaLink":"https://graph.example/v1.0/devices/delta?$deltatoken=z"}"#),
        )
        .unwrap();
        assert_eq!(last.items, 0);
        assert_eq!(
            last.delta_link.unwrap().as_str(),
            "https://graph.example/v1.0/devices/delta?$deltatoken=z"
        );
    }

    #[test]
    fn malformed_pages_are_errors_naming_the_url_and_page() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"<html>proxy error</html>",
                "page 4 is not a Graph collection",
            ),
            (br#"{"values":[]}"#, "page 4 has no \"value\" array"),
            (br#"{"value":{"id":1}}"#, "page 4 is not a Graph collection"),
            (
                br#"{"value":[],"@odata.nextLink":"https://a/x","@odata.deltaLink":"https://a/y"}"#,
                "both",
            ),
            (
                br#"{"value":[],"@odata.deltaLink":"http://a/y"}"#,
                "unusable @odata.deltaLink",
            ),
            (br#"{"value":[1,2"#, "page 4 is not a Graph collection"),
        ];
        for (body, expected) in cases {
            let error = parse_page(4, "https://graph.example/p", Bytes::copy_from_slice(body))
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{error}");
            assert!(error.contains("https://graph.example/p"), "{error}");
        }
    }

    #[test]
    fn error_bodies_of_graph_and_of_the_identity_platform() {
        assert_eq!(
            parse_error_body(br#"{"error":{"code":"syncStateNotFound","message":"The sync state generation is not found.","innerError":{"date":"x"}}}"#),
            ("syncStateNotFound".into(), "The sync state generation is not found.".into())
        );
        assert_eq!(
            parse_error_body(br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1\r\nCorrelation ID: 2","error_codes":[7000215]}"#),
            ("invalid_client".into(), "AADSTS7000215: Invalid client secret provided.".into())
        );
        assert_eq!(parse_error_body(b"<html/>"), (String::new(), String::new()));
        assert_eq!(parse_error_body(b""), (String::new(), String::new()));
    }

    #[test]
    fn delta_expiry_is_410_or_a_sync_state_code() {
        assert!(is_delta_expiry(410, ""));
        assert!(is_delta_expiry(400, "syncStateNotFound"));
        assert!(is_delta_expiry(400, "SyncStateNotFound"));
        assert!(is_delta_expiry(400, "resyncRequired"));
        assert!(!is_delta_expiry(400, "Request_BadRequest"));
        assert!(!is_delta_expiry(404, ""));
    }

    #[test]
    fn long_tokens_are_shortened_for_messages_only() {
        assert_eq!(
            shorten_link(
                "https://g/v1.0/devices/delta?$deltatoken=0123456789abcdefghijklmnop&$select=id"
            ),
            "https://g/v1.0/devices/delta?$deltatoken=0123456789ab...&$select=id"
        );
        assert_eq!(
            shorten_link("https://g/v1.0/devices?$skiptoken=short"),
            "https://g/v1.0/devices?$skiptoken=short"
        );
        assert_eq!(
            shorten_link("https://g/v1.0/devices"),
            "https://g/v1.0/devices"
        );
        let link = DeltaLink::new("https://g/d?$deltatoken=0123456789abcdefghijklmnop").unwrap();
        assert_eq!(
            format!("{link:?}"),
            "DeltaLink(https://g/d?$deltatoken=0123456789ab...)"
        );
        assert_eq!(
            link.to_string(),
            "https://g/d?$deltatoken=0123456789abcdefghijklmnop"
        );
    }

    #[test]
    fn a_delta_link_round_trips_through_json_and_refuses_non_https() {
        let link = DeltaLink::new("https://g/d?$deltatoken=x").unwrap();
        let json = serde_json::to_string(&link).unwrap();
        assert_eq!(json, r#""https://g/d?$deltatoken=x""#);
        assert_eq!(serde_json::from_str::<DeltaLink>(&json).unwrap(), link);
        assert!(serde_json::from_str::<DeltaLink>(r#""http://g/d""#).is_err());
        assert!(DeltaLink::new("not a url").is_err());
    }
}
