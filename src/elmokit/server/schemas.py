"""Request and response models of ``POST /v1/embed`` (pydantic v2), and the error body."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

OutputName = Literal["all", "top", "average", "mix", "sentence"]
OUTPUTS: tuple[str, ...] = ("all", "top", "average", "mix", "sentence")

#: The only control characters (Unicode category Cc) a text may contain.
_ALLOWED_CONTROLS = frozenset("\t\n\r")

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


def find_bad_character(text: str) -> str | None:
    """A description of the first control character (other than tab / newline / carriage
    return) or lone surrogate in ``text``, or None when there is none."""
    for pos, char in enumerate(text):
        if char in _ALLOWED_CONTROLS:
            continue
        if unicodedata.category(char) in ("Cc", "Cs"):
            return f"character U+{ord(char):04X} at position {pos} is not allowed"
    return None


class EmbedRequest(BaseModel):
    """Exactly one of ``texts`` (strings, split by ``tokenize``) or ``tokens``.

    Strict types: a number is not a string and a string is not a number (``"weights": ["1"]``
    and ``"texts": [1]`` are refused, not coerced); integers are fine as weights."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"texts": ["The cell divides."], "output": "average"},
                {"tokens": [["The", "cell", "divides", "."]], "output": "mix",
                 "weights": [0.2, 0.3, 0.5]},
            ]
        },
    )  # fmt: skip

    texts: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Sentences as strings, each split into tokens by `tokenize`.",
    )
    tokenize: Literal["whitespace", "elmokit"] = Field(
        default="whitespace",
        description=(
            "How each of `texts` becomes tokens, as everywhere in elmokit: whitespace (a "
            "pre-tokenized sentence, split on whitespace) or elmokit (raw text, "
            "elmokit.tokenize.tokenize: clitics, punctuation, URLs, numbers)."
        ),
    )
    tokens: list[Annotated[list[str], Field(min_length=1)]] | None = Field(
        default=None, min_length=1, description="Pre-tokenized sentences (lists of tokens)."
    )
    output: OutputName = Field(
        default="average",
        description=(
            "all: (layers, n, D) per sentence; top: (n, D) last layer; average: (n, D) layer "
            "mean; mix: (n, D) the layers mixed by `weights` as given (sum_k weights[k] * "
            "layer_k; equal weights when omitted); sentence: (D,) token mean of the layer "
            "average."
        ),
    )
    weights: list[FiniteFloat] | None = Field(
        default=None,
        description=(
            "Only with output=mix: one plain mixing weight per layer, applied as given (no "
            "softmax, no normalisation): [0.2, 0.3, 0.5] means 0.2 * layer0 + 0.3 * layer1 + "
            "0.5 * layer2."
        ),
    )

    @field_validator("texts")
    @classmethod
    def _check_texts(cls, texts: list[str] | None) -> list[str] | None:
        for i, text in enumerate(texts or ()):
            problem = find_bad_character(text)
            if problem:
                raise ValueError(f"text {i}: {problem}")
        return texts

    @field_validator("tokens")
    @classmethod
    def _check_tokens(cls, tokens: list[list[str]] | None) -> list[list[str]] | None:
        for i, sentence in enumerate(tokens or ()):
            for j, token in enumerate(sentence):
                if not token or token.isspace() or any(c.isspace() for c in token):
                    raise ValueError(f"sentence {i} token {j}: tokens must be non-empty and "
                                     "contain no whitespace")  # fmt: skip
                problem = find_bad_character(token)
                if problem:
                    raise ValueError(f"sentence {i} token {j}: {problem}")
        return tokens

    @model_validator(mode="after")
    def _one_input(self) -> EmbedRequest:
        if (self.texts is None) == (self.tokens is None):
            raise ValueError("give exactly one of 'texts' or 'tokens'")
        if self.weights is not None and self.output != "mix":
            raise ValueError("'weights' is only allowed with output 'mix'")
        return self


class EmbedResponse(BaseModel):
    """The JSON answer. ``embeddings[i]`` has the shape given by ``output`` for sentence i."""

    model: str
    dim: int
    output: OutputName
    num_tokens: int = Field(description="Tokens embedded in this request (all sentences).")
    tokens: list[list[str]] = Field(description="The tokens each sentence was embedded as.")
    embeddings: list[Any]


class ErrorDetail(BaseModel):
    """One problem with a request field."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """``{"error": {...}}``: a stable machine-readable ``code`` plus a human message."""

    code: str
    message: str
    details: list[ErrorDetail] | None = None


class ErrorResponse(BaseModel):
    """Every 4xx/5xx answer of the service has this shape."""

    error: ErrorBody
