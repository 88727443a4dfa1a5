//! The fake tenant's routes: one request in, one answer out, no sockets, so every route is
//! unit-tested without a server (the transport, [`super::server`], only moves bytes).
//!
//! - `POST /{tenant}/oauth2/v2.0/token`: [`super::auth`];
//! - `GET /v1.0/devices` (`$select`, `$expand=registeredOwners[($select=...)]`, `$top` 1..999,
//!   default 100, `$skiptoken`), `GET /v1.0/devices/{id}`, `GET /v1.0/devices/{id}/registeredOwners`;
//! - `GET /v1.0/devices/delta` (`$select`; `$deltatoken`/`$skiptoken`; page size from
//!   `Prefer: odata.maxpagesize=N`, default 200), as [`super::state`] describes;
//!   `$deltatoken=latest` answers no device and a link from the present state ("sync from now",
//!   which Entra's directory resources support);
//! - `GET /v1.0/users` (`$select`, `$top`, `$skiptoken`);
//! - admin: `PUT`, `PATCH`, `GET`, `DELETE /_adsim/entra/devices/{id}`, no token needed.
//!
//! Errors have Graph's shape, `{"error":{"code","message","innerError":{"date","request-id",
//! "client-request-id"}}}`, with `request-id` and `client-request-id` headers. Page and delta
//! tokens are base64url JSON carrying this tenant instance's random epoch, so a token from another
//! run is refused (`syncStateNotFound` for delta, as an expired one). Links are absolute, built from
//! the `Host` the client called.
//!
//! Not supported (answered with a Graph-shaped 400 that says so): `$filter`, `$orderby`,
//! `$search`, `$count`, `$skip`, `$expand` of anything but `registeredOwners`, `$top` on delta.

use std::sync::{Mutex, RwLock};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use devwb_synthetic::SplitMix64;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::auth::{AccessError, Authority};
use super::faults::{DeltaQuery, GraphFaultAction, GraphFaults, Route};
use super::model::{self, Device, Invalid, User};
use super::state::{DeltaItem, PutOutcome, TenantState};
use crate::clock::Clock;

/// Default `$top` of `/devices` and `/users`, as Graph.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Largest `$top` Graph accepts on directory collections.
pub const MAX_PAGE_SIZE: usize = 999;
/// Delta page size when the client sends no `Prefer: odata.maxpagesize`.
pub const DEFAULT_DELTA_PAGE_SIZE: usize = 200;

const JSON_CONTENT_TYPE: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// An HTTP request as the routes see it.
#[derive(Clone, Debug, Default)]
pub struct HttpRequest {
    pub method: String,
    /// The path, percent-decoding not applied (Graph ids and tenant ids need none).
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Header names in lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A request from a method and a path with an optional query (`/v1.0/devices?$top=5`).
    pub fn new(method: &str, path_and_query: &str) -> HttpRequest {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        HttpRequest {
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            ..HttpRequest::default()
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> HttpRequest {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> HttpRequest {
        self.body = body.into();
        self
    }

    fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP response.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body parsed as JSON (`Null` when it is not JSON), for tests.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the transport does with a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// Wait `delay`, then send the response.
    Respond {
        delay: Duration,
        response: HttpResponse,
    },
    /// Close the connection without answering.
    Drop,
}

/// An error in Graph's shape.
struct GraphError {
    status: u16,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl GraphError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> GraphError {
        GraphError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> GraphError {
        GraphError::new(400, "Request_BadRequest", message)
    }

    fn not_found(id: &str) -> GraphError {
        GraphError::new(
            404,
            "Request_ResourceNotFound",
            format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
        )
    }
}

impl From<Invalid> for GraphError {
    fn from(invalid: Invalid) -> GraphError {
        GraphError::bad_request(invalid.0)
    }
}

impl From<AccessError> for GraphError {
    fn from(error: AccessError) -> GraphError {
        GraphError::new(error.status, error.code, error.message)
    }
}

/// A page or delta token (base64url JSON). `e` is the tenant instance's epoch.
#[derive(Debug, Serialize, Deserialize)]
struct PageToken {
    e: u64,
    /// `list`, `users`, `full` (first delta round) or `delta` (later round).
    k: String,
    /// After this id (list, users, full).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<String>,
    /// After this sequence number (delta).
    #[serde(default)]
    s: u64,
    /// The round's upper bound (full, delta).
    #[serde(default)]
    t: u64,
    /// `$select` carried by delta tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sel: Option<Vec<String>>,
}

impl PageToken {
    fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    fn decode(text: &str) -> Option<PageToken> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// A route's answer: a JSON value, or JSON already written (a page of devices).
#[derive(Debug)]
enum Body {
    Json(Value),
    Written(Vec<u8>),
}

/// What `$expand=registeredOwners(...)` asked for.
#[derive(Clone, Debug)]
struct Expand {
    select: Option<Vec<String>>,
}

/// The OData query options the fake understands.
#[derive(Debug, Default)]
struct Query {
    select: Option<Vec<String>>,
    expand: Option<Expand>,
    top: Option<usize>,
    skiptoken: Option<String>,
    deltatoken: Option<String>,
}

fn split_list(text: &str) -> Vec<&str> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

fn parse_query(
    raw: &str,
    property: fn(&str) -> Result<String, Invalid>,
) -> Result<Query, GraphError> {
    let mut query = Query::default();
    for (name, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        let key = name.trim_start_matches('$').to_ascii_lowercase();
        match key.as_str() {
            "select" => {
                query.select = Some(
                    split_list(&value)
                        .into_iter()
                        .map(property)
                        .collect::<Result<_, _>>()?,
                )
            }
            "expand" => query.expand = Some(parse_expand(&value)?),
            "top" => {
                let top = value.trim().parse::<usize>().ok().filter(|t| (1..=MAX_PAGE_SIZE).contains(t));
                query.top = Some(top.ok_or_else(|| {
                    GraphError::bad_request(format!(
                        "Invalid page size specified: '{value}'. Must be between 1 and {MAX_PAGE_SIZE} inclusive."
                    ))
                })?);
            }
            "skiptoken" => query.skiptoken = Some(value.into_owned()),
            "deltatoken" => query.deltatoken = Some(value.into_owned()),
            "filter" | "orderby" | "search" | "count" | "skip" | "format" | "apply" => {
                return Err(GraphError::new(
                    400,
                    "Request_UnsupportedQuery",
                    format!("Unsupported query option '${key}': the fake tenant supports $select, $expand=registeredOwners, $top and paging tokens."),
                ))
            }
            _ if name.starts_with('$') => {
                return Err(GraphError::bad_request(format!(
                    "The query parameter '{name}' is not supported."
                )))
            }
            // Custom query options without `$` are ignored, as OData does.
            _ => {}
        }
    }
    Ok(query)
}

fn parse_expand(text: &str) -> Result<Expand, GraphError> {
    let text = text.trim();
    let (name, options) = match text.split_once('(') {
        Some((name, rest)) => (
            name.trim(),
            Some(rest.strip_suffix(')').ok_or_else(|| {
                GraphError::bad_request(format!("$expand={text}: unbalanced parentheses"))
            })?),
        ),
        None => (text, None),
    };
    if !name.eq_ignore_ascii_case("registeredOwners") {
        return Err(GraphError::bad_request(format!(
            "$expand={name}: the fake tenant expands registeredOwners only."
        )));
    }
    let mut select = None;
    if let Some(options) = options {
        for option in options.split(';').map(str::trim).filter(|o| !o.is_empty()) {
            let (key, value) = option.split_once('=').unwrap_or((option, ""));
            if !key
                .trim()
                .trim_start_matches('$')
                .eq_ignore_ascii_case("select")
            {
                return Err(GraphError::bad_request(format!(
                    "$expand=registeredOwners({option}): only $select is supported inside the expansion."
                )));
            }
            select = Some(
                split_list(value)
                    .into_iter()
                    .map(model::user_property)
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
    }
    Ok(Expand { select })
}

/// The tenant: state, token service, faults, and what its answers need.
pub struct Tenant {
    pub(crate) state: RwLock<TenantState>,
    pub(crate) authority: Authority,
    pub(crate) faults: GraphFaults,
    epoch: u64,
    request_ids: Mutex<SplitMix64>,
    clock: std::sync::Arc<dyn Clock>,
    /// Where links point when a request has no `Host` (the listener's `https://ip:port`).
    pub(crate) default_base_url: RwLock<String>,
    /// The HTTP status of an expired delta token (410 by default; Microsoft documents 400 with the
    /// same `syncStateNotFound` code for directory objects).
    pub(crate) expired_delta_status: u16,
}

impl std::fmt::Debug for Tenant {
    // Counts, not contents: a tenant may hold 100,000 devices.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.read();
        f.debug_struct("Tenant")
            .field("authority", &self.authority)
            .field("devices", &state.device_count())
            .field("users", &state.user_count())
            .field("position", &state.position())
            .finish_non_exhaustive()
    }
}

impl Tenant {
    pub(crate) fn new(
        authority: Authority,
        faults: GraphFaults,
        epoch: u64,
        clock: std::sync::Arc<dyn Clock>,
        expired_delta_status: u16,
    ) -> Tenant {
        Tenant {
            state: RwLock::new(TenantState::default()),
            authority,
            faults,
            epoch,
            request_ids: Mutex::new(SplitMix64::new(epoch ^ 0x5EED)),
            clock,
            default_base_url: RwLock::new("https://127.0.0.1".to_string()),
            expired_delta_status,
        }
    }

    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, TenantState> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, TenantState> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    fn request_id(&self) -> String {
        let mut ids = self.request_ids.lock().unwrap_or_else(|e| e.into_inner());
        ids.guid().to_string().to_ascii_lowercase()
    }

    fn timestamp(&self) -> (String, String) {
        let seconds = self
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let (date, time) = civil(seconds);
        (format!("{date}T{time}"), format!("{date} {time}Z"))
    }

    fn base_url(&self, request: &HttpRequest) -> String {
        match request.header_value("host") {
            Some(host) if !host.is_empty() && !host.contains(['/', ' ']) => {
                format!("https://{host}")
            }
            _ => self
                .default_base_url
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    /// Answers one request.
    pub fn handle(&self, request: &HttpRequest) -> Reply {
        let segments: Vec<&str> = request
            .path
            .trim_start_matches('/')
            .trim_end_matches('/')
            .split('/')
            .collect();
        let route = route_of(&segments);
        let mut delay = Duration::ZERO;
        if let Some(route) = route {
            match self.faults.decide(route, DeltaQuery::of(&request.query)) {
                None => {}
                Some(GraphFaultAction::Drop) => return Reply::Drop,
                Some(GraphFaultAction::Latency(latency)) => delay = latency,
                Some(GraphFaultAction::Throttle {
                    retry_after_seconds,
                }) => {
                    let mut error = GraphError::new(
                        429,
                        "TooManyRequests",
                        "Too many requests. Please retry after the delay in Retry-After.",
                    );
                    error.retry_after = Some(retry_after_seconds);
                    return self.respond(request, delay, Err(error));
                }
                Some(GraphFaultAction::Unavailable {
                    retry_after_seconds,
                }) => {
                    let mut error = GraphError::new(
                        503,
                        "serviceNotAvailable",
                        "The service is temporarily unavailable. Please retry later.",
                    );
                    error.retry_after = retry_after_seconds;
                    return self.respond(request, delay, Err(error));
                }
                Some(GraphFaultAction::ExpireDeltaToken) => {
                    return self.respond(request, delay, Err(self.sync_state_not_found()))
                }
                Some(GraphFaultAction::ExpireAccessToken) => {
                    return self.respond(request, delay, Err(AccessError::EXPIRED.into()))
                }
                Some(GraphFaultAction::RefuseLatestDeltaToken) => {
                    let refused = GraphError::new(
                        400,
                        "Request_UnsupportedQuery",
                        "Unsupported query: $deltatoken=latest is not supported on this resource.",
                    );
                    return self.respond(request, delay, Err(refused));
                }
            }
        }
        if route == Some(Route::Token) {
            return self.token(request, segments.first().copied().unwrap_or(""), delay);
        }
        let result = self.route(request, &segments);
        self.respond(request, delay, result)
    }

    fn sync_state_not_found(&self) -> GraphError {
        GraphError::new(
            self.expired_delta_status,
            "syncStateNotFound",
            "The sync state generation is not found. The delta token is expired and data must be synchronized again.",
        )
    }

    fn respond(
        &self,
        request: &HttpRequest,
        delay: Duration,
        result: Result<(u16, Option<Body>), GraphError>,
    ) -> Reply {
        let request_id = self.request_id();
        let client_request_id = request
            .header_value("client-request-id")
            .map(str::to_string)
            .unwrap_or_else(|| request_id.clone());
        let mut headers = vec![
            ("request-id".to_string(), request_id.clone()),
            ("client-request-id".to_string(), client_request_id.clone()),
        ];
        let (status, body) = match result {
            Ok((status, body)) => (status, body),
            Err(error) => {
                if let Some(seconds) = error.retry_after {
                    headers.push(("retry-after".to_string(), seconds.to_string()));
                }
                if error.status == 401 {
                    headers.push((
                        "www-authenticate".to_string(),
                        format!("Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"{}\"", super::auth::GRAPH_APP_ID),
                    ));
                }
                let (date, _) = self.timestamp();
                let body = json!({"error": {
                    "code": error.code,
                    "message": error.message,
                    "innerError": {
                        "date": date,
                        "request-id": request_id,
                        "client-request-id": client_request_id,
                    }
                }});
                (error.status, Some(Body::Json(body)))
            }
        };
        let body = match body {
            Some(body) => {
                headers.push(("content-type".to_string(), JSON_CONTENT_TYPE.to_string()));
                match body {
                    Body::Json(value) => serde_json::to_vec(&value).unwrap_or_default(),
                    Body::Written(bytes) => bytes,
                }
            }
            None => Vec::new(),
        };
        Reply::Respond {
            delay,
            response: HttpResponse {
                status,
                headers,
                body,
            },
        }
    }

    fn token(&self, request: &HttpRequest, tenant: &str, delay: Duration) -> Reply {
        let request_id = self.request_id();
        let mut headers = vec![
            (
                "content-type".to_string(),
                "application/json; charset=utf-8".to_string(),
            ),
            ("x-ms-request-id".to_string(), request_id.clone()),
            (
                "cache-control".to_string(),
                "no-store, no-cache".to_string(),
            ),
        ];
        let (status, body) = if request.method != "POST" {
            headers.push(("allow".to_string(), "POST".to_string()));
            let error = super::auth::TokenError {
                status: 405,
                error: "invalid_request",
                code: 900561,
                description: "The endpoint only accepts POST requests.".to_string(),
            };
            let (_, stamp) = self.timestamp();
            (405, error.body(&request_id, &request_id, &stamp))
        } else {
            let form: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            match self.authority.token(tenant, &form, &self.base_url(request)) {
                Ok(body) => (200, body),
                Err(error) => {
                    tracing::debug!(code = error.code, "token request refused");
                    let (_, stamp) = self.timestamp();
                    let correlation = request
                        .header_value("client-request-id")
                        .map(str::to_string)
                        .unwrap_or_else(|| request_id.clone());
                    (error.status, error.body(&request_id, &correlation, &stamp))
                }
            }
        };
        Reply::Respond {
            delay,
            response: HttpResponse {
                status,
                headers,
                body: serde_json::to_vec(&body).unwrap_or_default(),
            },
        }
    }

    fn route(
        &self,
        request: &HttpRequest,
        segments: &[&str],
    ) -> Result<(u16, Option<Body>), GraphError> {
        let method = request.method.as_str();
        let base = self.base_url(request);
        match segments {
            ["_adsim", "entra", "devices", id] => self
                .admin(request, id)
                .map(|(status, body)| (status, body.map(Body::Json))),
            ["v1.0", rest @ ..] => {
                if method != "GET" {
                    return Err(GraphError::new(
                        405,
                        "Request_BadRequest",
                        format!("Specified HTTP method '{method}' is not allowed for the request target: the fake tenant is read-only through Graph (change it with /_adsim/entra/devices)."),
                    ));
                }
                let authorization = request.header_value("authorization");
                match rest {
                    ["devices"] => {
                        self.authority.check_access(authorization, "Device.Read.All")?;
                        self.list_devices(request, &base).map(|b| (200, Some(b)))
                    }
                    ["devices", "delta" | "delta()"] => {
                        self.authority.check_access(authorization, "Device.Read.All")?;
                        self.delta(request, &base).map(|v| (200, Some(Body::Json(v))))
                    }
                    ["devices", id] => {
                        self.authority.check_access(authorization, "Device.Read.All")?;
                        self.get_device(request, id, &base).map(|v| (200, Some(Body::Json(v))))
                    }
                    ["devices", id, "registeredOwners"] => {
                        self.authority.check_access(authorization, "Device.Read.All")?;
                        self.device_owners(request, id, &base).map(|v| (200, Some(Body::Json(v))))
                    }
                    ["users"] => {
                        self.authority.check_access(authorization, "User.Read.All")?;
                        self.list_users(request, &base).map(|v| (200, Some(Body::Json(v))))
                    }
                    [first, ..] => Err(GraphError::new(
                        400,
                        "BadRequest",
                        format!("Resource not found for the segment '{first}'."),
                    )),
                    [] => Err(GraphError::new(400, "BadRequest", "Invalid request.")),
                }
            }
            _ => Err(GraphError::new(
                400,
                "BadRequest",
                format!(
                    "Invalid version or path {:?}: the fake tenant serves /v1.0, /{{tenant}}/oauth2/v2.0/token and /_adsim/entra.",
                    request.path
                ),
            )),
        }
    }

    fn context(base: &str, entity: &str, select: Option<&[String]>, expand: bool) -> String {
        let mut parts: Vec<String> = select.map(|s| s.to_vec()).unwrap_or_default();
        if expand {
            parts.push("registeredOwners()".to_string());
        }
        if parts.is_empty() {
            format!("{base}/v1.0/$metadata#{entity}")
        } else {
            format!("{base}/v1.0/$metadata#{entity}({})", parts.join(","))
        }
    }

    fn render_device(
        state: &TenantState,
        device: &Device,
        query_select: Option<&[String]>,
        expand: Option<&Expand>,
    ) -> Value {
        let expand_select = expand.and_then(|e| e.select.as_deref());
        let wants_owners = expand.is_some();
        let owners = if wants_owners {
            state.owners_of(device)
        } else {
            Vec::new()
        };
        Value::Object(device.render(
            query_select,
            wants_owners.then_some((owners.as_slice(), expand_select)),
        ))
    }

    fn page_token(&self, raw: Option<&str>, kind: &str) -> Result<Option<PageToken>, GraphError> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        match PageToken::decode(raw) {
            Some(token) if token.e == self.epoch && token.k == kind => Ok(Some(token)),
            _ => Err(GraphError::bad_request(
                "The $skiptoken is not valid for this request (malformed, for another collection, or from another run of the tenant).",
            )),
        }
    }

    fn next_link(base: &str, path: &str, raw_query: &str, token: &PageToken) -> String {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in url::form_urlencoded::parse(raw_query.as_bytes()) {
            if !name
                .trim_start_matches('$')
                .eq_ignore_ascii_case("skiptoken")
            {
                serializer.append_pair(&name, &value);
            }
        }
        serializer.append_pair("$skiptoken", &token.encode());
        format!("{base}{path}?{}", serializer.finish())
    }

    /// A page of `/v1.0/devices`, written as JSON text: the same object a `Value` would give
    /// (keys in serde_json's order), without building one for each of up to 999 devices.
    fn list_devices(&self, request: &HttpRequest, base: &str) -> Result<Body, GraphError> {
        let query = parse_query(&request.query, model::device_property)?;
        let token = self.page_token(query.skiptoken.as_deref(), "list")?;
        let top = query.top.unwrap_or(DEFAULT_PAGE_SIZE);
        let state = self.read();
        let (devices, more) = state.devices_after(token.as_ref().and_then(|t| t.a.as_deref()), top);
        let context = Self::context(
            base,
            "devices",
            query.select.as_deref(),
            query.expand.is_some(),
        );
        let next = more.then(|| {
            let token = PageToken {
                e: self.epoch,
                k: "list".into(),
                a: devices.last().map(|d| d.id.clone()),
                s: 0,
                t: 0,
                sel: None,
            };
            Self::next_link(base, "/v1.0/devices", &request.query, &token)
        });
        let mut out = Vec::with_capacity(256 + devices.len() * 1024);
        out.extend_from_slice(b"{\"@odata.context\":");
        out.extend_from_slice(model::json_string(&context).as_bytes());
        if let Some(next) = next {
            out.extend_from_slice(b",\"@odata.nextLink\":");
            out.extend_from_slice(model::json_string(&next).as_bytes());
        }
        out.extend_from_slice(b",\"value\":[");
        let expand_select = query.expand.as_ref().and_then(|e| e.select.as_deref());
        for (index, device) in devices.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            let owners = match query.expand {
                Some(_) => state.owners_of(device),
                None => Vec::new(),
            };
            device.write_json(
                &mut out,
                query.select.as_deref(),
                query
                    .expand
                    .is_some()
                    .then_some((owners.as_slice(), expand_select)),
            );
        }
        out.extend_from_slice(b"]}");
        Ok(Body::Written(out))
    }

    fn list_users(&self, request: &HttpRequest, base: &str) -> Result<Value, GraphError> {
        let query = parse_query(&request.query, model::user_property)?;
        if query.expand.is_some() {
            return Err(GraphError::bad_request(
                "$expand is not supported on users by the fake tenant.",
            ));
        }
        let token = self.page_token(query.skiptoken.as_deref(), "users")?;
        let top = query.top.unwrap_or(DEFAULT_PAGE_SIZE);
        let state = self.read();
        let (users, more) = state.users_after(token.as_ref().and_then(|t| t.a.as_deref()), top);
        let mut body = Map::new();
        body.insert(
            "@odata.context".into(),
            Value::String(Self::context(base, "users", query.select.as_deref(), false)),
        );
        if more {
            let next = PageToken {
                e: self.epoch,
                k: "users".into(),
                a: users.last().map(|u| u.id.clone()),
                s: 0,
                t: 0,
                sel: None,
            };
            body.insert(
                "@odata.nextLink".into(),
                Value::String(Self::next_link(base, "/v1.0/users", &request.query, &next)),
            );
        }
        body.insert(
            "value".into(),
            Value::Array(
                users
                    .iter()
                    .map(|u| Value::Object(u.render(query.select.as_deref())))
                    .collect(),
            ),
        );
        Ok(Value::Object(body))
    }

    fn get_device(&self, request: &HttpRequest, id: &str, base: &str) -> Result<Value, GraphError> {
        let query = parse_query(&request.query, model::device_property)?;
        let id = id.to_ascii_lowercase();
        let state = self.read();
        let device = state
            .device(&id)
            .ok_or_else(|| GraphError::not_found(&id))?;
        let mut body = match Self::render_device(
            &state,
            device,
            query.select.as_deref(),
            query.expand.as_ref(),
        ) {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        body.insert(
            "@odata.context".into(),
            Value::String(format!(
                "{}/$entity",
                Self::context(
                    base,
                    "devices",
                    query.select.as_deref(),
                    query.expand.is_some()
                )
            )),
        );
        Ok(Value::Object(body))
    }

    fn device_owners(
        &self,
        request: &HttpRequest,
        id: &str,
        base: &str,
    ) -> Result<Value, GraphError> {
        let query = parse_query(&request.query, model::user_property)?;
        let id = id.to_ascii_lowercase();
        let state = self.read();
        let device = state
            .device(&id)
            .ok_or_else(|| GraphError::not_found(&id))?;
        let owners: Vec<Value> = state
            .owners_of(device)
            .iter()
            .map(|user| user.render_typed(query.select.as_deref()))
            .collect();
        Ok(json!({
            "@odata.context": format!("{base}/v1.0/$metadata#directoryObjects"),
            "value": owners,
        }))
    }

    fn delta(&self, request: &HttpRequest, base: &str) -> Result<Value, GraphError> {
        let query = parse_query(&request.query, model::device_property)?;
        if query.expand.is_some() || query.top.is_some() {
            return Err(GraphError::new(
                400,
                "Request_UnsupportedQuery",
                "Unsupported query: devices/delta takes $select only ($expand and $top are not supported on delta; set the page size with Prefer: odata.maxpagesize).",
            ));
        }
        let page_size = request
            .header_value("prefer")
            .and_then(|prefer| {
                prefer.split(',').find_map(|p| {
                    p.trim()
                        .strip_prefix("odata.maxpagesize=")
                        .and_then(|n| n.trim().parse::<usize>().ok())
                })
            })
            .map(|n| n.clamp(1, MAX_PAGE_SIZE))
            .unwrap_or(DEFAULT_DELTA_PAGE_SIZE);
        let state = self.read();
        // Where this page starts: a skiptoken continues a round, a deltatoken starts a later
        // round, neither starts a full round.
        let (kind, after_id, after_seq, upto, select) =
            match (query.skiptoken.as_deref(), query.deltatoken.as_deref()) {
                // "Sync from now", as Entra's directory resources offer it: no devices, only a
                // link from the tenant's present state.
                (None, Some(latest)) if latest.eq_ignore_ascii_case("latest") => (
                    "latest",
                    None,
                    state.position(),
                    state.position(),
                    query.select.clone(),
                ),
                (Some(raw), _) | (None, Some(raw)) => {
                    let token = PageToken::decode(raw)
                        .filter(|t| t.e == self.epoch && (t.k == "full" || t.k == "delta"))
                        .ok_or_else(|| self.sync_state_not_found())?;
                    let is_delta_start = query.skiptoken.is_none();
                    if is_delta_start {
                        if !state.position_is_valid(token.t) {
                            return Err(self.sync_state_not_found());
                        }
                        ("delta", None, token.t, state.position(), token.sel)
                    } else {
                        if token.k == "delta" && !state.position_is_valid(token.s.min(token.t)) {
                            return Err(self.sync_state_not_found());
                        }
                        (
                            if token.k == "full" { "full" } else { "delta" },
                            token.a,
                            token.s,
                            token.t,
                            token.sel,
                        )
                    }
                }
                (None, None) => ("full", None, 0, state.position(), query.select.clone()),
            };
        let select = select.or(query.select.clone());
        let mut value = Vec::new();
        let next = if kind == "latest" {
            None
        } else if kind == "full" {
            let (devices, more) = state.devices_after(after_id.as_deref(), page_size);
            value.extend(
                devices
                    .iter()
                    .map(|d| Self::render_device(&state, d, select.as_deref(), None)),
            );
            more.then(|| PageToken {
                e: self.epoch,
                k: "full".into(),
                a: devices.last().map(|d| d.id.clone()),
                s: 0,
                t: upto,
                sel: select.clone(),
            })
        } else {
            let (changes, more) = state.changes(after_seq, upto, page_size);
            let last = changes.last().map(|(seq, _)| *seq).unwrap_or(after_seq);
            for (_, item) in &changes {
                value.push(match item {
                    DeltaItem::Changed(device) => {
                        Self::render_device(&state, device, select.as_deref(), None)
                    }
                    DeltaItem::Removed(id) => json!({
                        "@odata.type": "#microsoft.graph.device",
                        "id": id,
                        "@removed": {"reason": "deleted"},
                    }),
                });
            }
            more.then(|| PageToken {
                e: self.epoch,
                k: "delta".into(),
                a: None,
                s: last,
                t: upto,
                sel: select.clone(),
            })
        };
        let mut body = Map::new();
        body.insert(
            "@odata.context".into(),
            Value::String(Self::context(base, "devices", select.as_deref(), false)),
        );
        match next {
            Some(token) => {
                body.insert(
                    "@odata.nextLink".into(),
                    Value::String(format!(
                        "{base}/v1.0/devices/delta?$skiptoken={}",
                        token.encode()
                    )),
                );
            }
            None => {
                let token = PageToken {
                    e: self.epoch,
                    k: "delta".into(),
                    a: None,
                    s: upto,
                    t: upto,
                    sel: select.clone(),
                };
                body.insert(
                    "@odata.deltaLink".into(),
                    Value::String(format!(
                        "{base}/v1.0/devices/delta?$deltatoken={}",
                        token.encode()
                    )),
                );
            }
        }
        body.insert("value".into(), Value::Array(value));
        Ok(Value::Object(body))
    }

    fn admin(&self, request: &HttpRequest, id: &str) -> Result<(u16, Option<Value>), GraphError> {
        let id = model::canonical_guid(id, "the device id in the path")?;
        match request.method.as_str() {
            "PUT" | "PATCH" => {
                let body: Value = serde_json::from_slice(&request.body).map_err(|e| {
                    GraphError::bad_request(format!("the body is not JSON: {e}"))
                })?;
                let outcome = if request.method == "PUT" {
                    self.put_device(&body, Some(&id))?
                } else {
                    self.patch_device(&id, &body)?
                };
                let state = self.read();
                let device = state.device(&id).ok_or_else(|| GraphError::not_found(&id))?;
                let rendered = Self::render_device(&state, device, None, Some(&Expand { select: None }));
                let status = if outcome == PutOutcome::Created { 201 } else { 200 };
                Ok((status, Some(rendered)))
            }
            "GET" => {
                let state = self.read();
                let device = state.device(&id).ok_or_else(|| GraphError::not_found(&id))?;
                Ok((200, Some(Self::render_device(&state, device, None, Some(&Expand { select: None })))))
            }
            "DELETE" => {
                if self.write().delete_device(&id) {
                    Ok((204, None))
                } else {
                    Err(GraphError::not_found(&id))
                }
            }
            other => Err(GraphError::new(
                405,
                "Request_BadRequest",
                format!("Specified HTTP method '{other}' is not allowed: use PUT, PATCH, GET or DELETE."),
            )),
        }
    }

    /// Adds or replaces a device from Graph JSON (owners as `registeredOwners`).
    pub(crate) fn put_device(
        &self,
        body: &Value,
        path_id: Option<&str>,
    ) -> Result<PutOutcome, Invalid> {
        let (device, owners) = Device::from_graph(body, path_id)?;
        Ok(self.write().put_device(device, owners))
    }

    /// Merges properties into an existing device (Graph's PATCH: given properties replace).
    pub(crate) fn patch_device(&self, id: &str, patch: &Value) -> Result<PutOutcome, Invalid> {
        let patch = patch
            .as_object()
            .ok_or_else(|| Invalid("a patch must be a JSON object".into()))?;
        let mut state = self.write();
        let device = state
            .device(id)
            .ok_or_else(|| Invalid(format!("Resource '{id}' does not exist.")))?;
        let mut merged = device.properties();
        merged.insert("id".into(), Value::String(device.id.clone()));
        let owners: Vec<User> = state.owners_of(device);
        if !patch.contains_key("registeredOwners") {
            merged.insert(
                "registeredOwners".into(),
                Value::Array(
                    owners
                        .iter()
                        .map(|u| {
                            Value::Object(u.render(Some(&[
                                "userPrincipalName".to_string(),
                                "displayName".to_string(),
                                "onPremisesSecurityIdentifier".to_string(),
                                "accountEnabled".to_string(),
                            ])))
                        })
                        .collect(),
                ),
            );
        }
        for (name, value) in patch {
            merged.insert(name.clone(), value.clone());
        }
        let (device, owners) = Device::from_graph(&Value::Object(merged), Some(id))?;
        Ok(state.put_device(device, owners))
    }
}

/// The fault route of a path, `None` for paths no rule can target (unknown ones).
fn route_of(segments: &[&str]) -> Option<Route> {
    match segments {
        [_, "oauth2", "v2.0", "token"] => Some(Route::Token),
        ["v1.0", "devices"] => Some(Route::Devices),
        ["v1.0", "devices", "delta" | "delta()"] => Some(Route::Delta),
        ["v1.0", "devices", _] | ["v1.0", "devices", _, "registeredOwners"] => Some(Route::Device),
        ["v1.0", "users"] => Some(Route::Users),
        ["_adsim", "entra", ..] => Some(Route::Admin),
        _ => None,
    }
}

/// `(YYYY-MM-DD, hh:mm:ss)` in UTC for seconds since 1970.
fn civil(seconds: u64) -> (String, String) {
    let (year, month, day) = devwb_model::civil::civil_from_days((seconds / 86_400) as i64);
    let rest = seconds % 86_400;
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!(
            "{:02}:{:02}:{:02}",
            rest / 3600,
            (rest % 3600) / 60,
            rest % 60
        ),
    )
}

#[cfg(test)]
mod tests;
