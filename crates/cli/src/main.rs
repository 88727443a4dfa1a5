//! The `devwb` binary. Glue only: arguments, output, exit codes.

fn main() {}
