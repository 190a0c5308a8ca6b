//! Regex, Lark and choices; sampling with temperature and penalties; forced tokens; length
//! cut-offs and errors.
