#!/bin/sh
# Export a training run's checkpoint as the bundled en-small and measure everything its model
# card and the docs quote, in two lanes (2 cores). Needs `make corpus`, `make eval-data` and the
# same-corpus word2vec (python scripts/train_word2vec.py data/corpus/train/*.txt --epochs 3
# -o data/word2vec.txt). Stop the training run first (SIGINT saves).
#
#   sh scripts/release_eval.sh RUN_DIR|CHECKPOINT [OFFSET_TOKENS]
#
# CHECKPOINT: ship that file instead of RUN_DIR/checkpoint.pt, e.g. the average of the run's
# last snapshots (elmokit average-checkpoints RUN/snapshots/tokens-A.pt ... -o avg.pt); then
# give LC_ARGS (the learning-curve rows) too. The learning curve's earlier rows come from
# HISTORY (default benchmarks/results/en-small-learning-curve.json), which gains this release's
# rows: commit it with the weights.
# OFFSET_TOKENS: tokens the run's starting weights had seen (its --init-from), added in the
# learning-curve rows. Writes out/release/*; `python scripts/card_tables.py --run RUN --offset
# OFFSET_TOKENS` prints the card's tables from it; paste the figures into
# src/elmokit/models/en-small/MODEL.md, README.md (Models), docs/downstream.md, docs/interop.md.
set -eu
RUN="$1"
CKPT="$RUN"; [ -d "$RUN" ] && CKPT="$RUN/checkpoint.pt"
OFFSET="${2:-0}"
PY="${PY:-.venv/bin/python}"
E="$PY -m elmokit.cli"
OUT="out/release"
MODEL_DIR="src/elmokit/models/en-small"
HISTORY="${HISTORY:-benchmarks/results/en-small-learning-curve.json}"
mkdir -p "$OUT"

$E export "$CKPT" "$OUT/export" --dtype float16
cp "$OUT/export/weights.hdf5" "$OUT/export/softmax.hdf5" "$MODEL_DIR/"
cmp "$OUT/export/vocab.txt" "$MODEL_DIR/vocab.txt"
$PY -c "import torch, json; c = torch.load('$CKPT', map_location='cpu', weights_only=True); \
print(json.dumps({'run_tokens': int(c['tokens']), 'offset_tokens': $OFFSET, \
'total_tokens': int(c['tokens']) + $OFFSET, 'step': int(c['step']), \
'averaged_run_tokens': [a['tokens'] for a in c.get('averaged', [])]}))" > "$OUT/tokens.json"
cat "$OUT/tokens.json"

# lane 1: the downstream tables (classify x2, evaluate with word2vec, examples), fast mode
# on the probes (2026-11-29: lane 1 ~12 + 6 min, lane 2 ~10 min + 8 per learning-curve row)
(
  export OMP_NUM_THREADS=1
  sh scripts/downstream_tables.sh en-small
  $PY benchmarks/probe_variants.py --model en-small --variants fast --json "$OUT/fast.json" \
    > "$OUT/fast.md"
) > "$OUT/lane1.log" 2>&1 &
# lane 2: perplexity, static word vectors, learning curve
(
  export OMP_NUM_THREADS=1
  $E perplexity en-small --corpus data/corpus/valid.txt > "$OUT/perplexity_valid.json"
  $E perplexity en-small --corpus data/corpus/test.txt > "$OUT/perplexity_test.json"
  W2V=""; [ -f data/word2vec.txt ] && W2V="--word2vec data/word2vec.txt"
  $PY benchmarks/word_vectors.py --model en-small --threads 1 $W2V > "$OUT/word_vectors.md"
  # LC_ARGS: which checkpoints (default: the run and all its snapshots); e.g. the run folder
  # and only the newer snapshot files, with --merge of an earlier --json for the rest
  # the rows measured at earlier releases live in the repository (HISTORY); this release's rows
  # are appended to it and the plot shows them all
  $PY benchmarks/learning_curve.py ${LC_ARGS:-"$RUN" --snapshots} --offset-tokens "$OFFSET" \
    --threads 1 --json "$OUT/learning_curve.json" --history "$HISTORY" \
    --plot "$OUT/learning_curve.png" > "$OUT/learning_curve.md"
) > "$OUT/lane2.log" 2>&1 &
wait
cp -r out/downstream-tables "$OUT/"
echo "wrote $OUT/: $(ls "$OUT" | tr '\n' ' ')"
