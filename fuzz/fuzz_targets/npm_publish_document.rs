#![no_main]
//! Fuzzes `packyard::fuzzing::npm::publish_document`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| packyard::fuzzing::npm::publish_document(data));
