"""The character-level tokenizer: vocabulary, special tokens, round trip, AutoTokenizer loading."""
from __future__ import annotations

from transformers import AutoTokenizer, PreTrainedTokenizerFast

from workers.tinymodel.tokenizer import CHARS, EOS, MASK, PAD, UNK, build_tokenizer

ALL_CHARS = "".join(CHARS)


def test_vocabulary_is_printable_ascii_newline_and_specials():
    tok = build_tokenizer()
    assert len(tok) == 100
    assert set(CHARS) == {chr(c) for c in range(32, 127)} | {"\n"}
    assert (tok.mask_token, tok.pad_token, tok.eos_token, tok.unk_token) == (MASK, PAD, EOS, UNK)
    assert len({tok.mask_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id}) == 4
    assert tok.chat_template is None and tok.padding_side == "left"


def test_one_token_per_character_and_exact_round_trip():
    tok = build_tokenizer()
    for text in [ALL_CHARS, "Numbers: 3 5 7 Target: 22\n", "  two  spaces \n\n", "\\boxed{42}", ""]:
        ids = tok.encode(text, add_special_tokens=False)
        assert len(ids) == len(text)
        assert tok.decode(ids) == text


def test_special_tokens_and_unknown_characters():
    tok = build_tokenizer()
    ids = tok.encode("a<|mask|>b", add_special_tokens=False)
    assert ids[1] == tok.mask_token_id and len(ids) == 3
    ids = tok.encode("a\tb\u00e9", add_special_tokens=False)
    assert ids[1] == tok.unk_token_id and ids[3] == tok.unk_token_id


def test_saved_tokenizer_loads_with_autotokenizer(tmp_path):
    build_tokenizer().save_pretrained(tmp_path)
    assert (tmp_path / "tokenizer.json").is_file()
    tok = AutoTokenizer.from_pretrained(tmp_path)
    assert isinstance(tok, PreTrainedTokenizerFast)
    assert tok.decode(tok.encode(ALL_CHARS)) == ALL_CHARS
    assert tok.mask_token == MASK and tok.eos_token == EOS and tok.pad_token == PAD
