"""A trial that writes TensorBoard event files under logs/train (accuracy is best at x=2)."""

import argparse


def main() -> None:
    from tensorboard.summary import Writer

    parser = argparse.ArgumentParser()
    parser.add_argument("--x", type=float, required=True)
    x = parser.parse_args().x
    writer = Writer("logs/train")
    for epoch in (1, 2):
        accuracy = epoch / 2 - (x - 2) ** 2 / 8
        writer.add_scalar("accuracy", accuracy, step=epoch)
        writer.add_scalar("loss", 1 - accuracy, step=epoch)
        writer.flush()
    writer.close()


if __name__ == "__main__":
    main()
