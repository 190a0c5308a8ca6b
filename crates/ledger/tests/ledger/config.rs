//! The `[ledger]` TOML section.

use hearth_ledger::{Ledger, LedgerConfig, SqliteStore, Store};
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

#[test]
fn url_and_instance_keys_parse() {
    let f: File =
        toml::from_str("[ledger]\nurl = \"postgres://hearth:pw@db:5432/fleet\"\ninstance = \"node-b\"\n")
            .unwrap();
    assert_eq!(f.ledger.url.as_deref(), Some("postgres://hearth:pw@db:5432/fleet"));
    assert_eq!(f.ledger.instance.as_deref(), Some("node-b"));
    assert!(f.ledger.validate().is_ok());
}

#[test]
fn open_config_picks_sqlite_beside_the_models_without_a_url() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("cache/models");
    let config = LedgerConfig { instance: Some("node-s".to_owned()), ..LedgerConfig::default() };
    let ledger = Ledger::open_config(&config, &models).unwrap();
    ledger.record(crate::small_call("r1", 7));
    ledger.flush().unwrap();
    let path = dir.path().join("cache/ledger.sqlite");
    let rows = SqliteStore::open(&path).unwrap().calls_since(0).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].service_instance_id.as_deref(), Some("node-s"));
}

#[test]
fn an_unreachable_database_fails_with_a_hint_and_no_password() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let config = LedgerConfig {
        url: Some("postgres://hearth:pw-s3cret@127.0.0.1:1/fleet".to_owned()),
        ..LedgerConfig::default()
    };
    let e =
        Ledger::open_config(&config, std::path::Path::new("/nonexistent/models")).unwrap_err().to_string();
    assert!(e.contains("cannot connect to the ledger database postgres://hearth@127.0.0.1:1/fleet"), "{e}");
    assert!(e.contains("check that PostgreSQL is running"), "{e}");
    assert!(!e.contains("pw-s3cret"), "{e}");
}
