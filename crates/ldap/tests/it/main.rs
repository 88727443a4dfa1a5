//! Integration tests of the client against the in-process simulator (real LDAP over a socket).
