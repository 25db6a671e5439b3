"""Text conventions shared by the lm-eval model ``dllm`` and the sweep task family ``lm_eval:``.

They follow lm-eval's own ``hf`` model so that a score means the same thing in both:

* stop strings: the generation is cut at the first occurrence of each ``until`` string in turn
  (empty strings ignored), after dropping everything up to a thinking model's end-of-thinking
  marker when one is configured (lm-eval ``models/utils.py::postprocess_generated_text``);
* chat: messages are rendered by the tokenizer's own template, with the assistant turn opened, or
  the last assistant message continued when a task pre-fills the answer (``gen_prefix``);
* token budget: ``max_gen_toks`` (or an alias) from the request's generation kwargs, 256 by default;
* log-likelihood pairs: trailing whitespace of the context moves to the continuation, and the
  continuation's tokens are those of ``context + continuation`` after the context's, so a word
  boundary is tokenised as in running text.

Torch- and lm-eval-free.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence, Union

DEFAULT_MAX_GEN_TOKS = 256
# lm-eval's aliases for the token budget, in its priority order
_MAX_TOKEN_KEYS = ("max_gen_toks", "max_new_tokens", "max_tokens", "max_completion_tokens")


def stop_strings(until: Union[None, str, Sequence[str]], eos_text: Optional[str] = None) -> list[str]:
    """``until`` as a list, with the EOS token's text added (as lm-eval does)."""
    out = [until] if isinstance(until, str) else list(until or [])
    if not all(isinstance(s, str) for s in out):
        raise ValueError(f"until must be a string or a list of strings, got {until!r}")
    if eos_text and eos_text not in out:
        out.append(eos_text)
    return out


def cut_at_stops(text: str, until: Iterable[str], think_end_token: Optional[str] = None) -> str:
    """The generation as the task sees it: after the end-of-thinking marker, before any stop."""
    if think_end_token:
        text = text.split(think_end_token)[-1].lstrip()
    for term in until:
        if term:
            text = text.split(term)[0]
    return text


def max_gen_toks(gen_kwargs: Optional[dict[str, Any]], default: int = DEFAULT_MAX_GEN_TOKS) -> int:
    """The request's token budget (first alias present, by lm-eval's priority)."""
    kw = gen_kwargs or {}
    for k in _MAX_TOKEN_KEYS:
        if kw.get(k) is not None:
            n = int(kw[k])
            if n < 1:
                raise ValueError(f"{k} must be >= 1, got {kw[k]!r}")
            return n
    return int(default)


def render_chat(tokenizer: Any, history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
    """Messages -> prompt text with the tokenizer's chat template (a one-line error without one)."""
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("the model's tokenizer has no chat template: run without --apply_chat_template")
    return tokenizer.apply_chat_template(history, tokenize=False, add_generation_prompt=add_generation_prompt,
                                         continue_final_message=not add_generation_prompt)


def encode(tokenizer: Any, text: str, add_special_tokens: bool) -> list[int]:
    return [int(i) for i in tokenizer.encode(text, add_special_tokens=add_special_tokens)]


def encode_pair(tokenizer: Any, context: str, continuation: str, add_special_tokens: bool) -> tuple[list[int], list[int]]:
    """(context ids, continuation ids) for a log-likelihood request (module docstring)."""
    n = len(context) - len(context.rstrip())
    if n:
        context, continuation = context[:-n], context[-n:] + continuation
    whole = encode(tokenizer, context + continuation, add_special_tokens)
    ctx = encode(tokenizer, context, add_special_tokens)
    return ctx, whole[len(ctx):]


__all__ = ["DEFAULT_MAX_GEN_TOKS", "stop_strings", "cut_at_stops", "max_gen_toks", "render_chat", "encode",
           "encode_pair"]
