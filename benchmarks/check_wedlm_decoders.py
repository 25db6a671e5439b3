"""The project's WeDLM decoding vs the published decoders, token for token (prints figures).

    python -m benchmarks.check_wedlm_decoders --code DIR [--prompts 20 --gen 32]

``DIR`` is Tencent/WeDLM's ``hf_compat/`` (configuration_wedlm.py, modeling_wedlm.py), fetched by
you; it is not part of this project.  A random WeDLM is built *with that code* (wide weights, so
the masks' predictions differ; the mask token's output row zeroed, so it is never the argmax),
saved, and loaded by the native module behind the project's adapter.

1. Block mode (``stream_window=0``) vs the published ``generate_wedlm``: that decoder divides the
   logits by its temperature and always takes the argmax token, so it is called at temperature
   1.0 and compared with ``max_prob`` (threshold 0) / ``threshold`` (θ > 0) at τ = 0 and
   block_length = its block_size.  Tokens and forward counts per prompt.
2. Streaming window (W = 16) vs a restatement of the engine's decode loop
   (``wedlm/engine/wedlm_decoder.py`` window refill / prune + ``sampler.py``
   ``select_positions_to_fill`` at τ = 0), run on the *published* HF model (the engine itself
   needs CUDA; its paged KV cache holds the causal keys of the confirmed prefix, which the full
   causal forward recomputes).  The engine's window is not cut at ``max_tokens`` (it keeps
   refilling and stops when the confirmed count reaches it), while the project decodes a fixed
   canvas; so the project decodes G + W positions and the first G are compared — they are decided
   while both windows lie inside [0, G + W).  No stop tokens on either side.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

MASK, PAD, EOS, V = 290, 281, 282, 300


def build(code: Path, scratch: Path, out: Path, d: int, layers: int, std: float):
    from benchmarks.check_native_exact import import_published

    C = import_published(code, scratch, "configuration_wedlm").WeDLMConfig
    M = import_published(code, scratch, "modeling_wedlm").WeDLMForCausalLM
    cfg = C(vocab_size=V, hidden_size=d, intermediate_size=3 * d, num_hidden_layers=layers, num_attention_heads=4,
            num_key_value_heads=2, head_dim=d // 4, max_position_embeddings=1024, rope_theta=1e6, rms_norm_eps=1e-6,
            tie_word_embeddings=False, attention_bias=False, qk_norm=True, mask_token_id=MASK, pad_token_id=PAD,
            bos_token_id=PAD, eos_token_id=EOS)
    cfg._attn_implementation = "sdpa"
    model = M(cfg)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            torch.nn.init.normal_(p, std=std) if p.dim() > 1 else torch.nn.init.uniform_(p, 0.5, 1.5)
        model.lm_head.weight[MASK] = 0.0
    model.eval().save_pretrained(out)
    return M.from_pretrained(out, dtype=torch.float32, attn_implementation="sdpa").eval()


def engine_restatement(pub, prompt: list[int], max_tokens: int, W: int, threshold: float,
                       penalty: float, mask_column: bool = True) -> tuple[list[int], int]:
    """The engine's decode loop at τ = 0 (one sequence), on the published HF model: returns the
    confirmed tokens and the number of forwards that selected positions.  ``mask_column=False``
    drops the mask token from the distributions (the project never proposes it, so its entropies
    leave it out; the engine's ``Categorical(logits=...)`` keeps it)."""
    confirmed = list(prompt)
    window, flags = [MASK] * W, [True] * W
    n_select, generated = 0, 0
    while True:
        # prepare_decode_inputs: _refill_window_masks
        masks = [i for i, f in enumerate(flags) if f]
        prefix_len = masks[0] if masks else len(window)
        window, flags = window + [MASK] * prefix_len, flags + [True] * prefix_len
        # _prepare_window_inputs: non-mask first, logical positions
        order = [i for i, f in enumerate(flags) if not f] + [i for i, f in enumerate(flags) if f]
        n_non_mask = sum(1 for f in flags if not f)
        ids = confirmed + [window[i] for i in order]
        pos = list(range(len(confirmed))) + [len(confirmed) + i for i in order]
        with torch.no_grad():
            logits = pub(input_ids=torch.tensor([ids]), position_ids=torch.tensor([pos])).logits[0, len(confirmed):]
        # process_decode_outputs: prune the confirmed prefix
        masks = [i for i, f in enumerate(flags) if f]
        prune = masks[0] if masks else len(window)
        for t in window[:prune]:
            confirmed.append(t)
            generated += 1
            if generated >= max_tokens:
                return confirmed[len(prompt):], n_select
        window, flags = window[prune:], flags[prune:]
        remaining = [i for i, f in enumerate(flags) if f]
        if not remaining:
            continue
        mask_logits = logits[n_non_mask:].clone()
        if not mask_column:
            mask_logits[:, MASK] = float("-inf")
        entropy = torch.distributions.Categorical(logits=mask_logits).entropy()
        greedy = F.softmax(mask_logits, -1).argmax(-1)
        # select_positions_to_fill
        idx = torch.tensor(remaining, dtype=torch.float)
        adjusted = entropy + (idx - idx[0]) * penalty
        cand = (adjusted < threshold).nonzero(as_tuple=True)[0]
        fill = cand.tolist() if cand.numel() else [int(adjusted.argmin())]
        n_select += 1
        for k in fill:
            window[remaining[k]], flags[remaining[k]] = int(greedy[k]), False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--code", type=Path, required=True, help="Tencent/WeDLM's hf_compat folder")
    ap.add_argument("--prompts", type=int, default=20)
    ap.add_argument("--gen", type=int, default=32)
    ap.add_argument("--block", type=int, default=8)
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--std", type=float, default=0.3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from workers.models.native_wedlm import NativeWeDLM
    from workers.models.random_checkpoint import _Ids
    from workers.models.wedlm import WeDLMDenoiser
    from workers.samplers import make_sampler

    with tempfile.TemporaryDirectory() as scratch, tempfile.TemporaryDirectory() as tmp:
        pub = build(args.code, Path(scratch), Path(tmp), args.d_model, args.layers, args.std)
        native = NativeWeDLM.from_folder(tmp)

    def ours(window):
        return WeDLMDenoiser(native, _Ids(V, MASK, EOS, PAD), name="wedlm-random", mask_id=MASK, eos_id=EOS,
                             pad_id=PAD, stop_ids=(), stream_window=window)

    g = torch.Generator().manual_seed(1)
    prompts = [torch.randint(0, 280, (int(torch.randint(3, 30, (1,), generator=g)),), generator=g).tolist()
               for _ in range(args.prompts)]
    G, B = args.gen, args.block

    # 1. block mode vs generate_wedlm
    block = ours(0)
    for theta in (0.0, 0.05):
        same = steps_same = 0
        distinct = set()
        for p in prompts:
            res = pub.generate_wedlm(torch.tensor([p]), max_new_tokens=G, block_size=B, mask_token_id=MASK,
                                     confidence_threshold=theta, temperature=1.0, pad_token_id=PAD)
            theirs = res["sequences"][0, len(p):].tolist()
            s = make_sampler("max_prob", temperature=0.0) if theta == 0 else make_sampler("threshold", threshold=theta,
                                                                                           temperature=0.0)
            out = s.generate(block, [p], gen_length=G, block_length=B, seeds=[0])
            same += out.tokens[0].tolist() == theirs
            steps_same += out.traces[0].nfe == res["stats"]["per_sample_stats"][0]["total_steps"]
            distinct |= set(theirs)
        print(f"block mode (block {B}, gen {G}) vs generate_wedlm(temperature=1.0, confidence_threshold={theta}): "
              f"tokens equal {same}/{len(prompts)}, forward count equal {steps_same}/{len(prompts)} "
              f"({len(distinct)} distinct tokens generated)")

    # 2. streaming window vs the engine's loop
    W = 16
    stream = ours(W)
    for theta, pen in ((0.4, 0.02), (4.0, 0.02), (4.6, 0.05)):
        same = steps_same = multi = same_nm = 0
        for p in prompts:
            theirs, n_sel = engine_restatement(pub, p, G, W, theta, pen)
            theirs_nm, _ = engine_restatement(pub, p, G, W, theta, pen, mask_column=False)
            out = make_sampler("wedlm", threshold=theta, pos_penalty=pen, temperature=0.0).generate(
                stream, [p], gen_length=G + W, seeds=[0])
            tr = out.traces[0]
            same += out.tokens[0, :G].tolist() == theirs
            same_nm += out.tokens[0, :G].tolist() == theirs_nm
            steps_same += max(tr.commit_step[:G]) + 1 == n_sel
            multi += n_sel < G
        print(f"streaming W={W} vs engine restatement (entropy_threshold={theta}, pos_penalty_factor={pen}, τ=0, "
              f"gen {G}): tokens equal {same}/{len(prompts)} ({same_nm}/{len(prompts)} with the mask token left "
              f"out of the entropies), selecting forwards equal {steps_same}/{len(prompts)} "
              f"(prompts with parallel commits: {multi})")


if __name__ == "__main__":
    main()
