"""Fine-tune ELMo's scalar mix inside a PyTorch classifier (fine-food reviews: great / other).

    python examples/finetune_scalar_mix.py [--model NAME] [--train 800] [--test 400]

Model: ``ElmoLayer`` (frozen biLM, trainable scalar mix: the 3 layer weights) -> masked mean
over tokens -> batch norm -> dropout -> Linear. Baseline: the same model with the mix frozen at the equal
"average" weights (only the Linear layer trains). Both see the same data, epochs and seed;
the script prints test accuracy / macro-F1 of both and the learned layer weights.
Data: data/eval/finefoods/{train,test}.csv (scripts/fetch_eval_data.py).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from elmokit import Elmo, ElmoLayer
from elmokit.downstream.data import find_eval_file, read_labeled_csv
from elmokit.downstream.pooling import scalar_mix_weights, truncate


class ElmoClassifier(nn.Module):
    """Token lists -> logits (B, C)."""

    def __init__(self, elmo: Elmo, num_classes: int, train_mix: bool, dropout: float = 0.2):
        super().__init__()
        self.elmo = ElmoLayer(elmo, num_output_representations=1, dropout=0.0,
                              scalar_mix_parameters=None if train_mix else [0.0, 0.0, 0.0])
        # standardise the pooled vector (sentence vectors differ little from each other; the
        # scikit-learn pipelines use StandardScaler for the same reason)
        self.norm = nn.BatchNorm1d(self.elmo.output_dim, affine=False)
        # ... which makes the mix's overall scale gamma redundant; a drifting gamma would also
        # leave batch norm's running statistics behind. Train the 3 layer weights only.
        self.elmo.scalar_mixes[0].gamma.requires_grad_(False)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(self.elmo.output_dim, num_classes)

    def forward(self, batch: list[list[str]]) -> torch.Tensor:
        res = self.elmo(batch)
        rep, mask = res["elmo_representations"][0], res["mask"].unsqueeze(-1).float()
        pooled = (rep * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (B, D)
        return self.out(self.dropout(self.norm(pooled)))


def run(model: ElmoClassifier, train, test, classes, epochs: int, lr: float, seed: int):
    from sklearn.metrics import accuracy_score, f1_score

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    y = torch.tensor([classes.index(label) for label in train.labels])
    counts = torch.bincount(y, minlength=len(classes)).float()
    loss_fn = nn.CrossEntropyLoss(weight=counts.sum() / (len(classes) * counts))  # balanced
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(train.texts))
        total = 0.0
        for start in range(0, len(order), 32):
            idx = order[start : start + 32]
            logits = model([train.texts[i] for i in idx])
            loss = loss_fn(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(f"  epoch {epoch + 1}: train loss {total / len(order):.4f}", flush=True)
    model.eval()
    with torch.no_grad():
        pred = []
        for start in range(0, len(test.texts), 64):
            pred += model(test.texts[start : start + 64]).argmax(-1).tolist()
    gold = [classes.index(label) for label in test.labels]
    return accuracy_score(gold, pred), f1_score(gold, pred, average="macro")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="ELMo name/dir (default: bundled model)")
    ap.add_argument("--train", type=int, default=800)
    ap.add_argument("--test", type=int, default=400)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(2)
    train_csv = find_eval_file("finefoods/train.csv")
    test_csv = find_eval_file("finefoods/test.csv")
    if train_csv is None or test_csv is None:
        raise SystemExit("no data/eval/finefoods/*.csv: run scripts/fetch_eval_data.py first")
    train = read_labeled_csv(train_csv).subset(args.train, args.seed)
    test = read_labeled_csv(test_csv).subset(args.test, args.seed)
    train.texts = [truncate(t, args.max_tokens) for t in train.texts]
    test.texts = [truncate(t, args.max_tokens) for t in test.texts]
    classes = sorted(set(train.labels))
    elmo = Elmo.load(args.model)
    print(f"model {elmo.name} (D={elmo.dim}); train {len(train.texts)}, test {len(test.texts)}, "
          f"first {args.max_tokens} tokens, {args.epochs} epochs")
    results = {}
    for name, train_mix in (("frozen average mix", False), ("trained scalar mix", True)):
        print(name)
        start = time.perf_counter()
        model = ElmoClassifier(elmo, len(classes), train_mix)
        acc, f1 = run(model, train, test, classes, args.epochs, args.lr, args.seed)
        weights = scalar_mix_weights(model.elmo.scalar_mixes[0])
        results[name] = (acc, f1, weights, time.perf_counter() - start)
    print("\n| model | accuracy | macro-F1 | layer weights gamma*softmax(w) | seconds |")
    print("|---|---|---|---|---|")
    for name, (acc, f1, w, secs) in results.items():
        print(f"| {name} | {acc:.4f} | {f1:.4f} | {', '.join(f'{x:.3f}' for x in w)} | {secs:.0f} |")
    (a0, f0, *_), (a1, f1_, *_) = results.values()
    verdict = "beats" if f1_ > f0 else "does NOT beat"
    print(f"\nTraining the mix {verdict} the frozen average (macro-F1 {f1_:.4f} vs {f0:.4f}).")


if __name__ == "__main__":
    main()
