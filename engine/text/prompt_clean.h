// The prompt cleaning of diffusers' WanPipeline (`prompt_clean` in pipeline_wan.py), applied to
// every prompt and negative prompt before tokenization.
//
// diffusers runs, on a Python str (code points):
//   1. ftfy.fix_text(text)            -- only if the ftfy package is installed;
//   2. html.unescape(html.unescape(text));
//   3. str.strip();
//   4. regex.sub(r"\s+", " ", text)  -- the `regex` module, not `re`;
//   5. str.strip().
// CleanPrompt() reproduces steps 2-5 exactly and does NOT run step 1: ftfy is not installed in the
// pinned reference environment (tools/golden/setup_venv.sh), so the golden pipeline skips it too.
// Where ftfy is installed, diffusers additionally repairs mojibake, uncurls quotes, rewrites
// ligatures/width variants, normalises to NFC, removes control characters etc., and results can
// differ for such prompts.
//
// Whitespace sets (they differ): str.strip() removes str.isspace() characters, U+0009-U+000D,
// U+001C-U+001F, U+0020, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F,
// U+3000; the `regex` module's \s is Unicode White_Space, the same without U+001C-U+001F.
//
// Thread-safe (pure functions).
#ifndef VIDEOGEN_ENGINE_TEXT_PROMPT_CLEAN_H_
#define VIDEOGEN_ENGINE_TEXT_PROMPT_CLEAN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace videogen::engine::text {

// Steps 2-5 above on UTF-8 text. INVALID_ARGUMENT (with the byte offset) if `prompt` is not valid
// UTF-8 (a Python str cannot hold such text).
absl::StatusOr<std::string> CleanPrompt(absl::string_view prompt);

// Python's html.unescape() (HTML5 rules): named references from html.entities.html5, including
// the legacy names without ';' and longest-prefix matching ("&ampx" -> "&x"); decimal and hex
// numeric references with HTML5's replacements (0x80-0x9F as Windows-1252, NUL/surrogates/beyond
// U+10FFFF -> U+FFFD, noncharacters and most C0/C1 controls dropped). One difference: Python
// raises ValueError for a decimal reference of more than 4300 digits; here it becomes U+FFFD.
// INVALID_ARGUMENT for invalid UTF-8.
absl::StatusOr<std::string> HtmlUnescape(absl::string_view text);

}  // namespace videogen::engine::text

#endif  // VIDEOGEN_ENGINE_TEXT_PROMPT_CLEAN_H_
