"""Tune a scikit-learn model from Python with ``tuner.Study``, as in a notebook.

    python examples/study_api.py                        # in-process, ./study_api.db
    python examples/study_api.py --server 127.0.0.1:6789   # against `tuner server`
    python examples/study_api.py --plot history.png       # and plot it (tuner[plot])

Cross-validates a support vector classifier on the bundled breast-cancer data set, four
trials at a time, then prints the best trial and the trials as a table.
"""

from __future__ import annotations

import argparse

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import tuner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--store", default="sqlite:///study_api.db", help="study store URL")
    where.add_argument("--server", help="address of a tuner server")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--plot", metavar="PNG", help="save the optimization history here")
    args = parser.parse_args()

    features, labels = load_breast_cancer(return_X_y=True)

    def cross_validated_accuracy(trial: tuner.Trial) -> float:
        params = trial.parameters
        model = make_pipeline(
            StandardScaler(),
            SVC(C=float(params["C"]), gamma=float(params["gamma"]), kernel=str(params["kernel"])),
        )
        scores = cross_val_score(model, features, labels, cv=3)
        for fold, score in enumerate(scores, start=1):  # intermediate values, one per fold
            study.report(trial, step=fold, fold_accuracy=float(score))
        return float(scores.mean())

    location = {"server": args.server} if args.server else {"store": args.store}
    study = tuner.Study.create(
        "svm-breast-cancer",
        parameters=[
            tuner.DoubleParameter(name="C", low=1e-2, high=1e3, scale=tuner.Scale.LOG),
            tuner.DoubleParameter(name="gamma", low=1e-5, high=1e0, scale=tuner.Scale.LOG),
            tuner.CategoricalParameter(name="kernel", choices=("rbf", "sigmoid")),
        ],
        objective="accuracy",
        direction="maximize",
        load_if_exists=True,
        **location,
    )
    with study:
        study.optimize(cross_validated_accuracy, n_trials=args.trials, n_jobs=4)
        best = study.best_trial
        assert best is not None
        print(f"best accuracy {best.objective_value('accuracy'):.4f} with {dict(best.parameters)}")
        print(study.to_dataframe().sort_values("metrics.accuracy", ascending=False).head(10))
        if args.plot:
            from tuner.visualization import plot_optimization_history

            plot_optimization_history(study).figure.savefig(args.plot)
            print(f"optimization history in {args.plot}")


if __name__ == "__main__":
    main()
