//! The golden files of the fixture models (`tests/golden/*.json`, produced with llama.cpp):
//! tokenizer cases, raw-prompt ids and rendered chat prompts.

use hearth_testkit::{GENERATIVE_MODELS, Golden};
use hearth_tokenizer::Specials;

use crate::common::model;

#[test]
fn tokenize_cases_match_llama_cpp() {
    for name in GENERATIVE_MODELS {
        let Some(tok) = model(name) else { continue };
        let golden = Golden::load(name);
        let mut failed = 0;
        for case in &golden.tokenize {
            let got =
                tok.encode(&case.text, Specials { add_bos_eos: false, parse_control: case.parse_special });
            if got != case.ids {
                failed += 1;
                eprintln!(
                    "{name}: {:?} (parse_special {})\n  expected {:?}\n  got      {got:?}",
                    case.text, case.parse_special, case.ids
                );
            }
        }
        println!("{name}: {}/{} tokenize cases", golden.tokenize.len() - failed, golden.tokenize.len());
        assert_eq!(failed, 0, "{name}: tokenize cases differ from llama.cpp");
    }
}

#[test]
fn raw_prompts_get_bos_only_where_the_model_says() {
    for name in GENERATIVE_MODELS {
        let Some(tok) = model(name) else { continue };
        let golden = Golden::load(name);
        assert_eq!(tok.add_bos(), golden.add_bos, "{name}: add_bos");
        for c in &golden.completions {
            // a raw prompt: special tokens added, special texts not parsed
            assert_eq!(tok.encode(&c.prompt, Specials::ADD_BOS_EOS), c.prompt_ids, "{name}: {:?}", c.prompt);
        }
    }
}

#[test]
fn rendered_chats_tokenize_like_llama_cpp() {
    for name in GENERATIVE_MODELS {
        let Some(tok) = model(name) else { continue };
        let golden = Golden::load(name);
        for c in &golden.chats {
            // llama.cpp's chat path: add_special = true, parse_special = true
            assert_eq!(tok.encode(&c.rendered, Specials::ALL), c.prompt_ids, "{name}: {:?}", c.rendered);
        }
    }
}

#[test]
fn golden_ids_decode_back_to_the_text() {
    for name in GENERATIVE_MODELS {
        let Some(tok) = model(name) else { continue };
        let golden = Golden::load(name);
        for case in golden.tokenize.iter().filter(|c| !c.parse_special) {
            assert_eq!(tok.decode(&case.ids, false), case.text, "{name}");
        }
        for c in &golden.chats {
            assert_eq!(tok.decode(&c.prompt_ids, true), c.rendered, "{name}");
        }
    }
}
