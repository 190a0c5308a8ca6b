//! `tokenizer.ggml.pre` names → llama.cpp's regex sets and per-pre flags
//! (`llama_vocab::impl::load` and the `llm_tokenizer_bpe` constructor).

/// What one pre-tokenizer name implies.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PreConfig {
    /// The canonical name (llama.cpp's pre-type), e.g. `llama3` for `llama-bpe`.
    pub(crate) kind: &'static str,
    /// The regex expressions, applied in order.
    pub(crate) exprs: &'static [&'static str],
    /// A word that is a whole token skips the merges.
    pub(crate) ignore_merges: bool,
    /// `clean_up_tokenization_spaces` on decode.
    pub(crate) clean_spaces: bool,
    /// BOS added by default (before `tokenizer.ggml.add_bos_token`).
    pub(crate) add_bos: bool,
    /// SEP/EOS appended by default.
    pub(crate) add_sep: bool,
    /// No default BOS token.
    pub(crate) no_bos: bool,
    /// Spaces become `▁` and the words are raw UTF-8 (SPM-style BPE, e.g. Gemma 4).
    pub(crate) spm_style: bool,
}

const BASE: PreConfig = PreConfig {
    kind: "default",
    exprs: DEFAULT,
    ignore_merges: false,
    clean_spaces: true,
    add_bos: false,
    add_sep: false,
    no_bos: false,
    spm_style: false,
};

const fn pre(kind: &'static str, exprs: &'static [&'static str]) -> PreConfig {
    PreConfig { kind, exprs, ..BASE }
}

/// Every name [`preset`] knows.
#[cfg(test)]
pub(crate) const NAMES: &[&str] = &[
    "default",
    "llama3",
    "llama-v3",
    "llama-bpe",
    "falcon3",
    "falcon-h1",
    "pixtral",
    "midm-2.0",
    "lfm2",
    "jina-v5-nano",
    "deepseek-llm",
    "deepseek-coder",
    "deepseek-v3",
    "spark2_5",
    "youtu",
    "falcon",
    "mpt",
    "starcoder",
    "gpt-2",
    "phi-2",
    "jina-es",
    "jina-de",
    "gigachat",
    "jina-v2-es",
    "jina-v2-de",
    "a.x-4.0",
    "mellum",
    "modern-bert",
    "jais-2",
    "gemma4",
    "granite-embed-multi-311m",
    "sarvam-moe",
    "jina-v1-en",
    "jina-v2-code",
    "roberta-bpe",
    "refact",
    "command-r",
    "qwen2",
    "deepseek-r1-qwen",
    "kormo",
    "f2llmv2",
    "qwen35",
    "stablelm2",
    "olmo",
    "dbrx",
    "smaug-bpe",
    "poro-chat",
    "chatglm-bpe",
    "glm4",
    "glm5",
    "viking",
    "jais",
    "tekken",
    "smollm",
    "codeshell",
    "bloom",
    "gpt3-finnish",
    "exaone",
    "exaone4",
    "exaone-moe",
    "chameleon",
    "minerva-7b",
    "megrez",
    "gpt-4o",
    "llama4",
    "kanana2",
    "talkie",
    "granite-embed-multi-97m",
    "tiny_aya",
    "cohere2moe",
    "trillion",
    "granite-docling",
    "bailingmoe",
    "bailingmoe2",
    "llada-moe",
    "seed-coder",
    "hunyuan",
    "hunyuan-dense",
    "hy_v4",
    "joyai-llm",
    "ufakzeka",
    "grok-2",
    "afmoe",
    "laguna",
    "minimax-m2",
    "solar-open",
    "mellum2",
    "minicpm5",
];

/// The configuration for a `tokenizer.ggml.pre` value; `None` when hearth does not know it.
pub(crate) fn preset(name: &str) -> Option<PreConfig> {
    let no_clean = |c: PreConfig| PreConfig { clean_spaces: false, ..c };
    Some(match name {
        "default" => BASE,
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral" | "midm-2.0" | "lfm2"
        | "jina-v5-nano" => PreConfig { ignore_merges: true, add_bos: true, ..pre("llama3", LLAMA3) },
        "deepseek-llm" => no_clean(pre("deepseek-llm", DEEPSEEK_LLM)),
        "deepseek-coder" => no_clean(pre("deepseek-coder", DEEPSEEK_CODER)),
        "deepseek-v3" => no_clean(pre("deepseek3-llm", DEEPSEEK3_LLM)),
        "spark2_5" => no_clean(pre("spark2_5", SPARK2_5)),
        "youtu" => PreConfig { ignore_merges: true, ..no_clean(pre("youtu", YOUTU)) },
        "falcon" => pre("falcon", FALCON),
        "mpt" => pre("mpt", GPT2),
        "starcoder" => pre("starcoder", STARCODER),
        "gpt-2" | "phi-2" | "jina-es" | "jina-de" | "gigachat" | "jina-v2-es" | "jina-v2-de" | "a.x-4.0"
        | "mellum" | "modern-bert" | "exaone4" => pre("gpt-2", GPT2),
        "jais-2" => pre("jais-2", JAIS2),
        "gemma4" | "granite-embed-multi-311m" => PreConfig { spm_style: true, ..pre("gemma4", GEMMA4) },
        "sarvam-moe" => PreConfig { spm_style: true, ..no_clean(pre("sarvam-moe", GEMMA4)) },
        "jina-v1-en" | "jina-v2-code" | "roberta-bpe" => PreConfig { add_sep: true, ..pre("gpt-2", GPT2) },
        "refact" => pre("refact", STARCODER),
        "command-r" => no_clean(pre("command-r", STARCODER)),
        "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" => no_clean(pre("qwen2", STABLELM2)),
        "qwen35" => no_clean(pre("qwen35", QWEN35)),
        "stablelm2" => pre("stablelm2", STABLELM2),
        "olmo" => pre("olmo", GPT2),
        "dbrx" => pre("dbrx", LLAMA3),
        "smaug-bpe" => pre("smaug", LLAMA3),
        "poro-chat" => no_clean(pre("poro", PORO)),
        "chatglm-bpe" => PreConfig { no_bos: true, ..pre("chatglm4", LLAMA3) },
        "glm4" | "glm5" => PreConfig { no_bos: true, ignore_merges: true, ..pre("chatglm4", LLAMA3) },
        "viking" => no_clean(pre("viking", VIKING)),
        "jais" => pre("jais", GPT2),
        "tekken" => PreConfig { ignore_merges: true, add_bos: true, ..no_clean(pre("tekken", TEKKEN)) },
        "smollm" => no_clean(pre("smollm", STARCODER)),
        "codeshell" => pre("codeshell", STARCODER),
        "bloom" => pre("bloom", PORO),
        "gpt3-finnish" => pre("gpt3-finnish", PORO),
        "exaone" => pre("exaone", STARCODER),
        "exaone-moe" => pre("exaone-moe", EXAONE_MOE),
        "chameleon" => PreConfig { add_bos: true, ..no_clean(pre("chameleon", CHAMELEON)) },
        "minerva-7b" => pre("minerva", STARCODER),
        "megrez" => pre("qwen2", STABLELM2),
        "gpt-4o" | "llama4" | "kanana2" | "talkie" => no_clean(pre("gpt-4o", GPT4O)),
        "granite-embed-multi-97m" => {
            PreConfig { ignore_merges: true, ..no_clean(pre("granite-embed-multi", GRANITE_EMB_MULTI)) }
        }
        "tiny_aya" | "cohere2moe" => no_clean(pre("tiny_aya", TINY_AYA)),
        "trillion" => no_clean(pre("trillion", GPT2)),
        "granite-docling" => no_clean(pre("granite-docling", GPT2)),
        "bailingmoe" | "bailingmoe2" | "llada-moe" => no_clean(pre("bailingmoe", BAILINGMOE)),
        "seed-coder" => no_clean(pre("seed-coder", SEED_CODER)),
        "hunyuan" => no_clean(pre("hunyuan", STABLELM2)),
        "hunyuan-dense" | "hy_v4" | "joyai-llm" => no_clean(pre("hunyuan-dense", DEEPSEEK3_LLM)),
        "ufakzeka" => no_clean(pre("ufakzeka", UFAKZEKA)),
        "grok-2" => no_clean(pre("grok-2", STABLELM2)),
        "afmoe" => no_clean(pre("afmoe", AFMOE)),
        "laguna" => no_clean(pre("laguna", LAGUNA)),
        "minimax-m2" => no_clean(pre("minimax-m2", GPT4O)),
        "solar-open" => no_clean(pre("solar-open", STABLELM2)),
        "mellum2" => pre("mellum2", STARCODER),
        "minicpm5" => PreConfig { ignore_merges: true, ..pre("minicpm5", MINICPM5) },
        _ => return None,
    })
}

// The expressions, verbatim from llama.cpp (ECMAScript syntax; see `regex.rs` for how they run).

/// llama3
const LLAMA3: &[&str] = &[
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
];
/// jais2
const JAIS2: &[&str] = &[
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|\\s{32}(?!\\S)|\\s{16}(?!\\S)|\\s{8}(?!\\S)|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}",
];
/// deepseek_llm
const DEEPSEEK_LLM: &[&str] = &[
    "[\r\n]",
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
    "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
    "\\s+$",
    "[一-龥ࠀ-一가-퟿]+",
    "\\p{N}+",
];
/// deepseek3_llm, hunyuan_dense, joyai_llm, hy_v4
const DEEPSEEK3_LLM: &[&str] = &[
    "\\p{N}{1,3}",
    "[一-龥぀-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
];
/// spark2_5
const SPARK2_5: &[&str] = &[
    "\\p{N}{1,3}",
    "[一-龥぀-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+|[\r\n]|\\s+(?!\\S)|\\s+",
    "\\p{N}",
];
/// youtu
const YOUTU: &[&str] = &[
    "[가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+",
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
];
/// deepseek_coder
const DEEPSEEK_CODER: &[&str] = &["[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}"];
/// falcon
const FALCON: &[&str] = &[
    "[\\p{P}\\$\\+<=>\\^~\\|`]+",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "[0-9][0-9][0-9]",
];
/// starcoder, refact, command_r, smollm, codeshell, exaone, minerva, mellum2
const STARCODER: &[&str] =
    &["\\p{N}", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"];
/// gpt2, mpt, olmo, jais, trillion, granite_docling
const GPT2: &[&str] = &["'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"];
/// stablelm2, qwen2, hunyuan, solar_open
const STABLELM2: &[&str] = &[
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
];
/// qwen35
const QWEN35: &[&str] = &[
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
];
/// poro, bloom, gpt3_finnish
const PORO: &[&str] = &[" ?[^(\\s|.,!?…。，、।۔،)]+"];
/// viking
const VIKING: &[&str] = &[" ?[^(\\s|.,!?…。，、।۔،)]+", "\\p{N}"];
/// tekken
const TEKKEN: &[&str] = &[
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
];
/// chameleon
const CHAMELEON: &[&str] = &[
    "<sentinel:[0-9]+>",
    "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
    "([\\t\\n]|    |  )",
    "\\p{N}",
    "[\\p{P}!-/:-@\\[-`{-~]",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
];
/// gpt4o, minimax_m2
const GPT4O: &[&str] = &[
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
];
/// granite_emb_multi
const GRANITE_EMB_MULTI: &[&str] = &[
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))*((?=[\\p{L}\\p{M}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))+((?=[\\p{L}\\p{M}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
];
/// tiny_aya
const TINY_AYA: &[&str] = &[
    "\\d{1,3}(?=(?:\\d{3})*\\b)",
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
];
/// bailingmoe
const BAILINGMOE: &[&str] = &[
    "'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+",
];
/// seed_coder
const SEED_CODER: &[&str] = &[
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
];
/// ufakzeka
const UFAKZEKA: &[&str] =
    &["[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"];
/// afmoe
const AFMOE: &[&str] = &[
    "\\p{AFMoE_digits}",
    "[一-鿿㐀-䶿豈-﫿぀-ゟ゠-ヿ･-ﾟ⼀-⿟เ-๿຀-໿ក-៿က-႟ꩠ-ꩿꧠ-꧿가-힯ᄀ-ᇿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
];
/// laguna
const LAGUNA: &[&str] = &[
    "[^\\n]+|[\\n]+",
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
];
/// exaone_moe
const EXAONE_MOE: &[&str] = &[
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]?|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+",
];
/// gemma4
const GEMMA4: &[&str] = &["[^\\n]+|[\\n]+"];
/// minicpm5
const MINICPM5: &[&str] = &[
    "\\p{N}{1,3}",
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
];
/// default
const DEFAULT: &[&str] = &[
    "[\\p{P}\\$\\+<=>\\^~\\|]+",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "\\p{N}+",
    "[0-9][0-9][0-9]",
];
