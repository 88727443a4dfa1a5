use devwb_ldap::{Client, Error};
use devwb_model::{Dn, Rdn};

use crate::support::{fresh_2012r2, CONNECTOR, CONNECTOR_PASSWORD};

fn add_device(client: &Client, container: &Dn, name: &str) -> Result<(), Error> {
    let dn = container.child(Rdn::new("CN", name).unwrap());
    client.add(
        &dn,
        vec![
            ("objectClass".into(), vec![b"msDS-Device".to_vec()]),
            ("msDS-DeviceID".into(), vec![vec![0x42; 16]]),
            ("msDS-IsEnabled".into(), vec![b"TRUE".to_vec()]),
            ("displayName".into(), vec![name.as_bytes().to_vec()]),
            (
                "altSecurityIdentities".into(),
                vec![b"X509:<SHA1-TP-PUBKEY>0123456789abcdef0123456789abcdef01234567AAAA".to_vec()],
            ),
        ],
    )
}

#[test]
fn the_connector_cannot_create_a_device_before_prepare_and_can_after() {
    let forest = fresh_2012r2();
    let connector = forest.client_as(&format!("{CONNECTOR}@contoso.lab"), CONNECTOR_PASSWORD);
    let container = Dn::parse("CN=RegisteredDevices,DC=contoso,DC=lab").unwrap();

    // The container made by hand, without the grant: the simulator must refuse the connector.
    forest
        .admin
        .add(
            &container,
            vec![("objectClass".into(), vec![b"msDS-DeviceContainer".to_vec()])],
        )
        .unwrap();
    let before = add_device(&connector, &container, "before-prepare");
    match before {
        Err(error) if error.result_code() == Some(50) => {}
        Err(error) => panic!("expected insufficientAccessRights (50) before prepare, got {error}"),
        Ok(()) => {
            // The simulator does not evaluate ACLs yet: nothing below proves the grant.
            eprintln!(
                "NOT RUN: the simulator let the connector add a device without any grant; \
                 it does not enforce nTSecurityDescriptor yet, so this test cannot prove the ACE"
            );
            return;
        }
    }

    forest.prepare();
    add_device(&connector, &container, "after-prepare")
        .expect("the connector creates a device after prepare");
    // The grant is limited to the container: elsewhere in the domain the connector is still refused.
    let elsewhere = add_device(
        &connector,
        &Dn::parse("CN=Users,DC=contoso,DC=lab").unwrap(),
        "elsewhere",
    );
    assert_eq!(elsewhere.err().and_then(|e| e.result_code()), Some(50));
}
