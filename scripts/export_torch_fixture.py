"""Train a tiny PyTorch LeNet-like model for a few steps and export it to tests/data/torch_lenet.onnx.

    .venv/bin/python scripts/export_torch_fixture.py [--out FILE] [--steps N]

The file is the fixture of tests/io/test_onnx_import.py, which checks that CNN Studio's engine
gives onnxruntime's probabilities for it (that test needs onnx and onnxruntime, not torch).
Needs torch (not a dependency of CNN Studio: install it yourself to run this).  The network
uses what people write in PyTorch: ``F.relu(F.max_pool2d(conv(x), 2))`` (pooling before the
activation), ``x.view(x.size(0), -1)`` and a final softmax.  It is exported with the
TorchScript exporter (``dynamo=False``): the dynamo exporter needs the onnxscript package.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "data" / "torch_lenet.onnx")
    parser.add_argument("--steps", type=int, default=60, help="training steps on the shipped digits")
    args = parser.parse_args(argv)
    try:
        import torch
        from torch import nn
        from torch.nn import functional as F
    except ImportError:
        print("error: this script needs torch. Fix: pip install torch (CNN Studio itself does not).",
              file=sys.stderr)
        return 1
    from cnnstudio.io.datasets import load_mnist_5k

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
            self.conv2 = nn.Conv2d(6, 12, 3)
            self.fc1 = nn.Linear(12 * 6 * 6, 32)
            self.fc2 = nn.Linear(32, 10)

        def forward(self, x):
            x = F.relu(F.max_pool2d(self.conv1(x), 2))    # 28 -> 28 -> 14
            x = F.leaky_relu(self.conv2(x), 0.01)         # 14 -> 12
            x = F.max_pool2d(x, 2)                        # 12 -> 6
            x = x.view(x.size(0), -1)
            x = F.dropout(torch.tanh(self.fc1(x)), 0.2, self.training)
            return F.softmax(self.fc2(x), dim=1)

    torch.manual_seed(0)
    train, _ = load_mnist_5k()
    images, labels = torch.from_numpy(train.images), torch.from_numpy(train.labels)
    model = LeNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = np.random.default_rng(0)
    for step in range(args.steps):
        rows = torch.from_numpy(generator.choice(len(images), 64, replace=False))
        loss = F.nll_loss(torch.log(model(images[rows]) + 1e-9), labels[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, (images[:1],), str(args.out), input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch_size"}, "output": {0: "batch_size"}}, opset_version=17,
                      do_constant_folding=True, dynamo=False)
    with torch.no_grad():
        accuracy = (model(images[:1000]).argmax(1) == labels[:1000]).float().mean().item()
    print(f"trained {args.steps} steps (loss {loss.item():.3f}, accuracy {accuracy:.1%} on 1,000 training digits); "
          f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
