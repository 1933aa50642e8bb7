"""Amulet decoded the way the paper's published implementation does it.

Hugging Face transformers on PyTorch (CPU here), the model loaded from the
same GGUF file as amulet-llm (transformers' GGUF loading dequantises it to
float32). For every new token it runs two full forward passes over the whole
sequence, without a KV cache -- the prompt with the preference and the prompt
without it -- then the literal K-iteration online-learning loop over the
vocabulary (docs/algorithm.md), and decodes greedily. Nothing here is tuned: it is
the baseline amulet-llm's closed form and batched decode are measured against.

Writes one JSON object to stdout (or --out): tokens/s, time to first token,
the time per token in the forward passes and in the loop, peak RSS and the
generated tokens. Run by bench/run.mjs, or alone:

    bench/.venv/bin/python bench/paper_reference.py --gguf model.gguf --question "How do I boil an egg?"
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gguf", required=True, help="path of the GGUF model file")
    parser.add_argument("--question", action="append", required=True, help="a user question (repeatable)")
    parser.add_argument("--system-prompt", default="You are a helpful assistant.")
    parser.add_argument("--preference", default="Your answer should be verbose as much as possible.")
    parser.add_argument("--chat-template", default="", help="'gemma' for Gemma's turn format; default: the model's own")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--ignore-eos", action="store_true", help="decode exactly --max-new-tokens tokens")
    parser.add_argument("--alpha", type=float, default=2.0)
    parser.add_argument("--lambda", dest="lam", type=float, default=2.0)
    parser.add_argument("--eta", type=float, default=10.0)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--out", default="", help="write the JSON here instead of stdout")
    return parser.parse_args()


def gemma_prompt(system: str, question: str) -> str:
    # llama.cpp's "gemma" template, which amulet-llm uses: the system prompt joins the first user turn.
    return f"<start_of_turn>user\n{system.strip()}\n\n{question.strip()}<end_of_turn>\n<start_of_turn>model\n"


def encode(tokenizer, chat_template: str, system: str, question: str) -> list[int]:
    if chat_template == "gemma" or not getattr(tokenizer, "chat_template", None):
        text = gemma_prompt(system, question) if chat_template == "gemma" else f"{system}\n\n{question}\n"
        ids = tokenizer(text, add_special_tokens=True)["input_ids"]
    else:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
    return list(ids)


def amulet_literal(torch, base_logits, pref_logits, alpha: float, lam: float, eta: float, iterations: int):
    """The paper's per-token FTRL loop, as its reference runs it (docs/algorithm.md)."""
    log_softmax = torch.nn.functional.log_softmax
    base = log_softmax(base_logits, dim=-1)
    pref = log_softmax(pref_logits, dim=-1)
    policy = pref
    utility = torch.zeros_like(pref)
    iterate = pref
    for i in range(1, iterations + 1):
        utility = utility + alpha * (policy - base)
        iterate = (lam * pref + utility / i + policy / (eta * i)) / (lam + 1.0 / (eta * i))
        if i < iterations:
            policy = log_softmax(iterate, dim=-1)
    return iterate


def generate(torch, model, eos_ids: set[int], base_ids: list[int], pref_ids: list[int], args) -> dict:
    base = torch.tensor([base_ids], dtype=torch.long)
    pref = torch.tensor([pref_ids], dtype=torch.long)
    tokens: list[int] = []
    token_times: list[float] = []
    forward_s = 0.0
    loop_s = 0.0
    start = time.perf_counter()
    with torch.inference_mode():
        for _ in range(args.max_new_tokens):
            t0 = time.perf_counter()
            base_logits = model(input_ids=base, use_cache=False).logits[0, -1].float()
            pref_logits = model(input_ids=pref, use_cache=False).logits[0, -1].float()
            t1 = time.perf_counter()
            realigned = amulet_literal(torch, base_logits, pref_logits, args.alpha, args.lam, args.eta, args.iterations)
            token = int(torch.argmax(realigned).item())
            t2 = time.perf_counter()
            forward_s += t1 - t0
            loop_s += t2 - t1
            if token in eos_ids and not args.ignore_eos:
                break
            tokens.append(token)
            token_times.append(t2)
            step = torch.tensor([[token]], dtype=torch.long)
            base = torch.cat([base, step], dim=1)
            pref = torch.cat([pref, step], dim=1)
    steps = len(tokens)
    decode_s = token_times[-1] - token_times[0] if steps > 1 else 0.0
    return {
        "tokens": tokens,
        "generatedTokenCount": steps,
        # Decode steps per second after the first token: the same measure bench/run.mjs uses for every method.
        "tokensPerSecond": (steps - 1) / decode_s if decode_s > 0 else 0.0,
        "ttftMs": (token_times[0] - start) * 1000 if steps > 0 else 0.0,
        "forwardMsPerToken": forward_s * 1000 / max(1, steps),
        "loopMsPerToken": loop_s * 1000 / max(1, steps),
        "promptTokens": [len(base_ids), len(pref_ids)],
    }


def main() -> int:
    args = parse_args()
    import torch  # noqa: PLC0415 (imported after argument parsing so --help is instant)
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415
    from transformers.utils import logging as hf_logging  # noqa: PLC0415

    hf_logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    folder, name = os.path.split(os.path.abspath(args.gguf))
    load_start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    model.eval()
    load_s = time.perf_counter() - load_start

    eos_ids = set()
    for source in (tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
        if isinstance(source, int):
            eos_ids.add(source)
        elif isinstance(source, (list, tuple)):
            eos_ids.update(int(token) for token in source)
    if args.chat_template == "gemma":
        end_of_turn = tokenizer.convert_tokens_to_ids("<end_of_turn>")
        if isinstance(end_of_turn, int) and end_of_turn >= 0:
            eos_ids.add(end_of_turn)

    runs = []
    for question in args.question:
        base_ids = encode(tokenizer, args.chat_template, args.system_prompt, question)
        pref_ids = encode(tokenizer, args.chat_template, f"{args.system_prompt} {args.preference}", question)
        runs.append(generate(torch, model, eos_ids, base_ids, pref_ids, args))

    result = {
        "method": "paper-reference",
        "implementation": f"transformers {__import__('transformers').__version__}, torch {torch.__version__} (CPU), "
                          "float32 weights dequantised from the GGUF, no KV cache, literal K-iteration loop",
        "threads": args.threads,
        "loadSeconds": load_s,
        "tokensPerSecond": statistics.median(run["tokensPerSecond"] for run in runs),
        "ttftMs": statistics.median(run["ttftMs"] for run in runs),
        "forwardMsPerToken": statistics.median(run["forwardMsPerToken"] for run in runs),
        "loopMsPerToken": statistics.median(run["loopMsPerToken"] for run in runs),
        # ru_maxrss is in KiB on Linux.
        "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "runs": runs,
    }
    text = json.dumps(result)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
