//! Integration tests, one binary: llama.cpp's vocab suites, the golden files of the fixture
//! models, decoding, streaming, WordPiece and hostile metadata.

mod common;
mod decoding;
mod golden;
mod hostile;
mod literal;
mod long_word;
mod reference;
mod suites;
mod wordpiece;
