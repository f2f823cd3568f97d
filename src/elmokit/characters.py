"""Tokens -> character ids, exactly as bilm-tf / AllenNLP's ``ELMoCharacterMapper`` do it.

A token's UTF-8 bytes are cut to ``max_characters_per_token - 2`` (48) and wrapped as
``[BOW, bytes..., EOW]``, padded with PAD, then every id is shifted by +1 so that 0 means
"no character" (padding positions of padded tokens). ``<S>`` and ``</S>`` are the special
ids 256 / 257 between BOW and EOW.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

BOS_CHAR = 256  # <begin sentence>
EOS_CHAR = 257  # <end sentence>
BOW_CHAR = 258  # <begin word>
EOW_CHAR = 259  # <end word>
PAD_CHAR = 260  # <padding>
BOS_TOKEN = "<S>"
EOS_TOKEN = "</S>"


def _special(char: int, max_chars: int) -> np.ndarray:
    ids = np.full(max_chars, PAD_CHAR, dtype=np.int64)
    ids[:3] = (BOW_CHAR, char, EOW_CHAR)
    return ids + 1


# Bounded small: each entry is ~0.5 KB, and on a long stream of text the vocabulary keeps
# growing (200,000 entries held ~110 MB on a 1M-sentence run); the inference engine keeps
# its own cache of char-CNN outputs, so this one only spares re-encoding frequent words.
@lru_cache(maxsize=16_384)
def _token_ids(token: str, max_chars: int) -> bytes:
    if token == BOS_TOKEN:
        return _special(BOS_CHAR, max_chars).tobytes()
    if token == EOS_TOKEN:
        return _special(EOS_CHAR, max_chars).tobytes()
    encoded = token.encode("utf-8", "ignore")[: max_chars - 2]
    ids = np.full(max_chars, PAD_CHAR, dtype=np.int64)
    ids[0] = BOW_CHAR
    ids[1 : len(encoded) + 1] = np.frombuffer(encoded, dtype=np.uint8)
    ids[len(encoded) + 1] = EOW_CHAR
    return (ids + 1).tobytes()


def token_to_ids(token: str, max_chars: int = 50) -> np.ndarray:
    """``"cat"`` -> int64 array (max_chars,) ``[259, 100, 98, 117, 260, 261, ...]``.

    ``<S>`` and ``</S>`` map to the sentence-boundary characters, as in bilm-tf.
    """
    return np.frombuffer(_token_ids(token, max_chars), dtype=np.int64).copy()


def batch_to_ids(
    batch: list[list[str]], max_chars: int = 50, add_boundaries: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Token lists -> (char ids, lengths).

    ``batch`` of B sentences -> ids int64 (B, T, max_chars) and lengths int64 (B,), where with
    ``add_boundaries`` every sentence is wrapped as ``<S> tokens </S>`` (T = longest + 2) and
    padding rows are all 0.
    """
    extra = 2 if add_boundaries else 0
    lengths = np.array([len(s) + extra for s in batch], dtype=np.int64)
    width = int(lengths.max()) if len(batch) else 0
    ids = np.zeros((len(batch), width, max_chars), dtype=np.int64)
    bos, eos = _special(BOS_CHAR, max_chars), _special(EOS_CHAR, max_chars)
    for row, sentence in enumerate(batch):
        offset = 0
        if add_boundaries:
            ids[row, 0] = bos
            ids[row, len(sentence) + 1] = eos
            offset = 1
        for t, token in enumerate(sentence):
            ids[row, t + offset] = np.frombuffer(_token_ids(token, max_chars), dtype=np.int64)
    return ids, lengths
