"""Training ELMo biLMs: vocabulary, streaming data, the LM with sampled softmax, the loop.

>>> from elmokit.training import train, TrainConfig
>>> train(TrainConfig(corpus="data/corpus/train/*.txt", vocab="vocab.txt", config="tiny",
...                   out="runs/tiny", max_steps=100))
"""

from elmokit.training.vocab import Vocabulary, build_vocabulary

__all__ = ["Vocabulary", "build_vocabulary"]
