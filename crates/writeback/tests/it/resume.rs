//! A run killed mid-apply and rerun converges, with no duplicate and no lost device.
