#![no_main]
//! Fuzzes `packyard::fuzzing::rubygems::gem_archive`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| packyard::fuzzing::rubygems::gem_archive(data));
