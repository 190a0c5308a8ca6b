//! Token-for-token parity with llama.cpp's sampler chain.
//!
//! `tests/data/llama_cpp_chains.json` holds the tokens llama.cpp's own `src/llama-sampler.cpp`
//! selects for synthetic logits and a fixed seed, built as `common/sampling.cpp` chains them
//! (see `tests/data/gen_reference.cpp` and `gen_reference.sh`, which regenerate it).

use hearth_sampler::SamplingParams;
use serde_json::Value;

use crate::sampler;

/// The generator's `mix`.
fn mix(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

/// The generator's `logit`: distinct values, exact in f32.
fn logit(salt: u32, step: u32, id: u32, vary: bool) -> f32 {
    let h = mix(id ^ mix(salt.wrapping_mul(0x9e37_79b9).wrapping_add(if vary { step } else { 0 })));
    let mut v = (((h >> 21) << 13) | id) as f32 * (1.0 / 1_048_576.0) - 8.0;
    if h & 63 == 0 {
        v += 4.0;
    }
    v
}

fn f(v: &Value, key: &str) -> f32 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key}")) as f32
}

fn u(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key}"))
}

#[test]
fn seeded_chains_match_llama_cpp() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/llama_cpp_chains.json");
    let data: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let scenarios = data["scenarios"].as_array().unwrap();
    assert!(scenarios.len() >= 10);
    for sc in scenarios {
        let name = sc["name"].as_str().unwrap();
        let n_vocab = u(sc, "n_vocab") as usize;
        let logit_bias = sc["logit_bias"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                let bias = match &b[1] {
                    Value::String(s) if s == "-inf" => f32::NEG_INFINITY,
                    v => v.as_f64().unwrap() as f32,
                };
                (b[0].as_u64().unwrap() as u32, bias)
            })
            .collect();
        let params = SamplingParams {
            temperature: f(sc, "temperature"),
            top_k: u(sc, "top_k") as usize,
            top_p: f(sc, "top_p"),
            min_p: f(sc, "min_p"),
            repetition_penalty: f(sc, "repetition_penalty"),
            frequency_penalty: f(sc, "frequency_penalty"),
            presence_penalty: f(sc, "presence_penalty"),
            penalty_last_n: u(sc, "penalty_last_n") as usize,
            seed: Some(u(sc, "seed")),
            logit_bias,
            logprobs: false,
            n_logprobs: 0,
        };
        let want: Vec<u32> =
            sc["tokens"].as_array().unwrap().iter().map(|t| t.as_u64().unwrap() as u32).collect();
        let salt = u(sc, "salt") as u32;
        let vary = sc["vary"].as_bool().unwrap();

        let mut s = sampler(params, n_vocab);
        let mut got = Vec::new();
        let mut logits = vec![0.0f32; n_vocab];
        for step in 0..want.len() as u32 {
            for (id, l) in logits.iter_mut().enumerate() {
                *l = logit(salt, step, id as u32, vary);
            }
            let t = s.sample(&logits).token;
            s.accept(t);
            got.push(t);
        }
        assert_eq!(got, want, "scenario {name}");
    }
}
