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

fn bind(url: &str, name: &str, password: &str) -> ldap3::LdapResult {
    let mut conn =
        LdapConn::with_settings(LdapConnSettings::new().set_no_tls_verify(true), url).unwrap();
    conn.simple_bind(name, password).unwrap()
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
