#![no_main]
//! Fuzzes `packyard::fuzzing::nuget::nuspec`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| packyard::fuzzing::nuget::nuspec(data));
