//! Arguments, help and exit codes that need no directory.

use std::process::{Command, Output};

fn devwb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_devwb"))
        .args(args)
        .env_remove("DEVWB_PASSWORD")
        .env_remove("DEVWB_URL")
        .env_remove("DEVWB_BIND")
        .output()
        .expect("devwb runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A local port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[test]
fn help_documents_exit_codes_and_examples() {
    let top = devwb(&["--help"]);
    assert_eq!(top.status.code(), Some(0));
    let text = String::from_utf8_lossy(&top.stdout);
    assert!(text.contains("3  cannot connect or authenticate"), "{text}");
    for subcommand in ["prepare", "verify"] {
        let help = devwb(&[subcommand, "--help"]);
        let text = String::from_utf8_lossy(&help.stdout);
        assert!(text.contains("Examples:"), "{subcommand}: {text}");
        assert!(
            text.contains(&format!("devwb {subcommand} --url ldaps://")),
            "{subcommand}: {text}"
        );
        assert!(text.contains("Exit status:"), "{subcommand}: {text}");
        assert!(
            text.contains("--password-insecure-cli"),
            "{subcommand}: {text}"
        );
    }
}

#[test]
fn no_password_without_a_terminal_is_a_usage_error() {
    let output = devwb(&[
        "verify",
        "--url",
        "ldaps://127.0.0.1:1",
        "--bind",
        "CONTOSO\\admin",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("set DEVWB_PASSWORD, pass --password-file"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn connection_refused_exits_3_with_the_cause_chain() {
    let url = format!("ldaps://127.0.0.1:{}", closed_port());
    let output = devwb(&[
        "verify",
        "--url",
        &url,
        "--bind",
        "CONTOSO\\admin",
        "--password-insecure-cli",
        "x",
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains(&format!(
            "error: connecting to {url} as CONTOSO\\admin: cannot connect"
        )),
        "{text}"
    );
    // Each cause once: ldap3's "I/O error: <cause>" wrapper is not printed beside its cause.
    assert_eq!(text.matches("refused").count(), 1, "{text}");
    assert!(
        !text.contains("hint:"),
        "no certificate was refused: {text}"
    );
    assert!(
        !text.contains("x\n") && !text.contains("\"x\""),
        "the password must not be printed: {text}"
    );
}

#[test]
fn starttls_with_an_ldaps_url_is_refused() {
    let output = devwb(&["verify", "--url", "ldaps://127.0.0.1:1", "--starttls"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("give an ldap:// URL"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn empty_password_file_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("empty.pw");
    std::fs::write(&file, "").expect("write");
    let file = file.display().to_string();
    let output = devwb(&[
        "prepare",
        "--url",
        "ldaps://127.0.0.1:1",
        "--bind",
        "a",
        "--password-file",
        &file,
        "--connector-account",
        "C\\s",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!("the password file {file} is empty")),
        "{}",
        stderr(&output)
    );
}

#[test]
fn argument_errors_exit_2() {
    for args in [
        vec!["verify", "--url", "x", "--yes"],
        vec!["verify", "--url", "x", "--domain", "DC=a,,DC=b"],
        vec!["prepare", "--url", "x"],
        vec![
            "prepare",
            "--url",
            "x",
            "--connector-account",
            "C\\s",
            "--emit",
            "yaml",
        ],
        vec!["verify", "--url", "x", "--fix"],
    ] {
        let output = devwb(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}
