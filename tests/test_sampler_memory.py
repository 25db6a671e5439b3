"""Memory of a decoding step (issue 27): the full-vocabulary logits stay in the model's dtype and
only the sampler's window is upcast, so a step at batch 32 never holds fp32 logits of every
position.  Native LLaDA in bf16 on the CPU at a scaled shape; every tensor the step's operators
create is recorded (a dispatch mode), which bounds the step's peak by its largest tensors."""
from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from workers.models import load_model
from workers.models.random_checkpoint import tiny_tokenizer, write_random_checkpoint
from workers.samplers import make_sampler

B, G, W, V = 32, 16, 4, 256


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


@pytest.fixture(scope="module")
def bf16_llada(tmp_path_factory):
    folder = write_random_checkpoint(tmp_path_factory.mktemp("mem") / "llada", "llada", seed=3,
                                     tokenizer=tiny_tokenizer("<|eot_id|>"), d_model=32, n_heads=4,
                                     n_kv_heads=4, n_layers=1, mlp_hidden_size=48, vocab_size=V,
                                     embedding_size=V, mask_token_id=V - 8, eos_token_id=2, pad_token_id=0)
    return load_model(str(folder), device="cpu", dtype="bfloat16")


def test_a_step_at_batch_32_upcasts_only_its_window(bf16_llada):
    prompts = [[5 + (i % 7), 9, 11 + (i % 3)] for i in range(B)]
    L = len(prompts[0]) + G
    s = make_sampler("confidence")
    with Largest() as seen:
        out = s.generate(bf16_llada, prompts, gen_length=G, block_length=W, seeds=list(range(B)))
    assert len(out.tokens) == B
    # the model's forward: bf16 logits of every position, once
    assert seen.numel[torch.bfloat16] <= B * L * V
    # fp32: the window only (nothing of size B x G x V, let alone B x L x V)
    assert seen.numel.get(torch.float32, 0) <= B * W * V, (seen.numel, B * W * V)
