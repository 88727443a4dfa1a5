//! Test support: devwb-test-support's lab with an Administrator, a connector account and files
//! for their passwords and the server's CA certificate; `devwb(...)` runs the built binary with
//! the connection options filled in.

use std::path::PathBuf;
use std::process::{Command, Output};

use devwb_model::{Dn, SchemaLevel};

/// The connector account every lab has, as `DOMAIN\name`.
pub const CONNECTOR: &str = "CONTOSO\\svc-aadc";
/// Its password.
pub const CONNECTOR_PASSWORD: &str = "Connector-Pa55word!";

/// devwb-test-support's lab with the files the `devwb` binary reads: the simulator's
/// certificate and the two passwords.
pub struct CliLab {
    lab: devwb_test_support::Lab,
    pub ca_file: PathBuf,
    pub admin_password_file: PathBuf,
    pub connector_password_file: PathBuf,
}

impl std::ops::Deref for CliLab {
    type Target = devwb_test_support::Lab;

    fn deref(&self) -> &devwb_test_support::Lab {
        &self.lab
    }
}

impl CliLab {
    /// A forest `contoso.lab` at `level`, with the connector account `svc-aadc` and a second
    /// ordinary account `other-admin`.
    pub fn start(level: SchemaLevel) -> CliLab {
        let lab = devwb_test_support::Lab::builder()
            .schema_level(level)
            .connector("svc-aadc", CONNECTOR_PASSWORD)
            .start();
        lab.sim
            .add_user("other-admin", "Other-Pa55word!")
            .expect("second account");
        let ca_file = lab.write_ca_file();
        let admin_password_file = lab.work_dir().join("admin.pw");
        std::fs::write(
            &admin_password_file,
            format!("{}\n", lab.sim.admin_password()),
        )
        .expect("write password");
        let connector_password_file = lab.work_dir().join("connector.pw");
        std::fs::write(&connector_password_file, format!("{CONNECTOR_PASSWORD}\n"))
            .expect("write password");
        CliLab {
            lab,
            ca_file,
            admin_password_file,
            connector_password_file,
        }
    }

    /// The connection options, as the command line takes them.
    pub fn connection_args(&self) -> Vec<String> {
        vec![
            "--url".into(),
            self.sim.ldaps_url(),
            "--ca-file".into(),
            self.ca_file.display().to_string(),
            "--bind".into(),
            self.sim.admin_dn(),
            "--password-file".into(),
            self.admin_password_file.display().to_string(),
        ]
    }

    /// Runs `devwb <subcommand> <connection options> <args>`.
    pub fn devwb(&self, subcommand: &str, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_devwb"));
        command
            .arg(subcommand)
            .args(self.connection_args())
            .args(args);
        command
            .env_remove("DEVWB_PASSWORD")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1");
        command.output().expect("devwb runs")
    }

    pub fn device_container(&self) -> Dn {
        self.lab.device_container.clone()
    }

    pub fn configuration_container(&self) -> Dn {
        Dn::parse(&format!(
            "CN=Device Registration Configuration,CN=Services,{}",
            self.sim.config_dn()
        ))
        .expect("DN")
    }

    pub fn service_dn(&self) -> Dn {
        Dn::parse(&format!(
            "CN=DeviceRegistrationService,CN=Device Registration Services,{}",
            self.configuration_container()
        ))
        .expect("DN")
    }

    /// Runs `devwb prepare` for the connector and asserts it succeeded.
    pub fn prepare(&self, connector: &str) {
        let output = self.devwb("prepare", &["--connector-account", connector]);
        assert_success(&output, "prepare");
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn assert_success(output: &Output, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{what} failed\nstdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

/// The JSON report of `devwb verify --json`.
pub fn json_report(output: &Output) -> devwb_verify::Report {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "not a JSON report ({error}):\n{}\nstderr:\n{}",
            stdout(output),
            stderr(output)
        )
    })
}

/// `id: status` for each check, one per line, as the tests compare them.
pub fn statuses(report: &devwb_verify::Report) -> String {
    report
        .checks
        .iter()
        .map(|check| format!("{}: {}\n", check.id, check.status.word()))
        .collect()
}

/// `(cn in lower case, msDS-IsEnabled)` of every device object in `container`, sorted.
pub fn device_states(
    client: &devwb_ldap::Client,
    container: &devwb_model::Dn,
) -> Vec<(String, String)> {
    let mut devices: Vec<(String, String)> = client
        .search(
            container,
            devwb_ldap::Scope::OneLevel,
            "(objectClass=msDS-Device)",
            &["cn", "msDS-IsEnabled"],
        )
        .expect("search the container")
        .iter()
        .map(|entry| {
            (
                entry
                    .first_str("cn")
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
                entry
                    .first_str("msDS-IsEnabled")
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    devices.sort();
    devices
}
