"""Perplexity of a trained biLM: forward, backward and their mean, with the full softmax.

The corpus is read once in file order as ``batch_size`` stateful streams (bilm-tf's test-time
scheme); every word and every ``</S>`` is predicted once per direction (the trivial
``</S> -> <S>`` step between sentences is not counted). ``mean`` is ``exp`` of the mean of
the two directions' losses.
"""

from __future__ import annotations

import math

import torch

from elmokit.training.data import BatchStream
from elmokit.training.model import LanguageModel
from elmokit.training.vocab import Vocabulary, expand_corpus


@torch.no_grad()
def perplexity(
    lm: LanguageModel,
    vocab: Vocabulary,
    corpus,
    batch_size: int = 32,
    unroll: int = 20,
    tokenizer: str = "whitespace",
    device: str = "cpu",
    progress: bool | None = None,
) -> dict:
    """-> ``{"forward": ppl, "backward": ppl, "mean": ppl, "tokens": n}`` over ``corpus``.
    ``progress``: a bar of tokens predicted (None: when stderr is a terminal)."""
    from elmokit.progress import progress_bar

    files = expand_corpus(corpus)
    stream = BatchStream(files, vocab, batch_size, unroll, shuffle=False, epochs=1,
                         pad_last=True, tokenizer=tokenizer)  # fmt: skip
    was_training = lm.training
    lm.eval().to(device)
    state = lm.zero_state(batch_size, device)
    nll, count = torch.zeros(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    bar = progress_bar(progress=progress, desc="perplexity", unit="tok", unit_scale=True)
    try:
        for batch in stream:
            batch = batch.to(device)
            hidden, state = lm(batch, state)
            _, batch_nll, batch_count = lm.loss(hidden, batch.targets, batch.weights, full=True)
            nll += batch_nll.double().cpu()
            count += batch_count.double().cpu()
            bar.update(int(batch_count[0]))
    finally:
        bar.close()
        lm.train(was_training)
    if count[0] == 0:
        from elmokit.errors import InputError

        raise InputError(f"corpus {', '.join(map(str, files))}: no sentences to evaluate")
    loss = (nll / count).tolist()
    return {
        "forward": math.exp(loss[0]),
        "backward": math.exp(loss[1]),
        "mean": math.exp(sum(loss) / 2),
        "tokens": int(count[0]),
    }
