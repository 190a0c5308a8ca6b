//! The `[ledger]` TOML section.

use hearth_ledger::LedgerConfig;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct File {
    ledger: LedgerConfig,
}

#[test]
fn ledger_section_parses_with_defaults_and_rejects_unknown_keys() {
    let f: File =
        toml::from_str("[ledger]\npath = \"/var/lib/hearth/ledger.sqlite\"\nretain_days = 30\n").unwrap();
    assert_eq!(f.ledger.path.as_deref(), Some(std::path::Path::new("/var/lib/hearth/ledger.sqlite")));
    assert_eq!(f.ledger.retain_days, Some(30));
    assert_eq!(f.ledger.batch_rows, LedgerConfig::default().batch_rows);

    let f: File = toml::from_str("[ledger]\nbatch_rows = 10\nbatch_ms = 20\nqueue_capacity = 30\n").unwrap();
    assert_eq!(
        (f.ledger.path, f.ledger.batch_rows, f.ledger.batch_ms, f.ledger.queue_capacity),
        (None, 10, 20, 30)
    );

    let e = toml::from_str::<File>("[ledger]\npaht = \"x\"\n").unwrap_err().to_string();
    assert!(e.contains("paht"), "{e}");
}
