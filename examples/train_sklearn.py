"""Train a linear classifier on scikit-learn's bundled digits data set; print metrics.

A real trial for the quickstart experiment: it takes its hyperparameters as flags, trains
for a number of epochs, and prints ``epoch=N accuracy=A loss=L`` after each one, the
format tuner's StdOut collector reads by default.

    python train_sklearn.py --alpha 1e-4 --eta0 0.05 --learning-rate adaptive --epochs 10
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alpha", type=float, required=True, help="L2 regularisation")
    parser.add_argument("--eta0", type=float, required=True, help="initial learning rate")
    parser.add_argument(
        "--learning-rate",
        choices=["constant", "optimal", "invscaling", "adaptive"],
        required=True,
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--epoch-delay",
        type=float,
        default=0.0,
        help="seconds to wait after each epoch, to look like a longer training run",
    )
    args = parser.parse_args()

    features, labels = load_digits(return_X_y=True)
    x_train, x_valid, y_train, y_valid = train_test_split(
        features, labels, test_size=0.3, random_state=args.seed, stratify=labels
    )
    scaler = StandardScaler().fit(x_train)
    x_train, x_valid = scaler.transform(x_train), scaler.transform(x_valid)

    model = SGDClassifier(
        loss="log_loss",
        alpha=args.alpha,
        eta0=args.eta0,
        learning_rate=args.learning_rate,
        random_state=args.seed,
    )
    classes = np.unique(labels)
    rng = np.random.default_rng(args.seed)
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x_train))
        model.partial_fit(x_train[order], y_train[order], classes=classes)
        accuracy = model.score(x_valid, y_valid)
        loss = log_loss(y_valid, model.predict_proba(x_valid), labels=classes)
        print(f"epoch={epoch} accuracy={accuracy:.4f} loss={loss:.4f}", flush=True)
        time.sleep(args.epoch_delay)


if __name__ == "__main__":
    main()
