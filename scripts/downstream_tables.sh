#!/bin/sh
# Regenerate the tables of docs/downstream.md with one model (default: the bundled en-small).
# Needs `make eval-data` (data/eval/) and `make corpus` (word senses); ~15 min on 2 cores.
# Writes Markdown to out/downstream-tables/ (PNGs to docs/img/); paste it over the tables of
# docs/downstream.md and name the model (and its version) above them.
set -eu
MODEL="${1:-en-small}"
PY="${PY:-.venv/bin/python}"
OUT="out/downstream-tables"
mkdir -p "$OUT"
E="$PY -m elmokit.cli"
# word2vec: the same-corpus vectors when built (scripts/train_word2vec.py), else trained on
# each task's training texts by `classify`.
W2V="${W2V:-data/word2vec.txt}"
W2V_ARG=""
[ -f "$W2V" ] && W2V_ARG="--word2vec $W2V"
{
  echo "word2vec: ${W2V_ARG:-trained by classify on each training set}"
  echo "model: $MODEL ($($PY -c "from elmokit import Elmo; e = Elmo.load('$MODEL'); print(f'D = {e.dim}')")), elmokit $($E --version | awk '{print $NF}'), $(date -u +%Y-%m-%d)"
} > "$OUT/README.md"
for set in finefoods spam; do
  $E classify "data/eval/$set/train.csv" "data/eval/$set/test.csv" --model "$MODEL" \
    --max-train 1500 --max-test 1000 --tokenize elmokit \
    --features "tfidf+glove+word2vec+elmo+elmo:concat" $W2V_ARG > "$OUT/classify_$set.md"
done
$E evaluate --model "$MODEL" $W2V_ARG --json "$OUT/evaluate.json" > "$OUT/evaluate.md"
$PY examples/sentence_vectors.py --model "$MODEL" > "$OUT/sentence_vectors.txt"
$PY examples/word_senses.py --model "$MODEL" > "$OUT/word_senses.txt"
$PY examples/sklearn_pipeline.py --model "$MODEL" > "$OUT/sklearn_pipeline.txt"
$PY examples/finetune_scalar_mix.py --model "$MODEL" > "$OUT/finetune_scalar_mix.md"
KERAS_BACKEND=torch $PY examples/keras_classifier.py --model "$MODEL" > "$OUT/keras_classifier.txt" 2>&1
# PNGs named after the model into docs/img, the HTML beside them under out/
$PY examples/plot_embeddings.py --model "$MODEL" --out docs/img --html "$OUT" > "$OUT/plots.txt"
echo "wrote $OUT/: $(ls "$OUT" | tr '\n' ' ')"
