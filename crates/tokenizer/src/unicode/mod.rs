//! Code point classification exactly as llama.cpp's `unicode.cpp` does it: its own category
//! tables (not the host's Unicode version), its whitespace set, its lowercase map, its
//! one-code-point NFD, and GPT-2's byte ⇄ printable-char mapping.

use std::sync::OnceLock;

mod tables;

/// Category and helper bits of one code point (llama.cpp's `unicode_cpt_flags`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Flags(u16);

impl Flags {
    pub(crate) const UNDEFINED: u16 = 0x0001;
    pub(crate) const NUMBER: u16 = 0x0002;
    pub(crate) const LETTER: u16 = 0x0004;
    pub(crate) const ACCENT_MARK: u16 = 0x0010;
    pub(crate) const PUNCTUATION: u16 = 0x0020;
    pub(crate) const SYMBOL: u16 = 0x0040;
    pub(crate) const CONTROL: u16 = 0x0080;
    pub(crate) const WHITESPACE: u16 = 0x0100;

    /// The flags of "no code point" (outside the text being split): all clear.
    pub(crate) const NONE: Flags = Flags(0);

    pub(crate) fn is_number(self) -> bool {
        self.0 & Self::NUMBER != 0
    }
    pub(crate) fn is_letter(self) -> bool {
        self.0 & Self::LETTER != 0
    }
    pub(crate) fn is_accent_mark(self) -> bool {
        self.0 & Self::ACCENT_MARK != 0
    }
    pub(crate) fn is_punctuation(self) -> bool {
        self.0 & Self::PUNCTUATION != 0
    }
    pub(crate) fn is_symbol(self) -> bool {
        self.0 & Self::SYMBOL != 0
    }
    pub(crate) fn is_control(self) -> bool {
        self.0 & Self::CONTROL != 0
    }
    pub(crate) fn is_whitespace(self) -> bool {
        self.0 & Self::WHITESPACE != 0
    }
    /// Any bit set: true for every real code point, false for [`Flags::NONE`].
    pub(crate) fn any(self) -> bool {
        self.0 != 0
    }
    /// The category bits alone (`MASK_CATEGORIES`).
    pub(crate) fn category(self) -> u16 {
        self.0 & 0xFF
    }
}

const MAX_CODEPOINTS: u32 = 0x11_0000;
const BLOCK: usize = 256;

/// Two-stage lookup table: `blocks[stage1[cp >> 8] * 256 + (cp & 255)]`.
struct FlagTable {
    stage1: Vec<u16>,
    blocks: Vec<Flags>,
}

fn flag_table() -> &'static FlagTable {
    static TABLE: OnceLock<FlagTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut full = vec![Flags(Flags::UNDEFINED); MAX_CODEPOINTS as usize];
        for pair in tables::FLAG_RANGES.windows(2) {
            let (start, flags) = pair[0];
            let end = pair[1].0;
            for slot in &mut full[start as usize..end as usize] {
                *slot = Flags(flags);
            }
        }
        for &cp in tables::WHITESPACE {
            full[cp as usize].0 |= Flags::WHITESPACE;
        }
        let mut stage1 = Vec::with_capacity(full.len() / BLOCK);
        let mut blocks: Vec<Flags> = Vec::new();
        let mut seen: std::collections::HashMap<&[Flags], u16> = std::collections::HashMap::new();
        for chunk in full.chunks(BLOCK) {
            let next = seen.len() as u16;
            let idx = *seen.entry(chunk).or_insert(next);
            if idx == next {
                blocks.extend_from_slice(chunk);
            }
            stage1.push(idx);
        }
        FlagTable { stage1, blocks }
    })
}

/// llama.cpp's `unicode_cpt_flags_from_cpt`: undefined beyond U+10FFFF.
pub(crate) fn flags(cp: u32) -> Flags {
    if cp >= MAX_CODEPOINTS {
        return Flags(Flags::UNDEFINED);
    }
    let t = flag_table();
    let block = t.stage1[(cp >> 8) as usize] as usize;
    t.blocks[block * BLOCK + (cp as usize & (BLOCK - 1))]
}

/// Bytes of the UTF-8 sequence a lead byte announces (llama.cpp's `unicode_len_utf8`:
/// continuation and invalid bytes count as 1).
pub(crate) fn utf8_len(lead: u8) -> usize {
    const LOOKUP: [u8; 16] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4];
    LOOKUP[(lead >> 4) as usize] as usize
}

/// llama.cpp's `unicode_tolower`: the table's simple lowercase mapping, else the code point.
pub(crate) fn to_lower(cp: u32) -> u32 {
    match tables::LOWERCASE.binary_search_by_key(&cp, |&(from, _)| from) {
        Ok(i) => tables::LOWERCASE[i].1,
        Err(_) => cp,
    }
}

/// llama.cpp's `unicode_cpts_normalize_nfd` for one code point: the first code point of its
/// canonical decomposition (so `é` becomes `e`; the accent is dropped, not kept).
pub(crate) fn nfd_base(cp: u32) -> u32 {
    let i = tables::NFD_RANGES.partition_point(|&(first, _, _)| first <= cp);
    if i == 0 {
        return cp;
    }
    let (first, last, base) = tables::NFD_RANGES[i - 1];
    if first <= cp && cp <= last { base } else { cp }
}

/// GPT-2's byte → printable code point mapping (`bytes_to_unicode`).
pub(crate) fn byte_to_char(b: u8) -> char {
    BYTE_MAP.get_or_init(build_byte_map).0[b as usize]
}

/// The inverse of [`byte_to_char`]; `None` for a char no byte maps to.
pub(crate) fn char_to_byte(c: char) -> Option<u8> {
    let map = BYTE_MAP.get_or_init(build_byte_map);
    map.1.get(c as usize).copied().flatten()
}

type ByteMap = ([char; 256], Vec<Option<u8>>);
static BYTE_MAP: OnceLock<ByteMap> = OnceLock::new();

fn build_byte_map() -> ByteMap {
    let printable =
        |b: u32| (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
    let mut fwd = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..256u32 {
        let cp = if printable(b) {
            b
        } else {
            n += 1;
            255 + n
        };
        fwd[b as usize] = char::from_u32(cp).unwrap_or('\u{FFFD}');
    }
    let mut inv = vec![None; 256 + n as usize + 1];
    for (b, &c) in fwd.iter().enumerate() {
        inv[c as usize] = Some(b as u8);
    }
    (fwd, inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_categories() {
        assert!(flags('a' as u32).is_letter());
        assert!(flags('7' as u32).is_number());
        assert!(flags(' ' as u32).is_whitespace());
        assert!(flags('\n' as u32).is_whitespace());
        assert!(flags('!' as u32).is_punctuation());
        assert!(flags('+' as u32).is_symbol());
        assert!(flags(0x3000).is_whitespace());
        assert!(flags('日' as u32).is_letter());
        assert_eq!(flags(0x11_0000), Flags(Flags::UNDEFINED));
    }

    #[test]
    fn gpt2_byte_map_round_trips() {
        assert_eq!(byte_to_char(b' '), 'Ġ');
        assert_eq!(byte_to_char(b'\n'), 'Ċ');
        assert_eq!(byte_to_char(b'a'), 'a');
        for b in 0..=255u8 {
            assert_eq!(char_to_byte(byte_to_char(b)), Some(b));
        }
        assert_eq!(char_to_byte('日'), None);
    }

    #[test]
    fn lower_and_nfd() {
        assert_eq!(to_lower('A' as u32), 'a' as u32);
        assert_eq!(to_lower('Ä' as u32), 'ä' as u32);
        assert_eq!(nfd_base('é' as u32), 'e' as u32);
        assert_eq!(nfd_base('x' as u32), 'x' as u32);
    }
}
