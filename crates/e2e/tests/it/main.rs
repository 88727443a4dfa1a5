//! The scenario table against each backend. One test per backend runs every scenario on a fresh
//! forest and reports each by name, so a failure says which scenario and what it saw.

// A test binary reports what ran and what was skipped on standard output, where cargo test shows it.
#![allow(clippy::print_stdout)]

mod samba; // the table against a Samba AD DC in a container (skips, saying why, without Docker)
mod simulator; // the table against the in-process simulator

use devwb_e2e::Backend;

/// Runs every scenario of the table on `backend` and fails listing those that failed.
pub fn run_table(backend: Backend) {
    if let Some(why) = backend.unavailable() {
        println!("{backend:?} suite did not run: {why}");
        return;
    }
    let mut failures = Vec::new();
    for scenario in devwb_e2e::scenarios::ALL
        .iter()
        .chain(devwb_e2e::forest::ALL)
    {
        if let Some(why) = (scenario.unavailable)().or_else(|| backend.cannot_host(scenario.shape))
        {
            println!("{backend:?} {} did not run: {why}", scenario.name);
            continue;
        }
        let started = std::time::Instant::now();
        let outcome = backend
            .start(scenario.level, scenario.shape)
            .and_then(|forest| (scenario.run)(&forest));
        match outcome {
            Ok(()) => println!(
                "{backend:?} {} ok in {:.1?}",
                scenario.name,
                started.elapsed()
            ),
            Err(why) => {
                println!(
                    "{backend:?} {} FAILED in {:.1?}: {why}",
                    scenario.name,
                    started.elapsed()
                );
                failures.push(format!("{}: {why}", scenario.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{backend:?}: {} scenario(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
