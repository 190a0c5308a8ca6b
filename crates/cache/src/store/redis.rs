//! `RedisStore`: entries in Redis, shared by several nodes.
//!
//! Layout under the prefix `P` (`[cache] redis_prefix`):
//!
//! - `P:e:<key>`: a hash per entry (`scope`, `prompt`, `answer`, `embedding` as little-endian
//!   f32 bytes, `created_ms`, `expires_ms`), expiring with the entry (`PEXPIREAT`), so Redis
//!   drops stale entries itself;
//! - `P:events`: a stream of what nodes did (`op` = `put` or `del`, `key`, `node`), trimmed
//!   to about [`STREAM_LEN`] events.
//!
//! A node loads every entry at start ([`Store::load`]: the stream's last id first, then a
//! `SCAN`, so nothing written meanwhile is missed), then follows the stream
//! ([`Store::changes`], called by the cache before each lookup): another node's `put` is
//! fetched and indexed here, its `del` removed here. A hit on one node is therefore a hit on
//! all, one round trip after the insert. Writes are one `MULTI` transaction each (the entry
//! and its event together). A node that falls more than [`STREAM_LEN`] events behind misses
//! the trimmed ones (it sees those entries again after a restart).
//!
//! A lost connection is reopened on the next call; the call that saw it fails (and the
//! caller answers without the cache).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::streams::{StreamRangeReply, StreamReadReply};
use redis::{Client, Connection, RedisError, Value};

use super::{Change, Store};
use crate::config::redact_url;
use crate::entry::{Entry, embedding_from_bytes};
use crate::error::CacheError;
use crate::scope::ScopeKey;

/// About how many events the stream keeps (`XADD … MAXLEN ~`).
pub const STREAM_LEN: usize = 100_000;
/// Events read per `XREAD`.
const READ_BATCH: usize = 1000;
/// Connect, read and write timeout.
const TIMEOUT: Duration = Duration::from_secs(5);

/// A Redis server holding the cache of several nodes.
pub struct RedisStore {
    client: Client,
    conn: Option<Connection>,
    /// The URL without its password, for errors.
    server: String,
    prefix: String,
    /// This store's id in events, so it skips its own.
    node: String,
    /// The last stream id this node has seen.
    last_id: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("server", &self.server)
            .field("prefix", &self.prefix)
            .field("node", &self.node)
            .field("connected", &self.conn.is_some())
            .field("last_id", &self.last_id)
            .finish()
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://[:password@]host[:port][/db]`); keys go under `prefix`.
    pub fn open(url: &str, prefix: &str) -> Result<RedisStore, CacheError> {
        let server = redact_url(url);
        let client =
            Client::open(url).map_err(|source| CacheError::Redis { server: server.clone(), source })?;
        let mut store = RedisStore {
            client,
            conn: None,
            server,
            prefix: prefix.to_owned(),
            node: node_id(),
            last_id: "0-0".to_owned(),
        };
        store.conn()?;
        Ok(store)
    }

    /// This node's id in the event stream.
    pub fn node(&self) -> &str {
        &self.node
    }

    fn entry_key(&self, key: &str) -> String {
        format!("{}:e:{key}", self.prefix)
    }

    fn stream(&self) -> String {
        format!("{}:events", self.prefix)
    }

    fn conn(&mut self) -> Result<&mut Connection, CacheError> {
        if self.conn.is_none() {
            let c = self.client.get_connection_with_timeout(TIMEOUT).map_err(|e| self.err(e))?;
            c.set_read_timeout(Some(TIMEOUT)).map_err(|e| self.err(e))?;
            c.set_write_timeout(Some(TIMEOUT)).map_err(|e| self.err(e))?;
            self.conn = Some(c);
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }

    fn err(&self, source: RedisError) -> CacheError {
        CacheError::Redis { server: self.server.clone(), source }
    }

    /// Runs `f` on the connection; a connection-level failure drops it, to reopen next time.
    fn with<T>(&mut self, f: impl FnOnce(&mut Connection) -> Result<T, RedisError>) -> Result<T, CacheError> {
        let result = f(self.conn()?);
        result.map_err(|e| {
            if e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error() {
                self.conn = None;
            }
            self.err(e)
        })
    }

    /// The entries stored under these full Redis keys (absent ones skipped), with their keys.
    fn fetch(&mut self, redis_keys: &[String]) -> Result<Vec<Entry>, CacheError> {
        if redis_keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for k in redis_keys {
            pipe.cmd("HGETALL").arg(k);
        }
        let maps: Vec<HashMap<String, Vec<u8>>> = self.with(|c| pipe.query(c))?;
        let strip = format!("{}:e:", self.prefix);
        let mut out = Vec::new();
        for (k, map) in redis_keys.iter().zip(maps) {
            if map.is_empty() {
                continue;
            }
            out.push(decode(k.strip_prefix(&strip).unwrap_or(k), map)?);
        }
        Ok(out)
    }
}

fn decode(key: &str, mut map: HashMap<String, Vec<u8>>) -> Result<Entry, CacheError> {
    let bad = |message: String| CacheError::Decode { key: key.to_owned(), message };
    let mut text = |field: &str| {
        let bytes = map.remove(field).ok_or_else(|| bad(format!("no `{field}` field")))?;
        String::from_utf8(bytes).map_err(|_| bad(format!("`{field}` is not UTF-8")))
    };
    let scope = ScopeKey(text("scope")?);
    let prompt = text("prompt")?;
    let answer = text("answer")?;
    let created_ms = text("created_ms")?.parse().map_err(|_| bad("`created_ms` is not a number".into()))?;
    let expires_ms = text("expires_ms")?.parse().map_err(|_| bad("`expires_ms` is not a number".into()))?;
    let embedding = match map.remove("embedding") {
        Some(b) if !b.is_empty() => {
            Some(embedding_from_bytes(&b).ok_or_else(|| bad(format!("embedding of {} bytes", b.len())))?)
        }
        _ => None,
    };
    Ok(Entry { key: key.to_owned(), scope, prompt, answer, embedding, created_ms, expires_ms })
}

impl Store for RedisStore {
    fn load(&mut self, now_ms: i64) -> Result<Vec<Entry>, CacheError> {
        let stream = self.stream();
        let last: StreamRangeReply = self
            .with(|c| redis::cmd("XREVRANGE").arg(&stream).arg("+").arg("-").arg("COUNT").arg(1).query(c))?;
        self.last_id = last.ids.first().map_or_else(|| "0-0".to_owned(), |id| id.id.clone());
        let pattern = format!("{}:e:*", self.prefix);
        let mut cursor = 0u64;
        let mut entries = Vec::new();
        loop {
            let (next, keys): (u64, Vec<String>) = self.with(|c| {
                redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(1000).query(c)
            })?;
            entries.extend(self.fetch(&keys)?);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        entries.retain(|e| e.expires_ms > now_ms);
        entries.sort_by_key(|e| e.created_ms);
        Ok(entries)
    }

    fn put(&mut self, e: &Entry) -> Result<(), CacheError> {
        let key = self.entry_key(&e.key);
        let stream = self.stream();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("DEL")
            .arg(&key)
            .ignore()
            .cmd("HSET")
            .arg(&key)
            .arg("scope")
            .arg(&e.scope.0)
            .arg("prompt")
            .arg(&e.prompt)
            .arg("answer")
            .arg(&e.answer)
            .arg("embedding")
            .arg(e.embedding_bytes().unwrap_or_default())
            .arg("created_ms")
            .arg(e.created_ms)
            .arg("expires_ms")
            .arg(e.expires_ms)
            .ignore()
            .cmd("PEXPIREAT")
            .arg(&key)
            .arg(e.expires_ms)
            .ignore();
        add_event(&mut pipe, &stream, "put", &e.key, &self.node);
        self.with(|c| pipe.exec(c))
    }

    fn remove(&mut self, keys: &[String]) -> Result<(), CacheError> {
        if keys.is_empty() {
            return Ok(());
        }
        let stream = self.stream();
        let mut pipe = redis::pipe();
        pipe.atomic();
        for k in keys {
            pipe.cmd("DEL").arg(self.entry_key(k)).ignore();
            add_event(&mut pipe, &stream, "del", k, &self.node);
        }
        self.with(|c| pipe.exec(c))
    }

    fn changes(&mut self) -> Result<Vec<Change>, CacheError> {
        let stream = self.stream();
        let mut out = Vec::new();
        loop {
            let last = self.last_id.clone();
            let reply: Option<StreamReadReply> = self.with(|c| {
                redis::cmd("XREAD")
                    .arg("COUNT")
                    .arg(READ_BATCH)
                    .arg("STREAMS")
                    .arg(&stream)
                    .arg(&last)
                    .query(c)
            })?;
            let events: Vec<_> = reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids).collect();
            let n = events.len();
            let mut puts = Vec::new();
            for ev in events {
                self.last_id = ev.id.clone();
                let field = |name: &str| match ev.map.get(name) {
                    Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
                    Some(Value::SimpleString(s)) => s.clone(),
                    _ => String::new(),
                };
                if field("node") == self.node {
                    continue;
                }
                let key = field("key");
                match field("op").as_str() {
                    "put" => puts.push(key),
                    "del" => out.push(Change::Remove(key)),
                    other => tracing::warn!(op = other, "unknown event in the cache's Redis stream"),
                }
            }
            let redis_keys: Vec<String> = puts.iter().map(|k| self.entry_key(k)).collect();
            let found = self.fetch(&redis_keys)?;
            for key in &puts {
                match found.iter().find(|e| &e.key == key) {
                    Some(e) => out.push(Change::Put(e.clone())),
                    // stored and gone again (expired or deleted) before we looked
                    None => out.push(Change::Remove(key.clone())),
                }
            }
            if n < READ_BATCH {
                return Ok(out);
            }
        }
    }
}

fn add_event(pipe: &mut redis::Pipeline, stream: &str, op: &str, key: &str, node: &str) {
    pipe.cmd("XADD")
        .arg(stream)
        .arg("MAXLEN")
        .arg("~")
        .arg(STREAM_LEN)
        .arg("*")
        .arg("op")
        .arg(op)
        .arg("key")
        .arg(key)
        .arg("node")
        .arg(node)
        .ignore();
}

/// An id unique to this store: process id, start time and a counter.
fn node_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{:x}-{:x}-{}", std::process::id(), nanos, COUNTER.fetch_add(1, Ordering::Relaxed))
}
