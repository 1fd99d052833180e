#![no_main]
//! Fuzzes `packyard::fuzzing::oci::manifest`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| packyard::fuzzing::oci::manifest(data));
