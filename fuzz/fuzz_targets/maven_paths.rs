#![no_main]
//! Fuzzes `packyard::fuzzing::maven::paths`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| packyard::fuzzing::maven::paths(data));
