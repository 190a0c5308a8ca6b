//! Special-token detection by text, the end-of-generation set, and the per-model attribute
//! rules, as llama.cpp's `llama_vocab::impl::load` does them after reading the token list.

use hearth_gguf::Metadata;

use crate::error::TokenizerError;
use crate::map_order;
use crate::vocab::{SpecialTokens, Vocab, attr};

const EOT_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "<｜end▁of▁sentence｜>",
    "<end_of_utterance>",
];
const EOM_TEXTS: &[&str] = &["<|eom_id|>"];
const FIM_PRE_TEXTS: &[&str] = &[
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<｜fim▁begin｜>",
    "<PRE>",
    "▁<PRE>",
    "<|code_prefix|>",
    "<|prefix|>",
];
const FIM_SUF_TEXTS: &[&str] = &[
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<｜fim▁hole｜>",
    "<SUF>",
    "▁<SUF>",
    "<|code_suffix|>",
    "<|suffix|>",
];
const FIM_MID_TEXTS: &[&str] = &[
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<｜fim▁end｜>",
    "<MID>",
    "▁<MID>",
    "<|code_middle|>",
    "<|middle|>",
];
const FIM_PAD_TEXTS: &[&str] = &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"];
const FIM_REP_TEXTS: &[&str] = &["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"];
const FIM_SEP_TEXTS: &[&str] = &["<|file_sep|>"];
const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
];
/// gpt-oss tokens llama.cpp always renders (turned into user-defined tokens).
const ALWAYS_RENDERED: &[&str] = &["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"];

/// The ids whose text is one of `texts`, ascending.
fn candidates(v: &Vocab, texts: &[&str]) -> Vec<u32> {
    let mut ids: Vec<u32> = texts.iter().filter_map(|t| v.text_to_token(t)).collect();
    ids.sort_unstable();
    ids
}

/// The candidate llama.cpp's first-match detection picks: the one its hash map visits first
/// (see [`crate::map_order`]). `order` is computed on first need.
fn first_in_map_order(v: &Vocab, ids: &[u32], order: &mut Option<Option<Vec<u32>>>) -> Option<u32> {
    if ids.len() < 2 {
        return ids.first().copied();
    }
    let order = order.get_or_insert_with(|| map_order::iteration_order(&v.texts));
    match order {
        Some(order) => order.iter().copied().find(|id| ids.contains(id)),
        None => ids.first().copied(),
    }
}

fn mark_control(v: &mut Vocab, id: u32) {
    let a = &mut v.attrs[id as usize];
    if *a & attr::CONTROL == 0 {
        *a |= attr::CONTROL;
        v.warnings.push(format!(
            "control-looking token: {id} '{}' was not control-type; this is probably a bug in the model. its type will be overridden",
            v.texts[id as usize]
        ));
    }
}

/// Fills unset special ids from token texts, marks unused control tokens, builds the EOG set.
pub(crate) fn detect(v: &mut Vocab) {
    type Field = fn(&mut SpecialTokens) -> &mut Option<u32>;
    let rules: [(&[&str], Field); 8] = [
        (EOT_TEXTS, |s| &mut s.eot),
        (EOM_TEXTS, |s| &mut s.eom),
        (FIM_PRE_TEXTS, |s| &mut s.fim_pre),
        (FIM_SUF_TEXTS, |s| &mut s.fim_suf),
        (FIM_MID_TEXTS, |s| &mut s.fim_mid),
        (FIM_PAD_TEXTS, |s| &mut s.fim_pad),
        (FIM_REP_TEXTS, |s| &mut s.fim_rep),
        (FIM_SEP_TEXTS, |s| &mut s.fim_sep),
    ];
    let mut order = None;
    for (texts, field) in rules {
        if field(&mut v.ids).is_some() {
            continue;
        }
        if let Some(id) = first_in_map_order(v, &candidates(v, texts), &mut order) {
            *field(&mut v.ids) = Some(id);
            mark_control(v, id);
        }
    }

    // control tokens whose text says "unused"
    for id in 0..v.n_tokens() {
        if v.attrs[id] & attr::CONTROL != 0 && v.texts[id].contains("unused") {
            v.attrs[id] |= attr::UNUSED;
        }
    }

    let mut eog: Vec<u32> = [v.ids.fim_pad, v.ids.fim_rep, v.ids.fim_sep].into_iter().flatten().collect();
    for id in candidates(v, EOG_TEXTS) {
        eog.push(id);
        mark_control(v, id);
    }
    for id in candidates(v, ALWAYS_RENDERED) {
        v.attrs[id as usize] = attr::USER_DEFINED;
    }
    for (name, id) in [("eos", v.ids.eos), ("eot", v.ids.eot), ("eom", v.ids.eom)] {
        if let Some(id) = id
            && !eog.contains(&id)
        {
            eog.push(id);
            v.warnings.push(format!(
                "special_{name}_id is not in special_eog_ids - the tokenizer config may be incorrect"
            ));
        }
    }
    eog.sort_unstable();
    eog.dedup();

    // o200k_harmony / solar-open: "<|end|>" is not EOG when "<|return|>"+"<|call|>" or
    // "<|calls|>"+"<|flush|>" are
    let find = |eog: &[u32], t: &str| eog.iter().copied().find(|&id| &*v.texts[id as usize] == t);
    let end_id = find(&eog, "<|end|>");
    let has_call = find(&eog, "<|call|>").is_some() || find(&eog, "<|calls|>").is_some();
    let has_return = find(&eog, "<|return|>").is_some();
    let has_flush = find(&eog, "<|flush|>").is_some();
    if let Some(end_id) = end_id
        && has_call
        && (has_return || has_flush)
    {
        eog.retain(|&id| id != end_id);
        v.attrs[end_id as usize] = attr::USER_DEFINED;
        v.warnings.push("removing '<|end|>' token from EOG list".to_owned());
    }
    // gemma4 and plamo have a normal "</s>"
    let s_id = find(&eog, "</s>");
    let normal_s = find(&eog, "<|tool_response>").is_some() || find(&eog, "<|plamo:eos|>").is_some();
    if let Some(s_id) = s_id
        && normal_s
    {
        eog.retain(|&id| id != s_id);
        v.attrs[s_id as usize] = attr::NORMAL;
        v.warnings.push("'</s>' is a normal token here, removing it from EOG list".to_owned());
    }
    v.eog = eog;
}

/// llama.cpp's "per token attributes" set by model, pre-tokenizer and architecture name.
pub(crate) fn apply_name_rules(v: &mut Vocab, meta: &Metadata) -> Result<(), TokenizerError> {
    let name = meta.opt_str("general.name")?.unwrap_or("").to_ascii_lowercase();
    let pre = meta.opt_str("tokenizer.ggml.pre")?.unwrap_or("");
    let arch = meta.opt_str("general.architecture")?.unwrap_or("");
    let any = |s: &str, subs: &[&str]| subs.iter().any(|x| s.contains(x));
    let set = |v: &mut Vocab, text: &str, bit: u16, on: bool| {
        if let Some(id) = v.text_to_token(text) {
            let a = &mut v.attrs[id as usize];
            *a = if on { *a | bit } else { *a & !bit };
        }
    };
    if any(pre, &["jina-v2-de", "jina-v2-es", "jina-v2-code"])
        || any(arch, &["nomic-bert-moe", "jina-bert-v3"])
    {
        set(v, "<mask>", attr::LSTRIP, true);
    } else if any(&name, &["phi-3", "phi3"]) {
        for i in 0..v.special_cache.len() {
            let id = v.special_cache[i] as usize;
            v.attrs[id] |= attr::RSTRIP;
        }
        set(v, "</s>", attr::RSTRIP, true);
        for t in ["<unk>", "<s>", "<|endoftext|>"] {
            set(v, t, attr::RSTRIP, false);
        }
    } else if any(&name, &["modern-bert"]) {
        set(v, "[MASK]", attr::LSTRIP, true);
    }
    Ok(())
}
