//! The one error type of this crate.

use testcontainers::TestcontainersError;

/// Why a Samba DC could not be configured or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `with_*` setting cannot work; `setting` names it, `reason` says what is wrong.
    #[error("invalid Samba DC setting {setting}: {reason}")]
    InvalidSetting {
        /// The builder setting, such as `realm`.
        setting: &'static str,
        /// What is wrong with the value given.
        reason: String,
    },
    /// Docker could not create, start or inspect the container, or it exited before it was ready.
    #[error("the Samba DC container {image} did not start: {source}")]
    Start {
        /// `name:tag` of the image.
        image: String,
        /// What testcontainers reported.
        #[source]
        source: Box<TestcontainersError>,
    },
    /// The container runs but one of its ports has no host mapping.
    #[error("the Samba DC container {container_id} has no host port for {port}: {source}")]
    Port {
        /// Docker's container id.
        container_id: String,
        /// The container port, such as `636/tcp`.
        port: String,
        /// What testcontainers reported.
        #[source]
        source: Box<TestcontainersError>,
    },
}
