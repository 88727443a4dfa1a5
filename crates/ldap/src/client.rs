//! A blocking LDAP client over ldap3's asynchronous connection.
//!
//! [`Client`] owns a small tokio runtime that drives the connection; every method blocks the
//! caller until the server answers, so `prepare`, `verify` and the command line stay plain
//! synchronous code. Bulk writes ([`crate::apply`]) run many operations at once on the same
//! runtime over several connections.
//!
//! A connection found lost is reopened and bound again with the same options and credentials:
//! a read is then run once more, a write reports the loss (it may have been applied before it),
//! and so does a streaming search ([`Client::search_each`]), whose entries were already handed out.
//!
//! Each operation is logged in its own tracing span (operation and DN, never a password).
//! Do not call these methods from inside an async task: they block on the client's runtime.

use std::sync::Arc;
use std::time::Duration;

use devwb_model::Dn;
use devwb_net::OwnedRuntime;
use ldap3::asn1::StructureTag;
use ldap3::controls::RawControl;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope};
use tracing::Instrument;

use crate::change::{execute, Attributes, Change, Modification};
use crate::connect::{ConnectOptions, Credentials, Tls};
use crate::controls::{paged_results_control, PAGED_RESULTS_OID};
use crate::entry::{Entry, RawEntry};
use crate::error::{code, Error, ErrorKind, Operation, Result};

/// The page size of paged searches: AD's default MaxPageSize.
pub const DEFAULT_PAGE_SIZE: u32 = 1000;

/// A connection to one directory server, bound or anonymous.
#[derive(Debug)]
pub struct Client {
    pub(crate) runtime: Arc<OwnedRuntime>,
    /// The connection's handle; replaced when a bulk apply had to reopen this connection.
    pub(crate) ldap: std::sync::Mutex<Ldap>,
    /// Times this client's own connection was reopened after a loss.
    pub(crate) reconnects: std::sync::atomic::AtomicU64,
    pub(crate) options: ConnectOptions,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) page_size: u32,
    /// Clients of the servers referrals named, by `scheme://host:port`, opened once each
    /// ([`crate::referral`]).
    pub(crate) referred: std::sync::Mutex<Vec<(String, Arc<Client>)>>,
}

impl Client {
    /// Connects and, when credentials are given, binds; anonymous otherwise (enough for the rootDSE).
    pub fn connect(options: &ConnectOptions, credentials: Option<&Credentials>) -> Result<Client> {
        options.validate()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("devwb-ldap")
            .enable_all()
            .build()
            .map_err(|e| {
                Error::from(ErrorKind::ConnectionLost {
                    operation: Operation::Connect,
                    detail: format!("cannot start the runtime: {e}"),
                })
            })?;
        let runtime = Arc::new(OwnedRuntime::new(runtime));
        let ldap = runtime.block_on(open_connection(options, credentials))?;
        Ok(Client {
            runtime,
            ldap: std::sync::Mutex::new(ldap),
            reconnects: std::sync::atomic::AtomicU64::new(0),
            options: options.clone(),
            credentials: credentials.cloned(),
            page_size: DEFAULT_PAGE_SIZE,
            referred: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// A clone of the connection's handle (clones share the connection).
    pub(crate) fn handle(&self) -> Ldap {
        match self.ldap.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Times this client's own connection was reopened after it was lost.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Replaces the connection's handle (after a reconnect).
    pub(crate) fn replace_handle(&self, ldap: Ldap) {
        self.reconnects
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.ldap.lock() {
            Ok(mut guard) => *guard = ldap,
            Err(poisoned) => *poisoned.into_inner() = ldap,
        }
    }

    /// The options this client connected with.
    pub fn options(&self) -> &ConnectOptions {
        &self.options
    }

    /// The bind name, when bound.
    pub fn bind_name(&self) -> Option<&str> {
        self.credentials.as_ref().map(|c| c.bind_name.as_str())
    }

    /// Sets the page size of subtree and one-level searches (AD caps it at its MaxPageSize).
    pub fn set_page_size(&mut self, page_size: u32) {
        self.page_size = page_size.max(1);
    }

    /// Binds (again) on this connection with other credentials.
    pub fn bind(&mut self, credentials: &Credentials) -> Result<()> {
        let mut ldap = self.handle();
        let timeout = self.options.timeout;
        self.runtime
            .block_on(simple_bind(&mut ldap, credentials, timeout))?;
        self.credentials = Some(credentials.clone());
        Ok(())
    }

    /// A paged search (paged results control, [`DEFAULT_PAGE_SIZE`] per page) returning every
    /// entry. A base search on a missing object is `NoSuchObject`.
    pub fn search(
        &self,
        base: &Dn,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<Entry>> {
        self.search_with_controls(base, scope, filter, attrs, Vec::new())
    }

    /// A paged search that also sends `controls` with every page request.
    pub fn search_with_controls(
        &self,
        base: &Dn,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        controls: Vec<RawControl>,
    ) -> Result<Vec<Entry>> {
        let base_text = base.to_string();
        let span = tracing::debug_span!("ldap.search", base = %base_text, ?scope, filter);
        let page_size = self.page_size;
        let timeout = self.options.timeout;
        self.run(true, |ldap| {
            paged_search(
                ldap,
                base_text.clone(),
                scope,
                filter.to_string(),
                attrs,
                controls.clone(),
                page_size,
                timeout,
            )
            .instrument(span.clone())
        })
    }

    /// A paged search that calls `each` for every entry as its page arrives, holding one page
    /// at a time (for reading containers of 100,000+ objects). Returns the number of entries.
    /// Unlike [`Client::search`] it is not run again after a lost connection, because `each` has
    /// already seen the entries of the pages before the loss: the connection is reopened and
    /// the loss returned, so the caller can start over.
    pub fn search_each(
        &self,
        base: &Dn,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        each: &mut dyn FnMut(Entry),
    ) -> Result<u64> {
        self.paged_each(base, scope, filter, attrs, Entry::from_tag, each)
    }

    /// [`Client::search_each`] handing out entries as the server sent them ([`RawEntry`]: the DN
    /// not parsed, no map): for reading containers of a million objects for a few attributes.
    pub fn search_each_raw(
        &self,
        base: &Dn,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        each: &mut dyn FnMut(RawEntry),
    ) -> Result<u64> {
        self.paged_each(base, scope, filter, attrs, RawEntry::from_tag, each)
    }

    fn paged_each<T: Send + 'static>(
        &self,
        base: &Dn,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        decode: fn(StructureTag) -> Result<T>,
        each: &mut dyn FnMut(T),
    ) -> Result<u64> {
        let base_text = base.to_string();
        let span = tracing::debug_span!("ldap.search", base = %base_text, ?scope, filter);
        let ldap = self.handle();
        let result = self.runtime.block_on(
            paged_search_each(
                ldap,
                base_text,
                scope,
                filter.to_string(),
                attrs,
                Vec::new(),
                self.page_size,
                self.options.timeout,
                decode,
                each,
            )
            .instrument(span),
        );
        match result {
            Err(error) if error.is_connection_lost() => {
                self.reopen_after(&error)?;
                Err(error)
            }
            other => other,
        }
    }

    /// Reads one entry with a base search; `None` when it does not exist.
    pub fn read(&self, dn: &Dn, attrs: &[&str]) -> Result<Option<Entry>> {
        self.read_with_controls(dn, attrs, Vec::new())
    }

    /// Reads one entry with a base search and request controls; `None` when it does not exist.
    pub fn read_with_controls(
        &self,
        dn: &Dn,
        attrs: &[&str],
        controls: Vec<RawControl>,
    ) -> Result<Option<Entry>> {
        let dn_text = dn.to_string();
        let span = tracing::debug_span!("ldap.read", dn = %dn_text);
        let timeout = self.options.timeout;
        let result = self.run(true, |ldap| {
            search_once(
                ldap,
                dn_text.clone(),
                Scope::Base,
                "(objectClass=*)".to_string(),
                attrs,
                controls.clone(),
                timeout,
            )
            .instrument(span.clone())
        });
        match result {
            Ok((entries, _)) => Ok(entries.into_iter().next()),
            Err(error) if matches!(error.kind(), ErrorKind::NoSuchObject { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Reads the rootDSE's raw entry (a base search on the empty DN).
    pub fn read_root_dse_entry(&self, attrs: &[&str]) -> Result<Entry> {
        self.read(&Dn::root(), attrs)?
            .ok_or_else(|| Error::invalid_response("the server returned no rootDSE entry"))
    }

    /// Adds an entry.
    pub fn add(&self, dn: &Dn, attrs: Attributes) -> Result<()> {
        self.add_with_controls(dn, attrs, Vec::new())
    }

    /// Adds an entry, sending request controls.
    pub fn add_with_controls(
        &self,
        dn: &Dn,
        attrs: Attributes,
        controls: Vec<RawControl>,
    ) -> Result<()> {
        self.send(
            Change::Add {
                dn: dn.clone(),
                attrs,
            },
            controls,
        )
    }

    /// Modifies an entry.
    pub fn modify(&self, dn: &Dn, mods: Vec<Modification>) -> Result<()> {
        self.modify_with_controls(dn, mods, Vec::new())
    }

    /// Modifies an entry, sending request controls.
    pub fn modify_with_controls(
        &self,
        dn: &Dn,
        mods: Vec<Modification>,
        controls: Vec<RawControl>,
    ) -> Result<()> {
        self.send(
            Change::Modify {
                dn: dn.clone(),
                mods,
            },
            controls,
        )
    }

    /// Deletes an entry (a leaf: no tree delete).
    pub fn delete(&self, dn: &Dn) -> Result<()> {
        self.send(Change::Delete { dn: dn.clone() }, Vec::new())
    }

    /// Sends one change and waits for its result.
    pub fn send(&self, change: Change, controls: Vec<RawControl>) -> Result<()> {
        let span =
            tracing::debug_span!("ldap.write", operation = %change.operation(), dn = %change.dn());
        let timeout = self.options.timeout;
        // A write is not repeated after a reconnect: it may have been applied before the loss.
        self.run(false, |mut ldap| {
            let controls = controls.clone();
            let change = &change;
            async move { execute(&mut ldap, change, controls, timeout).await }
                .instrument(span.clone())
        })
    }

    /// Runs `operation` on the connection. When the connection turns out to be lost, reopens it
    /// (same options, bound again) so the client stays usable, and runs a read once more; a
    /// write returns the error (it may have been applied before the loss).
    fn run<T, F, Fut>(&self, retry_after_reconnect: bool, operation: F) -> Result<T>
    where
        F: Fn(Ldap) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        match self.runtime.block_on(operation(self.handle())) {
            Err(error) if error.is_connection_lost() => {
                self.reopen_after(&error)?;
                if retry_after_reconnect {
                    self.runtime.block_on(operation(self.handle()))
                } else {
                    Err(error)
                }
            }
            other => other,
        }
    }

    /// Reopens this client's connection (same options, bound again) after `lost` showed it
    /// unusable, so that the next call works on a live connection.
    fn reopen_after(&self, lost: &Error) -> Result<()> {
        tracing::info!(error = %lost, url = %self.options.url, "connection lost; reopening it");
        let ldap = self
            .runtime
            .block_on(open_connection(&self.options, self.credentials.as_ref()))?;
        self.replace_handle(ldap);
        Ok(())
    }

    /// Opens another connection with the same options and credentials (for parallel work).
    pub fn reconnect(&self) -> Result<Client> {
        let ldap = self
            .runtime
            .block_on(open_connection(&self.options, self.credentials.as_ref()))?;
        Ok(Client {
            runtime: self.runtime.clone(),
            ldap: std::sync::Mutex::new(ldap),
            reconnects: std::sync::atomic::AtomicU64::new(0),
            options: self.options.clone(),
            credentials: self.credentials.clone(),
            page_size: self.page_size,
            referred: std::sync::Mutex::new(Vec::new()),
        })
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Unbind politely; the connection driver ends when the last handle is dropped. Inside an
        // async context blocking is not allowed: the server then sees the connection close.
        if tokio::runtime::Handle::try_current().is_ok() {
            return;
        }
        let mut ldap = self.handle();
        let _ = self.runtime.block_on(async move {
            tokio::time::timeout(Duration::from_secs(2), ldap.unbind()).await
        });
    }
}

/// Opens a connection (TLS as configured), spawns its driver and binds when credentials are given.
pub(crate) async fn open_connection(
    options: &ConnectOptions,
    credentials: Option<&Credentials>,
) -> Result<Ldap> {
    let mut settings = LdapConnSettings::new().set_conn_timeout(options.timeout);
    match options.tls {
        Tls::Ldaps => settings = settings.set_config(options.rustls_config()?),
        Tls::StartTls => {
            settings = settings
                .set_config(options.rustls_config()?)
                .set_starttls(true)
        }
        Tls::PlainInsecure => {
            // Once per process: a bulk apply opens several connections, and one warning says it.
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(url = %options.url, "plain LDAP without TLS: the bind password and all data cross the network in clear text");
            });
        }
    }
    let (connection, mut ldap) = LdapConnAsync::with_settings(settings, &options.url)
        .await
        .map_err(|cause| {
            Error::from(ErrorKind::Connect {
                url: options.url.clone(),
                cause,
            })
        })?;
    let url = options.url.clone();
    tokio::spawn(async move {
        if let Err(error) = connection.drive().await {
            tracing::debug!(%url, %error, "LDAP connection ended");
        }
    });
    if let Some(credentials) = credentials {
        simple_bind(&mut ldap, credentials, options.timeout).await?;
    }
    Ok(ldap)
}

pub(crate) async fn simple_bind(
    ldap: &mut Ldap,
    credentials: &Credentials,
    timeout: Duration,
) -> Result<()> {
    let result = ldap
        .with_timeout(timeout)
        .simple_bind(&credentials.bind_name, credentials.password.expose())
        .await
        .map_err(|e| Error::from_ldap3(Operation::Bind, timeout, e))?;
    if result.rc == code::SUCCESS {
        tracing::debug!(bind_name = %credentials.bind_name, "bound");
        Ok(())
    } else {
        Err(Error::from_result(
            Operation::Bind,
            &credentials.bind_name,
            &result,
        ))
    }
}

/// One search request (no paging); returns the entries and the final result.
pub(crate) async fn search_once(
    ldap: Ldap,
    base: String,
    scope: Scope,
    filter: String,
    attrs: &[&str],
    controls: Vec<RawControl>,
    timeout: Duration,
) -> Result<(Vec<Entry>, ldap3::LdapResult)> {
    let attrs: Vec<String> = attrs.iter().map(|a| a.to_string()).collect();
    search_once_owned(
        ldap,
        base,
        scope,
        filter,
        attrs,
        controls,
        timeout,
        Entry::from_tag,
    )
    .await
}

/// [`search_once`] with owned arguments, for a search that runs as a task of its own; each
/// entry is decoded by `decode`.
#[allow(clippy::too_many_arguments)]
async fn search_once_owned<T>(
    mut ldap: Ldap,
    base: String,
    scope: Scope,
    filter: String,
    attrs: Vec<String>,
    controls: Vec<RawControl>,
    timeout: Duration,
    decode: fn(StructureTag) -> Result<T>,
) -> Result<(Vec<T>, ldap3::LdapResult)> {
    let handle = ldap.with_timeout(timeout);
    if !controls.is_empty() {
        handle.with_controls(controls);
    }
    let ldap3::SearchResult(raw_entries, result) = handle
        .search(&base, scope, &filter, attrs)
        .await
        .map_err(|e| Error::from_ldap3(Operation::Search, timeout, e))?;
    if result.rc != code::SUCCESS {
        return Err(Error::from_result(Operation::Search, &base, &result));
    }
    let mut entries = Vec::with_capacity(raw_entries.len());
    for raw in raw_entries {
        if raw.is_ref() || raw.is_intermediate() {
            tracing::debug!("skipping a search continuation reference or intermediate message");
            continue;
        }
        entries.push(decode(raw.0)?);
    }
    Ok((entries, result))
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn paged_search(
    ldap: Ldap,
    base: String,
    scope: Scope,
    filter: String,
    attrs: &[&str],
    controls: Vec<RawControl>,
    page_size: u32,
    timeout: Duration,
) -> Result<Vec<Entry>> {
    let mut all = Vec::new();
    paged_search_each(
        ldap,
        base,
        scope,
        filter,
        attrs,
        controls,
        page_size,
        timeout,
        Entry::from_tag,
        &mut |entry| all.push(entry),
    )
    .await?;
    Ok(all)
}

/// A paged search that hands each entry to `each` as its page arrives: never more than one page
/// in memory. Returns the number of entries.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn paged_search_each<T: Send + 'static>(
    ldap: Ldap,
    base: String,
    scope: Scope,
    filter: String,
    attrs: &[&str],
    controls: Vec<RawControl>,
    page_size: u32,
    timeout: Duration,
    decode: fn(StructureTag) -> Result<T>,
    each: &mut dyn FnMut(T),
) -> Result<u64> {
    if scope == Scope::Base {
        let attrs: Vec<String> = attrs.iter().map(|a| a.to_string()).collect();
        let (entries, _) =
            search_once_owned(ldap, base, scope, filter, attrs, controls, timeout, decode).await?;
        let count = entries.len() as u64;
        entries.into_iter().for_each(&mut *each);
        return Ok(count);
    }
    // Each page is requested as soon as the previous one's cookie arrives, and fetched and
    // decoded by a task of its own while `each` goes through the previous page: the server
    // computes page N+1 while the caller digests page N.
    let attrs: Vec<String> = attrs.iter().map(|a| a.to_string()).collect();
    let fetch = |cookie: &[u8]| {
        let mut page_controls = controls.clone();
        page_controls.push(paged_results_control(page_size, cookie));
        tokio::spawn(search_once_owned(
            ldap.clone(),
            base.clone(),
            scope,
            filter.clone(),
            attrs.clone(),
            page_controls,
            timeout,
            decode,
        ))
    };
    let mut count = 0u64;
    let mut cookie: Vec<u8> = Vec::new();
    let mut pages = 0usize;
    let mut pending = Some(fetch(&cookie));
    while let Some(page) = pending.take() {
        let (entries, result) = page.await.map_err(|error| {
            Error::invalid_response(format!(
                "paged search of {base}: the page task failed: {error}"
            ))
        })??;
        pages += 1;
        let response = result.ctrls.iter().find(|c| c.1.ctype == PAGED_RESULTS_OID);
        let next = match response.and_then(|c| c.1.val.as_deref()) {
            // A server that ignores the (non-critical) control sends everything in one go.
            None => Vec::new(),
            Some(value) => crate::controls::decode_paged_value(value)?.1,
        };
        if !next.is_empty() && next == cookie {
            return Err(Error::invalid_response(format!(
                "paged search of {base}: the server repeated the same cookie"
            )));
        }
        if !next.is_empty() {
            pending = Some(fetch(&next));
        }
        count += entries.len() as u64;
        entries.into_iter().for_each(&mut *each);
        cookie = next;
    }
    tracing::debug!(entries = count, pages, "paged search done");
    Ok(count)
}
