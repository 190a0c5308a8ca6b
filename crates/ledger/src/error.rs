//! The ledger's errors.

use std::path::PathBuf;

/// What went wrong opening, migrating or writing the ledger.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database file could not be opened or created.
    #[error(
        "cannot open the ledger at {path}: {source} (check that the directory exists and is writable, or set `[ledger] path`)"
    )]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// A reader (`hearth report`) was pointed at a file that does not exist.
    #[error(
        "no ledger at {path}: hearth writes one while it serves with a config (`hearth serve --config FILE`; the file's `[ledger] path` says where, default ledger.sqlite beside the models cache); point the reader at that file"
    )]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// A reader was pointed at a file that is not a hearth ledger (no `calls` table).
    #[error(
        "{path} is not a hearth ledger (it has no `calls` table): point the reader at the file `[ledger] path` names"
    )]
    NotALedger {
        /// The file.
        path: PathBuf,
    },
    /// The ledger's directory could not be created.
    #[error("cannot create the ledger's directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file's schema is newer than this build knows.
    #[error(
        "the ledger at {path} has schema version {found}, newer than this hearth's {supported}: upgrade hearth or point `[ledger] path` at another file"
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its `PRAGMA user_version`.
        found: i64,
        /// The newest version this build writes.
        supported: i64,
    },
    /// A migration failed (the file is left at its previous version: migrations are transactional).
    #[error("migrating the ledger to schema version {version} failed: {source}")]
    Migrate {
        /// The version being migrated to.
        version: i64,
        /// Why.
        source: rusqlite::Error,
    },
    /// A read or write failed (disk full, read-only file, I/O error, …).
    #[error("ledger database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The PostgreSQL server could not be reached or refused the connection.
    #[error(
        "cannot connect to the ledger database {database}: {} (check that PostgreSQL is running there and that `[ledger] url` has the right user, password, host, port and database)",
        chain(.source)
    )]
    Connect {
        /// The database, without its password.
        database: String,
        /// Why.
        source: postgres::Error,
    },
    /// The database's schema is newer than this build knows.
    #[error(
        "the ledger database {database} has schema version {found}, newer than this hearth's {supported}: upgrade hearth or point `[ledger] url` at another database"
    )]
    TooNewDatabase {
        /// The database, without its password.
        database: String,
        /// Its `hearth_ledger_schema.version`.
        found: i64,
        /// The newest version this build writes.
        supported: i64,
    },
    /// A PostgreSQL migration failed (the database is left at its previous version).
    #[error("migrating the ledger database to schema version {version} failed: {}", chain(.source))]
    MigrateDatabase {
        /// The version being migrated to.
        version: i64,
        /// Why.
        source: postgres::Error,
    },
    /// A PostgreSQL read or write failed (connection lost, permissions, …).
    #[error("ledger database error (PostgreSQL): {}", chain(.0))]
    Postgres(#[from] postgres::Error),
    /// TLS to the PostgreSQL server could not be set up.
    #[error("cannot set up TLS for the ledger database: {0}")]
    Tls(String),
    /// A stored value could not be decoded (e.g. tags that are not a JSON object).
    #[error("ledger row {id}: column {column}: {message}")]
    Decode {
        /// The row's `id`.
        id: i64,
        /// The column.
        column: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The configuration is unusable.
    #[error("invalid [ledger] config: {0}")]
    Config(String),
    /// The writer thread is gone (it cannot be reached to flush or prune).
    #[error("the ledger's writer thread has stopped")]
    WriterGone,
    /// The writer thread could not be started.
    #[error("cannot start the ledger's writer thread: {0}")]
    Spawn(std::io::Error),
}

/// `e` and its causes, `: `-separated: the `postgres` crate's own text is only the kind of
/// error ("db error"), the server's message is its cause.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
