"""A plain PyTorch ResNet-50, trained eagerly, as the peer of ``benchmarks/training.py``.

The network is builder's ``resnet50`` written out in PyTorch (not torchvision's model):
ResNet v1 bottlenecks with the stride on the first 1x1 convolution, biases on the
convolutions and batch norm epsilon 1.001e-5 as keras.applications has them, so the
multiply-adds are the same. It trains as PyTorch users train on a CPU: eager,
``channels_last`` memory format, and for bfloat16 ``torch.autocast("cpu", bfloat16)``
(weights and optimizer in float32), SGD with momentum 0.9, cross-entropy on the logits.

Run as a worker by ``benchmarks/training.py`` (PyTorch may live in another environment:
``--torch-python``): it builds the model, trains a warm-up epoch, prints ``ready``, then for
each line ``epoch`` on its standard input trains one epoch of ``--steps`` steps and prints
the seconds it took and the CPU seconds this process used; for ``ops`` it prints, as JSON, the operators' self CPU time over
one epoch under ``torch.profiler``, most first. It ends at the end of its input.

    python benchmarks/torch_resnet.py --size 64 --batch-size 16 --steps 8 --dtype bfloat16
"""

import argparse
import contextlib
import json
import sys
import time

import torch
from torch import nn


class Bottleneck(nn.Module):
    def __init__(self, inputs: int, filters: int, stride: int):
        super().__init__()
        out = filters * 4
        self.body = nn.Sequential(
            conv_bn(inputs, filters, 1, stride), nn.ReLU(inplace=True),
            conv_bn(filters, filters, 3, 1), nn.ReLU(inplace=True),
            conv_bn(filters, out, 1, 1))
        self.shortcut = conv_bn(inputs, out, 1, stride) if stride != 1 or inputs != out else None
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        skip = x if self.shortcut is None else self.shortcut(x)
        return self.relu(self.body(x) + skip)


def conv_bn(inputs: int, outputs: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inputs, outputs, kernel, stride, padding=kernel // 2),
                         nn.BatchNorm2d(outputs, eps=1.001e-5, momentum=0.01))


def resnet50(classes: int) -> nn.Module:
    layers = [conv_bn(3, 64, 7, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, padding=1)]
    inputs = 64
    for filters, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            layers.append(Bottleneck(inputs, filters, stride if i == 0 else 1))
            inputs = filters * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(inputs, classes)]
    return nn.Sequential(*layers)


class Trainer:
    def __init__(self, size: int, batch: int, steps: int, dtype: str, classes: int = 10):
        torch.manual_seed(0)
        self.steps = steps
        self.model = resnet50(classes).to(memory_format=torch.channels_last).train()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.loss = nn.CrossEntropyLoss()
        self.autocast = dtype == "bfloat16"
        # Four batches in memory, taken in turn, as the TensorFlow side's cached tf.data.
        self.batches = [(torch.rand(batch, 3, size, size).contiguous(
                            memory_format=torch.channels_last),
                         torch.randint(0, classes, (batch,))) for _ in range(4)]

    def step(self, i: int) -> None:
        x, y = self.batches[i % len(self.batches)]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.autocast):
            logits = self.model(x)
        loss = self.loss(logits.float(), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def epoch(self) -> tuple[float, float]:
        """(seconds, CPU seconds of this process's threads) for one epoch."""
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(self.steps):
            self.step(i)
        return time.perf_counter() - start, time.process_time() - cpu

    def ops(self, top: int = 25) -> list[dict]:
        """Self CPU time per operator over one epoch, in ms per step, most first."""
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            self.epoch()
        rows = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:top]
        return [{"op": e.key, "calls": e.count // self.steps,
                 "self_ms": round(e.self_cpu_time_total / 1e3 / self.steps, 3)} for e in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    args = parser.parse_args()
    trainer = Trainer(args.size, args.batch_size, args.steps, args.dtype)
    trainer.epoch()  # warm-up: allocation, oneDNN primitive creation
    print("ready", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "epoch":
            print("%.6f %.6f" % trainer.epoch(), flush=True)
        elif command == "ops":
            print(json.dumps(trainer.ops()), flush=True)
        elif command:
            print(f"unknown command {command!r}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        main()
