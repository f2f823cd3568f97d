#!/bin/sh
# Regenerate the tables of docs/downstream.md with one model (default: the bundled en-small).
# Needs `make eval-data` (data/eval/). Writes Markdown to out/downstream-tables/; paste it
# over the tables of docs/downstream.md and name the model (and its version) above them.
set -eu
MODEL="${1:-en-small}"
PY="${PY:-.venv/bin/python}"
OUT="out/downstream-tables"
mkdir -p "$OUT"
E="$PY -m elmokit.cli"
{
  echo "model: $MODEL ($($PY -c "from elmokit import Elmo; e = Elmo.load('$MODEL'); print(f'D = {e.dim}')")), elmokit $($E --version | awk '{print $NF}'), $(date -u +%Y-%m-%d)"
} > "$OUT/README.md"
for set in finefoods spam; do
  $E classify "data/eval/$set/train.csv" "data/eval/$set/test.csv" --model "$MODEL" \
    --max-train 1500 --max-test 1000 --max-tokens 64 --tokenize elmokit \
    --features "tfidf+glove+word2vec+elmo+elmo:concat" > "$OUT/classify_$set.md"
done
$E evaluate --model "$MODEL" --json "$OUT/evaluate.json" > "$OUT/evaluate.md"
$PY examples/sentence_vectors.py --model "$MODEL" > "$OUT/sentence_vectors.txt"
$PY examples/word_senses.py --model "$MODEL" > "$OUT/word_senses.txt"
echo "wrote $OUT/: $(ls "$OUT" | tr '\n' ' ')"
