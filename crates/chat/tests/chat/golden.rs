//! The fixture models' own templates (read from their GGUFs) must render every conversation in
//! `tests/golden/<model>.json` exactly as llama.cpp did.

use hearth_chat::ChatTemplate;
use hearth_gguf::GgufFile;
use hearth_testkit::Golden;

fn check_model(name: &str) {
    let Some(path) = hearth_testkit::model(name) else { return };
    let file = GgufFile::open(&path).expect("open fixture");
    let template = ChatTemplate::from_gguf(file.metadata()).expect("template compiles");
    assert!(!template.is_fallback(), "{name} ships a template");
    let golden = Golden::load(name);
    assert!(!golden.chats.is_empty(), "{name}: golden file has no chats");
    for (i, chat) in golden.chats.iter().enumerate() {
        let rendered = template.render(&super::messages(&chat.messages), true).expect("renders");
        assert_eq!(rendered, chat.rendered, "{name}: chats[{i}] differs from llama.cpp's render");
    }
}

#[test]
fn smollm2_template_matches_llama_cpp() {
    check_model(hearth_testkit::SMOLLM2_135M);
}

#[test]
fn qwen_template_matches_llama_cpp() {
    check_model(hearth_testkit::QWEN_05B);
}

#[test]
fn every_golden_chat_matches() {
    // Any golden file with chats, so a new fixture model is covered without a new test.
    for name in hearth_testkit::GENERATIVE_MODELS {
        if Golden::load(name).chats.is_empty() {
            continue;
        }
        check_model(name);
    }
}

#[test]
fn bos_and_eos_come_from_the_vocab() {
    let Some(path) = hearth_testkit::model(hearth_testkit::QWEN_05B) else { return };
    let file = GgufFile::open(&path).expect("open fixture");
    let template = ChatTemplate::from_gguf(file.metadata()).expect("template compiles");
    // Qwen2.5: bos_token_id 151643, eos_token_id 151645.
    assert_eq!(template.bos_token(), "<|endoftext|>");
    assert_eq!(template.eos_token(), "<|im_end|>");
}
