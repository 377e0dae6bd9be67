//! Configuration loading (`--config FILE`) on arbitrary TOML text.
//!
//! Checks: no panic in parsing or validation; and every configuration that validates
//! round-trips: printing it (`--print-config`) and loading the print gives the same
//! configuration, which validates again.
#![no_main]

use ferrite_config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let Ok(cfg) = Config::from_toml_str(text) else {
        return;
    };
    if cfg.validate().is_err() {
        return;
    }
    let printed = cfg.to_toml();
    let again = Config::from_toml_str(&printed)
        .unwrap_or_else(|e| panic!("the printed config does not load: {e}\n{printed}"));
    assert_eq!(
        cfg, again,
        "printing and loading changed the config:\n{printed}"
    );
    again.validate().expect("a printed valid config validates");
});
