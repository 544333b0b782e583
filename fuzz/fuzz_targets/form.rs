//! The application form parser and validators: any bytes give a form or a field problem, never
//! a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = newborn_domain::application::parse_form(data);
});
