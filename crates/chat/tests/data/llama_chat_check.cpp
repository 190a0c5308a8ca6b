// Prints what llama.cpp's built-in `gemma` and `chatml` formats make of the conversations in
// tests/chat/fallback.rs, to check the expected strings there against llama.cpp itself:
//
//   R=/root/ref/llama.cpp
//   g++ -std=c++17 -I$R/include -I$R/ggml/include -I$R/src \
//       crates/chat/tests/data/llama_chat_check.cpp $R/src/llama-chat.cpp -o /tmp/llama_chat_check
//   /tmp/llama_chat_check
#include "llama-chat.h"
#include "llama.h"

#include <cstdio>
#include <string>
#include <vector>

static void run(llm_chat_template tmpl, std::vector<llama_chat_message> msgs, bool add_ass) {
    std::vector<const llama_chat_message *> chat;
    for (auto & m : msgs) {
        chat.push_back(&m);
    }
    std::string out;
    llm_chat_apply_template(tmpl, chat, out, add_ass);
    std::string escaped;
    for (char c : out) {
        escaped += c == '\n' ? std::string("\\n") : std::string(1, c);
    }
    printf("%s\n", escaped.c_str());
}

int main() {
    // gemma3_fixture_gets_llama_cpp_gemma_format
    run(LLM_CHAT_TEMPLATE_GEMMA,
        { { "system", "  You are terse. \n" }, { "user", "\tHi there\n" }, { "assistant", "Hello!" },
          { "user", "Name a color." } },
        true);
    // gemma_merges_system_text_like_llama_cpp (U+00A0 as UTF-8)
    run(LLM_CHAT_TEMPLATE_GEMMA,
        { { "system", "A." }, { "system", " B. " }, { "assistant", "first" }, { "user", "\xc2\xa0q\xc2\xa0" },
          { "system", "dropped" } },
        false);
    // llama_and_qwen2_without_template_get_chatml
    run(LLM_CHAT_TEMPLATE_CHATML, { { "system", " sys " }, { "user", "hi" } }, true);
}
