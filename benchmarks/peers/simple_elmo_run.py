"""Time simple_elmo (the bilm-tf code on TF 2) on given weights and sentences; print one JSON line.

Run by ``benchmarks/speed.py`` with the TF side venv's python (see docs/speed.md):
``python simple_elmo_run.py OPTIONS WEIGHTS SENTENCES BATCH THREADS``. simple_elmo keeps the
LSTM state across batches (as bilm-tf does); the arithmetic is the same as stateless.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    options, weights, sentences_path, batch_size, threads = sys.argv[1:6]
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(int(threads))
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from simple_elmo import ElmoModel

    logging.disable(logging.WARNING)
    sentences = [line.split() for line in open(sentences_path, encoding="utf-8")]
    batch_size = int(batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(options, os.path.join(tmp, "options.json"))
        os.symlink(os.path.abspath(weights), os.path.join(tmp, "model.hdf5"))
        model = ElmoModel()
        model.load(tmp, max_batch_size=batch_size)
        model.get_elmo_vectors(sentences[:batch_size], warmup=False, layers="top")  # graph build
        start = time.perf_counter()
        model.get_elmo_vectors(sentences, warmup=False, layers="top")
        seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tokens = sum(len(s) for s in sentences)
    print(json.dumps({"tokens": tokens, "seconds": seconds, "peak_rss_mb": peak_mb}))


if __name__ == "__main__":
    main()
