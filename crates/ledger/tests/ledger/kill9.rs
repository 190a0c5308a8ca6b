//! `kill -9` in a loop while `ledger-stress` writes: the file stays intact, the row count only
//! grows, and only whole batches are ever committed.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::Connection;

const BATCH: i64 = 50;
const KILLS: usize = 20;

/// xorshift64: random kill moments without a dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn kill_9_mid_write_never_corrupts_and_loses_at_most_the_open_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let mut seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let start = Instant::now();
    let (mut last, mut grew) = (0i64, 0usize);
    for round in 0..KILLS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ledger-stress"))
            .args([path.to_str().unwrap(), &BATCH.to_string(), "0", "4096"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(60 + next(&mut seed) % 240));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let conn = Connection::open(&path).unwrap();
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok", "round {round}");
        let count: i64 = conn.query_row("SELECT COUNT(*) FROM calls", [], |r| r.get(0)).unwrap();
        assert!(count >= last, "round {round}: rows went from {last} to {count}");
        grew += usize::from(count > last);
        last = count;
        // Every process committed whole batches only: its rows are a multiple of the batch size.
        let mut stmt = conn
            .prepare(
                "SELECT substr(request_id, 1, instr(request_id, '-') - 1), COUNT(*) FROM calls GROUP BY 1",
            )
            .unwrap();
        let per_process: Vec<(String, i64)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap();
        for (pid, n) in per_process {
            assert_eq!(n % BATCH, 0, "round {round}: process {pid} left {n} rows, a torn batch");
        }
    }
    assert!(
        grew >= KILLS / 4,
        "the writer committed in only {grew} of {KILLS} rounds: the test proves little"
    );
    eprintln!("kill -9 x{KILLS}: {last} rows intact in {:?}", start.elapsed());
}
