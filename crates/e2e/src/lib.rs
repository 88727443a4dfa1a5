//! End-to-end scenarios written once and run against two backends: the simulator and a real Samba AD DC.
