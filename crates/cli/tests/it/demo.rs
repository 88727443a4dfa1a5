//! `devwb demo` is the README's first command: it must run to the end on a machine with nothing
//! but the binary, and say what it did.

use std::process::Command;

#[test]
fn demo_prepares_syncs_a_full_and_a_delta_round_and_verifies() {
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
    // The full round writes the sample's 46 devices in scope and skips 4; the delta round
    // carries exactly the three changes the demo makes in the tenant.
    assert!(
        stdout.contains("round 1 (full): 50 changes seen, 46 applied (46 added, 0 modified, 0 deleted), 4 skipped, 0 failed"),
        "full round:\n{stdout}"
    );
    assert!(
        stdout.contains("round 2 (delta): 3 changes seen, 3 applied (1 added, 1 modified, 1 deleted), 0 skipped, 0 failed"),
        "delta round:\n{stdout}"
    );
    assert!(stderr.is_empty(), "nothing to warn about:\n{stderr}");
}
