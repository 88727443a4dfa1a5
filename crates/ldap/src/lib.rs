//! The LDAP client side of devwb: connect (LDAPS or StartTLS), bind, rootDSE discovery, paged search, security descriptor reads and writes, bulk apply. Wraps the ldap3 crate.
