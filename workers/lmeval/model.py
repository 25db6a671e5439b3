"""The lm-eval model ``dllm``: any project model and sampler behind lm-evaluation-harness.

    lm_eval --model dllm --model_args model=tiny,sampler=threshold,threshold=0.9,gen_length=256,block_length=32 \\
            --tasks gsm8k --num_fewshot 5            # after `import workers.lmeval.model`, or:
    dllm-lm-eval --model_args ... --tasks gsm8k      # the console script registers it first

``model_args`` (comma-separated ``key=value``, as lm-eval parses them):

* ``model`` (alias ``pretrained``): a preset, a checkpoint folder or a hub id (``load_model``);
  ``impl``, ``trust_remote_code``, ``dtype``; ``device`` comes from lm-eval's ``--device``;
* ``sampler`` (default ``confidence``) and its knobs: every key not listed here goes to
  ``make_sampler`` (``threshold=0.9``, ``temperature=0``, ``alpha=4``...), checked at start-up;
* ``gen_length``: tokens generated per request.  Unset: the request's ``max_gen_toks`` (lm-eval's
  default 256).  Set: it wins over ``max_gen_toks``, as in LLaDA's and Fast-dLLM's evaluation scripts;
* ``block_length``: unset, the largest divisor of the generation length up to 32 (256 -> 32,
  48 -> 16: the ``lm_eval:`` sweep task's rule); set, the generation is rounded up to whole blocks
  and the completion cut back to ``max_gen_toks`` tokens; ``cache``: ``none``, ``prefix`` or
  ``dual`` (``workers.prefix_cache``);
* ``seed`` (default 0): every request's sample seed, as a sweep row's ``seed``; the k-th repeat of
  an identical request (lm-eval ``repeats``) gets ``seed + k``;
* ``batch_size`` (lm-eval's ``--batch_size``): requests per ``generate`` call; prompts of any
  lengths share a batch, and the samplers' per-sample random streams make every output independent
  of its batch (docs/design.md §3);
* ``elbo_draws`` (default 128, LLaDA's), ``elbo_batch``: the Monte Carlo ELBO of ``loglikelihood``
  (``workers.lmeval.elbo``); ``greedy_check``: compute ``is_greedy`` by decoding the continuation
  greedily one token a step (LLaDA's check; L forwards a request), else it is reported False;
* ``trace_out``: a JSONL file that gets one row per generate request (task, doc_id, seed,
  gen/block length, ``nfe``, ``forward_rows``, ``tokens``, ``bits``): lm-eval's sample logs have no
  place for a model's own counters;
* ``add_special_tokens`` (default: True for plain prompts, as LLaDA's evaluation tokenises them;
  False once lm-eval renders a chat template, which carries its own BOS), ``think_end_token``.

Generation parameters of the task other than the stop strings and the token budget (``do_sample``,
``temperature``...) are not applied: decoding is the sampler's, set in ``model_args``; the first
such request logs which keys were ignored.  ``loglikelihood_rolling`` (perplexity tasks) raises one
error: a masked diffusion model gives no left-to-right token likelihoods.
"""
from __future__ import annotations

import collections
import json
import logging
import math
from pathlib import Path
from typing import Any, Optional, Union

from workers.lmeval import MODEL_NAME, require_lm_eval

require_lm_eval()

from lm_eval.api.model import LM  # noqa: E402
from lm_eval.api.registry import register_model  # noqa: E402

from workers.lmeval import text as T  # noqa: E402
from workers.lmeval.elbo import DEFAULT_DRAWS, elbo  # noqa: E402

log = logging.getLogger(__name__)
CACHE_MODES: dict[str, Union[bool, str]] = {"none": False, "prefix": "prefix", "dual": "dual"}
DEFAULT_BLOCK = 32
UNSUPPORTED_ROLLING = ("dllm: loglikelihood_rolling (perplexity tasks such as wikitext) is not supported: a masked "
                       "diffusion model gives no left-to-right token likelihoods; use generate_until tasks or "
                       "loglikelihood (multiple-choice) tasks, which dllm scores by the ELBO")
# generation kwargs that dllm reads; everything else in a request's gen_kwargs is the sampler's business
_READ_KWARGS = {"until", "max_gen_toks", "max_new_tokens", "max_tokens", "max_completion_tokens"}


def _flag(v: Any) -> bool:
    return v if isinstance(v, bool) else str(v).strip().lower() in ("1", "true", "yes", "on")


@register_model(MODEL_NAME)
class DLLMEvalLM(LM):
    """lm-eval's ``LM`` over ``load_model`` + ``make_sampler`` (module docstring for the arguments)."""

    def __init__(self, model: Optional[str] = None, pretrained: Optional[str] = None, sampler: str = "confidence",
                 gen_length: Optional[int] = None, block_length: Optional[int] = None, cache: str = "none",
                 seed: int = 0, batch_size: Union[int, str] = 8, max_batch_size: Optional[int] = None,
                 device: Optional[str] = None, dtype: Optional[str] = None, impl: Optional[str] = None,
                 trust_remote_code: Optional[bool] = None, elbo_draws: int = DEFAULT_DRAWS, elbo_batch: int = 32,
                 greedy_check: bool = False, trace_out: Optional[str] = None,
                 add_special_tokens: Optional[bool] = None, think_end_token: Optional[str] = None,
                 **sampler_params: Any) -> None:
        super().__init__()
        from workers.models import load_model
        from workers.samplers import make_sampler

        name = model if model is not None else pretrained
        if name is None:
            raise ValueError("dllm: model_args need model=<preset, checkpoint folder or hub id>")
        if cache not in CACHE_MODES:
            raise ValueError(f"dllm: cache must be one of {', '.join(CACHE_MODES)}, got {cache!r}")
        self.sampler = make_sampler(sampler, **sampler_params)   # unknown knobs: one-line ValueError
        self.sampler_name = sampler
        self.gen_length = None if gen_length is None else int(gen_length)
        self.block_length = None if block_length is None else int(block_length)
        if self.gen_length is not None and self.block_length is not None and self.gen_length % self.block_length:
            raise ValueError(f"dllm: block_length {self.block_length} does not divide gen_length {self.gen_length}")
        self.cache = CACHE_MODES[cache]
        self.seed = int(seed)
        # lm-eval's "auto" batch size probes memory with a causal LM; dllm's batches are per call
        self.batch_size = int(batch_size) if str(batch_size).isdigit() and int(batch_size) > 0 else 8
        self.elbo_draws, self.elbo_batch = int(elbo_draws), int(elbo_batch)
        self.greedy_check = _flag(greedy_check)
        self.trace_out = None if trace_out is None else Path(trace_out)
        self.add_special_tokens = None if add_special_tokens is None else _flag(add_special_tokens)
        self.think_end_token = think_end_token
        self.model_name = str(name)
        if device is not None and str(device).startswith("cuda"):
            import torch

            if not torch.cuda.is_available():   # lm-eval's CLI asks for cuda:0 unless told otherwise
                log.warning("dllm: device %s requested but CUDA is not available; using the CPU", device)
                device = None
        self.model = load_model(self.model_name, device=device, dtype=dtype, impl=impl,
                                trust_remote_code=None if trust_remote_code is None else _flag(trust_remote_code))
        self._device = self.model.device
        self.tokenizer = self.model.tokenizer
        cfg = getattr(self.model.model, "config", None)
        self.max_length: Optional[int] = getattr(cfg, "max_position_embeddings", None)
        eos = self.model.eos_id
        self.eos_text = None if eos is None else self.tokenizer.decode([eos], skip_special_tokens=False)
        self._chat = False          # set once lm-eval renders a chat template through us
        self._warned: set[str] = set()
        self.traces: list[dict[str, Any]] = []

    # ------------------------------------------------------------------------- chat templates
    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        self._chat = True
        return T.render_chat(self.tokenizer, chat_history, add_generation_prompt)

    @property
    def tokenizer_name(self) -> str:
        return self.model_name.replace("/", "__")

    def chat_template(self, chat_template: Union[bool, str] = False) -> Optional[str]:
        return getattr(self.tokenizer, "chat_template", None) or ""

    def _specials(self) -> bool:
        return self.add_special_tokens if self.add_special_tokens is not None else not self._chat

    # ------------------------------------------------------------------------- generate_until
    def _lengths(self, gen_kwargs: dict[str, Any]) -> tuple[int, int, int]:
        """(generated tokens, block length, tokens kept) for one request."""
        budget = T.max_gen_toks(gen_kwargs)
        if self.gen_length is not None:
            G = self.gen_length
            block = min(self.block_length, G) if self.block_length else math.gcd(G, DEFAULT_BLOCK)
            if G % block:
                raise ValueError(f"dllm: block_length {block} does not divide gen_length {G}")
            return G, block, G
        if not self.block_length:
            return budget, math.gcd(budget, DEFAULT_BLOCK), budget
        block = min(self.block_length, budget)
        return block * math.ceil(budget / block), block, budget

    def _fit(self, ids: list[int], room: int) -> list[int]:
        """Left-truncate a prompt so prompt + ``room`` fits the model's positions (as lm-eval's hf)."""
        if self.max_length is not None and len(ids) + room > self.max_length:
            keep = self.max_length - room
            if keep < 1:
                raise ValueError(f"dllm: {room} tokens do not fit the model's {self.max_length} positions")
            return ids[-keep:]
        return ids

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        seen: collections.Counter = collections.Counter()
        jobs: dict[tuple[int, int], list[tuple[int, list[int], int, int, list[str]]]] = {}
        for i, req in enumerate(requests):
            context, gen_kwargs = req.args[0], dict(req.args[1] or {})
            ignored = sorted(set(gen_kwargs) - _READ_KWARGS)
            if ignored and "kwargs" not in self._warned:
                self._warned.add("kwargs")
                log.warning("dllm: generation kwargs %s are not applied; decoding follows the sampler "
                            "(%s %s) from model_args", ignored, self.sampler_name, self.sampler.params)
            until = T.stop_strings(gen_kwargs.get("until"), self.eos_text)
            G, block, keep = self._lengths(gen_kwargs)
            key = json.dumps([context, gen_kwargs], sort_keys=True, default=str)
            seed = self.seed + seen[key]   # repeats of one request: distinct, reproducible samples
            seen[key] += 1
            ids = self._fit(T.encode(self.tokenizer, context, self._specials()), G)
            jobs.setdefault((G, block), []).append((i, ids, seed, keep, until))
        out: list[Optional[str]] = [None] * len(requests)
        for (G, block), group in jobs.items():
            for s in range(0, len(group), self.batch_size):
                chunk = group[s:s + self.batch_size]
                res = self.sampler.generate(self.model, [c[1] for c in chunk], G, block, [c[2] for c in chunk],
                                            prefix_cache=self.cache)
                for j, (i, ids, seed, keep, until) in enumerate(chunk):
                    text = self.model.decode(res.tokens[j][:keep])
                    out[i] = T.cut_at_stops(text, until, self.think_end_token)
                    self._trace(requests[i], res.traces[j], seed, G, block, len(ids))
                    self.cache_hook.add_partial("generate_until", requests[i].args, out[i])
        return [o if o is not None else "" for o in out]

    def _trace(self, req: Any, trace: Any, seed: int, G: int, block: int, prompt_tokens: int) -> None:
        row = {"task": getattr(req, "task_name", None), "doc_id": getattr(req, "doc_id", None),
               "sampler": self.sampler_name, "params": self.sampler.params, "seed": seed, "gen_length": G,
               "block_length": block, "prompt_tokens": prompt_tokens, "nfe": int(trace.nfe),
               "forward_rows": int(trace.forward_rows), "tokens": int(trace.tokens), "bits": float(trace.bits)}
        self.traces.append(row)
        if self.trace_out is not None:
            self.trace_out.parent.mkdir(parents=True, exist_ok=True)
            with self.trace_out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row, sort_keys=True, default=str) + "\n")

    # ------------------------------------------------------------------------- loglikelihood
    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        """(ELBO estimate of log p(continuation | context), is_greedy) per request; the same seed
        for every request, so the choices of one question are scored with common random numbers."""
        out = []
        for req in requests:
            context, continuation = req.args[0], req.args[1]
            ctx, cont = T.encode_pair(self.tokenizer, context, continuation, self._specials())
            ctx = self._fit(ctx, len(cont))
            ll = elbo(self.model, ctx, cont, self.elbo_draws, self.seed, self.elbo_batch)
            greedy = self._is_greedy(ctx, cont) if self.greedy_check else False
            out.append((ll, greedy))
            self.cache_hook.add_partial("loglikelihood", req.args, (ll, greedy))
        return out

    def _is_greedy(self, ctx: list[int], cont: list[int]) -> bool:
        """Whether greedy decoding (most confident position first, argmax token, one a step)
        reproduces the continuation."""
        from workers.samplers import make_sampler

        res = make_sampler("max_prob", temperature=0.0).generate(self.model, [ctx], len(cont), len(cont), [self.seed])
        return res.tokens[0].tolist() == list(cont)

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        raise NotImplementedError(UNSUPPORTED_ROLLING)

    def get_model_info(self) -> dict[str, Any]:
        return {"model": self.model_name, "sampler": self.sampler_name, "sampler_params": self.sampler.params,
                "gen_length": self.gen_length, "block_length": self.block_length, "seed": self.seed,
                "elbo_draws": self.elbo_draws}


__all__ = ["DLLMEvalLM", "UNSUPPORTED_ROLLING"]
