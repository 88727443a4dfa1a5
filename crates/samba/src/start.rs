//! Starting the container with its ports published on loopback, and the handles that keep it alive.

use std::collections::HashMap;
use std::time::Duration;

use testcontainers::bollard::models::{HostConfig, PortBinding};
use testcontainers::core::{ContainerPort, ContainerRequest};
use testcontainers::runners::{AsyncRunner, SyncRunner};
use testcontainers::{Container, ContainerAsync, ImageExt};

use crate::image::{LDAPS_PORT, LDAP_PORT, NAME, TAG};
use crate::{Endpoint, Error, SambaDc};

/// How long provisioning, Samba's start and the first LDAPS answer may take together. Measured here:
/// about 4 s; the margin is for loaded CI machines.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(180);

/// The host address the ports are published on.
const LOOPBACK: &str = "127.0.0.1";

/// A running Samba DC (async). The container is stopped and removed when this is dropped.
#[derive(Debug)]
pub struct RunningSambaDc {
    container: ContainerAsync<SambaDc>,
    endpoint: Endpoint,
}

impl RunningSambaDc {
    /// Where it answers and how to bind.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The testcontainers handle, for logs or `exec`.
    pub fn container(&self) -> &ContainerAsync<SambaDc> {
        &self.container
    }
}

/// A running Samba DC for synchronous tests. The container is stopped and removed when this is dropped.
#[derive(Debug)]
pub struct BlockingSambaDc {
    container: Container<SambaDc>,
    endpoint: Endpoint,
}

impl BlockingSambaDc {
    /// Where it answers and how to bind.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The testcontainers handle, for logs or `exec`.
    pub fn container(&self) -> &Container<SambaDc> {
        &self.container
    }
}

impl SambaDc {
    /// Validates the settings, starts a container with LDAP and LDAPS published on 127.0.0.1, and
    /// returns once the entrypoint has seen an LDAPS rootDSE query succeed.
    pub async fn start(self) -> Result<RunningSambaDc, Error> {
        self.validate()?;
        let image = self.clone();
        tracing::debug!(image = %format!("{NAME}:{TAG}"), dc = ?image, "starting a Samba DC container");
        let container = AsyncRunner::start(loopback_request(self))
            .await
            .map_err(start_error)?;
        let ldaps_port = container
            .get_host_port_ipv4(LDAPS_PORT)
            .await
            .map_err(|source| port_error(container.id(), LDAPS_PORT, source))?;
        let ldap_port = container
            .get_host_port_ipv4(LDAP_PORT)
            .await
            .map_err(|source| port_error(container.id(), LDAP_PORT, source))?;
        let endpoint = Endpoint::new(&image, LOOPBACK, ldaps_port, ldap_port)?;
        tracing::debug!(?endpoint, "Samba DC ready");
        Ok(RunningSambaDc {
            container,
            endpoint,
        })
    }

    /// [`SambaDc::start`] for synchronous code. Must not be called from inside an async runtime:
    /// testcontainers runs its own.
    pub fn start_blocking(self) -> Result<BlockingSambaDc, Error> {
        self.validate()?;
        let image = self.clone();
        tracing::debug!(image = %format!("{NAME}:{TAG}"), dc = ?image, "starting a Samba DC container");
        let container = SyncRunner::start(loopback_request(self)).map_err(start_error)?;
        let ldaps_port = container
            .get_host_port_ipv4(LDAPS_PORT)
            .map_err(|source| port_error(container.id(), LDAPS_PORT, source))?;
        let ldap_port = container
            .get_host_port_ipv4(LDAP_PORT)
            .map_err(|source| port_error(container.id(), LDAP_PORT, source))?;
        let endpoint = Endpoint::new(&image, LOOPBACK, ldaps_port, ldap_port)?;
        tracing::debug!(?endpoint, "Samba DC ready");
        Ok(BlockingSambaDc {
            container,
            endpoint,
        })
    }
}

/// The container request: ports published on loopback only (Docker picks the host ports), and a
/// startup timeout that fits provisioning.
fn loopback_request(image: SambaDc) -> ContainerRequest<SambaDc> {
    image
        .with_host_config_modifier(|host_config: &mut HostConfig| {
            host_config.publish_all_ports = Some(false);
            let bindings: HashMap<String, Option<Vec<PortBinding>>> = [LDAP_PORT, LDAPS_PORT]
                .iter()
                .map(|port| {
                    let binding = PortBinding {
                        host_ip: Some(LOOPBACK.to_string()),
                        host_port: Some(String::new()),
                    };
                    (port.to_string(), Some(vec![binding]))
                })
                .collect();
            host_config.port_bindings = Some(bindings);
        })
        .with_startup_timeout(STARTUP_TIMEOUT)
}

fn start_error(source: testcontainers::TestcontainersError) -> Error {
    Error::Start {
        image: format!("{NAME}:{TAG}"),
        source: Box::new(source),
    }
}

fn port_error(
    container_id: &str,
    port: ContainerPort,
    source: testcontainers::TestcontainersError,
) -> Error {
    Error::Port {
        container_id: container_id.to_string(),
        port: port.to_string(),
        source: Box::new(source),
    }
}
