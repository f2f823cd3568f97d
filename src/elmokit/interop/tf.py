"""TF-Hub ELMo modules and bilm-tf training checkpoints -> options.json + weights.hdf5.

>>> convert_tfhub(Path("elmo_3"), Path("elmo-tfhub"))          # a TF-Hub module folder
>>> convert_bilm_tf(Path("save_dir"), Path("my-elmo"))          # bilm-tf's --save_dir
>>> Elmo.load("my-elmo")

No TensorFlow needed: a TF checkpoint ("tensor bundle", what ``tf.train.Saver`` writes and
what a hub module keeps in ``variables/``) is read directly by :class:`TFCheckpoint`:

- ``PREFIX.index``: an SSTable (leveldb's table format: data blocks of prefix-compressed
  key/value entries, an index block, a 48-byte footer; TF writes it uncompressed) mapping each
  variable name to a ``BundleEntryProto`` (dtype, shape, shard, offset, size, masked crc32c);
  the empty key holds the ``BundleHeaderProto`` (number of shards, byte order). The few
  protobuf fields needed are decoded by hand (:func:`_fields`), so no ``protobuf`` either.
- ``PREFIX.data-0000S-of-0000N``: the tensors' raw bytes, each checked against its crc32c.

Variable names -> the HDF5 layout of :mod:`elmokit.weights`, as bilm-tf's ``dump_weights``
(training checkpoints) and ``_pretrained_initializer`` (hub modules, built by bilm-tf's
inference graph) map them::

    bilm-tf checkpoint   lm/RNN_0/rnn/multi_rnn_cell/cell_0/lstm_cell/kernel   (in + P, 4C)
    TF-Hub module        bilm/RNN_0/RNN/MultiRNNCell/Cell0/rnn/lstm_cell/kernel
    weights.hdf5         RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_0
    (bias -> B, projection/kernel -> W_P_0; CNN*, char_embed: the same names in all three)

The arrays are copied as they are: TF's ``LSTMCell`` kernel already is ``[x; h] @ W`` with
gates in the order (i, j, f, o) and the +1 forget bias added at run time, which is exactly
what the HDF5 layout holds. The one change is ``char_embed``: a hub module's has 262 rows,
row 0 being the padding row bilm-tf adds when loading, which the HDF5 layout leaves out
(elmokit adds it back as zeros); a training checkpoint's has the 261 rows of the file.

The sizes in options.json come from the variables' shapes; what shapes cannot tell (clip
values, skip connections, activation) comes from the ``options.json`` bilm-tf keeps in its
save_dir, or ``options_file=``, else from AllenNLP's released models (which the TF-Hub ELMo
modules are): cell_clip 3, proj_clip 3, skip connections, relu.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from elmokit.errors import ConfigError, InputError, WeightFileError
from elmokit.fileio import atomic_write
from elmokit.interop.report import ConvertReport

OPTIONS_NAME = "options.json"
WEIGHTS_NAME = "weights.hdf5"

# ------------------------------------------------------------------ protobuf wire format


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The base-128 varint at ``buf[pos:]`` -> (value, position after it)."""
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """A protobuf message -> its (field number, value) pairs, in order: an int for varint
    and fixed-width fields, bytes for length-delimited ones (strings, sub-messages)."""
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            (value,), pos = struct.unpack_from("<Q", buf, pos), pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
            if len(value) != length:
                raise ValueError("truncated length-delimited field")
        elif wire == 5:
            (value,), pos = struct.unpack_from("<I", buf, pos), pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, value


# ------------------------------------------------------------------ crc32c (Castagnoli)

_POLY = 0x82F63B78  # reflected


def _make_tables() -> np.ndarray:
    """(4, 256) uint32: the byte table, and the tables for bytes 1..3 further back
    ("slicing by 4": a 32-bit word per step)."""
    tables = np.zeros((4, 256), dtype=np.uint32)
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ (_POLY if c & 1 else 0)
        tables[0, n] = c
    for k in range(1, 4):
        tables[k] = (tables[k - 1] >> np.uint32(8)) ^ tables[0, tables[k - 1] & np.uint32(0xFF)]
    return tables


_TABLES = _make_tables()
_TABLE_LIST = [int(v) for v in _TABLES[0]]


def _raw_crc_small(data: bytes | memoryview, crc: int = 0) -> int:
    """The CRC register after feeding ``data`` from state ``crc`` (no init/final xor)."""
    table = _TABLE_LIST
    for byte in bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


# The register update is linear over GF(2), so "feed n zero bytes" is a 32x32 bit matrix,
# kept as its 32 columns (the images of 1 << t). That allows cutting a long buffer into k
# lanes, running all lanes at once with numpy, and joining them: crc(a || b) from state 0 is
# zeros_{len(b)}(crc(a)) ^ crc(b).


def _apply(columns: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The bit matrix ``columns`` (32,) applied to every uint32 of ``values``."""
    out = np.zeros_like(values)
    for t in range(32):
        out ^= columns[t] * ((values >> np.uint32(t)) & np.uint32(1))
    return out


def _zeros_operator(n: int) -> np.ndarray:
    """The columns of "feed ``n`` zero bytes" (square and multiply over the bits of n)."""
    power = np.array([_raw_crc_small(b"\0", 1 << t) for t in range(32)], dtype=np.uint32)
    result = np.array([1 << t for t in range(32)], dtype=np.uint32)  # identity
    while n:
        if n & 1:
            result = _apply(power, result)
        power = _apply(power, power)
        n >>= 1
    return result


def _raw_crc(data: np.ndarray) -> int:
    """The CRC register after feeding the uint8 array ``data`` from state 0."""
    n = data.size
    if n < 1 << 16:
        return _raw_crc_small(data.tobytes())
    lanes = 1 << min(16, (n // 256).bit_length() - 1)
    length = n // lanes // 4 * 4
    head = n - lanes * length
    crc = _raw_crc(data[:head])
    words = data[head:].reshape(lanes, length).view("<u4")  # lane i: bytes i*length ..
    t0, t1, t2, t3 = _TABLES
    low = np.uint32(0xFF)
    state = np.zeros(lanes, dtype=np.uint32)
    for start in range(0, words.shape[1], 64):
        for word in np.ascontiguousarray(words[:, start : start + 64].T):  # 4 bytes a lane
            c = state ^ word
            state = (
                t3[c & low]
                ^ t2[(c >> np.uint32(8)) & low]
                ^ t1[(c >> np.uint32(16)) & low]
                ^ t0[c >> np.uint32(24)]
            )
    while state.size > 1:  # join neighbouring lanes: a || b
        state = _apply(_zeros_operator(length), state[0::2]) ^ state[1::2]
        length *= 2
    return int(_apply(_zeros_operator(length), np.array([crc], dtype=np.uint32))[0] ^ state[0])


def crc32c(data: bytes | np.ndarray) -> int:
    """The CRC-32C (Castagnoli) of ``data``; numpy lanes take 100 MB in about a second.

    >>> hex(crc32c(b"123456789"))
    '0xe3069283'
    """
    array = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes) else data
    array = array.reshape(-1).view(np.uint8)
    if array.size < 1 << 16:
        return _raw_crc_small(array.tobytes(), 0xFFFFFFFF) ^ 0xFFFFFFFF
    # from state 0xFFFFFFFF = from state 0, plus the initial state carried through the data
    init = _apply(_zeros_operator(array.size), np.array([0xFFFFFFFF], dtype=np.uint32))
    return int(init[0]) ^ _raw_crc(array) ^ 0xFFFFFFFF


def _unmask(masked: int) -> int:
    """TF/leveldb store ``rot_right(crc, 15) + 0xa282ead8``; undo that."""
    rot = (masked - 0xA282EAD8) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


# ------------------------------------------------------------------ SSTable (.index)

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48


def _block(data: bytes, handle: bytes, where: str) -> bytes:
    """The contents of the block a BlockHandle (offset, size varints) points to, crc-checked."""
    offset, pos = _varint(handle, 0)
    size, _ = _varint(handle, pos)
    contents = data[offset : offset + size]
    trailer = data[offset + size : offset + size + 5]
    if len(contents) != size or len(trailer) != 5:
        raise WeightFileError(f"{where}: truncated (block at byte {offset} runs past the end)")
    if trailer[0] != 0:
        kind = "snappy" if trailer[0] == 1 else f"type {trailer[0]}"
        raise WeightFileError(f"{where}: compressed ({kind}) index blocks are not supported")
    (masked,) = struct.unpack("<I", trailer[1:])
    if crc32c(contents + trailer[:1]) != _unmask(masked):
        raise WeightFileError(f"{where}: checksum mismatch in the block at byte {offset}")
    return contents


def _block_entries(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    """A table block's (key, value) pairs; keys are stored as (shared prefix, new suffix)."""
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * restarts
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        size, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        yield key, block[pos : pos + size]
        pos += size


def read_table(path: Path) -> dict[bytes, bytes]:
    """Every (key, value) of the SSTable at ``path`` (a checkpoint's ``.index``)."""
    data = path.read_bytes()
    if len(data) < _FOOTER_SIZE:
        raise WeightFileError(f"{path}: not a TF checkpoint index (only {len(data)} bytes)")
    footer = data[-_FOOTER_SIZE:]
    if struct.unpack("<Q", footer[-8:])[0] != _TABLE_MAGIC:
        raise WeightFileError(f"{path}: not a TF checkpoint index (no SSTable magic number)")
    try:
        _, pos = _varint(footer, 0)  # metaindex handle: offset, size (unused)
        _, pos = _varint(footer, pos)
        index = _block(data, footer[pos:], str(path))
        return {
            key: value
            for _, handle in _block_entries(index)
            for key, value in _block_entries(_block(data, handle, str(path)))
        }
    except (ValueError, struct.error, IndexError) as exc:
        raise WeightFileError(f"{path}: corrupt TF checkpoint index ({exc})") from None


# ------------------------------------------------------------------ tensor bundle

# DataType enum (tensorflow/core/framework/types.proto) -> numpy dtype; 14 is bfloat16
_DTYPES = {
    1: "f4",
    2: "f8",
    3: "i4",
    4: "u1",
    5: "i2",
    6: "i1",
    9: "i8",
    10: "?",
    14: "bf16",
    17: "u2",
    19: "f2",
    22: "u4",
    23: "u8",
}


@dataclass(frozen=True)
class BundleEntry:
    """Where one variable's bytes are: ``BundleEntryProto`` (tensor_bundle.proto)."""

    dtype: int
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc: int  # masked crc32c of the bytes
    sliced: bool  # a partitioned variable, saved as slices under other keys

    @classmethod
    def parse(cls, value: bytes) -> BundleEntry:
        fields = dict(dtype=0, shape=(), shard=0, offset=0, size=0, crc=0, sliced=False)
        for number, field in _fields(value):
            if number == 1:
                fields["dtype"] = field
            elif number == 2:  # TensorShapeProto: repeated Dim dim = 2 {int64 size = 1}
                dims = [dict(_fields(dim)).get(1, 0) for n, dim in _fields(field) if n == 2]
                fields["shape"] = tuple(int(d) for d in dims)
            elif number in (3, 4, 5, 6):
                fields[{3: "shard", 4: "offset", 5: "size", 6: "crc"}[number]] = field
            elif number == 7:
                fields["sliced"] = True
        return cls(**fields)


class TFCheckpoint:
    """A TF checkpoint (V2 "tensor bundle"), read without TensorFlow.

    >>> ckpt = TFCheckpoint(Path("save_dir/model.ckpt-1000"))   # the prefix, without .index
    >>> ckpt.shapes["lm/CNN/W_cnn_0"]
    (1, 1, 16, 32)
    >>> ckpt.read("lm/CNN/W_cnn_0").dtype                       # checked against its crc32c
    dtype('float32')
    """

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        self.index_path = Path(f"{prefix}.index")
        table = read_table(self.index_path)
        header = dict(_fields(table.pop(b"", b"")))
        self.num_shards = int(header.get(1, 1))
        self.byte_order = ">" if header.get(2, 0) == 1 else "<"
        try:
            self.entries = {
                key.decode("utf-8"): BundleEntry.parse(value) for key, value in table.items()
            }
        except (ValueError, UnicodeDecodeError, struct.error) as exc:
            raise WeightFileError(f"{self.index_path}: corrupt variable entry ({exc})") from None

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: entry.shape for name, entry in self.entries.items()}

    def data_path(self, shard: int) -> Path:
        return Path(f"{self.prefix}.data-{shard:05d}-of-{self.num_shards:05d}")

    def read(self, name: str) -> np.ndarray:
        """Variable ``name`` as a numpy array (bfloat16 widened to float32)."""
        entry = self.entries[name]
        where = f"{self.index_path}: variable {name}"
        if entry.sliced:
            raise WeightFileError(f"{where} is partitioned (saved in slices); not supported")
        code = _DTYPES.get(entry.dtype)
        if code is None:
            raise WeightFileError(f"{where} has TF dtype {entry.dtype}, which is not numeric")
        itemsize = 2 if code == "bf16" else np.dtype(code).itemsize
        if entry.size != math.prod(entry.shape) * itemsize:
            raise WeightFileError(f"{where}: {entry.size} bytes do not fit shape {entry.shape}")
        path = self.data_path(entry.shard)
        try:
            with path.open("rb") as handle:
                handle.seek(entry.offset)
                raw = handle.read(entry.size)
        except OSError as exc:
            raise WeightFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
        if len(raw) != entry.size:
            raise WeightFileError(f"{path}: truncated (variable {name} runs past the end)")
        if crc32c(raw) != _unmask(entry.crc):
            raise WeightFileError(f"{path}: checksum mismatch for variable {name}")
        if code == "bf16":  # the top half of a float32
            bits = np.frombuffer(raw, dtype=self.byte_order + "u2").astype(np.uint32) << 16
            return bits.view(np.float32).reshape(entry.shape)
        array = np.frombuffer(raw, dtype=self.byte_order + code).reshape(entry.shape)
        return array.astype(array.dtype.newbyteorder("="))


def find_checkpoint(source: Path) -> Path:
    """A checkpoint's prefix from what a user points at: the prefix itself, its ``.index``, a
    directory with a ``checkpoint`` file (the latest), a hub module / SavedModel folder
    (``variables/variables``), or a directory holding exactly one ``*.index``."""
    if source.name.endswith(".index") and source.is_file():
        return source.with_name(source.name[: -len(".index")])
    if Path(f"{source}.index").is_file():
        return source
    if not source.is_dir():
        raise InputError(f"{source}: no such checkpoint (no {source.name}.index) or directory")
    if (source / "variables" / "variables.index").is_file():
        return source / "variables" / "variables"
    state = source / "checkpoint"
    if state.is_file():
        match = re.search(r'^model_checkpoint_path:\s*"(.*)"', state.read_text(), re.M)
        if match:
            latest = Path(match.group(1))
            for prefix in (latest, source / latest, source / latest.name):
                if Path(f"{prefix}.index").is_file():
                    return prefix
            raise InputError(f"{state}: names {latest}, which has no .index file")
    indexes = sorted(source.glob("*.index"))
    if len(indexes) == 1:
        return indexes[0].with_name(indexes[0].name[: -len(".index")])
    if indexes:
        names = ", ".join(p.name for p in indexes)
        raise InputError(f"{source}: several checkpoints ({names}); name one of them")
    raise InputError(f"{source}: no TF checkpoint here (no checkpoint, *.index or variables/)")


# ------------------------------------------------------------------ variable names

#: how each source names the variables of cell ``{l}`` of direction ``{d}``
CELL_NAMES = {
    # bilm-tf's inference graph, which the TF-Hub modules are built from
    "tfhub": ["RNN_{d}/RNN/MultiRNNCell/Cell{l}/rnn/lstm_cell/"],
    # bilm-tf's training graph: static_rnn over a MultiRNNCell (a single layer has none);
    # TF <= 1.1 named the cells as the HDF5 file does
    "bilm-tf": [
        "RNN_{d}/rnn/multi_rnn_cell/cell_{l}/lstm_cell/",
        "RNN_{d}/rnn/lstm_cell/",
        "RNN_{d}/RNN/MultiRNNCell/Cell{l}/LSTMCell/",
    ],
}
# HDF5 name -> (TF >= 1.2 name, TF <= 1.1 name) of a cell's variables
_CELL_PARTS = {
    "W_0": ("kernel", "W_0"),
    "B": ("bias", "B"),
    "W_P_0": ("projection/kernel", "W_P_0"),
}
_CELL_KEY = re.compile(r"RNN_(\d+)/RNN/MultiRNNCell/Cell(\d+)/LSTMCell/(\w+)")
_FIRST_KERNEL = "RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_0"
KINDS = {"tfhub": "a TF-Hub ELMo module", "bilm-tf": "a bilm-tf training checkpoint"}
# not part of the biLM: step counters, the stateful LSTMs' carried states, optimizer slots,
# the LM's softmax, a hub module's layer mix
_NOT_BILM = re.compile(
    r"(^|/)(global_step|beta[12]_power|Variable(_\d+)?)$"
    r"|/(Adagrad|Adam(_\d+)?|Momentum|RMSProp(_\d+)?|ExponentialMovingAverage)$"
    r"|(^|/)(softmax|aggregation)/"
)
_OPTIMIZER_SLOT = re.compile(r"/(Adagrad|Adam(_\d+)?|Momentum|RMSProp(_\d+)?)$")
# looks like a part of the biLM: such a variable that maps to no HDF5 key is an error
_BILM_PART = re.compile(r"(^|/)(char_embed|embedding|CNN[^/]*|RNN_\d+)(/|$)")


@dataclass(frozen=True)
class _Layout:
    """Where a checkpoint keeps the biLM: its scope (``lm/``, ``bilm/``), and the naming of
    its cells (one of :data:`CELL_NAMES`)."""

    kind: str
    scope: str
    cells: str

    def variable(self, key: str) -> str:
        """HDF5 key -> checkpoint variable name."""
        match = _CELL_KEY.fullmatch(key)
        if not match:
            return self.scope + key
        d, l, part = int(match[1]), int(match[2]), match[3]
        base = self.scope + self.cells.format(d=d, l=l)
        return base + _CELL_PARTS[part][1 if base.endswith("LSTMCell/") else 0]


def _layout(ckpt: TFCheckpoint, kind: str | None) -> _Layout:
    """Find the biLM in ``ckpt``; ``kind`` None: tell the kind by the cell names."""
    names, where = ckpt.entries, ckpt.index_path
    scopes = sorted(n[: -len("CNN/W_cnn_0")] for n in names if n.endswith("CNN/W_cnn_0"))
    if not scopes:
        if any(re.search(r"(^|/)embedding$", n) for n in names):
            raise WeightFileError(
                f"{where}: a biLM with word-embedding input (no char CNN); "
                "elmokit models read characters"
            )
        raise WeightFileError(f"{where}: missing variable CNN/W_cnn_0 (no ELMo biLM here)")
    if len(scopes) > 1:
        raise WeightFileError(f"{where}: several biLMs ({', '.join(scopes)}); not supported")
    scope = scopes[0]
    layouts = [
        _Layout(k, scope, cells)
        for k, patterns in CELL_NAMES.items()
        for cells in patterns
        if _Layout(k, scope, cells).variable(_FIRST_KERNEL) in names
    ]
    matching = [layout for layout in layouts if kind in (None, layout.kind)]
    if matching:
        return matching[0]
    if layouts:
        other = layouts[0]
        raise InputError(
            f"{where}: this is {KINDS[other.kind]} (variables named like "
            f"{other.variable(_FIRST_KERNEL)}), "
            f"not {KINDS[kind]}; use --from {other.kind}"
        )
    expected = _Layout(kind or "tfhub", scope, CELL_NAMES[kind or "tfhub"][0])
    raise WeightFileError(f"{where}: missing variable {expected.variable(_FIRST_KERNEL)}")


# ------------------------------------------------------------------ options from shapes

#: what the variables cannot tell: the values of AllenNLP's released models (TF-Hub's too)
DEFAULT_OPTIONS = {
    "bidirectional": True,
    "char_cnn": {"activation": "relu", "max_characters_per_token": 50, "n_characters": 262},
    "lstm": {"cell_clip": 3, "proj_clip": 3, "use_skip_connections": True},
}


def _sizes(ckpt: TFCheckpoint, layout: _Layout) -> dict[tuple[str, ...], object]:
    """The options.json sizes the variables' shapes fix, by key path."""
    shapes, where = ckpt.shapes, ckpt.index_path

    def shape(key: str, rank: int) -> tuple[int, ...]:
        name = layout.variable(key)
        if name not in shapes:
            raise WeightFileError(f"{where}: missing variable {name}")
        if len(shapes[name]) != rank:
            raise WeightFileError(
                f"{where}: variable {name} has shape {shapes[name]}, expected {rank} dimensions"
            )
        return shapes[name]

    def count(key: Callable[[int], str]) -> int:
        n = 0
        while layout.variable(key(n)) in shapes:
            n += 1
        return n

    rows, embedding_dim = shape("char_embed", 2)
    if rows not in (261, 262):
        raise WeightFileError(
            f"{where}: variable {layout.variable('char_embed')} has {rows} "
            "rows, expected 261 (bilm-tf) or 262 (with the padding row)"
        )
    filters = [
        list(shape(f"CNN/W_cnn_{i}", 4)[1::2])  # (1, width, e, num) -> [width, num]
        for i in range(count(lambda i: f"CNN/W_cnn_{i}"))
    ]
    cell = "RNN_0/RNN/MultiRNNCell/Cell{}/LSTMCell/{}"
    dim = shape(cell.format(0, "W_0"), 2)[1] // 4  # kernel (in + P, 4C)
    projected = layout.variable(cell.format(0, "W_P_0")) in shapes
    return {
        ("char_cnn", "embedding", "dim"): embedding_dim,
        ("char_cnn", "filters"): filters,
        ("char_cnn", "n_highway"): count(lambda k: f"CNN_high_{k}/W_carry"),
        ("lstm", "dim"): dim,
        ("lstm", "projection_dim"): shape(cell.format(0, "W_P_0"), 2)[1] if projected else dim,
        # bilm-tf's training graph has no MultiRNNCell (no layer index) for a single layer
        ("lstm", "n_layers"): count(lambda l: cell.format(l, "W_0"))
        if "{l}" in layout.cells
        else 1,
    }


def _options(sizes: dict, base: dict | None, where: str) -> dict:
    """options.json: ``sizes`` written over ``base`` (an options.json, whose own sizes must
    agree) or over :data:`DEFAULT_OPTIONS`."""
    options = json.loads(json.dumps(base if base is not None else DEFAULT_OPTIONS))
    for path, value in sizes.items():
        section = options
        for key in path[:-1]:
            section = section.setdefault(key, {})
            if not isinstance(section, dict):
                raise ConfigError(f"{where}: key {key!r} must be an object")
        given = section.get(path[-1])
        if base is not None and given is not None and given != value:
            raise ConfigError(
                f"{where}: {'.'.join(path)} is {given}, but the checkpoint's variables give {value}"
            )
        section[path[-1]] = value
    options["char_cnn"]["n_characters"] = 262  # bilm-tf trains with 261, runs with 262
    return options


# ------------------------------------------------------------------ conversion


def _expected_shapes(options: dict, where: str) -> dict[str, tuple[int, ...]]:
    """Every key of elmokit's weight file for ``options``, with its shape (from a model on
    the meta device: no memory for weights)."""
    import torch

    from elmokit.config import ElmoConfig
    from elmokit.modules.bilm import BiLM
    from elmokit.weights import expected_shapes

    config = ElmoConfig.from_options(options, where=where)
    with torch.device("meta"):
        model = BiLM(config)
    return expected_shapes(model)


def _array(
    ckpt: TFCheckpoint, layout: _Layout, key: str, shape: tuple[int, ...], projected: bool
) -> np.ndarray:
    """The float32 array of HDF5 key ``key``, read from the checkpoint and checked."""
    name, where = layout.variable(key), ckpt.index_path
    if key.endswith("/W_P_0") and not projected:
        return np.eye(*shape, dtype=np.float32)  # TF's LSTMCell without num_proj
    if name not in ckpt.entries:
        raise WeightFileError(f"{where}: missing variable {name} (for {key})")
    array = ckpt.read(name)
    if key == "char_embed" and array.shape[0] == shape[0] + 1:
        array = array[1:]  # the padding row bilm-tf adds when loading (elmokit's row 0)
    if array.shape != shape:
        raise WeightFileError(f"{where}: variable {name} has shape {array.shape}, expected {shape}")
    if not np.isfinite(array).all():
        raise WeightFileError(f"{where}: variable {name} contains NaN or infinite values")
    return array.astype(np.float32)


def _layer_mix(ckpt: TFCheckpoint, scope: str) -> list[float] | None:
    """A hub module's trained layer mix as plain weights, ``scaling * softmax(weights)``
    (as bilm-tf's ``weight_layers`` mixes), or None."""
    root = scope[: -len("bilm/")] if scope.endswith("bilm/") else scope
    names = root + "aggregation/weights", root + "aggregation/scaling"
    if not all(name in ckpt.entries for name in names):
        return None
    logits, scaling = (ckpt.read(name).astype(np.float64).reshape(-1) for name in names)
    mix = np.exp(logits - logits.max())
    return [round(float(w), 6) for w in scaling[0] * mix / mix.sum()]


def _read_options(path: Path) -> dict:
    try:
        options = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: options file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read options ({exc})") from None
    if not isinstance(options, dict):
        raise ConfigError(f"{path}: expected a JSON object at the top level")
    return options


def convert_tf(
    source: str | os.PathLike,
    out: str | os.PathLike,
    kind: str | None = None,
    options_file: str | os.PathLike | None = None,
) -> ConvertReport:
    """Convert a TF-Hub ELMo module or a bilm-tf checkpoint into ``out``/options.json +
    weights.hdf5, both written atomically.

    ``kind``: "tfhub" or "bilm-tf" (None: tell by the variable names). ``options_file``: an
    options.json for what shapes cannot tell (clips, skip connections, activation); by
    default the options.json beside a bilm-tf checkpoint, else :data:`DEFAULT_OPTIONS`.
    Errors name the missing, misshapen or unknown variable."""
    import h5py

    source, out = Path(source), Path(out)
    if kind is not None and kind not in KINDS:
        raise InputError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    prefix = find_checkpoint(source)
    ckpt = TFCheckpoint(prefix)
    layout = _layout(ckpt, kind)
    if options_file is None and layout.kind == "bilm-tf":
        beside = prefix.parent / OPTIONS_NAME  # bilm-tf's save_dir holds its options.json
        options_file = beside if beside.is_file() else None
    base = _read_options(Path(options_file)) if options_file is not None else None
    where = str(options_file or ckpt.index_path)
    sizes = _sizes(ckpt, layout)
    options = _options(sizes, base, where)
    lstm = options["lstm"]
    projected = layout.variable(_FIRST_KERNEL[:-3] + "W_P_0") in ckpt.entries
    if not projected:
        lstm["proj_clip"] = None  # TF's LSTMCell clips only a projection's output
    shapes = _expected_shapes(options, where)

    used = {layout.variable(key) for key in shapes}
    others = sorted(n for n in ckpt.entries if n not in used)
    unknown = [
        n
        for n in others
        if n.startswith(layout.scope) and _BILM_PART.search(n) and not _NOT_BILM.search(n)
    ]
    if unknown:
        raise WeightFileError(
            f"{ckpt.index_path}: unknown variable {unknown[0]} (not part of the ELMo biLM layout)"
        )

    out.mkdir(parents=True, exist_ok=True)
    weights_path, options_path = out / WEIGHTS_NAME, out / OPTIONS_NAME
    with atomic_write(weights_path) as tmp, h5py.File(tmp, "w") as handle:
        for key, shape in shapes.items():
            handle.create_dataset(key, data=_array(ckpt, layout, key, shape, projected))
    with atomic_write(options_path) as tmp:
        tmp.write_text(json.dumps(options, indent=2) + "\n", encoding="utf-8")

    report = ConvertReport(source, out, layout.kind, files=[options_path, weights_path])
    report.notes.append(
        f"read {prefix} ({len(used)} of its {len(ckpt.entries)} variables, crc32c checked): "
        f"{len(options['char_cnn']['filters'])} char CNN filters, "
        f"{options['char_cnn']['n_highway']} highway, {lstm['n_layers']} x {lstm['dim']}-cell "
        f"LSTM layers projected to {lstm['projection_dim']}"
    )
    if base is None:
        report.notes.append(
            "not in the variables, so set as in AllenNLP's released ELMo: "
            "cell_clip 3, proj_clip 3, skip connections, relu (give an "
            "options.json to change them)"
        )
    else:
        report.notes.append(f"clips, skip connections, activation from {options_file}")
    if not projected:
        report.notes.append("the LSTMs have no projection: W_P_0 written as the identity")
    if any(re.search(r"(^|/)softmax/", n) for n in others):
        report.lost.append(
            "the LM's softmax (only needed to train or score perplexity; "
            "bilm-tf's dump_weights leaves it out too)"
        )
    slots = [n for n in others if _OPTIMIZER_SLOT.search(n)]
    if slots:
        report.lost.append(f"the optimizer state ({len(slots)} slot variables)")
    mix = _layer_mix(ckpt, layout.scope)
    if mix is not None:
        report.lost.append(
            f"the module's trained layer mix (its 'elmo' output), as plain "
            f"weights {json.dumps(mix)}: give them as the layer choice"
        )
    ignored = [n for n in others if not _NOT_BILM.search(n)]
    if ignored:
        more = f", ... ({len(ignored) - 8} more)" if len(ignored) > 8 else ""
        report.notes.append("ignored, not part of the biLM: " + ", ".join(ignored[:8]) + more)
    return report


def convert_tfhub(
    source: Path, out: Path, options_file: str | os.PathLike | None = None, **_: object
) -> ConvertReport:
    """A TF-Hub ELMo module folder (elmo/2, elmo/3: ``variables/variables.*``) -> ``out``.
    (``lossy`` and other options of ``elmokit convert`` change nothing: the conversion is
    exact, and what it leaves out is listed in the report.)"""
    return convert_tf(source, out, kind="tfhub", options_file=options_file)


def convert_bilm_tf(
    source: Path, out: Path, options_file: str | os.PathLike | None = None, **_: object
) -> ConvertReport:
    """A bilm-tf training checkpoint (its save_dir, a ``model.ckpt-N`` prefix or its
    ``.index``) -> ``out``; see :func:`convert_tfhub` for the options."""
    return convert_tf(source, out, kind="bilm-tf", options_file=options_file)
