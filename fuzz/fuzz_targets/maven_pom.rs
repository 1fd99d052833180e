#![no_main]
//! Fuzzes `packyard::fuzzing::maven::pom`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| packyard::fuzzing::maven::pom(data));
