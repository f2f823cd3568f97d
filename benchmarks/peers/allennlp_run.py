"""Time AllenNLP's ELMo biLM (``_ElmoBiLm``) on given weights and sentences; print one JSON line.

Run by ``benchmarks/speed.py`` with the side venv's python (see docs/speed.md):
``python allennlp_run.py OPTIONS WEIGHTS SENTENCES BATCH THREADS [CHECK.npy]``.
AllenNLP 2.10.1 imports torchvision and fairscale at import time (vision modules, FSDP); stubs stand
in for them, since ELMo never uses either.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import resource
import sys
import time
import types
import warnings
from unittest import mock

# imported by AllenNLP at import time, never used by ELMo
_STUBBED = ("torchvision", "fairscale")


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _STUBBED:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        module.__path__ = []
        module.__getattr__ = lambda attr: (
            type(attr, (), {}) if attr[:1].isupper() else mock.MagicMock(name=f"{spec.name}.{attr}")
        )
        return module

    def exec_module(self, module):
        pass


def main() -> None:
    options, weights, sentences_path, batch_size, threads = sys.argv[1:6]
    check = sys.argv[6] if len(sys.argv) > 6 else None
    sys.meta_path.insert(0, _StubFinder())
    warnings.filterwarnings("ignore")
    import numpy as np
    import torch
    from allennlp.modules.elmo import _ElmoBiLm, batch_to_ids

    torch.set_num_threads(int(threads))
    sentences = [line.split() for line in open(sentences_path, encoding="utf-8")]
    batch_size = int(batch_size)
    bilm = _ElmoBiLm(options, weights, requires_grad=False).eval()
    tokens = 0
    first = None
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(sentences), batch_size):
            batch = sentences[i : i + batch_size]
            bilm._elmo_lstm.reset_states()  # stateless, like elmokit's default
            out = bilm(batch_to_ids(batch))
            if first is None:
                # (B, T, D) top layer without <S>, </S>
                first = out["activations"][-1][:, 1:-1].numpy()
            tokens += sum(len(s) for s in batch)
    seconds = time.perf_counter() - start
    if check:
        np.save(check, first)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"tokens": tokens, "seconds": seconds, "peak_rss_mb": peak_mb}))


if __name__ == "__main__":
    main()
