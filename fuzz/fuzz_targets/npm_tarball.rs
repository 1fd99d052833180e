#![no_main]
//! Fuzzes `packyard::fuzzing::npm::tarball`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| packyard::fuzzing::npm::tarball(data));
