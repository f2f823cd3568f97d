"""The biLM as plain ``torch.nn`` modules, built from an :class:`~elmokit.config.ElmoConfig`."""

from elmokit.modules.bilm import BiLM, LstmState
from elmokit.modules.char_cnn import CharCNN, Highway
from elmokit.modules.lstm import ElmoLstm, LstmCellWithProjection
from elmokit.modules.scalar_mix import ScalarMix

__all__ = ["BiLM", "CharCNN", "ElmoLstm", "Highway", "LstmCellWithProjection", "LstmState",
           "ScalarMix"]  # fmt: skip
