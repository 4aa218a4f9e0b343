// The umT5 tokenizer of a diffusers Wan2.1 checkpoint (`tokenizer/`), as WanPipeline uses it:
// prompt_clean() (prompt_clean.h), then
//   tokenizer(prompt, padding="max_length", max_length=L, truncation=True,
//             add_special_tokens=True, return_attention_mask=True)
// with transformers 5.x's T5Tokenizer, reproduced over the SentencePiece model `spiece.model`.
//
// What transformers 5.x does, and so what Encode() does:
// - Special ("added") tokens are cut out of the text first, leftmost-longest, by exact spelling:
//   the eos/unk/pad tokens (and bos_token if configured), the `<extra_id_N>` sentinels (N <
//   extra_ids; id = spm_size + extra_ids - 1 - N) and every entry of added_tokens_decoder. Each
//   piece of text between them is segmented on its own ("a <extra_id_0> b" = "a", sentinel, "b").
// - Text is segmented by the SentencePiece model (its normaliser, "▁" word prefix, unigram
//   Viterbi). transformers rebuilds that model as a `tokenizers` Unigram with unk_id=2 and
//   byte_fallback=False whatever spiece.model says; so here too every run of adjacent unknown
//   characters becomes ONE token with id 2 (SentencePiece's unknown piece, or the byte pieces of
//   its byte fallback, are replaced). For umT5's own layout (pad 0, eos 1, bos 2, unk 3, byte
//   fallback) that gives unknown text id 2 = "<s>": a transformers quirk that the reference
//   pipeline has, and so this port.
// - At most max_length-1 tokens are kept (the rest is dropped: `truncated`), then "</s>", then
//   pad ids up to max_length; the mask is 1 for the tokens and "</s>", 0 for padding.
//
// Not supported (INVALID_ARGUMENT from Encode): prompts that contain, outside the special tokens,
// the spelling of a control piece that is not a special token (e.g. "<s>" when bos_token is not
// configured) or of a byte piece ("<0x41>"): transformers matches those as vocabulary pieces,
// SentencePiece never does. Load() returns UNIMPLEMENTED for models transformers would segment
// differently: user-defined or unused pieces, no dummy prefix, kept extra whitespace, and
// single_word added tokens.
//
// Known difference (not detected): transformers' Precompiled normaliser works per grapheme
// cluster and, for a cluster shorter than 6 UTF-8 bytes whose leading character has a
// normalisation rule but the whole cluster has none, replaces the whole cluster by that rule's
// output, dropping the rest ("＆" + U+05AD -> "&"); SentencePiece keeps the combining character.
// Seen in 2 of 3000 prompts of random code points, none of 3000 prompts of realistic words.
//
// Thread-safe after Load(); all methods are const.
#ifndef VIDEOGEN_ENGINE_TEXT_TOKENIZER_H_
#define VIDEOGEN_ENGINE_TEXT_TOKENIZER_H_

#include <bitset>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace videogen::engine::text {

namespace internal {
class SentencePieceModel;
}  // namespace internal

class Tokenizer {
 public:
  // The pipeline's max_sequence_length.
  static constexpr int64_t kDefaultMaxLength = 512;
  // transformers 5.x's T5Tokenizer gives unknown text this id, whatever the model's unk_id.
  static constexpr int64_t kUnknownId = 2;

  struct Encoding {
    std::vector<int64_t> ids;   // [max_length]: tokens, "</s>", then the pad id.
    std::vector<int64_t> mask;  // [max_length]: 1 for tokens and "</s>", 0 for padding.
    int64_t length = 0;         // Number of ones in `mask` (>= 1).
    bool truncated = false;     // The prompt had more than max_length-1 tokens; the rest is gone.
    std::string cleaned;        // The prompt after CleanPrompt().
  };

  // Loads `dir`/spiece.model (NOT_FOUND naming the path if unreadable; DATA_LOSS if malformed)
  // and, if present, `dir`/tokenizer_config.json for the special tokens (eos_token, pad_token,
  // unk_token, bos_token, extra_ids, additional_special_tokens/extra_special_tokens,
  // added_tokens_decoder; T5Tokenizer's defaults when absent). INVALID_ARGUMENT for a malformed
  // config or a special token without an id; UNIMPLEMENTED as described above.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& dir);
  ~Tokenizer();

  // Cleans and tokenizes `prompt` (UTF-8). INVALID_ARGUMENT for max_length < 1, invalid UTF-8 or
  // the unsupported spellings above.
  absl::StatusOr<Encoding> Encode(absl::string_view prompt,
                                  int64_t max_length = kDefaultMaxLength) const;

  // The token ids of already cleaned text, without "</s>", truncation or padding.
  absl::StatusOr<std::vector<int64_t>> Tokenize(absl::string_view cleaned) const;

  int64_t eos_id() const { return eos_id_; }
  int64_t pad_id() const { return pad_id_; }
  // One past the largest id Encode() can produce (SentencePiece pieces plus added tokens).
  int64_t vocab_size() const { return vocab_size_; }

 private:
  Tokenizer() = default;

  std::unique_ptr<internal::SentencePieceModel> model_;
  // Special tokens: spelling -> id, longest spelling first.
  std::vector<std::pair<std::string, int64_t>> specials_;
  std::bitset<256> special_first_bytes_;
  // Spellings transformers would match as vocabulary pieces but SentencePiece cannot.
  std::vector<std::string> unsupported_;
  int64_t eos_id_ = 1, pad_id_ = 0, vocab_size_ = 0;
};

}  // namespace videogen::engine::text

#endif  // VIDEOGEN_ENGINE_TEXT_TOKENIZER_H_
