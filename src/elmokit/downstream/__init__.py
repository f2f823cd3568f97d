"""Using the embeddings: sentence vectors, scikit-learn / Keras / PyTorch classifiers, plots,
word senses and the ``evaluate`` benchmark. See docs/downstream.md.

Modules (each imports its heavy optional libraries only when used; ``pip install
'elmokit[downstream]'``, Keras: ``'elmokit[keras]'``):

- :mod:`.pooling` — ``sentence_vectors`` (layer / average / scalar mix, mean pooling) and
  ``save_embeddings`` / ``load_embeddings`` (.npz, .h5, .parquet; no pickle)
- :mod:`.sklearn` — ``ElmoVectorizer``, ``GloveVectorizer`` transformers
- :mod:`.features`, :mod:`.classify` — feature sets, classifier, ``elmokit classify``
- :mod:`.keras` — ``ElmoEmbedding`` Keras 3 layer (torch backend)
- :mod:`.plots` — t-SNE / UMAP / PCA maps as PNG + interactive HTML (``elmokit plot``)
- :mod:`.neighbors` — contextual nearest occurrences, character-layer word neighbours
  (``elmokit neighbors``)
- :mod:`.evaluate` — POS probe, sentence classification, word senses (``elmokit evaluate``)
- :mod:`.data`, :mod:`.senses` — readers for the evaluation data; the sense sentences
"""
