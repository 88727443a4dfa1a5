//! The client against a simulated forest of several domains: each domain's DC and the global
//! catalog through the lab's helpers. How devwb resolves accounts across the forest is tested
//! where it is built; this only pins what the client meets today.

use devwb_ldap::Scope;
use devwb_model::{Dn, Sid};
use devwb_test_support::Lab;

#[test]
fn each_domain_s_dc_and_the_global_catalog_answer_the_client() {
    let lab = Lab::builder()
        .domain("emea.contoso.lab")
        .domain("fabrikam.lab")
        .simulator(|sim| sim.admin_password("Forest-Client-1!"))
        .start();
    let (_, bob_sid) = lab
        .sim
        .add_user_in("emea.contoso.lab", "bob", "Passw0rd!")
        .unwrap();
    let emea = lab.sim.domain("emea.contoso.lab").unwrap().clone();
    // A user of the child domain binds on its DC by UPN and reads its own domain head.
    let client = lab.client_on("emea.contoso.lab", "bob@emea.contoso.lab", "Passw0rd!");
    let head = client
        .read(&emea.domain_dn, &["objectSid"])
        .unwrap()
        .unwrap();
    assert_eq!(
        Sid::from_bytes(head.first_bytes("objectSid").unwrap()).unwrap(),
        emea.domain_sid
    );
    // The root domain's NC is another DC's: the client sees the referral's code (10).
    let error = client
        .search(&lab.domain, Scope::Base, "(objectClass=*)", &["1.1"])
        .unwrap_err();
    assert_eq!(error.result_code(), Some(10), "{error}");
    // The global catalog finds bob from the forest's root, by SID.
    let gc =
        devwb_ldap::Client::connect(&lab.gc_options(), Some(&lab.admin_credentials())).unwrap();
    let filter: String = bob_sid
        .to_bytes()
        .iter()
        .map(|b| format!("\\{b:02x}"))
        .collect();
    let found = gc
        .search(
            &Dn::root(),
            Scope::Subtree,
            &format!("(objectSid={filter})"),
            &["sAMAccountName"],
        )
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].first_str("sAMAccountName"), Some("bob"));
}
