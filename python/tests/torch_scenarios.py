"""Small PyTorch trainings watched by gradscope_torch, run by src/adapters/torch.test.ts (and by hand:
`python3 python/tests/torch_scenarios.py deep-sigmoid runs/x`). Each scenario prints one JSON line of the numbers
the test checks against the run directory (PyTorch's own gradient norms, the module that overflowed, ...)."""
import json
import math
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import gradscope_torch  # noqa: E402

torch.set_num_threads(1)


def spirals(n, seed):
    """Two interleaved spirals, the classic task a deep net must bend its decision boundary for."""
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(n, generator=g) * 3 * math.pi + 0.5
    label = torch.randint(0, 2, (n,), generator=g)
    sign = label.float() * 2 - 1
    x = torch.stack([t * torch.cos(t) * sign, t * torch.sin(t) * sign], 1) / 10
    x = x + 0.02 * torch.randn(n, 2, generator=g)
    return x, label


def mlp(depth, width, activation, init):
    layers = []
    size = 2
    for _ in range(depth):
        linear = nn.Linear(size, width)
        init(linear)
        layers += [linear, activation()]
        size = width
    layers.append(nn.Linear(size, 2))
    return nn.Sequential(*layers)


def train_mlp(run_dir, activation, init, lr, steps, every, depth=20, width=32, clip=None, optimizer_hook=False,
              doctor=False):
    torch.manual_seed(0)
    model = mlp(depth, width, activation, init)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    w = gradscope_torch.watch(model, run_dir, every=every, optimizer=opt if optimizer_hook else None,
                              baseline_loss=math.log(2), doctor=doctor)
    x, y = spirals(2048, 1)
    loss_fn = nn.CrossEntropyLoss()
    own = {}
    for step in range(1, steps + 1):
        idx = torch.randint(0, x.shape[0], (64,))
        opt.zero_grad()
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        if step == 1 or step % every == 0:
            own[step] = {
                "global": float(torch.norm(torch.stack([p.grad.norm() for p in model.parameters()]))),
                "first": float(model[0].weight.grad.norm()),
                "last": float(model[-1].weight.grad.norm()),
            }
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        if not optimizer_hook:
            w.step(loss)
    w.close()
    return {"own": own}


def he(linear):
    nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
    nn.init.zeros_(linear.bias)


def default(linear):
    pass


def adding(n, length, g):
    """The adding problem (Hochreiter & Schmidhuber 1997): sum the two marked numbers of a long sequence."""
    values = torch.rand(n, length, generator=g)
    marks = torch.zeros(n, length)
    for i in range(n):
        a, b = torch.randperm(length, generator=g)[:2]
        marks[i, a] = marks[i, b] = 1
    x = torch.stack([values, marks], 2)
    return x, (values * marks).sum(1, keepdim=True)


class Recurrent(nn.Module):
    def __init__(self, cell, hidden, layers=1):
        super().__init__()
        self.rnn = cell(2, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def train_recurrent(run_dir, cell, length, steps, every, lr, layers=1):
    torch.manual_seed(0)
    model = Recurrent(cell, 32, layers)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    w = gradscope_torch.watch(model, run_dir, every=every, timesteps=True, doctor=False)
    g = torch.Generator().manual_seed(2)
    native = watched = None
    for step in range(1, steps + 1):
        x, y = adding(32, length, g)
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        if step == 1:
            # The same batch through torch's own (fused) recurrent kernel, unwatched: the watcher's unrolled forward
            # of the logged step must give the same gradients.
            watched = {n: float(p.grad.norm()) for n, p in model.named_parameters()}
            saved = {n: p.grad.clone() for n, p in model.named_parameters()}
            model.zero_grad()
            out, _ = type(model.rnn).forward(model.rnn, x)
            nn.functional.mse_loss(model.head(out[:, -1]), y).backward()
            native = {n: float(p.grad.norm()) for n, p in model.named_parameters()}
            for n, p in model.named_parameters():
                p.grad.copy_(saved[n])
        opt.step()
        w.step(loss)
    w.close()
    return {"native": native, "watched": watched}


def train_high_lr(run_dir, every):
    torch.manual_seed(0)
    model = mlp(6, 64, nn.ReLU, he)
    opt = torch.optim.SGD(model.parameters(), lr=50.0)
    w = gradscope_torch.watch(model, run_dir, every=every, doctor=False)
    x, y = spirals(512, 1)
    loss_fn = nn.CrossEntropyLoss()
    first_bad = None
    for step in range(1, 60):
        opt.zero_grad()
        loss = loss_fn(model(x[:64]), y[:64])
        if first_bad is None and not math.isfinite(float(loss)):
            first_bad = step
        loss.backward()
        opt.step()
        w.step(loss)
    w.close()
    return {"firstBadLoss": first_bad}


SCENARIOS = {
    "deep-sigmoid": lambda d: train_mlp(d, nn.Sigmoid, default, 0.1, 200, 10, doctor=True),
    "deep-relu-he": lambda d: train_mlp(d, nn.ReLU, he, 0.1, 200, 10),
    "clipped": lambda d: train_mlp(d, nn.ReLU, he, 0.02, 30, 1, depth=4, clip=0.5),
    "optimizer-hook": lambda d: train_mlp(d, nn.ReLU, he, 0.02, 30, 5, depth=4, optimizer_hook=True),
    "high-lr": lambda d: train_high_lr(d, 1),
    "high-lr-every-10": lambda d: train_high_lr(d, 10),
    "lstm": lambda d: train_recurrent(d, nn.LSTM, 20, 20, 10, 0.01),
    "rnn-long": lambda d: train_recurrent(d, nn.RNN, 60, 60, 10, 0.001),
    "gru-2layer": lambda d: train_recurrent(d, nn.GRU, 15, 10, 5, 0.01, layers=2),
}

if __name__ == "__main__":
    # torch_scenarios.py OUT_DIR NAME...: each scenario writes OUT_DIR/NAME; one JSON line {NAME: numbers}.
    out, names = sys.argv[1], sys.argv[2:]
    print(json.dumps({name: SCENARIOS[name](os.path.join(out, name)) for name in names}))
