//! One add of a device with N values of `msDS-DevicePhysicalIDs` (issue 13: 100,000 values
//! stalled the simulator for minutes), timed from the client, while a second connection
//! searches the rootDSE's neighbour over and over: the slowest of those searches shows whether
//! the big request delayed other clients. By default it starts the simulator in process (plain
//! LDAP, simple bind allowed); with `--url` it drives a running adsim.
//!
//! `cargo bench -p devwb-simulator --bench many_values -- [--values 1000,10000,100000]
//!  [--url U --bind-dn D --password P --base B] [--no-value-limit]`

// A bench binary reports by printing, and a failed setup is a failed run.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldap3::{LdapConn, LdapConnSettings, Scope};

struct Options {
    values: Vec<usize>,
    url: Option<String>,
    bind_dn: String,
    password: String,
    base: String,
    no_value_limit: bool,
}

fn options() -> Options {
    let mut options = Options {
        values: vec![1_000, 10_000, 100_000],
        url: None,
        bind_dn: String::new(),
        password: String::new(),
        base: String::new(),
        no_value_limit: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--values" => {
                options.values = value
                    .split(',')
                    .map(|n| n.trim().parse().expect("--values is a list of numbers"))
                    .collect()
            }
            "--url" => options.url = Some(value),
            "--bind-dn" => options.bind_dn = value,
            "--password" => options.password = value,
            "--base" => options.base = value,
            "--no-value-limit" => {
                options.no_value_limit = true;
                i += 1;
                continue;
            }
            // cargo bench passes `--bench`.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    options
}

fn bind(url: &str, dn: &str, password: &str) -> LdapConn {
    let mut conn =
        LdapConn::with_settings(LdapConnSettings::new().set_no_tls_verify(true), url).unwrap();
    conn.simple_bind(dn, password).unwrap().success().unwrap();
    conn
}

fn device_attributes(name: &str, n: usize) -> Vec<(Vec<u8>, HashSet<Vec<u8>>)> {
    let one = |v: &[u8]| -> HashSet<Vec<u8>> { [v.to_vec()].into_iter().collect() };
    let mut id = [0x33u8; 16];
    id[..8].copy_from_slice(&(n as u64).to_le_bytes());
    let physical: HashSet<Vec<u8>> = (0..n)
        .map(|i| format!("[USER-HWID]:{name}:{i:08}").into_bytes())
        .collect();
    vec![
        (
            b"objectClass".to_vec(),
            [b"top".to_vec(), b"msDS-Device".to_vec()]
                .into_iter()
                .collect(),
        ),
        (b"displayName".to_vec(), one(name.as_bytes())),
        (b"msDS-IsEnabled".to_vec(), one(b"TRUE")),
        (b"msDS-DeviceID".to_vec(), one(&id)),
        (
            b"altSecurityIdentities".to_vec(),
            one(b"X509:<SHA1-TP-PUBKEY>0123456789abcdef0123456789abcdef01234567"),
        ),
        (b"msDS-DevicePhysicalIDs".to_vec(), physical),
    ]
}

fn main() {
    let options = options();
    let mut builder = devwb_simulator::Simulator::builder()
        .seed(13)
        .allow_plain_bind(true)
        .ldaps(None);
    if options.no_value_limit {
        builder = builder.max_nonlinked_values(None);
    }
    let sim = options
        .url
        .is_none()
        .then(|| builder.start_blocking().expect("the simulator starts"));
    let (url, bind_dn, password, base) = match &sim {
        Some(sim) => (
            sim.url(),
            sim.admin_dn(),
            sim.admin_password().to_string(),
            sim.domain_dn(),
        ),
        None => (
            options.url.clone().unwrap_or_default(),
            options.bind_dn.clone(),
            options.password.clone(),
            options.base.clone(),
        ),
    };
    let mut writer = bind(&url, &bind_dn, &password);
    let container = format!("CN=ManyValues,{base}");
    let _ = writer.add(
        &container,
        vec![(
            b"objectClass".to_vec(),
            [b"top".to_vec(), b"msDS-DeviceContainer".to_vec()]
                .into_iter()
                .collect::<HashSet<Vec<u8>>>(),
        )],
    );
    for &n in &options.values {
        let name = format!("many-{n}");
        let dn = format!("CN={name},{container}");
        let attributes = device_attributes(&name, n);
        // The other client: searches one entry in a loop while the add runs.
        let running = Arc::new(AtomicBool::new(true));
        let watcher = {
            let running = running.clone();
            let (url, bind_dn, password, base) =
                (url.clone(), bind_dn.clone(), password.clone(), base.clone());
            std::thread::spawn(move || {
                let mut reader = bind(&url, &bind_dn, &password);
                let mut slowest = Duration::ZERO;
                let mut searches = 0u64;
                while running.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    reader
                        .search(&base, Scope::Base, "(objectClass=*)", vec!["cn"])
                        .unwrap()
                        .success()
                        .unwrap();
                    slowest = slowest.max(started.elapsed());
                    searches += 1;
                }
                (slowest, searches)
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        let started = Instant::now();
        let result = writer.add(&dn, attributes).unwrap();
        let took = started.elapsed();
        running.store(false, Ordering::Relaxed);
        let (slowest, searches) = watcher.join().unwrap();
        println!(
            "{n:>7} values: add answered rc {} in {:>8.3} s; {searches} searches meanwhile, slowest {:.1} ms",
            result.rc,
            took.as_secs_f64(),
            slowest.as_secs_f64() * 1000.0
        );
        let _ = writer.delete(&dn);
    }
}
