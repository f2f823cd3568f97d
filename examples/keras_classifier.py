"""The classic "ELMo embedding layer in Keras" tutorial on Keras 3 (torch backend).

    python examples/keras_classifier.py [--model NAME] [--train 800] [--test 400]

Fine-food reviews (data/eval/finefoods) -> char ids -> ElmoEmbedding (frozen biLM, trainable
scalar mix, mean over tokens) -> Dense(64, relu) -> Dense(1, sigmoid). Prints test accuracy
and macro-F1, the learned layer weights, and checks the saved .keras model reloads.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from elmokit.downstream.data import find_eval_file, read_labeled_csv  # noqa: E402
from elmokit.downstream.keras import ElmoEmbedding, texts_to_char_ids  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--train", type=int, default=800)
    ap.add_argument("--test", type=int, default=400)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=48)
    args = ap.parse_args()
    keras.utils.set_random_seed(0)
    tr_path, te_path = find_eval_file("finefoods/train.csv"), find_eval_file("finefoods/test.csv")
    if tr_path is None or te_path is None:
        raise SystemExit("no data/eval/finefoods/*.csv: run scripts/fetch_eval_data.py")
    train = read_labeled_csv(tr_path).subset(args.train)
    test = read_labeled_csv(te_path).subset(args.test)
    x_tr = texts_to_char_ids(train.texts, args.max_tokens)
    x_te = texts_to_char_ids(test.texts, args.max_tokens)
    y_tr = np.array([label == "great" for label in train.labels], dtype="float32")
    y_te = np.array([label == "great" for label in test.labels], dtype="float32")

    inp = keras.Input(shape=(args.max_tokens, 50), dtype="int32", name="char_ids")
    elmo = ElmoEmbedding(args.model, output_mode="default", name="elmo")
    x = keras.layers.Dense(64, activation="relu")(elmo(inp))
    out = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inp, out)
    model.compile(keras.optimizers.Adam(3e-3), "binary_crossentropy", metrics=["accuracy"])
    model.summary(print_fn=lambda line, **_: print(line) if "params" in line else None)
    weight = {0: len(y_tr) / (2 * max(1, (y_tr == 0).sum())),
              1: len(y_tr) / (2 * max(1, (y_tr == 1).sum()))}
    model.fit(x_tr, y_tr, epochs=args.epochs, batch_size=32, class_weight=weight, verbose=2)
    pred = (model.predict(x_te, verbose=0)[:, 0] > 0.5).astype("float32")
    from sklearn.metrics import accuracy_score, f1_score

    from elmokit import hub

    print(f"\nmodel {elmo.model_name or hub.default_model()}; train {len(y_tr)}, test {len(y_te)}")
    print(f"test accuracy {accuracy_score(y_te, pred):.4f}, "
          f"macro-F1 {f1_score(y_te, pred, average='macro'):.4f} "
          f"(majority class: {max(y_te.mean(), 1 - y_te.mean()):.4f})")
    print("learned layer weights gamma*softmax(w):",
          ", ".join(f"{w:.3f}" for w in elmo.mix_weights()))
    os.makedirs("out", exist_ok=True)
    model.save("out/keras_elmo.keras")
    again = keras.models.load_model("out/keras_elmo.keras")
    diff = np.abs(again.predict(x_te[:8], verbose=0) - model.predict(x_te[:8], verbose=0)).max()
    print(f"saved out/keras_elmo.keras; reloaded predictions differ by {diff:.2e}")


if __name__ == "__main__":
    main()
