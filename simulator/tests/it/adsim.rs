//! The adsim binary: starts, prints its listeners, loads a seed and dumps LDIF on Ctrl-C.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ldap3::{LdapConn, LdapConnSettings, Scope, SearchEntry};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn serves_seed_and_dumps_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.ldif");
    let dump = dir.path().join("dump.ldif");
    std::fs::write(
        &seed,
        "version: 1\n\ndn: OU=Seeded,DC=fabrikam,DC=test\nobjectClass: top\nobjectClass: organizationalUnit\ndescription:: c2VlZGVkIHZhbHVl\n\n",
    )
    .unwrap();
    let (plain, ldaps) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_adsim"))
        .args([
            "--forest",
            "fabrikam.test",
            "--schema-level",
            "2012r2",
            "--admin-password",
            "Adsim-Test-1!",
        ])
        .args([
            "--listen",
            &format!("127.0.0.1:{plain}"),
            "--ldaps",
            &format!("127.0.0.1:{ldaps}"),
        ])
        .arg("--seed")
        .arg(&seed)
        .arg("--dump")
        .arg(&dump)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let second = lines.next().unwrap().unwrap();
    assert_eq!(
        first,
        format!(
            "ldap  ldap://127.0.0.1:{plain} admin CN=Administrator,CN=Users,DC=fabrikam,DC=test"
        )
    );
    assert_eq!(
        second,
        format!(
            "ldaps ldaps://127.0.0.1:{ldaps} admin CN=Administrator,CN=Users,DC=fabrikam,DC=test"
        )
    );

    let mut conn = LdapConn::with_settings(
        LdapConnSettings::new().set_no_tls_verify(true),
        &format!("ldaps://127.0.0.1:{ldaps}"),
    )
    .unwrap();
    conn.simple_bind(
        "CN=Administrator,CN=Users,DC=fabrikam,DC=test",
        "Adsim-Test-1!",
    )
    .unwrap()
    .success()
    .unwrap();
    let (entries, _) = conn
        .search(
            "OU=Seeded,DC=fabrikam,DC=test",
            Scope::Base,
            "(objectClass=*)",
            vec!["description"],
        )
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(
        SearchEntry::construct(entries.into_iter().next().unwrap()).attrs["description"],
        vec!["seeded value"]
    );
    let schema = conn
        .search(
            "CN=Schema,CN=Configuration,DC=fabrikam,DC=test",
            Scope::Base,
            "(objectClass=*)",
            vec!["objectVersion"],
        )
        .unwrap()
        .success()
        .unwrap()
        .0;
    assert_eq!(
        SearchEntry::construct(schema.into_iter().next().unwrap()).attrs["objectVersion"],
        vec!["69"]
    );
    drop(conn);

    // Ctrl-C is SIGINT.
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "adsim did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    let dumped = std::fs::read_to_string(&dump).unwrap();
    assert!(dumped.starts_with("version: 1\n"));
    assert!(dumped.contains("dn: OU=Seeded,DC=fabrikam,DC=test\n"));
    assert!(dumped.contains("description: seeded value\n"));
    assert!(dumped.contains("objectGUID:: "), "binary values are base64");

    // The dump loads back as a seed.
    let again = devwb_simulator::Simulator::builder()
        .forest("fabrikam.test")
        .seed_ldif(&dump)
        .start_blocking()
        .unwrap();
    assert!(again
        .forest()
        .store
        .get(&devwb_model::Dn::parse("OU=Seeded,DC=fabrikam,DC=test").unwrap())
        .is_some());
}

#[test]
fn bad_arguments_fail_plainly() {
    let output = Command::new(env!("CARGO_BIN_EXE_adsim"))
        .args(["--schema-level", "1999"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--schema-level 1999"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Starts adsim with `extra` arguments on free ports; returns the child, the LDAPS URL and
/// the plain port.
fn spawn_adsim(extra: &[&std::ffi::OsStr]) -> (std::process::Child, String, u16) {
    let (plain, ldaps) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_adsim"))
        .args(["--admin-password", "Adsim-Test-1!"])
        .args([
            "--listen",
            &format!("127.0.0.1:{plain}"),
            "--ldaps",
            &format!("127.0.0.1:{ldaps}"),
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    lines.next().unwrap().unwrap();
    lines.next().unwrap().unwrap();
    // Keep reading what else it prints, as a terminal would.
    std::thread::spawn(move || lines.for_each(drop));
    (child, format!("ldaps://127.0.0.1:{ldaps}"), plain)
}

/// Sends SIGTERM and waits for the exit, at most `within`.
fn terminate(child: &mut std::process::Child, within: Duration) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + within;
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            return exit;
        }
        assert!(
            Instant::now() < deadline,
            "adsim did not stop within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn bind(url: &str, name: &str, password: &str) -> ldap3::LdapResult {
    let mut conn =
        LdapConn::with_settings(LdapConnSettings::new().set_no_tls_verify(true), url).unwrap();
    conn.simple_bind(name, password).unwrap()
}

fn quoted_utf16(password: &str) -> Vec<u8> {
    format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}

#[test]
fn sigterm_stops_adsim_promptly_even_mid_request() {
    let (mut child, _, plain) = spawn_adsim(&[]);
    // The first megabyte of a 10 MB message, and no more.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", plain)).unwrap();
    let mut message = vec![0x30, 0x84];
    message.extend_from_slice(&10_000_000u32.to_be_bytes());
    message.extend(std::iter::repeat_n(0u8, 1024 * 1024));
    use std::io::Write;
    stream.write_all(&message).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let exit = terminate(&mut child, Duration::from_secs(5));
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn a_dump_seeds_the_same_directory_and_its_accounts_still_bind() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump.ldif");
    // An existing, world-readable file is made private when the dump replaces it.
    std::fs::write(&dump, "old").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dump, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let (mut child, url, _) = spawn_adsim(&["--dump".as_ref(), dump.as_os_str()]);
    // An account made over LDAP with a password, as the connector's would be.
    let mut conn =
        LdapConn::with_settings(LdapConnSettings::new().set_no_tls_verify(true), &url).unwrap();
    conn.simple_bind(
        "CN=Administrator,CN=Users,DC=contoso,DC=lab",
        "Adsim-Test-1!",
    )
    .unwrap()
    .success()
    .unwrap();
    let one =
        |v: &[u8]| -> std::collections::HashSet<Vec<u8>> { [v.to_vec()].into_iter().collect() };
    conn.add(
        "CN=svc-connector,CN=Users,DC=contoso,DC=lab",
        vec![
            (b"objectClass".to_vec(), one(b"user")),
            (b"sAMAccountName".to_vec(), one(b"svc-connector")),
            (b"unicodePwd".to_vec(), one(&quoted_utf16("Conn-Passw0rd!"))),
            (b"userAccountControl".to_vec(), one(b"512")),
        ],
    )
    .unwrap()
    .success()
    .unwrap();
    // The password is never an attribute a client can read.
    let (entries, _) = conn
        .search(
            "CN=svc-connector,CN=Users,DC=contoso,DC=lab",
            Scope::Base,
            "(objectClass=*)",
            vec!["*", "adsim-password"],
        )
        .unwrap()
        .success()
        .unwrap();
    let entry = SearchEntry::construct(entries.into_iter().next().unwrap());
    assert!(entry
        .attrs
        .keys()
        .chain(entry.bin_attrs.keys())
        .all(|k| !k.eq_ignore_ascii_case("adsim-password")));
    // Nor one a client can write.
    let refused = conn
        .modify(
            "CN=svc-connector,CN=Users,DC=contoso,DC=lab",
            vec![ldap3::Mod::Replace(
                "adsim-password",
                std::collections::HashSet::from(["x"]),
            )],
        )
        .unwrap();
    assert_eq!(refused.rc, 16, "{refused:?}");
    drop(conn);
    assert!(terminate(&mut child, Duration::from_secs(20)).success());
    let dumped = std::fs::read_to_string(&dump).unwrap();
    assert!(
        dumped.contains("adsim-password:: "),
        "passwords are dumped, base64"
    );
    assert!(!dumped.contains("Conn-Passw0rd!"), "never as plain text");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dump).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the dump is private: {mode:o}");
    }

    // Reseeded, the account binds with its password (issue 13: it failed with 52e).
    let again = dir.path().join("again.ldif");
    let (mut child, url, _) = spawn_adsim(&[
        "--seed".as_ref(),
        dump.as_os_str(),
        "--dump".as_ref(),
        again.as_os_str(),
    ]);
    let bound = bind(&url, "svc-connector@contoso.lab", "Conn-Passw0rd!");
    assert_eq!(bound.rc, 0, "{bound:?}");
    let wrong = bind(&url, "svc-connector@contoso.lab", "wrong");
    assert_eq!(wrong.rc, 49, "{wrong:?}");
    assert!(terminate(&mut child, Duration::from_secs(20)).success());
    // And a dump of the reseeded server is the same directory, USNs included.
    assert_eq!(std::fs::read_to_string(&again).unwrap(), dumped);
}

#[test]
fn a_missing_seed_file_is_one_line_and_exit_status_2() {
    let output = Command::new(env!("CARGO_BIN_EXE_adsim"))
        .args([
            "--seed",
            "/nonexistent/seed.ldif",
            "--listen",
            "127.0.0.1:0",
            "--ldaps",
            "127.0.0.1:0",
        ])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("/nonexistent/seed.ldif"), "{stderr}");
    assert!(
        !stderr.contains("backtrace") && !stderr.contains("Stack"),
        "{stderr}"
    );

    let help = Command::new(env!("CARGO_BIN_EXE_adsim"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--seed <LDIF_FILE>"), "{help}");
    assert!(help.contains("--id-seed <NUMBER>"), "{help}");
}

#[test]
fn a_dump_loads_back_with_passwords_and_usns_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let first = devwb_simulator::Simulator::builder()
        .admin_password("Adsim-Test-1!")
        .seed(5)
        .start_blocking()
        .unwrap();
    first.add_user("svc-connector", "Conn-Passw0rd!").unwrap();
    let dumped = first.dump_ldif();
    assert!(dumped.contains("adsim-password:: "));
    let path = dir.path().join("dump.ldif");
    std::fs::write(&path, &dumped).unwrap();
    drop(first);

    // A generated admin password gives way to the dumped one, so the handle tells the truth.
    let second = devwb_simulator::Simulator::builder()
        .seed_ldif(&path)
        .start_blocking()
        .unwrap();
    assert_eq!(second.admin_password(), "Adsim-Test-1!");
    assert_eq!(
        second.dump_ldif(),
        dumped,
        "the same directory, USNs included"
    );
    for (name, password) in [
        ("svc-connector@contoso.lab", "Conn-Passw0rd!"),
        (
            "CN=Administrator,CN=Users,DC=contoso,DC=lab",
            "Adsim-Test-1!",
        ),
    ] {
        assert_eq!(bind(&second.ldaps_url(), name, password).rc, 0, "{name}");
    }

    // A password given to the builder still wins over the seed's.
    let third = devwb_simulator::Simulator::builder()
        .seed_ldif(&path)
        .admin_password("Other-Passw0rd!")
        .start_blocking()
        .unwrap();
    let admin = "CN=Administrator,CN=Users,DC=contoso,DC=lab";
    assert_eq!(bind(&third.ldaps_url(), admin, "Other-Passw0rd!").rc, 0);
    assert_eq!(bind(&third.ldaps_url(), admin, "Adsim-Test-1!").rc, 49);

    // A seed that names a password twice refuses rather than pretend.
    let twice = dumped.replacen(
        "adsim-password:: ",
        "adsim-password:: eA==\nadsim-password:: ",
        1,
    );
    let bad = dir.path().join("twice.ldif");
    std::fs::write(&bad, twice).unwrap();
    let refused = devwb_simulator::Simulator::builder()
        .seed_ldif(&bad)
        .start_blocking()
        .unwrap_err();
    assert!(refused.to_string().contains("adsim-password"), "{refused}");
}

#[test]
fn a_three_domain_forest_prints_one_line_per_listener() {
    let (root_plain, root_ldaps) = (free_port(), free_port());
    let (emea_plain, emea_ldaps) = (free_port(), free_port());
    let (gc_plain, gc_ldaps) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_adsim"))
        .args([
            "--forest",
            "contoso.lab",
            "--admin-password",
            "Adsim-Test-1!",
        ])
        .args(["--listen", &format!("127.0.0.1:{root_plain}")])
        .args(["--ldaps", &format!("127.0.0.1:{root_ldaps}")])
        .args([
            "--domain",
            &format!("emea.contoso.lab=127.0.0.1:{emea_plain},127.0.0.1:{emea_ldaps}"),
        ])
        .args(["--domain", "fabrikam.lab"])
        .args([
            "--gc",
            &format!("127.0.0.1:{gc_plain},127.0.0.1:{gc_ldaps}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed: Vec<String> = (0..8).map(|_| lines.next().unwrap().unwrap()).collect();
    std::thread::spawn(move || lines.for_each(drop));
    // fabrikam.lab's ports are free ones adsim picked: check their shape, then compare the rest.
    let fabrikam: Vec<String> = printed.drain(4..6).collect();
    assert_eq!(
        printed,
        [
            format!("ldap  ldap://127.0.0.1:{root_plain} admin CN=Administrator,CN=Users,DC=contoso,DC=lab domain contoso.lab"),
            format!("ldaps ldaps://127.0.0.1:{root_ldaps} admin CN=Administrator,CN=Users,DC=contoso,DC=lab domain contoso.lab"),
            format!("ldap  ldap://127.0.0.1:{emea_plain} admin CN=Administrator,CN=Users,DC=emea,DC=contoso,DC=lab domain emea.contoso.lab"),
            format!("ldaps ldaps://127.0.0.1:{emea_ldaps} admin CN=Administrator,CN=Users,DC=emea,DC=contoso,DC=lab domain emea.contoso.lab"),
            format!("gc    ldap://127.0.0.1:{gc_plain} forest contoso.lab"),
            format!("gcs   ldaps://127.0.0.1:{gc_ldaps} forest contoso.lab"),
        ]
    );
    let fields: Vec<Vec<&str>> = fabrikam
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(fields[0][0], "ldap");
    assert_eq!(fields[1][0], "ldaps");
    for line in &fields {
        assert_eq!(
            line[2..],
            [
                "admin",
                "CN=Administrator,CN=Users,DC=fabrikam,DC=lab",
                "domain",
                "fabrikam.lab"
            ]
        );
    }
    // The child domain's DC answers with the shared password; the tree's at the printed URL.
    for (url, admin) in [
        (
            format!("ldaps://127.0.0.1:{emea_ldaps}"),
            "CN=Administrator,CN=Users,DC=emea,DC=contoso,DC=lab",
        ),
        (
            fields[1][1].to_string(),
            "CN=Administrator,CN=Users,DC=fabrikam,DC=lab",
        ),
        (
            format!("ldaps://127.0.0.1:{gc_ldaps}"),
            "CN=Administrator,CN=Users,DC=contoso,DC=lab",
        ),
    ] {
        let mut conn =
            LdapConn::with_settings(LdapConnSettings::new().set_no_tls_verify(true), &url).unwrap();
        conn.simple_bind(admin, "Adsim-Test-1!")
            .unwrap()
            .success()
            .unwrap();
        let (entries, _) = conn
            .search(
                "CN=Partitions,CN=Configuration,DC=contoso,DC=lab",
                Scope::OneLevel,
                "(objectClass=crossRef)",
                vec!["dnsRoot"],
            )
            .unwrap()
            .success()
            .unwrap();
        assert_eq!(entries.len(), 3, "{url}");
    }
    assert!(terminate(&mut child, Duration::from_secs(20)).success());
}

#[test]
fn a_bad_domain_name_is_one_line_and_exit_2() {
    for (domain, expected) in [
        ("lab", "not a domain DNS name"),
        ("x.y.contoso.lab", "parent must be a domain"),
        ("emea.contoso.lab=127.0.0.1:1", "LDAP_ADDR,LDAPS_ADDR"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_adsim"))
            .args([
                "--forest",
                "contoso.lab",
                "--listen",
                "127.0.0.1:0",
                "--ldaps",
                "127.0.0.1:0",
            ])
            .args(["--domain", domain])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{domain}: {stderr}");
        assert!(stderr.contains(expected), "{domain}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{domain}: {stderr}");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_adsim"))
        .args(["--listen", "127.0.0.1:0", "--ldaps", "127.0.0.1:0"])
        .args(["--refuse-domain", "nowhere.lab"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--refuse-domain nowhere.lab: not a domain of the forest"),
        "{stderr}"
    );
}
