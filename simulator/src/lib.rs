//! An in-process LDAP server that behaves like Active Directory where device writeback tooling cares.
