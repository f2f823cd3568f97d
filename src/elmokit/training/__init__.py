"""Training ELMo biLMs: vocabulary, streaming data, the LM with sampled softmax, the loop.

>>> from elmokit.training.train import TrainConfig, train
>>> from elmokit.training.vocab import build_vocabulary
>>> build_vocabulary("data/corpus/train/*.txt")[0].save("vocab.txt")
>>> train(TrainConfig(corpus="data/corpus/train/*.txt", vocab="vocab.txt", config="tiny",
...                   out="runs/tiny", max_steps=100))
>>> train(TrainConfig(out="runs/tiny", resume=True, max_steps=200))  # 100 steps more

(``train`` is imported from its module: ``elmokit.training.train`` names the module.)
"""

from elmokit.training.vocab import Vocabulary, build_vocabulary

__all__ = ["Vocabulary", "build_vocabulary"]
