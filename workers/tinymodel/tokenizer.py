"""Character-level tokenizer for the tiny model, built with the ``tokenizers`` library.

Vocabulary: the special tokens ``<|pad|>``, ``<|mask|>``, ``<|eos|>``, ``<|unk|>`` (ids 0-3),
then newline and the 95 printable ASCII characters (space .. ``~``): 100 ids in all.  Saved with
``save_pretrained`` as a ``PreTrainedTokenizerFast`` (tokenizer.json + tokenizer_config.json), so
``AutoTokenizer.from_pretrained(dir)`` loads it offline.  Characters outside the vocabulary
(tabs, non-ASCII) become ``<|unk|>`` rather than failing.
"""
from __future__ import annotations

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

PAD, MASK, EOS, UNK = "<|pad|>", "<|mask|>", "<|eos|>", "<|unk|>"
SPECIAL_TOKENS = [PAD, MASK, EOS, UNK]
CHARS = ["\n"] + [chr(c) for c in range(32, 127)]


def build_tokenizer(model_max_length: int = 512) -> PreTrainedTokenizerFast:
    """A fresh character-level ``PreTrainedTokenizerFast`` (left padding, no chat template)."""
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS + CHARS)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    # Every character is its own pre-token ([\s\S] also matches newlines); Fuse joins on decode
    # without inserting spaces.
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens(SPECIAL_TOKENS)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=PAD,
        mask_token=MASK,
        eos_token=EOS,
        unk_token=UNK,
        padding_side="left",
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
    )
