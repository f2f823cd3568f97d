"""The ``model`` argument of the downstream tools: a name, a directory, an ``Elmo`` or None.

>>> from elmokit.downstream.models import load_model
>>> elmo = load_model("allennlp-tiny")        # a bundled name or a model directory -> Elmo
>>> load_model(elmo) is elmo                  # an Elmo is used as is
True
>>> load_model(None).name                     # None: the default bundled model
'en-small'

No scikit-learn here (``elmokit plot`` / ``neighbors`` need none) and no process-wide cache: a
model is loaded each time a name is given. To share one model between tools, load it once and
pass the ``Elmo``; :class:`~elmokit.downstream.sklearn.ElmoVectorizer` shares its model with
its clones itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from elmokit.embedder import Elmo


def load_model(model: Any = None) -> Elmo:
    """A model name / directory / None (the default bundled model) -> a freshly loaded
    :class:`~elmokit.Elmo`; an ``Elmo`` is returned as is."""
    from elmokit.embedder import Elmo

    return model if isinstance(model, Elmo) else Elmo.load(model)
