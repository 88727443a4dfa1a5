//! Whether the Samba suite can run here: a Docker client, a reachable daemon, and the image.

use std::process::Command;

use crate::image::{NAME, TAG};

/// `Ok(())` when the `docker` client is on PATH, its daemon answers, and the image `NAME:TAG` exists
/// locally; otherwise a plain sentence saying which of these is missing and what to do, for a test to
/// print before it returns without running.
///
/// This runs the `docker` client (`docker version`, `docker image inspect`), which honours `DOCKER_HOST`
/// as testcontainers does. It never builds the image: `cargo xtask samba-image` does.
pub fn docker_available() -> Result<(), String> {
    let version = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .map_err(|error| format!("no usable `docker` client on PATH ({error}); install Docker to run the Samba suite"))?;
    if !version.status.success() {
        return Err(format!(
            "the Docker daemon is not reachable ({}); start dockerd, or run .ci/docker.sh",
            first_line(&version.stderr)
        ));
    }
    let image = format!("{NAME}:{TAG}");
    let inspect = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", &image])
        .output()
        .map_err(|error| format!("cannot run `docker image inspect {image}`: {error}"))?;
    if !inspect.status.success() {
        return Err(format!(
            "the image {image} is missing ({}); build it with `cargo xtask samba-image` (needs mmdebstrap and root) \
             or `docker build -t {image} docker/samba` (needs a registry)",
            first_line(&inspect.stderr)
        ));
    }
    Ok(())
}

/// The first non-empty line of a command's stderr, for a one-line reason.
fn first_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("no message")
        .to_string()
}
