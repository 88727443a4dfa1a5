//! Reads a forest back and checks it against Microsoft's device writeback troubleshooting list; returns a report of plain data.
