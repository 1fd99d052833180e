#![no_main]
//! Fuzzes `packyard::fuzzing::oci::paths`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| packyard::fuzzing::oci::paths(data));
