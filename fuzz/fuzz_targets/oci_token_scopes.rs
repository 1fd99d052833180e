#![no_main]
//! Fuzzes `packyard::fuzzing::oci::token_scopes`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| packyard::fuzzing::oci::token_scopes(data));
