//! `cargo xtask samba-image [--force] [--print-ref]`: builds devwb's Samba AD DC image with no registry.
//!
//! The image is the one `docker/samba/Dockerfile` describes, built another way: mmdebstrap makes a
//! Debian bookworm root filesystem with the packages of `docker/samba/packages.txt` and the entrypoint
//! `docker/samba/entrypoint.sh`, and `docker import` turns the tarball into the image
//! `devwb_samba::NAME:devwb_samba::TAG` with the Dockerfile's ENTRYPOINT, EXPOSE and ENV. The tag is a
//! hash of `docker/samba/*`, so an existing image of that name and tag is reused unless `--force`
//! is given; a changed entrypoint gets a new tag and a new build, and older tags of the image are
//! removed afterwards.
//!
//! `--print-ref` only prints `name:tag` (for `docker build -t "$(cargo xtask samba-image --print-ref)"`).
//! `DEVWB_DEBIAN_MIRROR` replaces `http://deb.debian.org` (for a local mirror or proxy).
//!
//! Needs: a reachable Docker daemon, mmdebstrap, `unshare` and `ip` (util-linux, iproute2), and root
//! (mmdebstrap's root mode; as another user mmdebstrap picks its unshare mode, which needs user
//! namespaces).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// The Debian suite the image is built from; the Dockerfile's `FROM debian:bookworm-slim` matches it.
const SUITE: &str = "bookworm";

/// The image configuration `docker import` cannot read from a Dockerfile: keep in step with
/// `docker/samba/Dockerfile`.
const IMAGE_CHANGES: [&str; 3] = [
    r#"ENTRYPOINT ["/usr/local/bin/devwb-samba-entrypoint"]"#,
    "EXPOSE 389 636",
    "ENV LANG=C.UTF-8",
];

pub fn run(args: &[String]) -> Result<()> {
    let mut force = false;
    for arg in args {
        match arg.as_str() {
            "--force" => force = true,
            "--print-ref" => {
                println!("{}", image_ref());
                return Ok(());
            }
            other => bail!("unknown argument {other:?}; usage: cargo xtask samba-image [--force] [--print-ref]"),
        }
    }
    let image = image_ref();
    docker_reachable()?;
    let existing_id = image_id(&image)?;
    if let (false, Some(_)) = (force, &existing_id) {
        println!("samba-image: reusing {image} (it exists; --force rebuilds it)");
        return Ok(());
    }
    let started = Instant::now();
    let source_dir = workspace_root().join("docker/samba");
    let packages = read_packages(&source_dir.join("packages.txt"))?;
    let work_dir = tempfile::Builder::new()
        .prefix("devwb-samba-image-")
        .tempdir()
        .context("cannot create a temporary directory for the root filesystem")?;
    let rootfs = work_dir.path().join("rootfs.tar");

    println!(
        "samba-image: building {image}: mmdebstrap {SUITE} with {}",
        packages.join(", ")
    );
    let mmdebstrap_started = Instant::now();
    mmdebstrap(&source_dir.join("entrypoint.sh"), &packages, &rootfs)?;
    let mmdebstrap_time = mmdebstrap_started.elapsed();

    println!("samba-image: docker import {}", rootfs.display());
    let import_started = Instant::now();
    let mut import = Command::new("docker");
    import.arg("import");
    for change in IMAGE_CHANGES {
        import.args(["--change", change]);
    }
    import.args([
        "--change",
        &format!("LABEL devwb.samba.tag={}", devwb_samba::TAG),
    ]);
    import.arg(&rootfs).arg(&image);
    run_quietly(&mut import, "docker import")?;
    let import_time = import_started.elapsed();

    if let Some(replaced) = existing_id {
        // --force moved the tag to the new image: the replaced one is left without a name.
        remove_image(&replaced, &format!("the replaced image {replaced}"));
    }
    remove_older_tags()?;
    println!(
        "samba-image: built {image} in {:.0?} (mmdebstrap {:.0?}, docker import {:.0?})",
        started.elapsed(),
        mmdebstrap_time,
        import_time
    );
    Ok(())
}

fn image_ref() -> String {
    format!("{}:{}", devwb_samba::NAME, devwb_samba::TAG)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn docker_reachable() -> Result<()> {
    let output = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .context("cannot run the `docker` client: is Docker installed?")?;
    if !output.status.success() {
        bail!(
            "the Docker daemon is not reachable: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// The id of the local image `image`, or `None` when there is none.
fn image_id(image: &str) -> Result<Option<String>> {
    let output = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", image])
        .stderr(Stdio::null())
        .output()
        .context("cannot run `docker image inspect`")?;
    let id = String::from_utf8_lossy(&output.stdout).trim().to_string();
    Ok((output.status.success() && !id.is_empty()).then_some(id))
}

/// Removes an image of ours; one still used by a container stays, which is reported, not an error.
fn remove_image(reference: &str, description: &str) {
    let removed = Command::new("docker")
        .args(["image", "rm", reference])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|status| status.success())
        .unwrap_or(false);
    if removed {
        println!("samba-image: removed {description}");
    } else {
        println!("samba-image: kept {description} (a container still uses it?)");
    }
}

/// One Debian package a line; blank lines and `#` comments are skipped.
fn read_packages(path: &Path) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let packages: Vec<String> = text
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(bad) = packages.iter().find(|name| {
        !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    }) {
        bail!("{}: {bad:?} is not a Debian package name", path.display());
    }
    if packages.is_empty() {
        bail!("{} lists no packages", path.display());
    }
    Ok(packages)
}

fn mmdebstrap(entrypoint: &Path, packages: &[String], rootfs: &Path) -> Result<()> {
    let mirror = std::env::var("DEVWB_DEBIAN_MIRROR")
        .unwrap_or_else(|_| "http://deb.debian.org".to_string());
    let mirror = mirror.trim_end_matches('/');
    let entrypoint = entrypoint
        .canonicalize()
        .with_context(|| format!("cannot find {}", entrypoint.display()))?;
    let mut command = Command::new("mmdebstrap");
    command
        .arg("--variant=apt")
        .arg(format!("--include={}", packages.join(",")))
        .arg("--aptopt=Acquire::Retries \"3\"")
        // Documentation and translations are of no use in a test image and make the import slower.
        .args([
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-exclude=/usr/share/man/*",
        ])
        .args([
            "--dpkgopt=path-exclude=/usr/share/locale/*",
            "--dpkgopt=path-include=/usr/share/locale/locale.alias",
        ])
        .arg(format!(
            "--customize-hook=upload {} /usr/local/bin/devwb-samba-entrypoint",
            entrypoint.display()
        ))
        .arg("--customize-hook=chmod 755 \"$1/usr/local/bin/devwb-samba-entrypoint\"")
        // Provisions the default forests once, here, so containers with the default settings start
        // without provisioning (see entrypoint.sh). That starts Samba once per forest: in a network
        // namespace of its own (loopback only), so it neither collides with the host's LDAP ports
        // nor answers, or asks, anything on the host.
        .arg(concat!(
            "--customize-hook=unshare --net sh -c 'ip link set lo up && exec chroot \"$1\" ",
            "/usr/local/bin/devwb-samba-entrypoint --make-templates' sh \"$1\""
        ))
        .arg(SUITE)
        .arg(rootfs)
        .arg(format!("deb {mirror}/debian {SUITE} main"))
        .arg(format!("deb {mirror}/debian {SUITE}-updates main"))
        .arg(format!(
            "deb {mirror}/debian-security {SUITE}-security main"
        ));
    run_quietly(&mut command, "mmdebstrap").map_err(|error| {
        if which("mmdebstrap") {
            error
        } else {
            error.context("mmdebstrap is not installed: `apt-get install mmdebstrap`")
        }
    })
}

/// Runs a command with its output captured, and on failure shows the output's tail.
fn run_quietly(command: &mut Command, what: &str) -> Result<()> {
    let output = command
        .output()
        .with_context(|| format!("cannot start {what}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let all: Vec<&str> = stdout.lines().chain(stderr.lines()).collect();
        let tail = all[all.len().saturating_sub(30)..].join("\n");
        bail!("{what} failed ({}); its last lines:\n{tail}", output.status);
    }
    Ok(())
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// Removes the tags of this image left by earlier builds: each is about 300 MB and nothing uses them.
/// A tag still used by a container stays; that is reported, not an error.
fn remove_older_tags() -> Result<()> {
    let output = Command::new("docker")
        .args(["image", "ls", devwb_samba::NAME, "--format", "{{.Tag}}"])
        .output()
        .context("cannot run `docker image ls`")?;
    let listing = String::from_utf8_lossy(&output.stdout);
    for tag in listing
        .lines()
        .map(str::trim)
        .filter(|tag| !tag.is_empty() && *tag != devwb_samba::TAG)
    {
        let old = format!("{}:{tag}", devwb_samba::NAME);
        remove_image(&old, &format!("the older image {old}"));
    }
    Ok(())
}
