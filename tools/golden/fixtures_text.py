"""Golden fixtures for the Wan2.1 text side (engine/text/): tokenizer, UMT5 encoder, prompt embeds.

    $(tools/golden/setup_venv.sh) -c "import sys; sys.path.insert(0, 'tools/golden'); \
        import fixtures_text; fixtures_text.generate('tests/golden/wan_tiny')"

(or `$(tools/golden/setup_venv.sh) tools/golden/make_fixtures.py text`). Writes into out_dir:

  tokenizer/             a tiny SentencePiece unigram model (spiece.model, nmt_nfkc normalisation,
                         pad 0 / eos 1 / unk 2 as T5) plus what transformers' save_pretrained writes
                         (tokenizer.json, tokenizer_config.json), 10 <extra_id_N> sentinels.
  tokenizer_umt5_layout/ a second tiny model with umT5's special layout (pad 0, eos 1, bos 2,
                         unk 3, byte fallback, identity normalisation): transformers 5.x rebuilds
                         it with unk_id 2 and no byte fallback, so unknown characters get id 2
                         there while SentencePiece itself gives unk 3 or byte pieces.
  text_encoder/          a tiny random-weight UMT5EncoderModel (save_pretrained, safetensors).
  text_golden.safetensors
      prompt.{i} / cleaned.{i}       U8: the raw prompt and diffusers' prompt_clean() of it.
      ids / mask                     I64 [6, 16]: the pipeline's tokenizer call, max_length 16.
      fp32.hidden / bf16.hidden      UMT5 last_hidden_state [6, 16, 32] (fp32 / bf16 weights).
      fp16.hidden                    the same with fp16 weights (transformers keeps `wo` in fp32).
      fp32.embeds / bf16.embeds      WanPipeline._get_t5_prompt_embeds: rows past each prompt's
                                     length replaced by zeros.
      negative.bf16.embeds           encode_prompt's default negative prompt "" ([1, 16, 32]).
      tok.prompt.{i} / tok.cleaned.{i} / tok.ids / tok.mask
                                     tokenizer-only cases (normalisation, HTML, special tokens),
                                     max_length 32.
      len512.prompt.{i} / len512.ids / len512.mask / len512.bf16.embeds
                                     the pipeline's default max_sequence_length 512: a short prompt
                                     and one longer than 511 tokens (truncated).
      umt5_layout.prompt.{i} / umt5_layout.ids / umt5_layout.mask
                                     tokenizer_umt5_layout cases, max_length 24.

All computed on the CPU with the pinned versions (tests/golden/VERSIONS.json); ftfy is not
installed there, so diffusers' prompt_clean skips ftfy.fix_text (as the C++ port does).
"""

import io
import os
import shutil
import types

import safetensors.torch
import sentencepiece as spm
import torch
from diffusers.pipelines.wan import pipeline_wan
from transformers import AutoTokenizer, T5Tokenizer, UMT5Config, UMT5EncoderModel

SEED = 20261123
MAX_LENGTH = 16
TOKENIZER_MAX_LENGTH = 32
UMT5_LAYOUT_MAX_LENGTH = 24
EXTRA_IDS = 10

# Training text for the tiny SentencePiece models: English and some Chinese, so that most test
# characters are known and a few (emoji, rare CJK) are not.
CORPUS = [
    "A cat walks on the grass, realistic style.",
    "A dog runs along the beach at sunset.",
    "Two astronauts float inside a space station.",
    "Close-up of a red rose with morning dew on its petals.",
    "The city skyline at night, neon lights reflecting on wet streets.",
    "A small boat drifts across a calm lake surrounded by mountains.",
    "An old man plays the violin in a quiet street.",
    "Children fly colorful kites in the park on a windy day.",
    "Snow falls slowly over a wooden cabin in the forest.",
    "A chef slices fresh vegetables in a busy kitchen.",
    "Waves crash against the rocks under a stormy sky.",
    "A hummingbird hovers near bright purple flowers.",
    "Cinematic shot of a train crossing a bridge at dawn.",
    "Hello world, mixed 123 numbers 4567 and symbols like & < > ; # %.",
    "一只猫在草地上行走，写实风格。",
    "海边的日落非常美丽。",
    "城市的夜景，霓虹灯倒映在湿漉漉的街道上。",
    "小船漂过平静的湖面，四周是群山。",
    "孩子们在公园里放风筝。",
    "Café, naïve, Ångström, résumé, façade.",
]

# Prompts run through the whole text side (max_length 16).
PROMPTS = [
    "A cat walks on the grass, realistic style.",
    "  Two   astronauts\tfloat &amp;amp; drift&nbsp;inside\n a &lt;space&gt; station.  ",
    "一只猫在草地上行走，海边的日落很美。",
    "",
    "The city skyline at night, neon lights reflecting on wet streets while a dog runs along "
    "the beach at sunset.",
    "A dog <extra_id_0> runs</s> at <extra_id_9> sunset",
]

# Tokenizer-only cases (max_length 32).
TOKENIZER_PROMPTS = [
    "ＡＢＣ ｆｕｌｌ－ｗｉｄｔｈ ﬁne ½ ① ™ ｶﾀｶﾅ",
    "&ampere; &notit; &#128; &#x110000; &#0; &#65;&#x42;&#X43; &#xD800; &#1; &# &#x; &am &AMP; "
    "&copy &amp",
    "&amp;lt;b&amp;gt; double &amp;amp;quot; &#38;#65; &lt",
    "a\u00a0b\u3000c\u2028d\u200be\u0085f\u001cg",
    "\U0001f642 smile \U0001f642\U0001f642 ok",
    "<extra_id_10> <extra_id_5><extra_id_5>x <pad><unk> </s>",
    "Hello世界 mixed123 numbers 4567",
    "\u00a8 \u00b4 \u00b8 combining e\u0301 A\u030a \u212b",
    "   \t\n  ",
    "tab\tnew\nline\r\nend\x0bvt\x0cff",
    "<s> literal and <0x41> text",
    "Café naïve Ångström résumé façade",
]

SHORT_512 = "A cat walks on the grass, realistic style."
LONG_512 = " ".join(CORPUS[i % 14] for i in range(40))

UMT5_LAYOUT_PROMPTS = [
    "A cat walks on the grass.",
    "\U0001f642 cat \U0001f642\U0001f642 zebra xylophone",
    "狗在跑",
    "a <unk> b </s> <extra_id_0>",
    "",
]


def _varint(data, i):
    result = shift = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, i


def _proto_fields(data):
    """(field number, value) of a serialized protobuf message (no protobuf package needed)."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            n, i = _varint(data, i)
            value, i = data[i:i + n], i + n
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        else:
            raise ValueError(f"wire type {wire}")
        yield field, value


def _precompiled_charsmap(model_bytes):
    # ModelProto.normalizer_spec (3) -> NormalizerSpec.precompiled_charsmap (2).
    for field, value in _proto_fields(model_bytes):
        if field == 3:
            for sub, charsmap in _proto_fields(value):
                if sub == 2:
                    return charsmap or None
    return None


def train_tokenizer(tokenizer_dir, extra_ids, corpus=None, **trainer_args):
    """Trains a SentencePiece model on `corpus` (default: CORPUS) and saves it as transformers
    would ship it (T5Tokenizer). Returns the SentencePiece size and the tokenizer as loaded back."""
    model = io.BytesIO()
    sentences = list(corpus) if corpus is not None else CORPUS * 3
    spm.SentencePieceTrainer.train(sentence_iterator=iter(sentences), model_writer=model,
                                   model_type="unigram", character_coverage=1.0,
                                   hard_vocab_limit=False, num_threads=1,
                                   seed_sentencepiece_size=100000, **trainer_args)
    model_bytes = model.getvalue()
    os.makedirs(tokenizer_dir, exist_ok=True)
    with open(os.path.join(tokenizer_dir, "spiece.model"), "wb") as f:
        f.write(model_bytes)
    # What transformers 5.x does when it converts spiece.model (its converter needs the protobuf
    # package, absent here): vocabulary with scores, the <extra_id_N> sentinels appended in reverse
    # order, the model's precompiled normaliser.
    processor = spm.SentencePieceProcessor(model_proto=model_bytes)
    vocab = [(processor.id_to_piece(i), processor.get_score(i))
             for i in range(processor.get_piece_size())]
    vocab += [(f"<extra_id_{i}>", 0.0) for i in range(extra_ids - 1, -1, -1)]
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=extra_ids,
                            _spm_precompiled_charsmap=_precompiled_charsmap(model_bytes))
    tokenizer.save_pretrained(tokenizer_dir)
    # Load it back as WanPipeline.from_pretrained does (tokenizer.json + tokenizer_config.json).
    return processor.get_piece_size(), AutoTokenizer.from_pretrained(tokenizer_dir)


def _tokenize(tokenizer, prompts, max_length):
    """The tokenizer call of WanPipeline._get_t5_prompt_embeds, on cleaned prompts."""
    cleaned = [pipeline_wan.prompt_clean(p) for p in prompts]
    out = tokenizer(cleaned, padding="max_length", max_length=max_length, truncation=True,
                    add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
    return cleaned, out.input_ids, out.attention_mask


def _utf8(text):
    """A string as a U8 tensor (safetensors holds no strings)."""
    return torch.tensor(list(text.encode("utf-8")), dtype=torch.uint8)


def _prompt_embeds(tokenizer, text_encoder, prompts, max_length):
    """Runs diffusers' own WanPipeline._get_t5_prompt_embeds on a stand-in pipeline object."""
    pipe = types.SimpleNamespace(tokenizer=tokenizer, text_encoder=text_encoder,
                                 _execution_device=torch.device("cpu"))
    with torch.no_grad():
        return pipeline_wan.WanPipeline._get_t5_prompt_embeds(
            pipe, prompt=prompts, max_sequence_length=max_length, device=torch.device("cpu"))


def _negative_embeds(tokenizer, text_encoder, max_length):
    """encode_prompt's negative_prompt_embeds for the default negative prompt (None -> "")."""
    pipe = types.SimpleNamespace(tokenizer=tokenizer, text_encoder=text_encoder,
                                 _execution_device=torch.device("cpu"))
    pipe._get_t5_prompt_embeds = types.MethodType(pipeline_wan.WanPipeline._get_t5_prompt_embeds,
                                                  pipe)
    with torch.no_grad():
        _, negative = pipeline_wan.WanPipeline.encode_prompt(
            pipe, prompt="x", negative_prompt=None, do_classifier_free_guidance=True,
            max_sequence_length=max_length, device=torch.device("cpu"))
    return negative


def generate(out_dir):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(SEED)
    golden = {}

    # Tokenizers.
    tokenizer_dir = os.path.join(out_dir, "tokenizer")
    shutil.rmtree(tokenizer_dir, ignore_errors=True)
    spm_size, tokenizer = train_tokenizer(tokenizer_dir, EXTRA_IDS, vocab_size=160, pad_id=0,
                                           eos_id=1, unk_id=2, bos_id=-1)
    layout_dir = os.path.join(out_dir, "tokenizer_umt5_layout")
    shutil.rmtree(layout_dir, ignore_errors=True)
    _, layout_tokenizer = train_tokenizer(layout_dir, 5, vocab_size=400, pad_id=0, eos_id=1,
                                           bos_id=2, unk_id=3, byte_fallback=True,
                                           normalization_rule_name="identity")

    # The text encoder: embedding rows padded beyond the tokenizer (as umT5's 256384 > 256300).
    vocab_size = (spm_size + EXTRA_IDS + 15) // 16 * 16
    config = UMT5Config(vocab_size=vocab_size, d_model=32, d_kv=8, d_ff=64, num_layers=2,
                        num_heads=4, relative_attention_num_buckets=32,
                        relative_attention_max_distance=128, feed_forward_proj="gated-gelu",
                        layer_norm_epsilon=1e-6)
    model = UMT5EncoderModel(config).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.2)
    encoder_dir = os.path.join(out_dir, "text_encoder")
    shutil.rmtree(encoder_dir, ignore_errors=True)
    model.save_pretrained(encoder_dir, safe_serialization=True)
    encoders = {
        name: UMT5EncoderModel.from_pretrained(encoder_dir, dtype=dtype).eval()
        for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16),
                            ("fp16", torch.float16))
    }

    # Main prompts: tokenizer, encoder, pipeline embeds.
    cleaned, ids, mask = _tokenize(tokenizer, PROMPTS, MAX_LENGTH)
    for i, (prompt, clean) in enumerate(zip(PROMPTS, cleaned)):
        golden[f"prompt.{i}"] = _utf8(prompt)
        golden[f"cleaned.{i}"] = _utf8(clean)
    golden["ids"], golden["mask"] = ids, mask
    with torch.no_grad():
        for name, encoder in encoders.items():
            golden[f"{name}.hidden"] = encoder(ids, mask).last_hidden_state
    for name in ("fp32", "bf16"):
        golden[f"{name}.embeds"] = _prompt_embeds(tokenizer, encoders[name], PROMPTS, MAX_LENGTH)
    golden["negative.bf16.embeds"] = _negative_embeds(tokenizer, encoders["bf16"], MAX_LENGTH)

    # Tokenizer-only cases.
    cleaned, ids, mask = _tokenize(tokenizer, TOKENIZER_PROMPTS, TOKENIZER_MAX_LENGTH)
    for i, (prompt, clean) in enumerate(zip(TOKENIZER_PROMPTS, cleaned)):
        golden[f"tok.prompt.{i}"] = _utf8(prompt)
        golden[f"tok.cleaned.{i}"] = _utf8(clean)
    golden["tok.ids"], golden["tok.mask"] = ids, mask

    # The pipeline's default length.
    prompts_512 = [SHORT_512, LONG_512]
    _, ids, mask = _tokenize(tokenizer, prompts_512, 512)
    assert mask[1].all(), "LONG_512 must exceed 511 tokens"
    for i, prompt in enumerate(prompts_512):
        golden[f"len512.prompt.{i}"] = _utf8(prompt)
    golden["len512.ids"], golden["len512.mask"] = ids, mask
    golden["len512.bf16.embeds"] = _prompt_embeds(tokenizer, encoders["bf16"], prompts_512, 512)

    # umT5's special-token layout.
    _, ids, mask = _tokenize(layout_tokenizer, UMT5_LAYOUT_PROMPTS, UMT5_LAYOUT_MAX_LENGTH)
    for i, prompt in enumerate(UMT5_LAYOUT_PROMPTS):
        golden[f"umt5_layout.prompt.{i}"] = _utf8(prompt)
    golden["umt5_layout.ids"], golden["umt5_layout.mask"] = ids, mask

    safetensors.torch.save_file({k: v.contiguous() for k, v in golden.items()},
                                os.path.join(out_dir, "text_golden.safetensors"))
