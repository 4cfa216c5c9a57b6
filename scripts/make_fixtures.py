#!/usr/bin/python3
"""Oracle fixtures for gradscope, computed by PyTorch in float64.

Run from anywhere:  /usr/bin/python3 scripts/make_fixtures.py [NAME ...]
Writes one JSON file per fixture into <repo>/fixtures/ and removes stale *.json files there; with names, writes
only those fixtures and removes nothing (the others stay byte for byte as they are).

Every file has the schema
    {"name", "description", "torch", "hyperparameters" (optional), "tensors": {name: {"shape", "data"}}}
with `data` flat in row-major order. Naming: inputs `x`, targets `target`, parameters under PyTorch's own
names (`layers.0.weight`, `weight_ih_l0`), outputs `out`, `loss`, gradients `grad.<name>`.

Each fixture reseeds torch with a seed derived from its name (crc32), so adding or reordering fixtures
never changes the numbers in the others, and rerunning the script reproduces the files byte for byte.
"""

import json
import math
import os
import sys
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "fixtures")

FIXTURES = {}  # name -> dict, in creation order


def seed_for(name):
    torch.manual_seed(zlib.crc32(name.encode("utf-8")))


def as_tensor_entry(t):
    t = t.detach()
    if t.dtype in (torch.int64, torch.int32):
        data = [int(v) for v in t.reshape(-1).tolist()]
    else:
        data = [float(v) for v in t.to(torch.float64).reshape(-1).tolist()]
        for v in data:
            if not math.isfinite(v):
                raise ValueError("non-finite value in a fixture tensor; JSON cannot hold it")
    return {"shape": list(t.shape), "data": data}


def emit(name, description, tensors, hyperparameters=None):
    if name in FIXTURES:
        raise ValueError(f"duplicate fixture name {name}")
    entry = {"name": name, "description": description, "torch": torch.__version__}
    if hyperparameters is not None:
        entry["hyperparameters"] = hyperparameters
    entry["tensors"] = {k: as_tensor_entry(v) for k, v in tensors.items()}
    FIXTURES[name] = entry


def write_all(only=None):
    os.makedirs(OUT_DIR, exist_ok=True)
    if only:
        unknown = sorted(set(only) - set(FIXTURES))
        if unknown:
            raise SystemExit(f"unknown fixture(s) {', '.join(unknown)}; known: {', '.join(FIXTURES)}")
    written = set()
    total = 0
    for name, fx in FIXTURES.items():
        if only and name not in only:
            continue
        # One tensor per line keeps diffs readable and the files small.
        lines = ["{"]
        for key in ("name", "description", "torch", "hyperparameters"):
            if key in fx:
                lines.append(f"  {json.dumps(key)}: {json.dumps(fx[key], allow_nan=False)},")
        lines.append('  "tensors": {')
        items = list(fx["tensors"].items())
        for i, (tname, t) in enumerate(items):
            comma = "," if i + 1 < len(items) else ""
            lines.append(f"    {json.dumps(tname)}: {json.dumps(t, allow_nan=False)}{comma}")
        lines.append("  }")
        lines.append("}")
        text = "\n".join(lines) + "\n"
        json.loads(text)  # the file we write must parse
        path = os.path.join(OUT_DIR, f"{name}.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        written.add(f"{name}.json")
        total += len(text)
    for stale in [] if only else sorted(set(os.listdir(OUT_DIR)) - written):
        if stale.endswith(".json"):
            os.remove(os.path.join(OUT_DIR, stale))
            print(f"removed stale {stale}")
    print(f"wrote {len(written)} fixtures ({total / 1024:.1f} KiB) to {OUT_DIR} with torch {torch.__version__}")


def check_close(a, b, what, tol=1e-12):
    if not torch.allclose(a, b, rtol=tol, atol=tol):
        raise AssertionError(f"self-check failed: {what}; max diff {(a - b).abs().max().item()}")


# ---------------------------------------------------------------------------------------------------------------
# 1. Dense stacks, one per activation
# ---------------------------------------------------------------------------------------------------------------

ACTIVATIONS = {
    "sigmoid": ("nn.Sigmoid()", lambda: nn.Sigmoid()),
    "tanh": ("nn.Tanh()", lambda: nn.Tanh()),
    "relu": ("nn.ReLU()", lambda: nn.ReLU()),
    "leaky-relu": ("nn.LeakyReLU(negative_slope=0.01)", lambda: nn.LeakyReLU(0.01)),
    "prelu": (
        "nn.PReLU(num_parameters=1, init=0.25): one learnable slope per layer, shape [1], "
        "named layers.1.weight and layers.3.weight; their gradients are included",
        lambda: nn.PReLU(num_parameters=1, init=0.25),
    ),
    "elu": ("nn.ELU(alpha=1.0)", lambda: nn.ELU(alpha=1.0)),
    "selu": (
        "nn.SELU(): scale * (max(0,x) + min(0, alpha*(exp(x)-1))) with alpha=1.6732632423543772, "
        "scale=1.0507009873554805",
        lambda: nn.SELU(),
    ),
    "gelu": ("nn.GELU(approximate='none'): exact x * 0.5 * (1 + erf(x / sqrt(2)))", lambda: nn.GELU()),
    "softplus": (
        "nn.Softplus(beta=1, threshold=20): log(1 + exp(x)), and x itself where x > 20 (no input here exceeds 20)",
        lambda: nn.Softplus(beta=1, threshold=20),
    ),
    "linear": ("nn.Identity() (no activation; the layer indices stay 0..4 so parameter names match the others)",
               lambda: nn.Identity()),
}


class DenseStack(nn.Module):
    def __init__(self, make_activation):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(5, 6), make_activation(), nn.Linear(6, 6), make_activation(), nn.Linear(6, 3)
        )


def make_dense():
    for act, (act_text, make_activation) in ACTIVATIONS.items():
        name = f"dense-{act}"
        seed_for(name)
        model = DenseStack(make_activation)  # PyTorch's default Linear init, recorded below
        x = torch.randn(4, 5, requires_grad=True)
        target = torch.randint(0, 3, (4,))
        h = x
        layer_outputs = {}
        for i, layer in enumerate(model.layers):
            h = layer(h)
            h.retain_grad()
            layer_outputs[f"layers.{i}.out"] = h
        out = h
        loss = F.cross_entropy(out, target, reduction="mean")
        loss.backward()
        tensors = {"x": x, "target": target}
        for pname, p in model.named_parameters():
            tensors[pname] = p
        tensors.update(layer_outputs)
        tensors["out"] = out
        tensors["loss"] = loss
        tensors["grad.x"] = x.grad
        for pname, p in model.named_parameters():
            tensors[f"grad.{pname}"] = p.grad
        emit(
            name,
            "Dense stack in float64: x [4,5] -> layers.0 = Linear(5,6) -> layers.1 = ACT -> layers.2 = Linear(6,6) "
            "-> layers.3 = ACT -> layers.4 = Linear(6,3) -> out (logits [4,3]). Linear is y = x @ weight^T + bias "
            "with weight [out,in] (PyTorch layout, default PyTorch init, values recorded). "
            f"ACT = {act_text}. "
            "loss = F.cross_entropy(out, target, reduction='mean') = mean over the 4 rows of "
            "(logsumexp(out[b,:]) - out[b, target[b]]); target holds class ids 0..2. "
            "layers.<i>.out is the output of layer i (layers.4.out == out). "
            "grad.<param> = dloss/dparam for every parameter, grad.x = dloss/dx.",
            tensors,
            hyperparameters={"activation": act, "sizes": [5, 6, 6, 3], "batch": 4},
        )


# ---------------------------------------------------------------------------------------------------------------
# 2. Losses alone
# ---------------------------------------------------------------------------------------------------------------


def make_losses():
    name = "loss-cross-entropy"
    seed_for(name)
    x = (torch.randn(4, 5) * 2).requires_grad_()
    target = torch.randint(0, 5, (4,))
    loss = F.cross_entropy(x, target, reduction="mean")
    loss.backward()
    emit(
        name,
        "Cross-entropy on ordinary logits. x: logits [4,5], target: class ids [4]. "
        "loss = F.cross_entropy(x, target, reduction='mean') = (1/4) * sum_b (logsumexp(x[b,:]) - x[b, target[b]]). "
        "grad.x = dloss/dx = (softmax(x) - onehot(target)) / 4.",
        {"x": x, "target": target, "loss": loss, "grad.x": x.grad},
    )

    name = "loss-cross-entropy-large-logits"
    seed_for(name)
    rows = [
        torch.randn(5) * 1e4,  # random, 1e4 scale
        torch.tensor([1e4, 1e4, -1e4, 0.0, 5e3]),  # exact tie between the two largest
        torch.full((5,), 1e4),  # all equal and huge: softmax is uniform
        torch.randn(5) * 1e4,  # target set to the smallest logit below: loss of order 1e4
    ]
    x = torch.stack(rows).requires_grad_()
    target = torch.randint(0, 5, (4,))
    target[1] = 0
    target[3] = int(torch.argmin(rows[3]))
    loss = F.cross_entropy(x, target, reduction="mean")
    loss.backward()
    emit(
        name,
        "Cross-entropy on huge logits (a naive exp overflows; a stable engine must subtract the row max). "
        "x: logits [4,5]: row 0 random with std 1e4; row 1 = [1e4, 1e4, -1e4, 0, 5e3] (tie, target 0, so "
        "loss term log 2 and grad 0.5 on class 1); row 2 = all 1e4 (uniform softmax); row 3 random with std 1e4 and "
        "target = its smallest logit (loss term of order 1e4, finite). "
        "loss = F.cross_entropy(x, target, reduction='mean') = (1/4) * sum_b (logsumexp(x[b,:]) - x[b, target[b]]). "
        "grad.x = (softmax(x) - onehot(target)) / 4.",
        {"x": x, "target": target, "loss": loss, "grad.x": x.grad},
    )

    name = "loss-bce"
    seed_for(name)
    x = torch.sigmoid(torch.randn(4, 3)).requires_grad_()
    target = torch.bernoulli(torch.full((4, 3), 0.5))
    loss = F.binary_cross_entropy(x, target, reduction="mean")
    loss.backward()
    emit(
        name,
        "Binary cross-entropy on probabilities. x: probabilities in (0,1) [4,3], target: 0/1 floats [4,3]. "
        "loss = F.binary_cross_entropy(x, target, reduction='mean') = -(1/12) * sum (target*log(x) + "
        "(1-target)*log(1-x)) (PyTorch clamps each log at -100; no input here reaches that). "
        "grad.x = (x - target) / (x*(1-x)) / 12.",
        {"x": x, "target": target, "loss": loss, "grad.x": x.grad},
    )

    name = "loss-bce-with-logits"
    seed_for(name)
    x = torch.randn(4, 3) * 3
    x[0, 0] = 40.0  # target forced to 0 below: loss term 40, grad ~ 1/12
    x[0, 1] = -40.0  # target forced to 0: loss term ~4e-18
    x[0, 2] = -40.0  # target forced to 1: loss term 40, grad ~ -1/12
    x.requires_grad_()
    target = torch.bernoulli(torch.full((4, 3), 0.5))
    target[0] = torch.tensor([0.0, 0.0, 1.0])
    loss = F.binary_cross_entropy_with_logits(x, target, reduction="mean")
    loss.backward()
    emit(
        name,
        "Binary cross-entropy with logits. x: logits [4,3] (row 0 holds +-40 to test stability), target: 0/1 "
        "floats [4,3]. loss = F.binary_cross_entropy_with_logits(x, target, reduction='mean') = (1/12) * sum "
        "(max(x,0) - x*target + log(1 + exp(-|x|))), i.e. the mean of -(target*log(sigmoid(x)) + "
        "(1-target)*log(1-sigmoid(x))) computed stably. grad.x = (sigmoid(x) - target) / 12.",
        {"x": x, "target": target, "loss": loss, "grad.x": x.grad},
    )

    name = "loss-mse"
    seed_for(name)
    x = torch.randn(4, 3, requires_grad=True)
    target = torch.randn(4, 3)
    loss = F.mse_loss(x, target, reduction="mean")
    loss.backward()
    emit(
        name,
        "Mean squared error. x [4,3], target [4,3] (floats). loss = F.mse_loss(x, target, reduction='mean') = "
        "(1/12) * sum (x - target)^2 (mean over all elements). grad.x = 2 * (x - target) / 12.",
        {"x": x, "target": target, "loss": loss, "grad.x": x.grad},
    )

    for fn_name, fn in (("log-softmax", F.log_softmax), ("softmax", F.softmax)):
        name = fn_name
        seed_for(name)
        x = (torch.randn(3, 5) * 2).requires_grad_()
        w = torch.randn(3, 5)
        out = fn(x, dim=1)
        loss = (w * out).sum()
        loss.backward()
        formula = (
            "out[b,j] = x[b,j] - logsumexp(x[b,:])" if fn_name == "log-softmax" else
            "out[b,j] = exp(x[b,j]) / sum_k exp(x[b,k])"
        )
        emit(
            name,
            f"{fn_name} over the last axis (dim=1) of x [3,5]: {formula}. w [3,5] is a fixed random upstream "
            "weight. loss = sum(w * out) over all elements. grad.x = dloss/dx.",
            {"x": x, "w": w, "out": out, "loss": loss, "grad.x": x.grad},
        )


# ---------------------------------------------------------------------------------------------------------------
# 3-4. Normalisation
# ---------------------------------------------------------------------------------------------------------------


def make_norms():
    name = "batchnorm1d-train"
    seed_for(name)
    bn = nn.BatchNorm1d(6, eps=1e-5, momentum=0.1, affine=True)
    with torch.no_grad():
        bn.weight.copy_(1 + 0.5 * torch.randn(6))
        bn.bias.copy_(0.5 * torch.randn(6))
        bn.running_mean.copy_(0.3 * torch.randn(6))
        bn.running_var.copy_(torch.rand(6) + 0.5)
    running_mean_before = bn.running_mean.clone()
    running_var_before = bn.running_var.clone()
    bn.train()
    x = (torch.randn(8, 6) * 2 + 1).requires_grad_()
    w = torch.randn(8, 6)
    out = bn(x)
    loss = (w * out).sum()
    loss.backward()
    batch_mean = x.detach().mean(0)
    batch_var_biased = x.detach().var(0, unbiased=False)
    batch_var_unbiased = x.detach().var(0, unbiased=True)
    check_close(bn.running_var, 0.9 * running_var_before + 0.1 * batch_var_unbiased, "running_var uses unbiased var")
    check_close(bn.running_mean, 0.9 * running_mean_before + 0.1 * batch_mean, "running_mean update")
    emit(
        name,
        "BatchNorm1d(6, eps=1e-5, momentum=0.1, affine=True) in TRAINING mode on x [8,6] (batch 8, 6 features). "
        "out = (x - mean_b(x)) / sqrt(var_b(x) + eps) * weight + bias, where mean_b and var_b are over the batch "
        "axis and var_b is the BIASED variance (divide by N=8) for the normalisation. loss = sum(w * out) with a "
        "fixed random w [8,6]. grad.x, grad.weight, grad.bias = dloss/d(...). After the step PyTorch updates "
        "running_mean.after = (1-0.1)*running_mean.before + 0.1*mean_b(x) and running_var.after = "
        "(1-0.1)*running_var.before + 0.1*var_unbiased(x), where var_unbiased divides by N-1=7 (PyTorch uses the "
        "UNBIASED batch variance for the running estimate but the biased one for normalising). "
        "batch_mean, batch_var (biased) and batch_var_unbiased are included for debugging.",
        {
            "x": x,
            "weight": bn.weight,
            "bias": bn.bias,
            "running_mean.before": running_mean_before,
            "running_var.before": running_var_before,
            "w": w,
            "out": out,
            "loss": loss,
            "grad.x": x.grad,
            "grad.weight": bn.weight.grad,
            "grad.bias": bn.bias.grad,
            "running_mean.after": bn.running_mean,
            "running_var.after": bn.running_var,
            "batch_mean": batch_mean,
            "batch_var": batch_var_biased,
            "batch_var_unbiased": batch_var_unbiased,
        },
        hyperparameters={"num_features": 6, "eps": 1e-5, "momentum": 0.1, "affine": True, "training": True},
    )

    name = "batchnorm1d-eval"
    seed_for(name)
    bn = nn.BatchNorm1d(6, eps=1e-5, momentum=0.1, affine=True)
    with torch.no_grad():
        bn.weight.copy_(1 + 0.5 * torch.randn(6))
        bn.bias.copy_(0.5 * torch.randn(6))
        bn.running_mean.copy_(torch.randn(6))
        bn.running_var.copy_(torch.rand(6) * 2 + 0.25)
    bn.eval()
    x = (torch.randn(8, 6) * 2 + 1).requires_grad_()
    w = torch.randn(8, 6)
    out = bn(x)
    loss = (w * out).sum()
    loss.backward()
    emit(
        name,
        "BatchNorm1d(6, eps=1e-5, momentum=0.1, affine=True) in EVAL mode on x [8,6] with the given running "
        "statistics: out = (x - running_mean) / sqrt(running_var + eps) * weight + bias (running stats are not "
        "updated). loss = sum(w * out) with a fixed random w [8,6]. grad.x, grad.weight, grad.bias = dloss/d(...).",
        {
            "x": x,
            "weight": bn.weight,
            "bias": bn.bias,
            "running_mean": bn.running_mean,
            "running_var": bn.running_var,
            "w": w,
            "out": out,
            "loss": loss,
            "grad.x": x.grad,
            "grad.weight": bn.weight.grad,
            "grad.bias": bn.bias.grad,
        },
        hyperparameters={"num_features": 6, "eps": 1e-5, "momentum": 0.1, "affine": True, "training": False},
    )

    name = "layernorm"
    seed_for(name)
    ln = nn.LayerNorm(6, eps=1e-5, elementwise_affine=True)
    with torch.no_grad():
        ln.weight.copy_(1 + 0.5 * torch.randn(6))
        ln.bias.copy_(0.5 * torch.randn(6))
    x = (torch.randn(4, 6) * 2 + 1).requires_grad_()
    w = torch.randn(4, 6)
    out = ln(x)
    loss = (w * out).sum()
    loss.backward()
    emit(
        name,
        "LayerNorm(6, eps=1e-5, elementwise_affine=True) on x [4,6]: for each row, out = (x - mean(x)) / "
        "sqrt(var(x) + eps) * weight + bias, mean and BIASED variance (divide by 6) over the last axis. "
        "loss = sum(w * out) with a fixed random w [4,6]. grad.x, grad.weight, grad.bias = dloss/d(...).",
        {
            "x": x,
            "weight": ln.weight,
            "bias": ln.bias,
            "w": w,
            "out": out,
            "loss": loss,
            "grad.x": x.grad,
            "grad.weight": ln.weight.grad,
            "grad.bias": ln.bias.grad,
        },
        hyperparameters={"normalized_shape": [6], "eps": 1e-5, "elementwise_affine": True},
    )


# ---------------------------------------------------------------------------------------------------------------
# 5. Optimisers
# ---------------------------------------------------------------------------------------------------------------

OPTIMIZERS = [
    (
        "optim-sgd",
        torch.optim.SGD,
        {"lr": 0.1, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
        "p <- p - lr*g.",
    ),
    (
        "optim-sgd-momentum",
        torch.optim.SGD,
        {"lr": 0.1, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
        "buf <- g on the first step, then buf <- momentum*buf + (1-dampening)*g; p <- p - lr*buf.",
    ),
    (
        "optim-sgd-nesterov",
        torch.optim.SGD,
        {"lr": 0.1, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0, "nesterov": True},
        "buf <- g on the first step, then buf <- momentum*buf + g; p <- p - lr*(g + momentum*buf).",
    ),
    (
        "optim-adagrad",
        torch.optim.Adagrad,
        {"lr": 0.1, "lr_decay": 0.0, "weight_decay": 0.0, "initial_accumulator_value": 0.0, "eps": 1e-10},
        "sum <- sum + g^2 (sum starts at initial_accumulator_value); p <- p - clr * g / (sqrt(sum) + eps), "
        "clr = lr / (1 + (t-1)*lr_decay).",
    ),
    (
        "optim-rmsprop",
        torch.optim.RMSprop,
        {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0, "centered": False},
        "v <- alpha*v + (1-alpha)*g^2 (v starts at 0); p <- p - lr * g / (sqrt(v) + eps) (eps OUTSIDE the sqrt).",
    ),
    (
        "optim-adam",
        torch.optim.Adam,
        {"lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False},
        "m <- b1*m + (1-b1)*g; v <- b2*v + (1-b2)*g^2 (m, v start at 0); "
        "p <- p - lr * (m/(1-b1^t)) / (sqrt(v)/sqrt(1-b2^t) + eps) (eps added after the bias correction of v).",
    ),
    (
        "optim-adamw",
        torch.optim.AdamW,
        {"lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01, "amsgrad": False},
        "decoupled weight decay first: p <- p * (1 - lr*weight_decay); then the Adam update with the raw g: "
        "m <- b1*m + (1-b1)*g; v <- b2*v + (1-b2)*g^2; p <- p - lr * (m/(1-b1^t)) / (sqrt(v)/sqrt(1-b2^t) + eps).",
    ),
    (
        "optim-adam-l2",
        torch.optim.Adam,
        {"lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01, "amsgrad": False},
        "L2 penalty folded into the gradient (NOT decoupled): g' = g + weight_decay*p; then Adam with g': "
        "m <- b1*m + (1-b1)*g'; v <- b2*v + (1-b2)*g'^2; p <- p - lr * (m/(1-b1^t)) / (sqrt(v)/sqrt(1-b2^t) + eps).",
    ),
]


def make_optimizers():
    steps = 3
    for name, ctor, hp, rule in OPTIMIZERS:
        seed_for(name)
        p0 = torch.randn(2, 3)
        grads = [torch.randn(2, 3) for _ in range(steps)]
        param = nn.Parameter(p0.clone())
        kwargs = dict(hp)
        if "betas" in kwargs:
            kwargs["betas"] = tuple(kwargs["betas"])
        opt = ctor([param], **kwargs)
        tensors = {"p": p0}
        for k, g in enumerate(grads, start=1):
            tensors[f"grad.p.step{k}"] = g
        for k, g in enumerate(grads, start=1):
            param.grad = g.clone()
            opt.step()
            tensors[f"p.step{k}"] = param.detach().clone()
        emit(
            name,
            f"{ctor.__name__}({', '.join(f'{k}={v}' for k, v in hp.items())}) on one parameter p [2,3]. "
            f"{steps} consecutive steps t = 1..{steps}: before step t the gradient is set to grad.p.step<t> "
            f"(given, not computed from a loss), then opt.step(); p.step<t> is the parameter after step t. "
            f"Rule: {rule}",
            tensors,
            hyperparameters={"optimizer": ctor.__name__, **hp},
        )


# ---------------------------------------------------------------------------------------------------------------
# 6. Recurrent layers
# ---------------------------------------------------------------------------------------------------------------

T, B, IN, H = 6, 2, 3, 4


def cell_step(kind, params, layer, x_t, state):
    """One step written out by hand with the module's weights; it must agree with nn.RNN/LSTM/GRU."""
    w_ih = params[f"weight_ih_l{layer}"]
    w_hh = params[f"weight_hh_l{layer}"]
    b_ih = params[f"bias_ih_l{layer}"]
    b_hh = params[f"bias_hh_l{layer}"]
    if kind in ("rnn-tanh", "rnn-relu"):
        (h,) = state
        pre = x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        return (torch.tanh(pre) if kind == "rnn-tanh" else torch.relu(pre),)
    if kind == "lstm":
        h, c = state
        gates = x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return (h, c)
    if kind == "gru":
        (h,) = state
        gi = x_t @ w_ih.T + b_ih
        gh = h @ w_hh.T + b_hh
        i_r, i_z, i_n = gi.chunk(3, dim=1)
        h_r, h_z, h_n = gh.chunk(3, dim=1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return ((1 - z) * n + z * h,)
    raise ValueError(kind)


RECURRENT_FORMULAS = {
    "rnn-tanh": "h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh); weight_ih_l0 [H,in], weight_hh_l0 [H,H].",
    "rnn-relu": "h_t = relu(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh); weight_ih_l0 [H,in], weight_hh_l0 [H,H].",
    "lstm": "gates = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh, split into 4 blocks of H rows in the order "
    "i, f, g, o (weight_ih_l<k> [4H,in], weight_hh_l<k> [4H,H], biases [4H]); c_t = sigmoid(f)*c_{t-1} + "
    "sigmoid(i)*tanh(g); h_t = sigmoid(o)*tanh(c_t).",
    "gru": "blocks of H rows in the order r, z, n (weight_ih_l0 [3H,in], weight_hh_l0 [3H,H], biases [3H]); "
    "r = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr); z = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz); "
    "n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn)) (reset applied AFTER the hidden matmul, b_hn inside); "
    "h_t = (1 - z) * n + z * h_{t-1}.",
}


def make_recurrent():
    configs = [
        ("rnn-tanh", "rnn-tanh", 1),
        ("rnn-relu", "rnn-relu", 1),
        ("lstm", "lstm", 1),
        ("lstm-2layer", "lstm", 2),
        ("gru", "gru", 1),
    ]
    for name, kind, layers in configs:
        seed_for(name)
        if kind == "lstm":
            module = nn.LSTM(IN, H, num_layers=layers)
        elif kind == "gru":
            module = nn.GRU(IN, H, num_layers=layers)
        else:
            module = nn.RNN(IN, H, num_layers=layers, nonlinearity=kind.split("-")[1])
        params = dict(module.named_parameters())
        x = torch.randn(T, B, IN, requires_grad=True)
        w = torch.randn(T, B, H)
        h0 = torch.zeros(layers, B, H)
        c0 = torch.zeros(layers, B, H)
        if kind == "lstm":
            out, (h_n, c_n) = module(x, (h0, c0))
        else:
            out, h_n = module(x, h0)
            c_n = None
        loss = (w * out).sum()
        loss.backward()

        # Manual unroll with the same weights: checks the formulas in the description, and exposes each h_t as a
        # graph node so torch.autograd.grad gives the TOTAL derivative dL/dh_t (direct term w_t plus every path
        # through h_{t+1}, c_{t+1}, ... and, for a lower layer, through the layer above).
        layer_input = [x[t] for t in range(T)]
        per_layer_h = []
        finals = []
        for layer in range(layers):
            state = (h0[layer], c0[layer]) if kind == "lstm" else (h0[layer],)
            hs = []
            for t in range(T):
                state = cell_step(kind, params, layer, layer_input[t], state)
                hs.append(state[0])
            per_layer_h.append(hs)
            finals.append(state)
            layer_input = hs
        manual_out = torch.stack(per_layer_h[-1])
        manual_loss = (w * manual_out).sum()
        check_close(manual_out, out, f"{name}: manual unroll output")
        check_close(torch.stack([s[0] for s in finals]), h_n, f"{name}: manual h_n")
        if c_n is not None:
            check_close(torch.stack([s[1] for s in finals]), c_n, f"{name}: manual c_n")
        flat_h = [h for hs in per_layer_h for h in hs]
        grads_h = torch.autograd.grad(manual_loss, flat_h + [x] + list(params.values()))
        grad_wrt_h = grads_h[: len(flat_h)]
        check_close(grads_h[len(flat_h)], x.grad, f"{name}: manual grad.x")
        for (pname, p), g in zip(params.items(), grads_h[len(flat_h) + 1:]):
            check_close(g, p.grad, f"{name}: manual grad.{pname}")
        time_grads = []
        for layer in range(layers):
            norms = [grad_wrt_h[layer * T + t].norm() for t in range(T)]
            time_grads.append(torch.stack(norms))

        tensors = {"x": x, "w": w, "h0": h0}
        if kind == "lstm":
            tensors["c0"] = c0
        for pname, p in params.items():
            tensors[pname] = p
        tensors["out"] = out
        tensors["h_n"] = h_n
        if c_n is not None:
            tensors["c_n"] = c_n
        tensors["loss"] = loss
        tensors["grad.x"] = x.grad
        for pname, p in params.items():
            tensors[f"grad.{pname}"] = p.grad
        tensors["timeGrad"] = time_grads[-1]
        if layers > 1:
            for layer in range(layers):
                tensors[f"timeGrad.l{layer}"] = time_grads[layer]
        module_text = {
            "rnn-tanh": f"nn.RNN({IN}, {H}, num_layers={layers}, nonlinearity='tanh')",
            "rnn-relu": f"nn.RNN({IN}, {H}, num_layers={layers}, nonlinearity='relu')",
            "lstm": f"nn.LSTM({IN}, {H}, num_layers={layers})",
            "gru": f"nn.GRU({IN}, {H}, num_layers={layers})",
        }[kind]
        layer_text = (
            " Layer 1 takes layer 0's h_t as its input x_t (no dropout)." if layers > 1 else ""
        )
        time_text = (
            "timeGrad [T] = the top layer's; timeGrad.l<k> [T] is the same quantity for the hidden output of layer k."
            if layers > 1 else "timeGrad [T]."
        )
        emit(
            name,
            f"{module_text}, time-major input x [T={T}, B={B}, in={IN}], hidden H={H}, default PyTorch init (values "
            f"recorded), biases on, h0 = zeros [{layers},{B},{H}]" + (" and c0 = zeros" if kind == "lstm" else "")
            + f". Step: {RECURRENT_FORMULAS[kind]}{layer_text} out [T,B,H] is the top layer's h_t for every t; "
            f"h_n [{layers},B,H] is the last h_t of each layer" + (", c_n likewise the last c_t" if kind == "lstm" else "")
            + ". loss = sum(w * out) over all T*B*H elements, with a fixed random w [T,B,H]. grad.x and grad.<param> "
            "= dloss/d(...) for every parameter. timeGrad[t] = || dloss/dh_t ||_2 (Frobenius norm over B and H), "
            "where dloss/dh_t is the TOTAL gradient with respect to the hidden output h_t: the direct term w[t] plus "
            "every path through later steps (h_{t+1}, ..., and c_{t+1}, ... for LSTM). It was computed by "
            "torch.autograd.grad on a manual unroll with the same weights (checked against the module to 1e-12), "
            f"i.e. the gradient a backward hook on h_t would see. {time_text}",
            tensors,
            hyperparameters={"cell": kind, "input_size": IN, "hidden_size": H, "num_layers": layers,
                             "seq_len": T, "batch": B, "batch_first": False},
        )


# ---------------------------------------------------------------------------------------------------------------
# 7. Gradient accumulation
# ---------------------------------------------------------------------------------------------------------------


def make_accumulate():
    name = "grad-accumulate"
    seed_for(name)
    x = torch.randn(5, requires_grad=True)
    w = torch.randn(5)
    out = x * x + x
    loss = (out * w).sum()
    loss.backward()
    check_close(x.grad, w * (2 * x.detach() + 1), "grad-accumulate closed form")
    emit(
        name,
        "A node used several times: x [5] feeds both factors of x*x and the addend. out = x*x + x; "
        "loss = sum(out * w) with a fixed random w [5]. grad.x = w * (2x + 1): all three uses must accumulate (+=); "
        "an engine that assigns instead gets w*x or w.",
        {"x": x, "w": w, "out": out, "loss": loss, "grad.x": x.grad},
    )


# ---------------------------------------------------------------------------------------------------------------
# 8. Convolution, pooling and per-channel batch norm (NCHW)
# ---------------------------------------------------------------------------------------------------------------

CONV_CASES = [
    # name, x shape, out channels, kernel (kh, kw), stride, padding, dilation, groups, bias
    ("conv2d-same", (2, 3, 7, 6), 4, (3, 3), (1, 1), (1, 1), (1, 1), 1, True),
    ("conv2d-strided", (2, 3, 9, 8), 5, (3, 2), (2, 1), (0, 1), (1, 1), 1, True),
    ("conv2d-dilated-groups", (2, 4, 9, 9), 6, (3, 3), (2, 2), (2, 2), (2, 2), 2, True),
    ("conv2d-1x1", (3, 4, 5, 5), 6, (1, 1), (1, 1), (0, 0), (1, 1), 1, False),
]


def make_conv():
    for name, xs, out_ch, kernel, stride, padding, dilation, groups, bias in CONV_CASES:
        seed_for(name)
        conv = nn.Conv2d(xs[1], out_ch, kernel, stride=stride, padding=padding, dilation=dilation,
                         groups=groups, bias=bias)
        x = torch.randn(*xs, requires_grad=True)
        out = conv(x)
        w = torch.randn(*out.shape)
        loss = (w * out).sum()
        loss.backward()
        tensors = {"x": x, "weight": conv.weight, "w": w, "out": out, "loss": loss,
                   "grad.x": x.grad, "grad.weight": conv.weight.grad}
        if bias:
            tensors["bias"] = conv.bias
            tensors["grad.bias"] = conv.bias.grad
        emit(
            name,
            f"nn.Conv2d({xs[1]}, {out_ch}, kernel_size={kernel}, stride={stride}, padding={padding}, "
            f"dilation={dilation}, groups={groups}, bias={bias}) on x {list(xs)} (NCHW), PyTorch's default init. "
            "loss = sum(w * out) with a fixed random w of out's shape; grad.* = dloss/d(...).",
            tensors,
            hyperparameters={"kernel": list(kernel), "stride": list(stride), "padding": list(padding),
                             "dilation": list(dilation), "groups": groups, "bias": bias},
        )

    pools = [
        ("max-pool2d", "max", lambda x: F.max_pool2d(x, 3, stride=2, padding=1),
         {"kernel": 3, "stride": 2, "padding": 1, "dilation": 1}),
        ("max-pool2d-dilated", "max", lambda x: F.max_pool2d(x, 2, stride=1, padding=1, dilation=2),
         {"kernel": 2, "stride": 1, "padding": 1, "dilation": 2}),
        ("avg-pool2d", "average", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=True),
         {"kernel": 3, "stride": 2, "padding": 1, "countIncludePad": True}),
        ("avg-pool2d-exclude-pad", "average",
         lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False),
         {"kernel": 3, "stride": 2, "padding": 1, "countIncludePad": False}),
        ("global-avg-pool2d", "global", lambda x: F.adaptive_avg_pool2d(x, 1).flatten(1), {}),
    ]
    for name, mode, fn, hyper in pools:
        seed_for(name)
        x = torch.randn(2, 3, 7, 6, requires_grad=True)
        out = fn(x)
        w = torch.randn(*out.shape)
        loss = (w * out).sum()
        loss.backward()
        emit(
            name,
            f"{mode} pooling {hyper} on x [2,3,7,6] (NCHW; global: F.adaptive_avg_pool2d(x, 1).flatten(1) -> [2,3]). "
            "loss = sum(w * out) with a fixed random w of out's shape; grad.x = dloss/dx.",
            {"x": x, "w": w, "out": out, "loss": loss, "grad.x": x.grad},
            hyperparameters={"mode": mode, **hyper},
        )

    for training in (True, False):
        name = "batchnorm2d-train" if training else "batchnorm2d-eval"
        seed_for(name)
        bn = nn.BatchNorm2d(3, eps=1e-5, momentum=0.1, affine=True)
        with torch.no_grad():
            bn.weight.copy_(1 + 0.5 * torch.randn(3))
            bn.bias.copy_(0.5 * torch.randn(3))
            bn.running_mean.copy_(0.3 * torch.randn(3))
            bn.running_var.copy_(torch.rand(3) + 0.5)
        running_mean_before = bn.running_mean.clone()
        running_var_before = bn.running_var.clone()
        bn.train(training)
        x = (torch.randn(4, 3, 5, 4) * 2 + 1).requires_grad_()
        w = torch.randn(4, 3, 5, 4)
        out = bn(x)
        loss = (w * out).sum()
        loss.backward()
        emit(
            name,
            f"BatchNorm2d(3, eps=1e-5, momentum=0.1, affine=True) in {'TRAINING' if training else 'EVAL'} mode on "
            "x [4,3,5,4] (NCHW): statistics per channel over batch, height and width (N=80 values each); training "
            "normalises with the biased variance and updates running_var with the unbiased one (divide by 79). "
            "loss = sum(w * out) with a fixed random w of x's shape.",
            {
                "x": x, "weight": bn.weight, "bias": bn.bias,
                "running_mean.before": running_mean_before, "running_var.before": running_var_before,
                "w": w, "out": out, "loss": loss,
                "grad.x": x.grad, "grad.weight": bn.weight.grad, "grad.bias": bn.bias.grad,
                "running_mean.after": bn.running_mean, "running_var.after": bn.running_var,
            },
            hyperparameters={"num_features": 3, "eps": 1e-5, "momentum": 0.1, "training": training},
        )


# ---------------------------------------------------------------------------------------------------------------
# 9. Attention: nn.MultiheadAttention, nn.Embedding, nn.TransformerEncoderLayer (norm_first false and true)
# ---------------------------------------------------------------------------------------------------------------


def projection_weights(shape):
    """The fixed upstream gradient the engine's tests also use: w_i = sin(i + 1) over the flat output."""
    n = 1
    for d in shape:
        n *= d
    return torch.sin(torch.arange(1, n + 1, dtype=torch.float64)).reshape(shape)


def make_attention():
    # Self-attention with a causal mask.
    name = "mha-self-causal"
    seed_for(name)
    mha = nn.MultiheadAttention(embed_dim=8, num_heads=2, batch_first=True)
    x = torch.randn(2, 5, 8, requires_grad=True)
    causal = torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1)  # True = may not attend
    out, _ = mha(x, x, x, attn_mask=causal, need_weights=False)
    loss = (out * projection_weights(out.shape)).sum()
    loss.backward()
    emit(
        name,
        "nn.MultiheadAttention(embed_dim=8, num_heads=2, batch_first=True), PyTorch's default init; self-attention "
        "on x [2, 5, 8] with a causal attn_mask (query i attends keys j <= i). loss = sum(out * w), w_i = sin(i + 1) "
        "over the flat output. Parameters under PyTorch's names (in_proj_weight holds the q, k, v rows).",
        {
            "x": x,
            "in_proj_weight": mha.in_proj_weight,
            "in_proj_bias": mha.in_proj_bias,
            "out_proj.weight": mha.out_proj.weight,
            "out_proj.bias": mha.out_proj.bias,
            "out": out,
            "loss": loss,
            "grad.x": x.grad,
            "grad.in_proj_weight": mha.in_proj_weight.grad,
            "grad.in_proj_bias": mha.in_proj_bias.grad,
            "grad.out_proj.weight": mha.out_proj.weight.grad,
            "grad.out_proj.bias": mha.out_proj.bias.grad,
        },
        {"heads": 2, "key_lengths": None},
    )

    # Cross-attention with key padding.
    name = "mha-cross-padded"
    seed_for(name)
    mha = nn.MultiheadAttention(embed_dim=6, num_heads=3, batch_first=True)
    query = torch.randn(2, 3, 6, requires_grad=True)
    memory = torch.randn(2, 4, 6, requires_grad=True)
    lengths = [4, 2]
    padding = torch.tensor([[j >= n for j in range(4)] for n in lengths])  # True = padding
    out, _ = mha(query, memory, memory, key_padding_mask=padding, need_weights=False)
    loss = (out * projection_weights(out.shape)).sum()
    loss.backward()
    emit(
        name,
        "nn.MultiheadAttention(embed_dim=6, num_heads=3, batch_first=True), default init; cross-attention: queries "
        "[2, 3, 6], keys = values = memory [2, 4, 6], key_padding_mask marking keys at or beyond key_lengths "
        "[4, 2]. loss = sum(out * w), w_i = sin(i + 1).",
        {
            "query": query,
            "memory": memory,
            "key_lengths": torch.tensor(lengths, dtype=torch.int64),
            "in_proj_weight": mha.in_proj_weight,
            "in_proj_bias": mha.in_proj_bias,
            "out_proj.weight": mha.out_proj.weight,
            "out_proj.bias": mha.out_proj.bias,
            "out": out,
            "loss": loss,
            "grad.query": query.grad,
            "grad.memory": memory.grad,
            "grad.in_proj_weight": mha.in_proj_weight.grad,
            "grad.in_proj_bias": mha.in_proj_bias.grad,
            "grad.out_proj.weight": mha.out_proj.weight.grad,
            "grad.out_proj.bias": mha.out_proj.bias.grad,
        },
        {"heads": 3},
    )

    name = "embedding"
    seed_for(name)
    emb = nn.Embedding(7, 4)
    ids = torch.tensor([[1, 3, 1, 6, 0], [3, 3, 2, 1, 5]])
    out = emb(ids)
    loss = (out * projection_weights(out.shape)).sum()
    loss.backward()
    emit(
        name,
        "nn.Embedding(7, 4), N(0, 1) init; ids [2, 5] with repeated ids (1 and 3), out [2, 5, 4]. "
        "loss = sum(out * w), w_i = sin(i + 1); grad.weight scatter-adds the rows of repeated ids.",
        {"ids": ids, "weight": emb.weight, "out": out, "loss": loss, "grad.weight": emb.weight.grad},
    )

    for norm_first in (False, True):
        name = f"transformer-encoder-layer-{'pre' if norm_first else 'post'}"
        seed_for(name)
        layer = nn.TransformerEncoderLayer(
            d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, activation="relu", batch_first=True,
            norm_first=norm_first,
        )
        layer.train()  # dropout 0; train mode keeps PyTorch off its fused inference fast path
        # Non-trivial LayerNorm affine parameters, so their placement matters.
        with torch.no_grad():
            for norm in (layer.norm1, layer.norm2):
                norm.weight.add_(0.1 * torch.randn(8))
                norm.bias.add_(0.1 * torch.randn(8))
        x = torch.randn(2, 5, 8, requires_grad=True)
        out = layer(x)
        loss = (out * projection_weights(out.shape)).sum()
        loss.backward()
        tensors = {"x": x}
        named = dict(layer.named_parameters())
        for pname, p in named.items():
            tensors[pname] = p
        tensors["out"] = out
        tensors["loss"] = loss
        tensors["grad.x"] = x.grad
        for pname, p in named.items():
            tensors[f"grad.{pname}"] = p.grad
        emit(
            name,
            f"nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0, activation='relu', "
            f"batch_first=True, norm_first={norm_first}), default init with LayerNorm weights and biases perturbed "
            f"by 0.1 N(0, 1); no mask; x [2, 5, 8]. {'Pre-LN: x + sa(norm1(x)), then + ff(norm2(.))' if norm_first else 'Post-LN: norm1(x + sa(x)), then norm2(. + ff(.))'}. "
            "loss = sum(out * w), w_i = sin(i + 1). LayerNorm eps 1e-5.",
            tensors,
            {"norm_first": norm_first, "eps": 1e-5},
        )


def qk_norm_attention(x, in_w, in_b, out_w, out_b, heads, gq, gk, causal, eps=1e-5):
    """Multi-head self-attention written out by hand, with QK normalisation when gains are given: each head's q and
    k pass F.layer_norm over the head dimension with a gain and no shift (Dehghani et al. 2023), then the scaled dot
    product of Vaswani et al. (2017)."""
    B, T, D = x.shape
    dk = D // heads
    q, k, v = F.linear(x, in_w, in_b).split(D, dim=-1)
    q, k, v = (t.reshape(B, T, heads, dk).transpose(1, 2) for t in (q, k, v))  # [B, H, T, dk]
    if gq is not None:
        q = F.layer_norm(q, (dk,), weight=gq, bias=None, eps=eps)
        k = F.layer_norm(k, (dk,), weight=gk, bias=None, eps=eps)
    scores = q @ k.transpose(-2, -1) / math.sqrt(dk)
    if causal:
        scores = scores.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1), float("-inf"))
    out = torch.softmax(scores, dim=-1) @ v  # [B, H, T, dk]
    return F.linear(out.transpose(1, 2).reshape(B, T, D), out_w, out_b), scores


def make_qk_norm():
    name = "mha-qknorm"
    seed_for(name)
    D, H = 8, 2
    mha = nn.MultiheadAttention(embed_dim=D, num_heads=H, batch_first=True)
    # Large projection weights, so without the norms the logits would be large: the norms must do the work.
    with torch.no_grad():
        mha.in_proj_weight.mul_(4.0)
        mha.in_proj_bias.copy_(0.1 * torch.randn(3 * D))
    params = [mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight, mha.out_proj.bias]
    x = torch.randn(2, 5, D, requires_grad=True)
    # Self-check: the hand-written attention without the norms is nn.MultiheadAttention.
    causal = torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1)
    reference, _ = mha(x, x, x, attn_mask=causal, need_weights=False)
    plain, _ = qk_norm_attention(x, *params, H, None, None, True)
    check_close(plain, reference, "hand-written attention = nn.MultiheadAttention")
    gq = (1 + 0.3 * torch.randn(D // H)).requires_grad_()
    gk = (1 + 0.3 * torch.randn(D // H)).requires_grad_()
    out, scores = qk_norm_attention(x, *params, H, gq, gk, True)
    finite = scores[torch.isfinite(scores)]
    bound = math.sqrt(D // H) * gq.abs().max() * gk.abs().max()
    if finite.abs().max() > bound:
        raise AssertionError("self-check failed: a QK-normalised logit exceeds sqrt(dk) max|g_q| max|g_k|")
    loss = (out * projection_weights(out.shape)).sum()
    loss.backward()
    emit(
        name,
        "Causal multi-head self-attention with QK normalisation, written out by hand (checked equal to "
        "nn.MultiheadAttention without the norms): nn.MultiheadAttention(embed_dim=8, num_heads=2) parameters, "
        "in_proj_weight x4 and in_proj_bias 0.1 N(0, 1); per head q, k = F.layer_norm(., (dk,), weight=g, bias=None, "
        "eps=1e-5) with gains q_norm.weight, k_norm.weight = 1 + 0.3 N(0, 1) shared by the heads (Dehghani et al. "
        "2023); scores q k^T / sqrt(dk), causal mask, softmax, times v, out_proj. x [2, 5, 8]. "
        "loss = sum(out * w), w_i = sin(i + 1).",
        {
            "x": x,
            "in_proj_weight": mha.in_proj_weight,
            "in_proj_bias": mha.in_proj_bias,
            "q_norm.weight": gq,
            "k_norm.weight": gk,
            "out_proj.weight": mha.out_proj.weight,
            "out_proj.bias": mha.out_proj.bias,
            "out": out,
            "loss": loss,
            "grad.x": x.grad,
            "grad.in_proj_weight": mha.in_proj_weight.grad,
            "grad.in_proj_bias": mha.in_proj_bias.grad,
            "grad.q_norm.weight": gq.grad,
            "grad.k_norm.weight": gk.grad,
            "grad.out_proj.weight": mha.out_proj.weight.grad,
            "grad.out_proj.bias": mha.out_proj.bias.grad,
        },
        {"heads": H, "eps": 1e-5, "causal": True},
    )


def make_xiong():
    """Xiong et al. 2020: the last layer's gradient norm at initialisation against depth, Post-LN and Pre-LN."""
    name = "xiong-last-layer-gradient"
    depths = [2, 16]
    seeds = 8
    result = {}
    losses = []
    for norm_first in (False, True):
        norms = []
        for depth in depths:
            total = 0.0
            for seed in range(seeds):
                torch.manual_seed(1000 * depth + seed + (0 if norm_first else 500))
                vocab, d, steps, batch = 12, 32, 8, 8
                emb = nn.Embedding(vocab, d)
                layers = nn.ModuleList([
                    nn.TransformerEncoderLayer(d, 4, 4 * d, dropout=0.0, activation="relu", batch_first=True,
                                               norm_first=norm_first)
                    for _ in range(depth)
                ])
                for layer in layers:
                    for pname, p in layer.named_parameters():
                        if p.dim() > 1:
                            nn.init.xavier_normal_(p)
                        elif pname.startswith("norm") and pname.endswith("weight"):
                            nn.init.ones_(p)
                        else:
                            nn.init.zeros_(p)
                final = nn.LayerNorm(d) if norm_first else nn.Identity()
                head = nn.Linear(d, vocab)
                nn.init.xavier_normal_(head.weight)
                nn.init.zeros_(head.bias)
                ids = torch.randint(0, vocab, (batch, steps))
                labels = torch.randint(0, vocab, (batch, steps))
                position = torch.arange(steps, dtype=torch.float64).unsqueeze(1)
                pair = torch.arange(0, d, 2, dtype=torch.float64)
                pe = torch.zeros(steps, d)
                pe[:, 0::2] = torch.sin(position / 10000 ** (pair / d))
                pe[:, 1::2] = torch.cos(position / 10000 ** (pair / d))
                h = emb(ids) + pe
                causal = torch.triu(torch.ones(steps, steps, dtype=torch.bool), diagonal=1)
                for layer in layers:
                    h = layer(h, src_mask=causal)
                logits = head(final(h))
                loss = F.cross_entropy(logits.reshape(-1, vocab), labels.reshape(-1))
                loss.backward()
                losses.append(loss.item())
                total += layers[-1].linear2.weight.grad.norm().item() / seeds
            norms.append(total)
        result["pre" if norm_first else "post"] = torch.tensor(norms)
    emit(
        name,
        "Xiong et al. 2020, Theorems 1 and 2, measured with PyTorch: ||dL/dW|| of the last layer's linear2 weight at "
        f"initialisation, mean over {seeds} seeds, for depths {depths}: a causal LM of nn.TransformerEncoderLayer("
        "d_model=32, nhead=4, dim_feedforward=128, dropout=0, relu, batch_first) blocks on nn.Embedding(12, 32) plus "
        "sinusoidal positions, Xavier-normal weights, zero biases, unit LayerNorms, a final LayerNorm for Pre-LN, "
        "a Xavier-normal linear head, cross-entropy on random labels; 8 sequences of 8 tokens. loss: the mean initial "
        "cross-entropy over all those runs.",
        {
            "depths": torch.tensor(depths, dtype=torch.int64),
            "post": result["post"],
            "pre": result["pre"],
            "loss": torch.tensor(sum(losses) / len(losses)),
        },
        {"seeds": seeds, "dModel": 32, "heads": 4, "ffWidth": 128, "vocabulary": 12, "length": 8, "batch": 8},
    )


def make_seq2seq():
    """A GRU encoder-decoder with additive (Bahdanau et al. 2015) or dot (Luong et al. 2015) attention, teacher forced."""
    V, H, n, B = 5, 4, 3, 2
    S, T = n + 1, 2 * n + 1
    for attention in ("additive", "dot"):
        name = f"seq2seq-gru-{attention}"
        seed_for(name)
        source_embedding = nn.Embedding(V, H)
        encoder = nn.GRU(H, H)
        target_embedding = nn.Embedding(V, H)
        decoder = nn.GRU(H, H)
        query = nn.Linear(H, H)
        key = torch.randn(H, H) * 0.5
        score = torch.randn(1, H) * 0.5
        combine_context = nn.Linear(H, H)
        combine_state = nn.Linear(H, H)
        output = nn.Linear(H, V)
        key.requires_grad_(True)
        score.requires_grad_(True)
        # The reversal task's layout: symbols 1..3, the delimiter 4 at step n, blanks (0) after; answers reversed.
        symbols = torch.randint(1, V - 1, (n, B))
        ids = torch.cat([symbols, torch.full((1, B), V - 1), torch.zeros(n, B, dtype=torch.int64)])
        labels = torch.cat([torch.zeros(S, B, dtype=torch.int64), symbols.flip(0)])
        states, final = encoder(source_embedding(ids[:S]))  # [S, B, H], [1, B, H]
        decoded, _ = decoder(target_embedding(labels[S - 1 : T - 1]), final)  # teacher forcing, [n, B, H]
        memory = states.permute(1, 0, 2)  # [B, S, H]
        queries = decoded.permute(1, 0, 2)  # [B, n, H]
        if attention == "additive":
            e = torch.tanh(query(queries).unsqueeze(2) + (memory @ key.T).unsqueeze(1))  # [B, n, S, H]
            scores = (e @ score.T).squeeze(-1)
        else:
            scores = queries @ memory.transpose(1, 2)
        weights = torch.softmax(scores, dim=-1)
        context = weights @ memory
        attended = torch.tanh(combine_context(context) + combine_state(queries)).permute(1, 0, 2)  # [n, B, H]
        logits = output(torch.cat([states, attended])).reshape(T * B, V)
        loss = F.cross_entropy(logits, labels.reshape(-1))
        loss.backward()
        params = {
            "layers.0.weight": source_embedding.weight,
            "layers.1.weight_ih": encoder.weight_ih_l0,
            "layers.1.weight_hh": encoder.weight_hh_l0,
            "layers.1.bias_ih": encoder.bias_ih_l0,
            "layers.1.bias_hh": encoder.bias_hh_l0,
            "layers.2.weight": target_embedding.weight,
            "layers.3.weight_ih": decoder.weight_ih_l0,
            "layers.3.weight_hh": decoder.weight_hh_l0,
            "layers.3.bias_ih": decoder.bias_ih_l0,
            "layers.3.bias_hh": decoder.bias_hh_l0,
            "layers.4.combine.context.weight": combine_context.weight,
            "layers.4.combine.context.bias": combine_context.bias,
            "layers.4.combine.state.weight": combine_state.weight,
            "layers.4.combine.state.bias": combine_state.bias,
            "layers.5.weight": output.weight,
            "layers.5.bias": output.bias,
        }
        if attention == "additive":
            params.update({
                "layers.4.query.weight": query.weight,
                "layers.4.query.bias": query.bias,
                "layers.4.key.weight": key,
                "layers.4.score.weight": score,
            })
        tensors = {"ids": ids.reshape(-1), "labels": labels.reshape(-1), "out": logits, "loss": loss}
        for pname, value in params.items():
            tensors[pname] = value
            tensors[f"grad.{pname}"] = value.grad
        emit(
            name,
            f"A GRU encoder-decoder on reversal (n = {n}, {V} categories, batch {B}, time-major ids [T * B]): "
            "nn.GRU encoder over the source steps 0..n (symbols, delimiter) from nn.Embedding; nn.GRU decoder from "
            "the encoder's final state, fed nn.Embedding of the targets at steps n..T-2 (teacher forcing); "
            + ("additive scores v . tanh(W s_i + b + U h_j) (Bahdanau et al. 2015)" if attention == "additive"
               else "dot scores s_i . h_j (Luong et al. 2015)")
            + ", softmax over the source steps, context c_i = sum_j a_ij h_j, h~_i = tanh(C c_i + b_c + D s_i + b_d); "
            "logits [T * B, V] time-major: the output layer on the encoder states for the source steps and on h~ "
            "for the answer steps; loss: mean cross-entropy over all T * B positions.",
            tensors,
            {"vocabulary": V, "hidden": H, "length": n, "batch": B, "attention": attention},
        )


def make_decoder_layer():
    """nn.TransformerDecoderLayer: causal self-attention, cross-attention over a memory, feed-forward."""
    for norm_first in (False, True):
        name = f"transformer-decoder-layer-{'pre' if norm_first else 'post'}"
        seed_for(name)
        layer = nn.TransformerDecoderLayer(
            d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, activation="relu", batch_first=True,
            norm_first=norm_first,
        )
        layer.train()
        with torch.no_grad():
            for norm in (layer.norm1, layer.norm2, layer.norm3):
                norm.weight.add_(0.1 * torch.randn(8))
                norm.bias.add_(0.1 * torch.randn(8))
        x = torch.randn(2, 5, 8, requires_grad=True)
        memory = torch.randn(2, 4, 8, requires_grad=True)
        causal = torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1)
        out = layer(x, memory, tgt_mask=causal)
        loss = (out * projection_weights(out.shape)).sum()
        loss.backward()
        named = dict(layer.named_parameters())
        tensors = {"x": x, "memory": memory, **named, "out": out, "loss": loss, "grad.x": x.grad,
                   "grad.memory": memory.grad}
        for pname, p in named.items():
            tensors[f"grad.{pname}"] = p.grad
        emit(
            name,
            f"nn.TransformerDecoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0, activation='relu', "
            f"batch_first=True, norm_first={norm_first}), default init with LayerNorm weights and biases perturbed "
            "by 0.1 N(0, 1); causal tgt_mask; x [2, 5, 8], memory [2, 4, 8] (the encoder's output, no mask). "
            + ("Pre-LN: x + sa(norm1(x)), + mha(norm2(.), memory), + ff(norm3(.))" if norm_first
               else "Post-LN: norm1(x + sa(x)), norm2(. + mha(., memory)), norm3(. + ff(.))")
            + ". loss = sum(out * w), w_i = sin(i + 1). LayerNorm eps 1e-5.",
            tensors,
            {"norm_first": norm_first, "eps": 1e-5},
        )


def main():
    make_dense()
    make_losses()
    make_norms()
    make_optimizers()
    make_recurrent()
    make_accumulate()
    make_conv()
    make_attention()
    make_qk_norm()
    make_xiong()
    make_seq2seq()
    make_decoder_layer()
    write_all(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
