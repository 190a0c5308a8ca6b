//! The iteration order of llama.cpp's `std::unordered_map<std::string, llama_token>
//! token_to_id` under libstdc++, reproduced.
//!
//! llama.cpp finds the end-of-turn and fill-in-the-middle tokens by walking that map and
//! keeping the first text that matches a list (`<|im_end|>`, `<|endoftext|>`, ...). When a
//! vocabulary holds several candidates, the winner is whichever the hash order visits first:
//! SmolLM2 gets `<|endoftext|>` as EOT, Qwen2.5 gets `<|im_end|>`. The FIM choice also
//! decides an end-of-generation id. To give the same answers, hearth replays the map's
//! construction: libstdc++'s string hash (`_Hash_bytes`, seed `0xc70f6907`), its prime bucket
//! counts, and where its insert and rehash put each node in the single linked list that
//! iteration follows.

/// libstdc++'s `std::hash<std::string>` on 64-bit targets (`std::_Hash_bytes`).
pub(crate) fn std_hash(bytes: &[u8]) -> u64 {
    const MUL: u64 = (0xc6a4_a793u64 << 32) + 0x5bd1_e995;
    const SEED: u64 = 0xc70f_6907;
    let shift_mix = |v: u64| v ^ (v >> 47);
    let len = bytes.len();
    let mut hash = SEED ^ (len as u64).wrapping_mul(MUL);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let word = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let data = shift_mix(word.wrapping_mul(MUL)).wrapping_mul(MUL);
        hash ^= data;
        hash = hash.wrapping_mul(MUL);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let data = rest.iter().rev().fold(0u64, |acc, &b| (acc << 8) + u64::from(b));
        hash ^= data;
        hash = hash.wrapping_mul(MUL);
    }
    hash = shift_mix(hash).wrapping_mul(MUL);
    shift_mix(hash)
}

/// Bucket counts `_Prime_rehash_policy` moves through while a map grows one insert at a time
/// (max load factor 1): the map rehashes to the next count when inserting element
/// `count + 1`.
const BUCKET_COUNTS: [u64; 19] = [
    13, 29, 59, 127, 257, 541, 1109, 2357, 5087, 10273, 20753, 42043, 85229, 172933, 351061, 712697, 1447153,
    2938679, 5967347,
];

const NIL: u32 = u32::MAX;
/// `_M_before_begin`, the list head, as a bucket's "node before".
const HEAD: u32 = u32::MAX - 1;

/// Ids in the order a libstdc++ map filled with `texts` (inserted by ascending id) iterates
/// them; `None` for vocabularies too large for the table above.
pub(crate) fn iteration_order(texts: &[Box<str>]) -> Option<Vec<u32>> {
    if texts.len() >= *BUCKET_COUNTS.last()? as usize {
        return None;
    }
    let hashes: Vec<u64> = texts.iter().map(|t| std_hash(t.as_bytes())).collect();
    let mut next = vec![NIL; texts.len()];
    let mut head = NIL;
    let mut buckets: Vec<u32> = Vec::new();
    let mut n_buckets = 1u64;
    let mut level = 0;
    for x in 0..texts.len() as u32 {
        // rehash before inserting element `x + 1` when `x` has reached the bucket count
        if x == 0 || u64::from(x) >= n_buckets {
            n_buckets = BUCKET_COUNTS[level];
            level += 1;
            buckets = rehash(&hashes, &mut next, &mut head, n_buckets);
        }
        let b = (hashes[x as usize] % n_buckets) as usize;
        if buckets[b] != NIL {
            let before = buckets[b];
            let after = if before == HEAD { head } else { next[before as usize] };
            next[x as usize] = after;
            if before == HEAD {
                head = x;
            } else {
                next[before as usize] = x;
            }
        } else {
            next[x as usize] = head;
            head = x;
            if next[x as usize] != NIL {
                let nb = (hashes[next[x as usize] as usize] % n_buckets) as usize;
                buckets[nb] = x;
            }
            buckets[b] = HEAD;
        }
    }
    let mut order = Vec::with_capacity(texts.len());
    let mut p = head;
    while p != NIL {
        order.push(p);
        p = next[p as usize];
    }
    Some(order)
}

/// `_M_rehash_aux` for unique keys: walks the list, re-linking every node.
fn rehash(hashes: &[u64], next: &mut [u32], head: &mut u32, n_buckets: u64) -> Vec<u32> {
    let mut buckets = vec![NIL; n_buckets as usize];
    let mut p = *head;
    *head = NIL;
    let mut first_bucket = 0usize;
    while p != NIL {
        let nx = next[p as usize];
        let b = (hashes[p as usize] % n_buckets) as usize;
        if buckets[b] == NIL {
            next[p as usize] = *head;
            *head = p;
            buckets[b] = HEAD;
            if next[p as usize] != NIL {
                buckets[first_bucket] = p;
            }
            first_bucket = b;
        } else {
            let before = buckets[b];
            if before == HEAD {
                next[p as usize] = *head;
                *head = p;
            } else {
                next[p as usize] = next[before as usize];
                next[before as usize] = p;
            }
        }
        p = nx;
    }
    buckets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_libstdcxx() {
        // values printed by `std::hash<std::string>` (GCC, x86_64)
        assert_eq!(std_hash(b""), 6142509188972423790);
        assert_eq!(std_hash(b"a"), 4993892634952068459);
        assert_eq!(std_hash(b"hello world!"), 6594337730806245023);
        assert_eq!(std_hash(b"<|im_end|>"), 2038672007907099973);
    }

    #[test]
    fn order_is_a_permutation() {
        let texts: Vec<Box<str>> = (0..1000).map(|i| i.to_string().into()).collect();
        let mut order = iteration_order(&texts).unwrap();
        order.sort_unstable();
        assert_eq!(order, (0..1000).collect::<Vec<u32>>());
    }
}
