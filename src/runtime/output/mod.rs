//! Writing the script's output: bpftrace's text (`text`) and `-f json` (`json`).

pub mod json;
pub mod text;
