//! `devwb demo` is the README's first command: it must run to the end on a machine with nothing
//! but the binary, and say what it did.

use std::process::Command;

#[test]
fn demo_prepares_writes_back_and_verifies() {
    let output = Command::new(env!("CARGO_BIN_EXE_devwb"))
        .arg("demo")
        .env_remove("DEVWB_PASSWORD")
        .output()
        .expect("devwb runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "devwb demo failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("all checks passed: 13 passed, 0 failed"),
        "verify did not pass:\n{stdout}"
    );
    assert!(
        stdout.contains("46 devices written back"),
        "writeback count changed:\n{stdout}"
    );
    // The sample's four devices out of scope are skipped with their reasons (on standard error,
    // like every warning of `devwb writeback`), not silently.
    assert_eq!(
        stderr.matches("skipped device ").count(),
        4,
        "skipped devices:\n{stderr}"
    );
    assert!(
        stderr.contains("owner not in this forest"),
        "no skip reason shown:\n{stderr}"
    );
    assert!(
        stderr.contains("no usable alternativeSecurityIds key"),
        "no skip reason shown:\n{stderr}"
    );
}
