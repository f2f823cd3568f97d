"""The biLM as plain ``torch.nn`` modules, built from an :class:`~elmokit.config.ElmoConfig`."""

from elmokit.modules.bilm import (
    BiLM,
    CharCNN,
    ElmoLstm,
    Highway,
    LstmCellWithProjection,
    LstmState,
)
from elmokit.modules.scalar_mix import ScalarMix

__all__ = ["BiLM", "CharCNN", "ElmoLstm", "Highway", "LstmCellWithProjection", "LstmState",
           "ScalarMix"]  # fmt: skip
