//! `PostgresStore`: the ledger in a PostgreSQL database, so that several hearth nodes report
//! as one (each row says which node wrote it in `service_instance_id`).
//!
//! - Same table and column names as SQLite; PostgreSQL types (`rows`), schema versioned in
//!   `hearth_ledger_schema` ([`pg_schema`](crate::pg_schema)), migrated under an advisory
//!   lock.
//! - A batch is one binary `COPY`: one statement, so all of its rows are stored or none.
//!   (If the connection drops after the server committed but before it answered, the
//!   writer's retry stores the batch twice: the only way a row is duplicated.)
//! - A lost connection (server restart, network) fails the batch in flight; the writer
//!   retries it once, then drops and counts it. Every call first reconnects (and re-checks
//!   the schema) when the last one failed, so the ledger resumes as soon as the server is back.
//!   While a host is unreachable (not refusing), each batch costs up to two connection attempts
//!   of `connect_timeout` (5 s unless the URL says otherwise); rows wait in the queue meanwhile,
//!   and are dropped and counted once it is full.
//! - Retention (`retain_days`) deletes every node's old rows: give the nodes the same value.
//! - The URL's password never appears in logs, errors or `Debug` output.

mod conn;
mod rows;

use postgres::Client;
use postgres::binary_copy::BinaryCopyInWriter;
use tracing::info;

use super::Store;
use crate::call::Call;
use crate::error::LedgerError;
use crate::pg_schema;

/// The ledger's PostgreSQL database.
pub struct PostgresStore {
    config: postgres::Config,
    database: String,
    /// `None` after a failure: the next call reconnects.
    client: Option<Client>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("database", &self.database)
            .field("connected", &self.client.is_some())
            .finish()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`, optional
    /// `?sslmode=disable|prefer|require`, `connect_timeout=SECONDS` (default 5) and the other
    /// keys of libpq's URLs that the `postgres` crate knows) and migrates the schema.
    ///
    /// TLS: `require` encrypts and checks the server's certificate and host name against the
    /// system's CA certificates (`SSL_CERT_FILE` adds one); `prefer` (the default) and
    /// `disable` connect without TLS.
    pub fn connect(url: &str) -> Result<PostgresStore, LedgerError> {
        let config = conn::parse(url)?;
        let database = conn::describe(&config);
        let mut client = conn::connect(&config, &database)?;
        pg_schema::migrate(&mut client, &database)?;
        info!(database, "ledger connected to PostgreSQL");
        Ok(PostgresStore { config, database, client: Some(client) })
    }

    /// Checks that `url` is a PostgreSQL URL this store accepts, without connecting.
    pub fn check_url(url: &str) -> Result<(), LedgerError> {
        conn::parse(url).map(drop)
    }

    /// `url` as `postgres://user@host:port/database`: without its password, for logs.
    pub fn redact_url(url: &str) -> String {
        conn::parse(url).map_or_else(|_| "(an unusable PostgreSQL URL)".to_owned(), |c| conn::describe(&c))
    }

    /// The database as `postgres://user@host:port/database` (no password).
    pub fn database(&self) -> &str {
        &self.database
    }

    /// How many rows the ledger holds.
    pub fn count(&mut self) -> Result<u64, LedgerError> {
        let n: i64 = self.with_client(|c| c.query_one("SELECT COUNT(*) FROM calls", &[])?.try_get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Runs `f` on the connection, reconnecting first if the previous call failed; a failure
    /// closes the connection so that the next call starts afresh.
    fn with_client<T>(
        &mut self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, LedgerError> {
        let client = match &mut self.client {
            Some(c) if !c.is_closed() => c,
            _ => {
                self.client = None;
                let mut c = conn::connect(&self.config, &self.database)?;
                pg_schema::migrate(&mut c, &self.database)?;
                info!(database = self.database, "ledger reconnected to PostgreSQL");
                self.client.insert(c)
            }
        };
        f(client).inspect_err(|_| self.client = None).map_err(LedgerError::from)
    }
}

impl Store for PostgresStore {
    fn insert(&mut self, rows: &[Call]) -> Result<(), LedgerError> {
        self.with_client(|client| {
            let sink = client.copy_in(&rows::copy_sql())?;
            let mut writer = BinaryCopyInWriter::new(sink, &rows::TYPES);
            for row in rows {
                rows::write(&mut writer, row)?;
            }
            writer.finish().map(drop)
        })
    }

    fn prune_before(&mut self, cutoff_unix_ms: i64) -> Result<u64, LedgerError> {
        self.with_client(|c| c.execute("DELETE FROM calls WHERE time_unix_ms < $1", &[&cutoff_unix_ms]))
    }

    fn calls_since(&mut self, since_unix_ms: i64) -> Result<Vec<Call>, LedgerError> {
        let found = self.with_client(|c| c.query(&rows::since_sql(), &[&since_unix_ms]))?;
        found.iter().map(|r| rows::read(r).map(|(_, call)| call)).collect()
    }
}
