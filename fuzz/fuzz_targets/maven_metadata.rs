#![no_main]
//! Fuzzes `packyard::fuzzing::maven::metadata`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| packyard::fuzzing::maven::metadata(data));
