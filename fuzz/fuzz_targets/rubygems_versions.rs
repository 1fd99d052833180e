#![no_main]
//! Fuzzes `packyard::fuzzing::rubygems::versions`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| packyard::fuzzing::rubygems::versions(data));
