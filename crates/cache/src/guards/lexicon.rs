//! The word lists the guards read: negators, polarity pairs, number words, function words
//! and request fillers, and the few synonyms of request language that are folded together.
//!
//! Written from general English and from how people phrase requests to an LLM API, not fitted
//! to a test set. Adding a word to [`FILLER`] or [`SYNONYMS`] makes more paraphrases hit and
//! can make a wrong hit possible: such a change needs a must-not-hit pair in
//! `tests/cache/pairs.jsonl` showing it is safe.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::text::stem;

/// Words that negate (counted; both prompts must have as many). `n't` endings count too
/// (see [`is_negator`]).
const NEGATORS: &[&str] = &[
    "not",
    "no",
    "never",
    "without",
    "none",
    "nobody",
    "nothing",
    "nowhere",
    "neither",
    "nor",
    "cannot",
    "except",
    "excluding",
    "excluded",
    "lacking",
    "lacks",
    "absent",
    "non",
    "dont",
    "doesnt",
    "didnt",
    "isnt",
    "arent",
    "wasnt",
    "werent",
    "cant",
    "wont",
    "shouldnt",
    "wouldnt",
    "couldnt",
    "havent",
    "hasnt",
    "hadnt",
    "mustnt",
    "neednt",
    "aint",
];

/// Whether `lower` (a lowercased word) negates: a [`NEGATORS`] word or a `n't` form.
pub fn is_negator(lower: &str) -> bool {
    lower.ends_with("n't") || NEGATORS.contains(&lower)
}

/// One side of a polarity axis: `(word, axis, positive side, weak)`. Words on the same axis
/// and side are interchangeable (`enable` = `on` = `activate`); opposite sides must not meet.
/// A *weak* word is also an ordinary preposition or filler (`on`, `in`, `show`), so it may
/// appear on one side only when the other prompt says nothing on that axis.
type Polar = (&'static str, &'static str, bool, bool);

#[rustfmt::skip]
const POLARITY: &[Polar] = &[
    ("on", "active", true, true), ("enable", "active", true, false), ("activate", "active", true, false),
    ("off", "active", false, false), ("disable", "active", false, false), ("deactivate", "active", false, false),
    ("increase", "amount", true, false), ("raise", "amount", true, false), ("grow", "amount", true, false),
    ("rise", "amount", true, false), ("more", "amount", true, false), ("most", "amount", true, false),
    ("decrease", "amount", false, false), ("reduce", "amount", false, false), ("lower", "amount", false, false),
    ("shrink", "amount", false, false), ("fall", "amount", false, false), ("drop", "amount", false, false),
    ("less", "amount", false, false), ("fewer", "amount", false, false), ("least", "amount", false, false),
    ("fewest", "amount", false, false),
    ("ascending", "sort", true, false), ("descending", "sort", false, false),
    ("before", "time", true, false), ("earlier", "time", true, false), ("earliest", "time", true, false),
    ("prior", "time", true, false), ("past", "time", true, false), ("oldest", "time", true, false),
    ("after", "time", false, false), ("later", "time", false, false), ("latest", "time", false, false),
    ("future", "time", false, false), ("newest", "time", false, false), ("recent", "time", false, false),
    ("add", "membership", true, false), ("insert", "membership", true, false), ("include", "membership", true, false),
    ("remove", "membership", false, false), ("delete", "membership", false, false),
    ("erase", "membership", false, false), ("exclude", "membership", false, false),
    ("max", "extreme", true, false), ("maximum", "extreme", true, false), ("maximize", "extreme", true, false),
    ("min", "extreme", false, false), ("minimum", "extreme", false, false), ("minimize", "extreme", false, false),
    ("encrypt", "crypt", true, false), ("decrypt", "crypt", false, false),
    ("encode", "code", true, false), ("decode", "code", false, false),
    ("serialize", "serial", true, false), ("deserialize", "serial", false, false),
    ("compress", "compress", true, false), ("zip", "compress", true, false),
    ("decompress", "compress", false, false), ("unzip", "compress", false, false),
    ("above", "vertical", true, true), ("over", "vertical", true, true), ("up", "vertical", true, true),
    ("upper", "vertical", true, false), ("uppercase", "vertical", true, false), ("higher", "vertical", true, false),
    ("highest", "vertical", true, false),
    ("below", "vertical", false, true), ("under", "vertical", false, true), ("down", "vertical", false, true),
    ("lowercase", "vertical", false, false), ("highest", "vertical", true, false),
    ("lowest", "vertical", false, false),
    ("true", "truth", true, false), ("false", "truth", false, false),
    ("yes", "answer", true, false),
    ("lock", "lock", true, false), ("unlock", "lock", false, false),
    ("import", "port", true, false), ("export", "port", false, false),
    ("upload", "load", true, false), ("download", "load", false, false),
    ("install", "install", true, false), ("uninstall", "install", false, false),
    ("connect", "connect", true, false), ("disconnect", "connect", false, false),
    ("attach", "attach", true, false), ("detach", "attach", false, false),
    ("mount", "mount", true, false), ("unmount", "mount", false, false),
    ("subscribe", "subscribe", true, false), ("unsubscribe", "subscribe", false, false),
    ("allow", "permit", true, false), ("permit", "permit", true, false), ("grant", "permit", true, false),
    ("deny", "permit", false, false), ("block", "permit", false, false), ("forbid", "permit", false, false),
    ("revoke", "permit", false, false),
    ("accept", "accept", true, false), ("approve", "accept", true, false),
    ("reject", "accept", false, false), ("decline", "accept", false, false),
    ("pro", "merit", true, false), ("pros", "merit", true, false), ("advantage", "merit", true, false),
    ("benefit", "merit", true, false), ("con", "merit", false, false), ("cons", "merit", false, false),
    ("disadvantage", "merit", false, false), ("drawback", "merit", false, false), ("risk", "merit", false, false),
    ("positive", "valence", true, false), ("negative", "valence", false, false),
    ("good", "quality", true, true), ("best", "quality", true, false), ("better", "quality", true, false),
    ("bad", "quality", false, false), ("worst", "quality", false, false), ("worse", "quality", false, false),
    ("first", "end", true, false), ("last", "end", false, false), ("top", "end", true, false),
    ("bottom", "end", false, false),
    ("longest", "length", true, false), ("long", "length", true, false), ("longer", "length", true, false),
    ("shortest", "length", false, false), ("short", "length", false, false), ("shorter", "length", false, false),
    ("brief", "length", false, false), ("concise", "length", false, false),
    ("largest", "size", true, false), ("biggest", "size", true, false), ("larger", "size", true, false),
    ("bigger", "size", true, false), ("large", "size", true, false), ("big", "size", true, false),
    ("smallest", "size", false, false), ("smaller", "size", false, false), ("small", "size", false, false),
    ("tiny", "size", false, false),
    ("fast", "speed", true, false), ("faster", "speed", true, false), ("fastest", "speed", true, false),
    ("quick", "speed", true, false), ("slow", "speed", false, false), ("slower", "speed", false, false),
    ("slowest", "speed", false, false),
    ("hot", "temperature", true, false), ("warm", "temperature", true, false), ("warmest", "temperature", true, false),
    ("hottest", "temperature", true, false), ("cold", "temperature", false, false), ("cool", "temperature", false, false),
    ("coldest", "temperature", false, false), ("coolest", "temperature", false, false),
    ("open", "open", true, false), ("close", "open", false, false),
    ("start", "run", true, false), ("begin", "run", true, false), ("launch", "run", true, false),
    ("stop", "run", false, false), ("end", "run", false, false), ("kill", "run", false, false),
    ("show", "visible", true, true), ("display", "visible", true, true), ("visible", "visible", true, false),
    ("hide", "visible", false, false), ("hidden", "visible", false, false), ("invisible", "visible", false, false),
    ("in", "in", true, true), ("into", "in", true, true), ("inside", "in", true, false),
    ("out", "in", false, true), ("outside", "in", false, false),
    ("valid", "valid", true, false), ("invalid", "valid", false, false),
    ("public", "public", true, false), ("private", "public", false, false),
    ("sync", "sync", true, false), ("synchronous", "sync", true, false),
    ("async", "sync", false, false), ("asynchronous", "sync", false, false),
    ("horizontal", "axis", true, false), ("vertical", "axis", false, false),
    ("left", "side", true, false), ("right", "side", false, false),
    ("input", "io", true, false), ("output", "io", false, false),
    ("send", "direction", true, false), ("receive", "direction", false, false),
    ("push", "git", true, false), ("pull", "git", false, true),
    ("buy", "trade", true, false), ("sell", "trade", false, false),
    ("win", "win", true, false), ("won", "win", true, false), ("lose", "win", false, false),
    ("lost", "win", false, false), ("beat", "win", true, false),
    ("pass", "pass", true, false), ("succeed", "pass", true, false), ("success", "pass", true, false),
    ("fail", "pass", false, false), ("failure", "pass", false, false),
    ("forward", "way", true, false), ("backward", "way", false, false),
    ("prefix", "fix", true, false), ("suffix", "fix", false, false),
    ("plus", "sign", true, false), ("minus", "sign", false, false),
    ("agree", "agree", true, false), ("disagree", "agree", false, false),
    ("like", "like", true, true), ("dislike", "like", false, false), ("love", "like", true, false),
    ("hate", "like", false, false),
    ("cheap", "price", false, false), ("cheapest", "price", false, false), ("cheaper", "price", false, false),
    ("expensive", "price", true, false), ("pricey", "price", true, false),
    ("old", "age", true, false), ("older", "age", true, false), ("new", "age", false, true),
    ("newer", "age", false, false), ("young", "age", false, false), ("younger", "age", false, false),
    ("happy", "mood", true, false), ("sad", "mood", false, false),
    ("upvote", "vote", true, false), ("downvote", "vote", false, false),
    ("expand", "fold", true, false), ("collapse", "fold", false, false),
];

/// Where a word sits on a polarity axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polarity {
    /// The axis (`"active"`, `"time"`, …).
    pub axis: &'static str,
    /// Which side.
    pub positive: bool,
    /// Also an ordinary preposition or filler: see [`POLARITY`].
    pub weak: bool,
}

static POLARITY_MAP: LazyLock<HashMap<String, Polarity>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for &(word, axis, positive, weak) in POLARITY {
        let p = Polarity { axis, positive, weak };
        map.insert(word.to_owned(), p);
        map.entry(stem(word)).or_insert(p);
    }
    map
});

/// The polarity of `lower` (a lowercased word), looked up as written and by its stem.
pub fn polarity(lower: &str) -> Option<Polarity> {
    POLARITY_MAP.get(lower).or_else(|| POLARITY_MAP.get(&stem(lower))).copied()
}

/// Cardinal number words and their values.
#[rustfmt::skip]
pub const CARDINALS: &[(&str, u64)] = &[
    ("zero", 0), ("one", 1), ("two", 2), ("three", 3), ("four", 4), ("five", 5), ("six", 6), ("seven", 7),
    ("eight", 8), ("nine", 9), ("ten", 10), ("eleven", 11), ("twelve", 12), ("thirteen", 13),
    ("fourteen", 14), ("fifteen", 15), ("sixteen", 16), ("seventeen", 17), ("eighteen", 18),
    ("nineteen", 19), ("twenty", 20), ("thirty", 30), ("forty", 40), ("fifty", 50), ("sixty", 60),
    ("seventy", 70), ("eighty", 80), ("ninety", 90), ("dozen", 12), ("twice", 2), ("thrice", 3),
    ("single", 1), ("double", 2), ("triple", 3),
];

/// Ordinal number words and their values.
#[rustfmt::skip]
pub const ORDINALS: &[(&str, u64)] = &[
    ("first", 1), ("second", 2), ("third", 3), ("fourth", 4), ("fifth", 5), ("sixth", 6), ("seventh", 7),
    ("eighth", 8), ("ninth", 9), ("tenth", 10), ("eleventh", 11), ("twelfth", 12), ("thirteenth", 13),
    ("fourteenth", 14), ("fifteenth", 15), ("sixteenth", 16), ("seventeenth", 17), ("eighteenth", 18),
    ("nineteenth", 19), ("twentieth", 20), ("thirtieth", 30), ("fortieth", 40), ("fiftieth", 50),
    ("sixtieth", 60), ("seventieth", 70), ("eightieth", 80), ("ninetieth", 90), ("hundredth", 100),
    ("thousandth", 1000), ("millionth", 1_000_000),
];

/// Number words that multiply what comes before them (`three hundred`, `2 million`).
pub const MULTIPLIERS: &[(&str, u64)] =
    &[("hundred", 100), ("thousand", 1000), ("million", 1_000_000), ("billion", 1_000_000_000)];

/// Words that carry no content of their own for the comparison: function words, and the
/// politeness and request verbs that paraphrases add or drop ("can you", "please", "give
/// me", "what is", "explain"). Negators and polarity words are compared by their own guards.
#[rustfmt::skip]
const FILLER: &[&str] = &[
    // articles, determiners, pronouns
    "a", "an", "the", "this", "that", "these", "those", "some", "any", "each", "every", "all", "both",
    "another", "other", "such", "own", "same", "i", "me", "my", "mine", "myself", "we", "us", "our", "ours",
    "you", "your", "yours", "yourself", "he", "him", "his", "she", "her", "hers", "it", "its", "itself",
    "they", "them", "their", "theirs", "one's", "someone", "something", "anything", "everything",
    // question words
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "whether", "what's", "how's",
    "where's", "who's", "that's", "it's", "there's", "here's", "let's", "i'm", "i've", "i'd", "you're",
    // auxiliaries and modals
    "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "doing", "have", "has",
    "had", "having", "can", "could", "would", "should", "will", "shall", "may", "might", "must", "get",
    "gets", "got", "getting",
    // prepositions and conjunctions (polarity ones are in POLARITY)
    "of", "for", "with", "about", "as", "at", "by", "from", "to", "onto", "via", "per", "within", "between",
    "among", "through", "across", "upon", "and", "or", "but", "if", "then", "so", "than", "too", "very",
    "just", "also", "only", "really", "there", "here", "while", "because", "since", "until", "whereas",
    "like", "such", "etc", "e.g", "i.e", "vs", "versus",
    // request language
    "please", "kindly", "help", "tell", "give", "provide", "let", "know", "want", "need", "would", "like", "possible",
    "way", "ways", "method", "approach", "following", "provided", "given", "below", "above", "explain",
    "describe", "answer", "question", "respond", "reply", "return", "using", "use", "used", "mean", "meaning",
    "some", "thing", "things", "something", "stuff", "certain", "particular", "specific", "actually",
    "basically", "simply", "quickly", "briefly", "exactly", "properly", "correctly", "easily",
];

static FILLER_SET: LazyLock<std::collections::HashSet<&'static str>> =
    LazyLock::new(|| FILLER.iter().copied().collect());

/// Whether `lower` (a lowercased word) is filler: see [`FILLER`].
pub fn is_filler(lower: &str) -> bool {
    FILLER_SET.contains(lower)
}

/// Request-language words folded to one form before content words are compared: different
/// spellings, abbreviations, and verbs that ask for the same output. Keys and values are
/// stems (see [`crate::text::stem`]) of the words written here.
#[rustfmt::skip]
const SYNONYMS: &[(&str, &str)] = &[
    // the verbs of the common tasks
    ("summary", "summarize"), ("summarization", "summarize"), ("recap", "summarize"), ("tldr", "summarize"),
    ("create", "write"), ("generate", "write"), ("make", "write"), ("produce", "write"), ("compose", "write"),
    ("draft", "write"), ("wrote", "write"), ("written", "write"), ("made", "write"),
    ("repair", "fix"), ("correct", "fix"),
    ("pull", "extract"),
    ("locate", "find"), ("identify", "find"), ("detect", "find"),
    ("label", "classify"), ("categorize", "classify"), ("categorise", "classify"), ("classification", "classify"),
    ("rephrase", "paraphrase"), ("reword", "paraphrase"),
    ("turn", "convert"), ("transform", "convert"),
    ("difference", "differ"), ("different", "differ"), ("compare", "differ"), ("comparison", "differ"),
    ("calculate", "compute"), ("computation", "compute"), ("number", "count"),
    // spellings and abbreviations
    ("dictionary", "dict"), ("repository", "repo"), ("application", "app"), ("configuration", "config"),
    ("information", "info"), ("database", "db"), ("integer", "int"), ("string", "str"), ("variable", "var"),
    ("regexp", "regex"), ("documentation", "docs"), ("doc", "docs"), ("directory", "folder"),
    ("dir", "folder"), ("javascript", "js"), ("typescript", "ts"), ("e-mail", "email"), ("website", "site"),
    ("quit", "exit"),
];

/// Two-word phrases read as one word: `(first, second, as)`.
pub const PHRASES: &[(&str, &str, &str)] = &[
    ("pull", "out", "extract"),
    ("turn", "on", "enable"),
    ("turn", "off", "disable"),
    ("switch", "on", "enable"),
    ("switch", "off", "disable"),
    ("regular", "expression", "regex"),
    ("regular", "expressions", "regex"),
    ("pull", "request", "pr"),
    ("pull", "requests", "pr"),
    ("command", "line", "cli"),
    ("log", "in", "login"),
    ("sign", "in", "login"),
    ("log", "out", "logout"),
    ("sign", "out", "logout"),
    ("machine", "learning", "ml"),
    ("artificial", "intelligence", "ai"),
    ("web", "site", "site"),
    ("e", "mail", "email"),
];

static SYNONYM_MAP: LazyLock<HashMap<String, String>> =
    LazyLock::new(|| SYNONYMS.iter().map(|(from, to)| (stem(from), stem(to))).collect());

/// The form a content word is compared in: its stem, folded by [`SYNONYMS`].
pub fn canonical(lower: &str) -> String {
    let s = stem(lower);
    SYNONYM_MAP.get(&s).cloned().unwrap_or(s)
}

/// Words that join `X … Y` in a direction (`convert Celsius to Fahrenheit`, `bigger than
/// London`), and their role: a word must not be on one side of the marker in one prompt and
/// on the other side in the other.
pub const DIRECTION_MARKERS: &[(&str, &str)] =
    &[("to", "to"), ("into", "to"), ("towards", "to"), ("from", "from"), ("than", "than")];

/// Whether `lower` is a number word ([`CARDINALS`], [`ORDINALS`], [`MULTIPLIERS`], `half`,
/// `percent`): compared as a quantity, not as a content word.
pub fn lexicon_number_word(lower: &str) -> bool {
    let in_table = |t: &[(&str, u64)]| t.iter().any(|(w, _)| *w == lower);
    in_table(CARDINALS)
        || in_table(ORDINALS)
        || in_table(MULTIPLIERS)
        || matches!(lower, "half" | "percent" | "pct")
}
