"""Memory of a decoding step (issue 27): the model computes logits only at the positions the step
reads (each row's window), so no vocabulary-sized tensor of a step at batch 32 exceeds B·W·V, in
any dtype — neither the model's bf16 logits nor the sampler's fp32 window.  Native LLaDA, Dream
(shifted rows) and WeDLM (reordered, streaming window) in bf16 on the CPU at a scaled shape; every
tensor the step's operators create is recorded (a dispatch mode), which bounds the step's peak by
its largest tensors."""
from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from workers.batching import generate_continuous
from workers.models import load_model
from workers.models.random_checkpoint import tiny_tokenizer, write_random_checkpoint
from workers.samplers import make_sampler

B, G, W, V = 32, 16, 4, 256
SHAPES = {
    "llada": dict(d_model=32, n_heads=4, n_kv_heads=4, n_layers=1, mlp_hidden_size=48, vocab_size=V,
                  embedding_size=V),
    "dream": dict(hidden_size=32, intermediate_size=48, num_hidden_layers=1, num_attention_heads=4,
                  num_key_value_heads=2, vocab_size=V),
    "wedlm": dict(hidden_size=32, intermediate_size=48, num_hidden_layers=1, num_attention_heads=4,
                  num_key_value_heads=2, head_dim=8, vocab_size=V),
}


class Largest(TorchDispatchMode):
    """The largest vocabulary-sized (last dim V) tensor each operator produced, per dtype."""

    def __init__(self) -> None:
        super().__init__()
        self.numel: dict[torch.dtype, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(t, torch.Tensor) and t.is_floating_point() and t.dim() and t.shape[-1] == V:
                self.numel[t.dtype] = max(self.numel.get(t.dtype, 0), t.numel())
        return out


@pytest.fixture(scope="module", params=sorted(SHAPES))
def bf16_model(request, tmp_path_factory):
    family = request.param
    folder = write_random_checkpoint(tmp_path_factory.mktemp("mem") / family, family, seed=3,
                                     tokenizer=tiny_tokenizer("<|eot_id|>"), mask_token_id=V - 8,
                                     eos_token_id=2, pad_token_id=0, **SHAPES[family])
    return load_model(str(folder), device="cpu", dtype="bfloat16")


def prompts(n: int) -> list[list[int]]:
    return [[5 + (i % 7), 9, 11 + (i % 3)][: 2 + i % 2] for i in range(n)]   # ragged: left padding


def largest(model, sampler, continuous: bool = False) -> dict[torch.dtype, int]:
    with Largest() as seen:
        if continuous:   # rows join at different steps, so they decode different blocks at once
            out, _ = generate_continuous(sampler, model, prompts(2 * B), G, W, list(range(2 * B)), width=B)
        else:
            out = sampler.generate(model, prompts(B), gen_length=G, block_length=W, seeds=list(range(B)))
    assert all(tr.nfe > 0 for tr in out.traces)
    return seen.numel


def test_a_step_at_batch_32_holds_no_vocabulary_tensor_beyond_its_window(bf16_model):
    seen = largest(bf16_model, make_sampler("confidence"))
    assert seen and max(seen.values()) <= B * W * V, (bf16_model.name, seen, B * W * V)


def test_rows_in_different_blocks_forward_their_own_windows(bf16_model):
    """Continuous batching (the sweeps' path) mixes rows at different blocks in one forward: each
    row's logits are its own window, not the span from the earliest block to the latest."""
    seen = largest(bf16_model, make_sampler("threshold", threshold=0.5), continuous=True)
    assert max(seen.values()) <= B * W * V, (bf16_model.name, seen, B * W * V)


def test_the_bound_fails_when_every_position_is_forwarded(bf16_model):
    """The instrument can fail: the layout before issue 27 (logits of every generated position,
    ``full_logits``) exceeds B·W·V, and so does a model without ``positions`` (sliced after a
    forward of every position, prompt included)."""
    s = make_sampler("confidence")
    s.full_logits = True
    assert max(largest(bf16_model, s).values()) >= B * G * V

    class NoPositions:   # the same model behind the plain contract: logits(x, attention_mask)
        def __init__(self, m):
            self.m, self.mask_id, self.vocab_size = m, m.mask_id, m.vocab_size
            self.pad_id, self.eos_id, self.device = m.pad_id, m.eos_id, m.device
            self.stream_window = getattr(m, "stream_window", None)

        def logits(self, x, attention_mask=None):
            return self.m.logits(x, attention_mask=attention_mask)

    assert max(largest(NoPositions(bf16_model), make_sampler("confidence")).values()) > B * G * V
