"""Native LLaDA / Dream / WeDLM vs the published modelling code: logits (fp32) and forward time.

    python -m benchmarks.check_native_exact --family llada --code DIR [--d-model 256 --layers 4]
    python -m benchmarks.check_native_exact --family dream --code DIR
    python -m benchmarks.check_native_exact --family wedlm --code DIR

``DIR`` holds the published files (LLaDA: configuration_llada.py, modeling_llada.py (imports
einops); Dream: configuration_dream.py, modeling_dream.py, generation_utils.py; WeDLM:
configuration_wedlm.py, modeling_wedlm.py, i.e. Tencent/WeDLM's hf_compat/), fetched by you
from the model's hub repository or a copy of it (e.g. NVlabs/Fast-dLLM's llada/model and
dream/model); they are not part of this project.  WeDLM is compared on its reordered forward
(filled tokens first, masks after, logical position ids; ``native_wedlm.reordered_logits`` on both
models), unpadded and on a ragged left-padded batch (real rows only), and with the Qwen3 options
(q/k norm, no attention bias) and the Qwen2.5 ones (attention bias, no q/k norm).  The script builds a random model *with that
code* at a small shape, saves it as a checkpoint folder, loads it with the native module and
prints the max abs logit difference (batches of lengths 1-256; Dream also with left padding
through its 4-D mask) and the forward time native / published (median of turns, 1 thread).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch


def import_published(code: Path, scratch: Path, module: str):
    """Import one of the published files as a package module (they use relative imports)."""
    pkg = scratch / "published_code"
    if not pkg.is_dir():
        shutil.copytree(code, pkg, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
        (pkg / "__init__.py").write_text("")
    if "published_code" not in sys.modules:  # the package from its folder, no search-path edit
        spec = importlib.util.spec_from_file_location("published_code", pkg / "__init__.py",
                                                      submodule_search_locations=[str(pkg)])
        sys.modules["published_code"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["published_code"])
    return importlib.import_module(f"published_code.{module}")


def build_published(family: str, code: Path, scratch: Path, out: Path, d: int, layers: int,
                    qk_norm: bool = True) -> None:
    """A random model built and saved by the published code (weights drawn wider than its init)."""
    if family == "llada":
        C = import_published(code, scratch, "configuration_llada").LLaDAConfig
        M = import_published(code, scratch, "modeling_llada").LLaDAModelLM
        cfg = C(d_model=d, n_heads=4, n_kv_heads=4, n_layers=layers, mlp_hidden_size=3 * d, vocab_size=300,
                embedding_size=300, max_sequence_length=512, rope_theta=500000.0, rms_norm_eps=1e-5,
                block_type="llama", layer_norm_type="rms", activation_type="silu", include_bias=False,
                include_qkv_bias=False, weight_tying=False, rope=True, rope_full_precision=True,
                scale_logits=False, input_emb_norm=False, mask_token_id=290, eos_token_id=281, pad_token_id=281,
                init_device="cpu", flash_attention=False, alibi=False, attention_layer_norm=False)
        model = M(cfg, init_params=True)
    elif family == "wedlm":
        C = import_published(code, scratch, "configuration_wedlm").WeDLMConfig
        M = import_published(code, scratch, "modeling_wedlm").WeDLMForCausalLM
        cfg = C(vocab_size=300, hidden_size=d, intermediate_size=3 * d, num_hidden_layers=layers,
                num_attention_heads=4, num_key_value_heads=2, head_dim=d // 4, max_position_embeddings=512,
                rope_theta=1e6, rms_norm_eps=1e-6, tie_word_embeddings=False, attention_bias=not qk_norm,
                qk_norm=qk_norm, mask_token_id=290, pad_token_id=281, bos_token_id=281, eos_token_id=282)
        cfg._attn_implementation = "sdpa"
        model = M(cfg)
    else:
        C = import_published(code, scratch, "configuration_dream").DreamConfig
        M = import_published(code, scratch, "modeling_dream").DreamModel
        cfg = C(vocab_size=300, hidden_size=d, intermediate_size=3 * d, num_hidden_layers=layers,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, rope_theta=1e6,
                rms_norm_eps=1e-6, tie_word_embeddings=False, mask_token_id=290, pad_token_id=281,
                bos_token_id=281, eos_token_id=281)
        cfg._attn_implementation = "sdpa"
        model = M(cfg)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            torch.nn.init.normal_(p, std=0.2) if p.dim() > 1 else torch.nn.init.uniform_(p, 0.5, 1.5)
    model.eval().save_pretrained(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", choices=["llada", "dream", "wedlm"], required=True)
    ap.add_argument("--code", type=Path, required=True, help="folder with the published modelling files")
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--turns", type=int, default=15)
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.family == "wedlm":
        return check_wedlm(args)
    from workers.models.dream import dream_attention
    from workers.models.native_dream import NativeDream
    from workers.models.native_llada import NativeLLaDA

    with tempfile.TemporaryDirectory() as scratch, tempfile.TemporaryDirectory() as tmp:
        build_published(args.family, args.code, Path(scratch), Path(tmp), args.d_model, args.layers)
        M = import_published(args.code, Path(scratch), "modeling_llada" if args.family == "llada" else "modeling_dream")
        if args.family == "llada":
            pub = M.LLaDAModelLM.from_pretrained(tmp, dtype=torch.float32).eval()
            published = lambda x, m=None: pub(input_ids=x).logits  # noqa: E731
            native = NativeLLaDA.from_folder(tmp)
        else:
            pub = M.DreamModel.from_pretrained(tmp, dtype=torch.float32, attn_implementation="sdpa").eval()
            published = lambda x, m=None: pub(x, *(("full", None) if m is None else dream_attention(m))).logits  # noqa: E731
            native = NativeDream.from_folder(tmp)
    g = torch.Generator().manual_seed(0)
    worst, padded = 0.0, None
    with torch.no_grad():
        for L in (1, 7, 40, 130, 256):
            x = torch.randint(0, 280, (3, L), generator=g)
            worst = max(worst, float((published(x) - native(x).logits).abs().max()))
        if args.family == "dream":
            x = torch.randint(0, 280, (2, 20), generator=g)
            m = torch.ones_like(x)
            m[0, :6] = 0
            padded = float((published(x, m) - native(x, m).logits)[m.bool()].abs().max())
        x = torch.randint(0, 280, (4, 256), generator=g)
        tp, tn = [], []
        for _ in range(args.turns):
            for f, acc in ((lambda: published(x), tp), (lambda: native(x), tn)):
                t0 = time.perf_counter()
                f()
                acc.append(time.perf_counter() - t0)
    mp, mn = statistics.median(tp), statistics.median(tn)
    print(f"{args.family} d={args.d_model} layers={args.layers}: max abs logit diff native vs published (fp32) "
          f"{worst:.3g}" + ("" if padded is None else f", left-padded rows {padded:.3g}"))
    print(f"forward 4x256: published {mp * 1e3:.1f} ms, native {mn * 1e3:.1f} ms, native/published {mn / mp:.3f}")


def wedlm_canvases(g: torch.Generator, B: int, L: int, mask_id: int) -> torch.Tensor:
    """Random canvases whose second half is a window: random masks among filled tokens."""
    x = torch.randint(0, 280, (B, L), generator=g)
    h = L // 2
    holes = torch.rand(B, L - h, generator=g) < 0.6
    x[:, h:] = torch.where(holes, torch.full_like(x[:, h:], mask_id), x[:, h:])
    return x


def check_wedlm(args: argparse.Namespace) -> None:
    """Reordered forward of the native WeDLM vs the published WeDLMForCausalLM (fp32)."""
    from workers.models.native_wedlm import NativeWeDLM, reordered_logits

    mask_id, pad_id = 290, 281
    for qk_norm in (True, False):
        with tempfile.TemporaryDirectory() as scratch, tempfile.TemporaryDirectory() as tmp:
            build_published("wedlm", args.code, Path(scratch), Path(tmp), args.d_model, args.layers, qk_norm)
            M = import_published(args.code, Path(scratch), "modeling_wedlm")
            pub = M.WeDLMForCausalLM.from_pretrained(tmp, dtype=torch.float32, attn_implementation="sdpa").eval()
            native = NativeWeDLM.from_folder(tmp)
        g = torch.Generator().manual_seed(0)
        worst = padded = 0.0
        with torch.no_grad():
            for L in (1, 7, 40, 130, 256):
                x = wedlm_canvases(g, 3, L, mask_id)
                worst = max(worst, float((reordered_logits(pub, x, mask_id) - reordered_logits(native, x, mask_id))
                                         .abs().max()))
            x = wedlm_canvases(g, 5, 48, mask_id)
            m = torch.ones_like(x)
            for b, n in enumerate((0, 3, 9, 17, 1)):   # ragged left padding
                m[b, :n], x[b, :n] = 0, pad_id
            d = (reordered_logits(pub, x, mask_id, m) - reordered_logits(native, x, mask_id, m)).abs()
            padded = float(d[m.bool()].max())
            alone = max(float((reordered_logits(native, x[b:b + 1, int((m[b] == 0).sum()):], mask_id)[0]
                               - reordered_logits(native, x, mask_id, m)[b, int((m[b] == 0).sum()):]).abs().max())
                        for b in range(5))
            x = wedlm_canvases(g, 4, 256, mask_id)
            tp, tn = [], []
            for _ in range(args.turns):
                for f, acc in ((lambda: reordered_logits(pub, x, mask_id), tp),
                               (lambda: reordered_logits(native, x, mask_id), tn)):
                    t0 = time.perf_counter()
                    f()
                    acc.append(time.perf_counter() - t0)
        mp, mn = statistics.median(tp), statistics.median(tn)
        kind = "qk_norm, no bias (Qwen3)" if qk_norm else "attention bias, no qk_norm (Qwen2.5)"
        print(f"wedlm [{kind}] d={args.d_model} layers={args.layers}: max abs logit diff native vs published "
              f"(fp32, reordered forward) {worst:.3g}, ragged left-padded batch (real rows) {padded:.3g}, "
              f"native padded vs alone {alone:.3g}")
        print(f"  forward 4x256: published {mp * 1e3:.1f} ms, native {mn * 1e3:.1f} ms, native/published {mn / mp:.3f}")


if __name__ == "__main__":
    main()
