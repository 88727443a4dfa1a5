//! Integration tests of devwb-model, one module per area.

mod dn; // DN parsing, formatting and AD equality.
mod guid; // GUID text and the AD byte layout.
mod sd; // Security descriptors: binary, SDDL, access check, inheritance, win-sd oracle.
mod sid; // SID text, binary form and well-known SIDs.
