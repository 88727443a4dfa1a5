//! The client: app-only tokens from the identity platform, cached and refreshed, and GET
//! requests to Graph with the retries, backoff and deadline Graph's throttling guidance asks
//! for; listings page by page, as an iterator ([`Pages`]) or a callback
//! ([`GraphClient::for_each_page`]).
//!
//! The API is blocking: [`GraphClient`] owns a small tokio runtime and blocks on it, as
//! devwb-ldap's client does, so sync callers (the writeback and the sync loop) use it without a
//! runtime of their own. We own the runtime rather than use `reqwest::blocking` because that
//! one also runs a runtime on a thread of its own, panics when dropped inside an async context,
//! and would not let us share one token cache between the token and Graph requests as plainly.
//!
//! It does not interpret devices or users: pages are handed out as bytes. It never logs or
//! returns a secret or an access token; URLs are logged with their paging tokens shortened.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use devwb_net::OwnedRuntime;
use url::Url;

use crate::assertion::AssertionSigner;
use crate::config::{Credential, GraphConfig, SecretString};
use crate::error::{Error, ErrorKind, Result};
use crate::page::{
    is_delta_expiry, parse_error_body, parse_page, shorten_link, DeltaLink, Listing, Page,
};
use crate::retry::{backoff, is_retryable_status, parse_retry_after};

/// The longest a token is kept before its expiry: refreshed 5 minutes early, or a tenth of its
/// lifetime early when that is shorter (short-lived tokens stay usable for most of their life).
const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// The client-assertion type of RFC 7523, which the identity platform expects.
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The page size asked of `devices/delta` (Graph's largest for directory objects).
const DELTA_PAGE_SIZE_PREFERENCE: &str = "odata.maxpagesize=999";

/// A Graph client for one tenant and app. Shared by reference across threads, or cloned (clones
/// share the runtime, the connection pool and the token cache, so a reader thread can own one).
/// Every call blocks on the client's own runtime: do not call it from inside an async task.
#[derive(Clone, Debug)]
pub struct GraphClient {
    runtime: Arc<OwnedRuntime>,
    inner: Arc<Inner>,
}

/// Counters of what the client did, for logs and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Tokens requested from the identity platform (retries included).
    pub token_requests: u64,
    /// Requests sent to Graph (retries included).
    pub graph_requests: u64,
    /// Retries after a throttled, failed or broken request (token requests included).
    pub retries: u64,
    /// Tokens dropped because Graph answered 401 with them.
    pub refreshes_after_401: u64,
}

/// What a whole listing gave, once its last page was handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListingSummary {
    /// Pages read.
    pub pages: usize,
    /// Items in all `value` arrays.
    pub items: usize,
    /// Bytes of all page bodies.
    pub bytes: usize,
    /// The link for the next delta round, for a delta listing.
    pub delta_link: Option<DeltaLink>,
    /// Time the listing took, the callback's included.
    pub elapsed: Duration,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    config: GraphConfig,
    token_url: Url,
    signer: Option<AssertionSigner>,
    token: tokio::sync::Mutex<Option<CachedToken>>,
    token_generation: AtomicU64,
    token_requests: AtomicU64,
    graph_requests: AtomicU64,
    retries: AtomicU64,
    refreshes_after_401: AtomicU64,
}

#[derive(Debug)]
struct CachedToken {
    value: SecretString,
    refresh_at: Instant,
    generation: u64,
}

/// The time and patience of one listing: every request of it, token requests included, shares
/// one deadline.
#[derive(Clone, Copy, Debug)]
struct Budget {
    started: Instant,
    deadline: Duration,
}

impl Budget {
    fn remaining(&self) -> Option<Duration> {
        self.deadline
            .checked_sub(self.started.elapsed())
            .filter(|left| !left.is_zero())
    }

    fn exceeded(&self, url: &str, last: &str) -> Error {
        ErrorKind::DeadlineExceeded {
            url: shorten_link(url),
            elapsed: self.started.elapsed(),
            deadline: self.deadline,
            last: last.to_string(),
        }
        .into()
    }
}

/// One attempt's answer: a status and body, or a failure of the HTTP stack.
enum Answer {
    Status {
        status: u16,
        retry_after: Option<Duration>,
        body: Bytes,
    },
    Failed(reqwest::Error),
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => return Answer::Failed(error),
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| parse_retry_after(value, SystemTime::now()));
    match response.bytes().await {
        Ok(body) => Answer::Status {
            status,
            retry_after,
            body,
        },
        Err(error) => Answer::Failed(error),
    }
}

/// The error and its causes on one line: reqwest's own message is "error sending request", and
/// what went wrong is further down the chain.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Whether the failure is a refused certificate (or another TLS alert), which a retry cannot fix.
fn is_tls_failure(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if is_rustls_error(cause) {
            return true;
        }
        source = cause.source();
    }
    false
}

/// Whether `error` is a rustls error, directly or wrapped in io::Errors: hyper-util wraps
/// tokio-rustls's io::Error (InvalidData, holding the rustls error) in another io::Error, and an
/// io::Error's `source()` skips the error it wraps, so the wrapping is unpeeled here.
fn is_rustls_error(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = error;
    loop {
        if current.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        match current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => current = inner,
            None => return false,
        }
    }
}

/// How long a token is used before it is refreshed.
pub(crate) fn token_use_for(lifetime: Duration) -> Duration {
    lifetime.saturating_sub(TOKEN_REFRESH_MARGIN.min(lifetime / 10))
}

/// The identity platform's token answer.
#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    // v2.0 endpoints send a number; v1.0 and some proxies send a string.
    expires_in: serde_json::Value,
}

impl GraphClient {
    /// A client for `config`. Checks the configuration and loads the credential and the trust
    /// store now; sends nothing (the first token is requested by the first listing).
    pub fn new(config: GraphConfig) -> Result<GraphClient> {
        config.validate()?;
        let signer = config.credential.signer().map_err(Error::credential)?;
        let tls = crate::tls::client_config(&config)?;
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .user_agent(concat!("devwb/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.request_timeout.min(Duration::from_secs(30)))
            .https_only(true)
            // Graph does not redirect these requests; following one could carry the bearer
            // token to a host we did not choose.
            .redirect(reqwest::redirect::Policy::none());
        builder = match &config.proxy {
            Some(proxy) => builder.proxy(
                reqwest::Proxy::all(proxy.clone())
                    .map_err(|e| Error::config(format!("proxy {proxy}: {e}")))?,
            ),
            // No proxy unless one is given: the library reads no environment variable.
            None => builder.no_proxy(),
        };
        let http = builder
            .build()
            .map_err(|e| Error::tls(format!("building the HTTP client: {}", error_chain(&e))))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("devwb-graph")
            .enable_all()
            .build()
            .map_err(|e| Error::config(format!("cannot start the client's runtime: {e}")))?;
        let token_url = config.token_endpoint()?;
        Ok(GraphClient {
            runtime: Arc::new(OwnedRuntime::new(runtime)),
            inner: Arc::new(Inner {
                http,
                config,
                token_url,
                signer,
                token: tokio::sync::Mutex::new(None),
                token_generation: AtomicU64::new(0),
                token_requests: AtomicU64::new(0),
                graph_requests: AtomicU64::new(0),
                retries: AtomicU64::new(0),
                refreshes_after_401: AtomicU64::new(0),
            }),
        })
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &GraphConfig {
        &self.inner.config
    }

    /// What the client did so far.
    pub fn stats(&self) -> ClientStats {
        let inner = &self.inner;
        ClientStats {
            token_requests: inner.token_requests.load(Ordering::Relaxed),
            graph_requests: inner.graph_requests.load(Ordering::Relaxed),
            retries: inner.retries.load(Ordering::Relaxed),
            refreshes_after_401: inner.refreshes_after_401.load(Ordering::Relaxed),
        }
    }

    /// Requests a token now unless a cached one is still fresh (a check of the credential before
    /// a long run). Listings do this by themselves.
    pub fn ensure_token(&self) -> Result<()> {
        let budget = Budget {
            started: Instant::now(),
            deadline: self.inner.config.deadline,
        };
        self.runtime.block_on(self.inner.token(&budget)).map(|_| ())
    }

    /// `GET /v1.0/devices` with `$select`, owners expanded when asked, 999 a page.
    pub fn list_devices(&self, select: &[&str], expand_owners: bool) -> Result<Pages<'_>> {
        self.pages(Listing::Devices {
            select: owned(select),
            expand_owners,
        })
    }

    /// `GET /v1.0/users` with `$select`, 999 a page (owners' SIDs when expand cannot be used).
    pub fn list_users(&self, select: &[&str]) -> Result<Pages<'_>> {
        self.pages(Listing::Users {
            select: owned(select),
        })
    }

    /// A delta round of devices: the first (every device) when `from` is `None`, else the
    /// changes since the round that gave `from`. The last page carries the next round's link
    /// ([`Pages::delta_link`]). An expired link fails with
    /// [`ErrorKind::DeltaTokenExpired`]: start again with `None`.
    pub fn devices_delta(&self, from: Option<DeltaLink>, select: &[&str]) -> Result<Pages<'_>> {
        self.pages(Listing::DevicesDelta {
            from,
            select: owned(select),
        })
    }

    /// "Sync from now": the link of a delta round that starts at the tenant's present state,
    /// without reading its devices (`$deltatoken=latest`, one request). A service that answers
    /// with devices anyway is read to the end of its round, whose link is as good; one that
    /// refuses the token fails (a 400 for Graph): take a first round with [`Self::devices_delta`].
    pub fn devices_delta_link_from_now(&self, select: &[&str]) -> Result<DeltaLink> {
        let mut pages = self.pages(Listing::DevicesDeltaFromNow {
            select: owned(select),
        })?;
        for page in pages.by_ref() {
            page?;
        }
        let summary = pages.summary();
        if summary.items > 0 {
            tracing::info!(
                devices = summary.items,
                "the service listed devices for a latest delta token: its round was read to the end"
            );
        }
        pages.delta_link().cloned().ok_or_else(|| {
            Error::invalid_response("devices/delta", "the round ended without @odata.deltaLink")
        })
    }

    /// `GET /v1.0/devices/{id}/registeredOwners` (id and SID of each owner).
    pub fn device_owners(&self, device_id: &str) -> Result<Pages<'_>> {
        self.pages(Listing::DeviceOwners {
            device_id: device_id.to_string(),
        })
    }

    /// The pages of any listing, fetched one at a time as the iterator is advanced. The listing's
    /// deadline starts now.
    pub fn pages(&self, listing: Listing) -> Result<Pages<'_>> {
        let first = listing.first_url(&self.inner.config.graph_base())?;
        self.inner
            .check_same_origin(&first)
            .map_err(|why| Error::config(format!("{}: {why}", shorten_link(first.as_str()))))?;
        tracing::debug!(url = %shorten_link(first.as_str()), "listing starts");
        Ok(Pages {
            client: self,
            is_delta: listing.is_delta(),
            next_url: Some(first.to_string()),
            index: 0,
            budget: Budget {
                started: Instant::now(),
                deadline: self.inner.config.deadline,
            },
            delta_link: None,
            pages: 0,
            items: 0,
            bytes: 0,
        })
    }

    /// Runs `on_page` on every page of `listing`, in order. The first error, the client's or the
    /// callback's, stops the listing and is returned; a listing that fails part way has still
    /// handed out its earlier pages, so callers that must not act on half a listing collect first.
    pub fn for_each_page<E: From<Error>>(
        &self,
        listing: Listing,
        mut on_page: impl FnMut(Page) -> Result<(), E>,
    ) -> Result<ListingSummary, E> {
        let mut pages = self.pages(listing)?;
        for page in pages.by_ref() {
            on_page(page?)?;
        }
        Ok(pages.summary())
    }
}

fn owned(select: &[&str]) -> Vec<String> {
    select.iter().map(|name| name.to_string()).collect()
}

/// The pages of one listing, fetched as the iterator is advanced. After an error it ends.
#[derive(Debug)]
pub struct Pages<'c> {
    client: &'c GraphClient,
    is_delta: bool,
    next_url: Option<String>,
    index: usize,
    budget: Budget,
    delta_link: Option<DeltaLink>,
    pages: usize,
    items: usize,
    bytes: usize,
}

impl Pages<'_> {
    /// The link for the next delta round, once the last page of a delta listing was read.
    pub fn delta_link(&self) -> Option<&DeltaLink> {
        self.delta_link.as_ref()
    }

    /// What the listing gave so far.
    pub fn summary(&self) -> ListingSummary {
        ListingSummary {
            pages: self.pages,
            items: self.items,
            bytes: self.bytes,
            delta_link: self.delta_link.clone(),
            elapsed: self.budget.started.elapsed(),
        }
    }

    fn fetch(&mut self, url: String) -> Result<Page> {
        let inner = &self.client.inner;
        // One span per page request, retries and token requests included. The future runs on
        // this thread inside block_on, so the entered span covers its events.
        let span = tracing::info_span!("graph_get", page = self.index, url = %shorten_link(&url));
        let _entered = span.enter();
        let body = self
            .client
            .runtime
            .block_on(inner.get(&url, &self.budget, self.is_delta))?;
        let page = parse_page(self.index, &url, body)?;
        if let Some(next) = &page.next_link {
            let parsed = Url::parse(next).map_err(|e| {
                Error::invalid_response(&url, format!("page {}: @odata.nextLink: {e}", page.index))
            })?;
            inner.check_same_origin(&parsed).map_err(|why| {
                Error::invalid_response(&url, format!("page {}: @odata.nextLink {why}", page.index))
            })?;
            if *next == url {
                return Err(Error::invalid_response(
                    &url,
                    format!("page {}: @odata.nextLink is the page itself", page.index),
                ));
            }
        }
        if self.is_delta && page.next_link.is_none() && page.delta_link.is_none() {
            return Err(Error::invalid_response(
                &url,
                format!(
                    "delta page {} has neither @odata.nextLink nor @odata.deltaLink",
                    page.index
                ),
            ));
        }
        Ok(page)
    }
}

impl Iterator for Pages<'_> {
    type Item = Result<Page>;

    fn next(&mut self) -> Option<Result<Page>> {
        let url = self.next_url.take()?;
        match self.fetch(url) {
            Ok(page) => {
                self.index += 1;
                self.pages += 1;
                self.items += page.items;
                self.bytes += page.body.len();
                self.next_url = page.next_link.clone();
                if self.is_delta {
                    self.delta_link = page.delta_link.clone();
                }
                tracing::debug!(
                    page = page.index,
                    items = page.items,
                    bytes = page.body.len(),
                    more = page.next_link.is_some(),
                    "page read"
                );
                Some(Ok(page))
            }
            // `next_url` stays empty: the listing ends with its first error.
            Err(error) => Some(Err(error)),
        }
    }
}

impl Inner {
    /// Links Graph hands out are followed verbatim, but only to the Graph host we were given:
    /// the bearer token goes with every request.
    fn check_same_origin(&self, url: &Url) -> std::result::Result<(), String> {
        let base = &self.config.graph_url;
        if url.scheme() == base.scheme()
            && url.host_str() == base.host_str()
            && url.port_or_known_default() == base.port_or_known_default()
        {
            Ok(())
        } else {
            Err(format!(
                "points to {}://{}, not to the Graph URL {}",
                url.scheme(),
                url.host_str().unwrap_or(""),
                base
            ))
        }
    }

    /// A token that is fresh now, and its generation (to drop exactly it after a 401).
    async fn token(&self, budget: &Budget) -> Result<(SecretString, u64)> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref() {
            if Instant::now() < token.refresh_at {
                return Ok((token.value.clone(), token.generation));
            }
            tracing::debug!("access token due for refresh");
        }
        let (value, lifetime) = self.request_token(budget).await?;
        let generation = self.token_generation.fetch_add(1, Ordering::Relaxed) + 1;
        let refresh_at = Instant::now() + token_use_for(lifetime);
        tracing::info!(
            lifetime_secs = lifetime.as_secs(),
            generation,
            "access token acquired"
        );
        *cached = Some(CachedToken {
            value: value.clone(),
            refresh_at,
            generation,
        });
        Ok((value, generation))
    }

    /// Drops the cached token if it is still the one of `generation` (another request may have
    /// refreshed it already).
    async fn invalidate_token(&self, generation: u64) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.generation == generation) {
            *cached = None;
        }
    }

    /// The token request's form: client credentials, by secret or by signed assertion.
    fn token_form(&self) -> Result<String> {
        let config = &self.config;
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("client_id", &config.client_id)
            .append_pair("scope", &config.scope())
            .append_pair("grant_type", "client_credentials");
        match (&config.credential, &self.signer) {
            (Credential::Secret(secret), _) => {
                form.append_pair("client_secret", secret.expose());
            }
            (Credential::Certificate { .. }, Some(signer)) => {
                let now = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or(Duration::ZERO)
                    .as_secs();
                let jti = random_jti();
                let assertion = signer
                    .sign(&config.client_id, self.token_url.as_str(), now, &jti)
                    .map_err(Error::credential)?;
                form.append_pair("client_assertion_type", ASSERTION_TYPE)
                    .append_pair("client_assertion", &assertion);
            }
            (Credential::Certificate { .. }, None) => {
                return Err(Error::credential(
                    "certificate credential without a signer (the client was not built from it)",
                ))
            }
        }
        Ok(form.finish())
    }

    /// Text from an answer with the client secret blanked out, should it ever be echoed.
    fn scrub(&self, text: String) -> String {
        match &self.config.credential {
            Credential::Secret(secret) if !secret.expose().is_empty() => {
                text.replace(secret.expose(), "********")
            }
            _ => text,
        }
    }

    /// Requests a token, retrying throttling and faults like any Graph request.
    async fn request_token(&self, budget: &Budget) -> Result<(SecretString, Duration)> {
        let body = self.request(Target::Token, budget).await?;
        parse_token_answer(self.token_url.as_str(), &body)
    }

    /// GETs one page, with the token, the retries, and one refresh after a 401.
    async fn get(&self, url: &str, budget: &Budget, is_delta: bool) -> Result<Bytes> {
        self.request(Target::Page { url, is_delta }, budget).await
    }

    /// The one retry loop of every request: sends it until it succeeds, fails in a way a retry
    /// cannot fix, runs out of retries or of the budget's time. A page's request gets a token
    /// for each attempt and, once, a new one after a 401.
    async fn request(&self, target: Target<'_>, budget: &Budget) -> Result<Bytes> {
        let url = match target {
            Target::Token => self.token_url.as_str(),
            Target::Page { url, .. } => url,
        };
        let mut retry = RetryState::new(url);
        let mut refreshed = false;
        loop {
            let remaining = budget
                .remaining()
                .ok_or_else(|| budget.exceeded(url, &retry.last))?;
            let (request, generation) = match target {
                Target::Token => {
                    // A fresh form each attempt: an assertion's jti must not be replayed.
                    let form = self.token_form()?;
                    self.token_requests.fetch_add(1, Ordering::Relaxed);
                    let request = self
                        .http
                        .post(self.token_url.clone())
                        .header(
                            reqwest::header::CONTENT_TYPE,
                            "application/x-www-form-urlencoded",
                        )
                        .header(reqwest::header::ACCEPT, "application/json")
                        .timeout(self.config.request_timeout.min(remaining))
                        .body(form);
                    (request, None)
                }
                Target::Page { url, is_delta } => {
                    // Boxed: a token request is itself a `request`.
                    let (token, generation) = Box::pin(self.token(budget)).await?;
                    let remaining = budget.remaining().unwrap_or(remaining);
                    self.graph_requests.fetch_add(1, Ordering::Relaxed);
                    let mut request = self
                        .http
                        .get(url)
                        .bearer_auth(token.expose())
                        .header(reqwest::header::ACCEPT, "application/json")
                        .timeout(self.config.request_timeout.min(remaining));
                    if is_delta {
                        // Delta takes no $top; its page size is asked for this way (Graph may
                        // give fewer). Five times fewer round trips than its default of 200.
                        request = request.header("Prefer", DELTA_PAGE_SIZE_PREFERENCE);
                    }
                    (request, Some(generation))
                }
            };
            retry.attempts += 1;
            let wait = match (send(request).await, generation) {
                (Answer::Status { status, body, .. }, _) if (200..300).contains(&status) => {
                    return Ok(body);
                }
                (
                    Answer::Status {
                        status: 401, body, ..
                    },
                    Some(generation),
                ) if !refreshed => {
                    // A token can be revoked or expire early (clock skew, a key rollover):
                    // get a new one once, then retry at once.
                    let (code, message) = parse_error_body(&body);
                    tracing::warn!(
                        url = %shorten_link(url),
                        code = %code,
                        "Graph answered 401: refreshing the access token once"
                    );
                    self.refreshes_after_401.fetch_add(1, Ordering::Relaxed);
                    self.invalidate_token(generation).await;
                    refreshed = true;
                    retry.last = describe_status(401, &code, &message);
                    continue;
                }
                (
                    Answer::Status {
                        status,
                        retry_after,
                        body,
                    },
                    _,
                ) => {
                    let (code, message) = parse_error_body(&body);
                    let message = self.scrub(message);
                    let is_delta = matches!(target, Target::Page { is_delta: true, .. });
                    if is_delta && is_delta_expiry(status, &code) {
                        tracing::warn!(
                            url = %shorten_link(url),
                            status,
                            code = %code,
                            "the delta token is expired or unknown: a full resync is needed"
                        );
                        return Err(ErrorKind::DeltaTokenExpired {
                            url: url.to_string(),
                            status,
                            code,
                            message,
                        }
                        .into());
                    }
                    if !is_retryable_status(status) || retry.exhausted(&self.config) {
                        let url = url.to_string();
                        return Err(match target {
                            Target::Token => ErrorKind::TokenRefused {
                                url,
                                status,
                                code,
                                message,
                            },
                            Target::Page { .. } => ErrorKind::Http {
                                url,
                                status,
                                code,
                                message,
                                attempts: retry.attempts,
                            },
                        }
                        .into());
                    }
                    retry.last = describe_status(status, &code, &message);
                    retry_after.unwrap_or_else(|| retry.backoff(&self.config))
                }
                (Answer::Failed(error), _) => {
                    let detail = self.scrub(error_chain(&error));
                    if is_tls_failure(&error) {
                        return Err(ErrorKind::Certificate {
                            url: url.to_string(),
                            detail,
                        }
                        .into());
                    }
                    if retry.exhausted(&self.config) {
                        return Err(retry.transport_error(detail));
                    }
                    retry.last = detail;
                    retry.backoff(&self.config)
                }
            };
            self.wait_before_retry(budget, &mut retry, wait).await?;
        }
    }

    /// Sleeps `wait` before the next attempt, or fails at once when the wait would end past the
    /// deadline (sleeping only to give up would waste the caller's time).
    async fn wait_before_retry(
        &self,
        budget: &Budget,
        retry: &mut RetryState<'_>,
        wait: Duration,
    ) -> Result<()> {
        if budget.started.elapsed() + wait >= budget.deadline {
            return Err(budget.exceeded(
                retry.url,
                &format!("{} (next retry in {wait:?})", retry.last),
            ));
        }
        retry.retries += 1;
        self.retries.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            url = %shorten_link(retry.url),
            attempt = retry.attempts,
            wait_ms = wait.as_millis() as u64,
            last = %retry.last,
            "retrying"
        );
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

/// What a request is for.
#[derive(Clone, Copy, Debug)]
enum Target<'u> {
    /// POST the token form to the token endpoint; a refusal is `TokenRefused`.
    Token,
    /// GET a Graph page with the access token; a refusal is `Http`, and a delta page's expired
    /// token is `DeltaTokenExpired`.
    Page { url: &'u str, is_delta: bool },
}

/// The retry bookkeeping of one request.
struct RetryState<'u> {
    url: &'u str,
    attempts: u32,
    retries: u32,
    last: String,
}

impl<'u> RetryState<'u> {
    fn new(url: &'u str) -> RetryState<'u> {
        RetryState {
            url,
            attempts: 0,
            retries: 0,
            last: "no answer yet".to_string(),
        }
    }

    fn exhausted(&self, config: &GraphConfig) -> bool {
        self.retries >= config.retry.max_retries
    }

    fn backoff(&self, config: &GraphConfig) -> Duration {
        backoff(&config.retry, self.retries, &mut rand::rng())
    }

    fn transport_error(&self, detail: String) -> Error {
        ErrorKind::Transport {
            url: self.url.to_string(),
            detail,
            attempts: self.attempts,
        }
        .into()
    }
}

fn describe_status(status: u16, code: &str, message: &str) -> String {
    match (code.is_empty(), message.is_empty()) {
        (true, true) => format!("HTTP {status}"),
        (false, true) => format!("HTTP {status} ({code})"),
        (true, false) => format!("HTTP {status}: {message}"),
        (false, false) => format!("HTTP {status} ({code}: {message})"),
    }
}

/// Reads the token answer. Its errors never quote the body, which holds the token.
fn parse_token_answer(url: &str, body: &[u8]) -> Result<(SecretString, Duration)> {
    let answer: TokenAnswer = serde_json::from_slice(body).map_err(|e| {
        Error::invalid_response(
            url,
            format!(
                "the token answer is not JSON with access_token and expires_in (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    let seconds = match &answer.expires_in {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    let Some(seconds) = seconds else {
        return Err(Error::invalid_response(
            url,
            "the token answer's expires_in is not a number of seconds",
        ));
    };
    if answer.access_token.is_empty() {
        return Err(Error::invalid_response(
            url,
            "the token answer's access_token is empty",
        ));
    }
    Ok((
        SecretString::new(answer.access_token),
        Duration::from_secs(seconds),
    ))
}

fn random_jti() -> String {
    use rand::Rng as _;
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_refreshed_five_minutes_or_a_tenth_of_their_life_early() {
        let ms = Duration::from_millis;
        let cases = [
            (ms(3_599_000), ms(3_299_000)),
            (ms(3_600_000), ms(3_300_000)),
            (ms(600_000), ms(540_000)),
            (ms(60_000), ms(54_000)),
            (ms(2_000), ms(1_800)),
            (ms(0), ms(0)),
        ];
        for (lifetime, used) in cases {
            assert_eq!(token_use_for(lifetime), used, "{lifetime:?}");
        }
    }

    #[test]
    fn token_answers_are_read_without_quoting_them() {
        let (token, lifetime) = parse_token_answer(
            "u",
            br#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ.x.y"}"#,
        )
        .unwrap();
        assert_eq!(token.expose(), "eyJ.x.y");
        assert_eq!(lifetime, Duration::from_secs(3599));
        let (_, lifetime) =
            parse_token_answer("u", br#"{"expires_in":"3600","access_token":"a"}"#).unwrap();
        assert_eq!(lifetime, Duration::from_secs(3600));
        for body in [
            &br#"{"expires_in":true,"access_token":"SECRET-TOKEN"}"#[..],
            br#"{"access_token":"SECRET-TOKEN"}"#,
            br#"{"expires_in":1,"access_token":""}"#,
            br#"{"expires_in":1,"access_token":5}"#,
        ] {
            let error = parse_token_answer("u", body).unwrap_err().to_string();
            assert!(!error.contains("SECRET-TOKEN"), "{error}");
            assert!(error.contains("token answer"), "{error}");
        }
    }

    #[test]
    fn a_jti_is_32_hex_digits_and_differs_each_time() {
        let a = random_jti();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, random_jti());
    }
}
