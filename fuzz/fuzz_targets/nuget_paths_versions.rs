#![no_main]
//! Fuzzes `packyard::fuzzing::nuget::paths_versions`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| packyard::fuzzing::nuget::paths_versions(data));
