#[test]
fn scenario_table_on_the_simulator() {
    super::run_table(devwb_e2e::Backend::Simulator);
}

/// The simulator and the client keep their own tables of RFC 4511 result-code names (neither
/// may depend on the other): every code the simulator names, the client names alike.
#[test]
fn the_simulator_and_the_client_name_result_codes_alike() {
    let mut named = 0;
    for code in 0..=200u32 {
        let simulator = devwb_simulator::error::ResultCode(code).name();
        if simulator == "unknown" {
            continue;
        }
        named += 1;
        assert_eq!(devwb_ldap::result_code_name(code), simulator, "code {code}");
    }
    assert!(named >= 30, "{named} codes named by the simulator");
}
