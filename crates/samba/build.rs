//! Derives the image tag from the files that make the image (`docker/samba/*` and the recipe of
//! `cargo xtask samba-image`), so that a changed entrypoint, package list, Dockerfile or build recipe
//! gives a new tag and `cargo xtask samba-image` builds a new image instead of reusing a stale one.
//!
//! The tag is `bookworm-` followed by the first 12 hex digits of a SHA-256 over the files of
//! [`IMAGE_FILES`], each as its path, a NUL, its length in decimal, a NUL, and its bytes.

use sha2::{Digest, Sha256};
use std::path::Path;

/// The files that make up the image, relative to the workspace root. Order matters for the hash.
const IMAGE_FILES: [&str; 4] = [
    "docker/samba/Dockerfile",
    "docker/samba/entrypoint.sh",
    "docker/samba/packages.txt",
    "xtask/src/samba_image.rs",
];

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_string());
    let workspace_root = Path::new(&manifest_dir).join("../..");
    let mut hasher = Sha256::new();
    for name in IMAGE_FILES {
        let path = workspace_root.join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) => panic!(
                "cannot read {} to derive the Samba image tag: {error}",
                path.display()
            ),
        };
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(bytes.len().to_string().as_bytes());
        hasher.update([0]);
        hasher.update(&bytes);
    }
    let digest = hasher.finalize();
    let short: String = digest
        .iter()
        .take(6)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    println!("cargo:rustc-env=DEVWB_SAMBA_IMAGE_TAG=bookworm-{short}");
}
