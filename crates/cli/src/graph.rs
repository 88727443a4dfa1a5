//! The Microsoft Graph options `writeback` and `sync` share (`--tenant`, `--client-id`, the
//! credential, `--authority`, `--graph-url`, TLS), and the live reads both make through
//! devwb-graph: the device listing with owners expanded (streamed into the planner as it is
//! read), a delta round, and the owners of a round's changed devices (each collected whole
//! before anything is planned).
//!
//! The client secret is read from `DEVWB_CLIENT_SECRET` or `--client-secret-file`, never from a
//! plain flag; a certificate credential is `--client-cert` with `--client-key`. Nothing here
//! prints a secret: devwb-graph's types hide them from `Debug` and errors.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use devwb_graph::{Credential, DeltaLink, GraphClient, GraphConfig, SecretString};
use devwb_writeback::mapping::graph_device_select;
use devwb_writeback::DeviceSource;

use crate::output::err_line;

/// The environment variable holding the app registration's client secret.
pub const CLIENT_SECRET_ENV: &str = "DEVWB_CLIENT_SECRET";

/// How many devices' owners are read at once after a delta round.
const OWNER_READERS: usize = 8;

/// Where devices come from when they come from a tenant.
#[derive(Args, Debug, Clone, Default)]
pub struct GraphArgs {
    /// Read the devices live from this Entra tenant (its id or a verified domain) through
    /// Microsoft Graph, in place of --export. The app needs Device.Read.All and User.Read.All
    /// (application permissions, admin consent).
    #[arg(long, value_name = "ID", requires = "client_id")]
    pub tenant: Option<String>,

    /// The app registration's application (client) id. Its secret comes from
    /// DEVWB_CLIENT_SECRET or --client-secret-file; or use --client-cert and --client-key.
    #[arg(long, value_name = "ID", requires = "tenant")]
    pub client_id: Option<String>,

    /// A file whose first line is the client secret (instead of DEVWB_CLIENT_SECRET).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tenant",
        conflicts_with = "client_cert"
    )]
    pub client_secret_file: Option<PathBuf>,

    /// The app's certificate (PEM), for a signed client assertion instead of a secret.
    #[arg(long, value_name = "FILE", requires = "client_key")]
    pub client_cert: Option<PathBuf>,

    /// The certificate's RSA private key (PEM).
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    pub client_key: Option<PathBuf>,

    /// The identity platform (default https://login.microsoftonline.com; a national cloud's,
    /// or `adsim --entra`'s URL).
    #[arg(long, value_name = "URL", requires = "tenant")]
    pub authority: Option<String>,

    /// The Graph base URL (default https://graph.microsoft.com; a national cloud's, or
    /// `adsim --entra`'s URL).
    #[arg(long, value_name = "URL", requires = "tenant")]
    pub graph_url: Option<String>,

    /// Trust the CA certificates of this PEM file for Graph and the identity platform instead of
    /// the platform's store.
    #[arg(long, value_name = "FILE", requires = "tenant")]
    pub graph_ca_file: Option<PathBuf>,

    /// Do not check the Graph and identity platform certificates. INSECURE: anyone on the path
    /// can read the access token and feed devwb devices; for labs only.
    #[arg(long, requires = "tenant")]
    pub graph_insecure_skip_verify: bool,
}

impl GraphArgs {
    /// The client for these options. Fails on a missing or unreadable credential.
    pub fn client(&self) -> anyhow::Result<GraphClient> {
        let (Some(tenant), Some(client_id)) = (&self.tenant, &self.client_id) else {
            bail!("--tenant and --client-id are both needed to read from Microsoft Graph");
        };
        let credential = self.credential()?;
        let mut config =
            GraphConfig::new(tenant, client_id, credential).context("the Graph configuration")?;
        if let Some(authority) = &self.authority {
            config = config
                .with_authority(authority)
                .with_context(|| format!("--authority {authority}"))?;
        }
        if let Some(graph_url) = &self.graph_url {
            config = config
                .with_graph_url(graph_url)
                .with_context(|| format!("--graph-url {graph_url}"))?;
        }
        if let Some(ca_file) = &self.graph_ca_file {
            config = config.with_ca_file(ca_file);
        }
        if self.graph_insecure_skip_verify {
            err_line(
                "WARNING: --graph-insecure-skip-verify: the certificates of Microsoft Graph and of \
                 the identity platform are NOT checked; anyone on the network path can read the \
                 access token and hand devwb false devices. Use it in a lab only.",
            );
            config = config.with_insecure_skip_verify(true);
        }
        GraphClient::new(config).context("setting up the Graph client")
    }

    fn credential(&self) -> anyhow::Result<Credential> {
        if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
            return Credential::certificate_from_files(key, cert)
                .context("reading the client certificate");
        }
        if let Some(path) = &self.client_secret_file {
            return Credential::secret_from_file(path).context("reading the client secret");
        }
        match std::env::var_os(CLIENT_SECRET_ENV) {
            Some(secret) => {
                let secret = secret
                    .into_string()
                    .map_err(|_| anyhow::anyhow!("{CLIENT_SECRET_ENV} is not valid UTF-8"))?;
                if secret.trim().is_empty() {
                    bail!("{CLIENT_SECRET_ENV} is empty");
                }
                Ok(Credential::Secret(SecretString::new(secret.trim_end())))
            }
            None => bail!(
                "no credential for the app: set {CLIENT_SECRET_ENV}, pass --client-secret-file, or \
                 --client-cert with --client-key"
            ),
        }
    }
}

/// Pages of the device listing waiting to be planned, at most: the reader stays this far ahead.
const LISTING_PAGES_AHEAD: usize = 2;

/// The device listing (mapped properties, owners expanded, 999 a page), read on a thread of its
/// own while its pages are planned ([`DeviceSource::graph_page_stream`]): only a few pages are in
/// memory at a time, and Graph's latency overlaps the planning. A page that fails after its
/// retries fails the plan (nothing is applied); a listing that ends without error is the whole
/// tenant, which the source's page-chain check confirms.
pub struct DeviceListing {
    /// The devices, as they arrive; read it once.
    pub source: DeviceSource,
    reader: std::thread::JoinHandle<anyhow::Result<()>>,
}

impl DeviceListing {
    /// Starts reading the listing.
    pub fn start(client: &GraphClient) -> DeviceListing {
        let client = client.clone();
        let (pages_sender, pages) = std::sync::mpsc::sync_channel(LISTING_PAGES_AHEAD);
        let reader = std::thread::spawn(move || {
            let listing = || "listing the tenant's devices";
            let select = graph_device_select();
            let read = (|| {
                let mut pages = client.list_devices(&select, true).context(listing())?;
                for page in pages.by_ref() {
                    let page = page.context(listing())?;
                    if pages_sender.send(Ok(Vec::from(page.body))).is_err() {
                        // The planner stopped reading (it failed, and says why).
                        return Ok(());
                    }
                }
                let summary = pages.summary();
                tracing::info!(
                    pages = summary.pages,
                    devices = summary.items,
                    elapsed_ms = summary.elapsed.as_millis() as u64,
                    "device listing read"
                );
                Ok(())
            })();
            match read {
                Ok(()) => Ok(()),
                Err(error) => {
                    // The planner's read fails with this text; the caller gets the whole error.
                    let _ = pages_sender.send(Err(format!("{error:#}")));
                    Err(error)
                }
            }
        });
        DeviceListing {
            source: DeviceSource::graph_page_stream("graph /devices", pages.into_iter()),
            reader,
        }
    }

    /// Waits for the listing to end (stopping it when its pages were not all read); fails with
    /// why Graph could not list the devices, if it could not.
    pub fn finish(self) -> anyhow::Result<()> {
        self.source.close_stream();
        self.reader
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the device listing's reader stopped")))
    }
}

/// One delta round from `from` (a first round when `None`): its pages (when `keep_pages`) and
/// the next round's link. An expired link is an error whose chain holds a devwb-graph error with
/// [`devwb_graph::Error::is_delta_token_expired`].
pub fn delta_round(
    client: &GraphClient,
    from: Option<DeltaLink>,
    keep_pages: bool,
) -> anyhow::Result<(Vec<Vec<u8>>, DeltaLink)> {
    let select = graph_device_select();
    let mut pages = client.devices_delta(from, &select)?;
    let mut bodies = Vec::new();
    for page in pages.by_ref() {
        let page = page?;
        if keep_pages {
            bodies.push(Vec::from(page.body));
        }
    }
    match pages.delta_link() {
        Some(link) => Ok((bodies, link.clone())),
        // The client refuses a last page without either link, so only a listing that handed
        // out no page at all gets here.
        None => bail!("the devices/delta round ended without @odata.deltaLink"),
    }
}

/// The link a full round's next delta round starts from, taken before the round lists the
/// devices: Graph's "sync from now" (`$deltatoken=latest`, one request, no device read). A
/// service that refuses that token (a 400) gets a whole first `devices/delta` round, every device
/// read once more, and the log says so.
pub fn delta_link_before_listing(client: &GraphClient) -> anyhow::Result<DeltaLink> {
    match client.devices_delta_link_from_now(&graph_device_select()) {
        Ok(link) => Ok(link),
        Err(error) if error.status() == Some(400) => {
            tracing::warn!(
                %error,
                "the service gives no delta link from now ($deltatoken=latest): reading a whole first delta round before the listing"
            );
            Ok(delta_round(client, None, false)?.1)
        }
        Err(error) => Err(error.into()),
    }
}

/// Whether an error's chain says the delta link expired (a full round is needed).
pub fn is_delta_token_expired(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<devwb_graph::Error>()
            .is_some_and(devwb_graph::Error::is_delta_token_expired)
    })
}

/// A device's object id and the pages of its `registeredOwners`.
type OwnersOfDevice = (String, Vec<Vec<u8>>);

/// The owners pages of each device (by object id), read a few devices at a time.
pub fn owners_of(
    client: &GraphClient,
    object_ids: &[String],
) -> anyhow::Result<HashMap<String, Vec<Vec<u8>>>> {
    let mut owners = HashMap::with_capacity(object_ids.len());
    let chunk = object_ids.len().div_ceil(OWNER_READERS).max(1);
    let results: Vec<anyhow::Result<Vec<OwnersOfDevice>>> = std::thread::scope(|scope| {
        let readers: Vec<_> = object_ids
            .chunks(chunk)
            .map(|ids| {
                // Clones share the runtime, the connection pool and the token cache.
                let client = client.clone();
                scope.spawn(move || {
                    let mut read = Vec::with_capacity(ids.len());
                    for id in ids {
                        let mut bodies = Vec::new();
                        let owners = || format!("reading the owners of device {id}");
                        let mut gone = false;
                        for page in client.device_owners(id).with_context(owners)? {
                            match page {
                                Ok(page) => bodies.push(Vec::from(page.body)),
                                // Deleted since the delta page listed it: its owners are not
                                // known, so the device stays without registeredOwners and the
                                // round withholds its deletes (and keeps its delta link); the
                                // next round sees the device as removed.
                                Err(error) if error.status() == Some(404) => {
                                    tracing::info!(device = %id, "device gone before its owners were read");
                                    gone = true;
                                }
                                Err(error) => return Err(error).with_context(owners),
                            }
                        }
                        if !gone {
                            read.push((id.clone(), bodies));
                        }
                    }
                    Ok(read)
                })
            })
            .collect();
        readers
            .into_iter()
            .map(|reader| {
                reader
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("an owners reader stopped")))
            })
            .collect()
    });
    for result in results {
        owners.extend(result?);
    }
    Ok(owners)
}
