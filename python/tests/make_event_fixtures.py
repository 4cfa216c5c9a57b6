"""Writes fixtures/tfevents/: TensorBoard logs in the layouts of the writers people use, made from real PyTorch
trainings, for the doctor's TensorBoard reader (src/doctor/tensorboard.ts, tested in src/doctor/tensorboard.test.ts).

None of those writers can be installed here: torch.utils.tensorboard imports the `tensorboard` pip package (not in
Debian), Keras needs TensorFlow, and tfjs-node downloads a native TensorFlow at install. So this file writes the
same protos itself, each writer as its source does it:

- PyTorch 1.13 `SummaryWriter` (tensorboard's EventFileWriter): file `events.out.tfevents.<s>.<host>.<pid>.<uid>`,
  a header with `source_metadata`, scalars in `simple_value`, histograms by `make_histogram` on numpy's
  `np.histogram` with the writer's `default_bins` (1e-12 * 1.1^k each side). `check_torch_layout()` compares the
  bytes with those a real SummaryWriter wrote (src/io/tfevents-fixtures.ts) before anything is written.
- Keras's TensorBoard callback: the TF1 era (`write_grads=True`, `histogram_freq=1`: histograms `<layer>/kernel_0`,
  `<layer>/kernel_0_grad`, `<layer>_out`, scalars `loss`/`val_loss` per epoch, one file) with TensorFlow's C++
  histogram (`Histogram::Add`, `EncodeToProto` dropping empty runs; checked against TF_HISTOGRAM_SUMMARY), and the
  TF2 era (`train/` and `validation/`, `epoch_loss`, `epoch_learning_rate`, weight histograms
  `<layer>/kernel_0/histogram` as tensors of the histograms plugin, 30 equal buckets as tensorboard's summary_v2).
- tfjs-node's `tf.node.tensorBoard()` callback: `train/` and `val/`, `batch_loss` (step = batches seen),
  `epoch_loss` (step = epoch + 1), weight histograms named by the variables (`dense_Dense1/kernel`, step = epoch),
  through TensorFlow's C++ summary writer (file suffix `.v2`).
- A log of tags no built-in pattern reads (for `--tags`), and truncated and corrupt copies of the PyTorch log.

Run from the repository root: `/usr/bin/python3 python/tests/make_event_fixtures.py` (deterministic: seeds and
wall times are fixed, so the files come out byte for byte the same).
"""
import base64
import math
import os
import re
import shutil
import struct
import sys

import numpy as np
import torch
from torch import nn

torch.set_num_threads(1)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "fixtures", "tfevents")
WALL = 1767225600.0  # 2026-01-01, fixed so the files are reproducible
HOST = "fixture"

# ------------------------------------------------------------------------------------------------------------
# TFRecord framing and the protobuf wire format


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def masked_crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    c ^= 0xFFFFFFFF
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(data):
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc32c(header)) + data + struct.pack("<I", masked_crc32c(data))


def varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def f_double(field, v, keep_zero=False):
    # proto3 leaves out a plain field holding its default (0); a oneof member is written whatever it holds.
    return b"" if v == 0 and not keep_zero else key(field, 1) + struct.pack("<d", v)


def f_float(field, v):
    return key(field, 5) + struct.pack("<f", v)  # simple_value is a oneof member: always written


def f_int(field, v):
    return b"" if v == 0 else key(field, 0) + varint(v)


def f_bytes(field, b):
    return key(field, 2) + varint(len(b)) + b


def f_string(field, s):
    return f_bytes(field, s.encode())


def f_packed_doubles(field, values):
    return f_bytes(field, struct.pack("<%dd" % len(values), *values)) if len(values) else b""


def event(wall, step=0, summary_values=None, file_version=None, source_writer=None):
    out = f_double(1, wall) + f_int(2, step)
    if file_version is not None:
        out += f_string(3, file_version)
    if summary_values:
        out += f_bytes(5, b"".join(f_bytes(1, v) for v in summary_values))
    if source_writer is not None:
        out += f_bytes(10, f_string(1, source_writer))
    return out


def v_scalar(tag, value):
    return f_string(1, tag) + f_float(2, value)


def histo_proto(mn, mx, num, total, squares, limits, counts):
    return (f_double(1, mn) + f_double(2, mx) + f_double(3, num) + f_double(4, total) + f_double(5, squares)
            + f_packed_doubles(6, limits) + f_packed_doubles(7, counts))


def v_histo(tag, proto):
    return f_string(1, tag) + f_bytes(5, proto)


def _metadata(plugin):
    return f_bytes(9, f_bytes(1, f_string(1, plugin)))


def v_tensor_scalar(tag, value):
    """TF2 `tf.summary.scalar`: a rank-0 float32 tensor of the scalars plugin."""
    tensor = f_int(1, 1) + f_bytes(2, b"") + f_bytes(4, struct.pack("<f", value))
    return f_string(1, tag) + f_bytes(8, tensor) + _metadata("scalars")


def v_tensor_histogram(tag, rows):
    """TF2 `tf.summary.histogram`: a [k, 3] float64 tensor of (left, right, count) of the histograms plugin."""
    shape = f_bytes(2, f_int(1, len(rows))) + f_bytes(2, f_int(1, 3))
    content = struct.pack("<%dd" % (3 * len(rows)), *[x for row in rows for x in row])
    tensor = f_int(1, 2) + f_bytes(2, shape) + f_bytes(4, content)
    return f_string(1, tag) + f_bytes(8, tensor) + _metadata("histograms")


# ------------------------------------------------------------------------------------------------------------
# Histograms as each writer buckets them


def _torch_default_bins():
    v, pos, neg = 1e-12, [], []
    while v < 1e20:
        pos.append(v)
        neg.append(-v)
        v *= 1.1
    return neg[::-1] + [0] + pos


TORCH_BINS = _torch_default_bins()


def torch_histogram(values):
    """torch.utils.tensorboard.summary.make_histogram(values.astype(float), default_bins)."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    counts, limits = np.histogram(values, bins=TORCH_BINS)
    cum = np.cumsum(np.greater(counts, 0))
    start, end = np.searchsorted(cum, [0, cum[-1] - 1], side="right")
    start, end = int(start), int(end) + 1
    counts = counts[start - 1:end] if start > 0 else np.concatenate([[0], counts[:end]])
    limits = limits[start:end + 1]
    return histo_proto(float(values.min()), float(values.max()), float(len(values)), float(values.sum()),
                       float(values.dot(values)), limits.tolist(), [float(c) for c in counts])


def _tf_default_limits():
    v, pos, neg = 1.0e-12, [], []
    while v < 1.0e20:
        pos.append(v)
        neg.append(-v)
        v *= 1.1
    pos.append(sys.float_info.max)
    neg.append(-sys.float_info.max)
    return neg[::-1] + [0.0] + pos


TF_LIMITS = _tf_default_limits()


def tf_histogram(values):
    """TensorFlow's C++ histogram::Histogram: Add() each value as a double, then EncodeToProto(proto, false)."""
    import bisect
    buckets = [0.0] * len(TF_LIMITS)
    mn, mx, num, total, squares = TF_LIMITS[-1], -TF_LIMITS[-1], 0.0, 0.0, 0.0
    for x in np.asarray(values).reshape(-1).tolist():
        buckets[bisect.bisect_right(TF_LIMITS, x)] += 1
        mn, mx = min(mn, x), max(mx, x)
        num += 1
        total += x
        squares += x * x
    limits, counts = [], []
    i = 0
    while i < len(buckets):
        end, count = TF_LIMITS[i], buckets[i]
        i += 1
        if count <= 0.0:
            while i < len(buckets) and buckets[i] <= 0.0:
                end, count = TF_LIMITS[i], buckets[i]
                i += 1
        limits.append(end)
        counts.append(count)
    return histo_proto(mn, mx, num, total, squares, limits, counts)


def tf2_histogram_rows(values, bucket_count=30):
    """tensorboard.plugins.histogram.summary_v2._buckets: equal-width buckets from min to max."""
    data = np.asarray(values, dtype=np.float64).reshape(-1)
    lo, hi = float(data.min()), float(data.max())
    width = (hi - lo) / bucket_count
    index = np.minimum(np.floor((data - lo) / width).astype(np.int64), bucket_count - 1)
    counts = np.bincount(index, minlength=bucket_count).astype(np.float64)
    edges = np.linspace(lo, hi, bucket_count + 1)
    edges[-1] = hi
    return [(float(edges[i]), float(edges[i + 1]), float(counts[i])) for i in range(bucket_count)]


# ------------------------------------------------------------------------------------------------------------
# Writers, each naming its file and writing its header as the original does


class EventFile:
    def __init__(self, directory, name, header):
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, name)
        self._f = open(self.path, "wb")
        self.write(header)

    def write(self, data):
        self._f.write(record(data))

    def close(self):
        self._f.close()


def torch_writer(directory, wall=WALL, pid=4242):
    """torch.utils.tensorboard.SummaryWriter(directory): tensorboard's EventFileWriter."""
    name = "events.out.tfevents.%010d.%s.%d.%d" % (int(wall), HOST, pid, 0)
    return EventFile(directory, name, event(wall, file_version="brain.Event:2",
                                            source_writer="tensorboard.summary.writer.event_file_writer"))


def tf_writer(directory, wall=WALL, suffix=""):
    """TensorFlow's EventsWriter (tf.compat.v1.summary.FileWriter, tf.summary.create_file_writer, and the C++
    SummaryFileWriter that tfjs-node binds, which passes the suffix ".v2")."""
    name = "events.out.tfevents.%010d.%s%s" % (int(wall), HOST, suffix)
    return EventFile(directory, name, event(wall, file_version="brain.Event:2"))


# ------------------------------------------------------------------------------------------------------------
# Check the PyTorch layout against the bytes a real SummaryWriter wrote


def check_torch_layout():
    text = open(os.path.join(ROOT, "src", "io", "tfevents-fixtures.ts")).read()
    encoded = re.search(r"TORCH_SUMMARY_WRITER_EVENTS =\s*'([^']+)'", text).group(1)
    real = base64.b64decode(encoded)
    records, offset = [], 0
    while offset < len(real):
        (length,) = struct.unpack_from("<Q", real, offset)
        records.append(real[offset:offset + 16 + length])
        offset += 16 + length
    header_wall = struct.unpack_from("<d", records[0], 13)[0]
    mine = [
        record(event(header_wall, file_version="brain.Event:2",
                     source_writer="tensorboard.summary.writer.event_file_writer")),
        record(event(1700000000.5, 0, [v_scalar("loss", 2.5)])),
        record(event(1700000001.0, 1, [v_scalar("loss", 0.125)])),
        record(event(1700000002.0, 2, [v_scalar("loss", float("nan"))])),
        record(event(1700000003.0, 2 ** 33 + 7, [v_scalar("big_step", 3.0)])),
    ]
    weights = record(event(1700000006.0, 3, [v_histo("weights", torch_histogram([0.25, 0.5, 0.5, 1.0, 3.0]))]))
    for i, expected in enumerate(mine):
        assert records[i] == expected, "record %d differs from the real SummaryWriter's" % i
    assert records[7] == weights, "the histogram differs from the real SummaryWriter's"

    # TensorFlow's C++ histogram, against TF_HISTOGRAM_SUMMARY (a serialized Summary).
    values = [float(x) for x in re.search(r"TF_HISTOGRAM_VALUES[^=]*= \[([^\]]+)\]", text).group(1).replace(
        "\n", " ").split(",") if x.strip()]
    summary = base64.b64decode(re.search(r"TF_HISTOGRAM_SUMMARY =\s*'([^']+)'", text).group(1))
    assert summary == f_bytes(1, v_histo("h", tf_histogram(values))), "TensorFlow's histogram differs"


# ------------------------------------------------------------------------------------------------------------
# The trainings behind the logs


def task(n, seed):
    """Two Gaussian classes split by a line: easy for a healthy network, so whatever fails is the gradient."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).long()


def mlp(depth, width, activation, seed, he=False):
    torch.manual_seed(seed)
    layers, size = [], 2
    for _ in range(depth):
        linear = nn.Linear(size, width)
        if he:
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            nn.init.zeros_(linear.bias)
        layers += [linear, activation()]
        size = width
    layers.append(nn.Linear(size, 2))
    return nn.Sequential(*layers)


def train(model, steps, lr, on_step):
    """SGD on spirals; on_step(step, loss, model) after backward, before the update."""
    x, y = task(1024, 1)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(3)
    for step in range(steps):
        idx = torch.randint(0, x.shape[0], (64,), generator=g)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        on_step(step, float(loss), model)
        opt.step()


def write_pytorch(directory, activation, he, histograms):
    """The usual SummaryWriter loop: the loss and learning rate every step, gradient norms every 5th, and with
    `histograms` every parameter and its gradient as histograms at the first step (`add_histogram(name, p)`,
    `add_histogram(name + ".grad", p.grad)`; torch's bins keep every empty bucket between the smallest and the
    largest value, 5-9 kB per histogram, so the fixture holds them once)."""
    w = torch_writer(directory)
    model = mlp(6, 16, activation, 0, he)

    def on_step(step, loss, model):
        wall = WALL + 1 + step
        w.write(event(wall, step, [v_scalar("Loss/train", loss)]))
        w.write(event(wall, step, [v_scalar("lr", 0.1)]))
        if step % 5 == 0:
            for name, p in model.named_parameters():
                w.write(event(wall, step, [v_scalar("grad_norm/" + name, float(p.grad.norm()))]))
        if histograms and step == 0:
            for name, p in model.named_parameters():
                w.write(event(wall, step, [v_histo(name, torch_histogram(p.detach().numpy()))]))
                w.write(event(wall, step, [v_histo(name + ".grad", torch_histogram(p.grad.numpy()))]))

    train(model, 60, 0.1, on_step)
    w.close()
    return w.path


def keras_layers(model):
    """(keras layer name, torch Linear) in order: Keras 2.2 numbers its Dense layers dense_1, dense_2, ..."""
    linears = [m for m in model if isinstance(m, nn.Linear)]
    return [("dense_%d" % (i + 1), m) for i, m in enumerate(linears)]


def write_keras_tf1(directory):
    """Keras 2.2 on TF1, TensorBoard(histogram_freq=1, write_grads=True): per epoch one merged summary of every
    weight, its gradient (on the validation batch) and each layer's output, then loss/acc/val_loss/val_acc."""
    w = tf_writer(directory)
    model = mlp(6, 16, nn.Sigmoid, 0)
    xv, yv = task(128, 9)
    epoch_loss = []

    def on_step(step, loss, model):
        epoch_loss.append(loss)
        if (step + 1) % 15:
            return
        epoch = step // 15
        outputs = {}
        hooks = [m.register_forward_hook(lambda m, i, o, n=n: outputs.__setitem__(n, o.detach()))
                 for n, m in keras_layers(model)]
        saved = [p.grad.clone() for p in model.parameters()]
        model.zero_grad()
        val_loss = nn.functional.cross_entropy(model(xv), yv)
        val_loss.backward()
        for h in hooks:
            h.remove()
        values = []
        for name, linear in keras_layers(model):
            # Keras kernels are [in, out] (the transpose of torch's weight); the values are the same.
            values.append(v_histo(name + "/kernel_0", tf_histogram(linear.weight.detach().t().numpy())))
            values.append(v_histo(name + "/kernel_0_grad", tf_histogram(linear.weight.grad.t().numpy())))
            values.append(v_histo(name + "/bias_0", tf_histogram(linear.bias.detach().numpy())))
            values.append(v_histo(name + "/bias_0_grad", tf_histogram(linear.bias.grad.numpy())))
            values.append(v_histo(name + "_out", tf_histogram(torch.sigmoid(outputs[name]).numpy()
                                                             if name != keras_layers(model)[-1][0]
                                                             else outputs[name].numpy())))
        for p, g in zip(model.parameters(), saved):
            p.grad.copy_(g)
        wall = WALL + 15 * (epoch + 1)
        w.write(event(wall, epoch, values))
        for tag, value in (("loss", sum(epoch_loss) / len(epoch_loss)), ("val_loss", float(val_loss))):
            w.write(event(wall, epoch, [v_scalar(tag, value)]))
        epoch_loss.clear()

    train(model, 60, 0.1, on_step)
    w.close()
    return w.path


def write_keras_tf2(directory):
    """tf.keras 2.x, TensorBoard(histogram_freq=1) with a learning-rate schedule: train/ gets epoch_loss,
    epoch_learning_rate and weight histograms `<layer>/kernel_0/histogram` (tensor summaries, no gradients);
    validation/ gets epoch_loss."""
    train_w = tf_writer(os.path.join(directory, "train"), suffix=".v2")
    val_w = tf_writer(os.path.join(directory, "validation"), wall=WALL + 0.5, suffix=".v2")
    model = mlp(3, 16, nn.ReLU, 0, he=True)
    xv, yv = task(128, 9)
    epoch_loss = []

    def on_step(step, loss, model):
        epoch_loss.append(loss)
        if (step + 1) % 10:
            return
        epoch = step // 10
        wall = WALL + 10 * (epoch + 1)
        train_w.write(event(wall, epoch, [v_tensor_scalar("epoch_loss", sum(epoch_loss) / len(epoch_loss))]))
        train_w.write(event(wall, epoch, [v_tensor_scalar("epoch_learning_rate", 0.05)]))
        with torch.no_grad():
            val_w.write(event(wall, epoch, [v_tensor_scalar("epoch_loss",
                                                            float(nn.functional.cross_entropy(model(xv), yv)))]))
        for i, linear in enumerate(m for m in model if isinstance(m, nn.Linear)):
            layer = "dense" if i == 0 else "dense_%d" % i  # tf.keras 2.x: dense, dense_1, ...
            for part, t in (("kernel", linear.weight.detach().t()), ("bias", linear.bias.detach())):
                train_w.write(event(wall, epoch, [v_tensor_histogram("%s/%s_0/histogram" % (layer, part),
                                                                     tf2_histogram_rows(t.numpy()))]))
        epoch_loss.clear()

    train(model, 40, 0.05, on_step)
    train_w.close()
    val_w.close()
    return train_w.path


def write_tfjs_node(directory):
    """tfjs-node's tf.node.tensorBoard(dir, {updateFreq: 'batch', histogramFreq: 1}): train/ gets batch_loss at
    each batch (step = batches seen), epoch_loss (step = epoch + 1) and a histogram of every weight variable
    (`dense_Dense1/kernel`, step = epoch); val/ gets epoch_loss."""
    train_w = tf_writer(os.path.join(directory, "train"), suffix=".v2")
    val_w = tf_writer(os.path.join(directory, "val"), wall=WALL + 0.5, suffix=".v2")
    model = mlp(3, 16, nn.Tanh, 0)
    xv, yv = task(128, 9)
    epoch_loss = []
    batches = [0]

    def on_step(step, loss, model):
        batches[0] += 1
        wall = WALL + 1 + step
        train_w.write(event(wall, batches[0], [v_scalar("batch_loss", loss)]))
        epoch_loss.append(loss)
        if (step + 1) % 10:
            return
        epoch = step // 10
        train_w.write(event(wall, epoch + 1, [v_scalar("epoch_loss", sum(epoch_loss) / len(epoch_loss))]))
        with torch.no_grad():
            val_w.write(event(wall, epoch + 1, [v_scalar("epoch_loss",
                                                         float(nn.functional.cross_entropy(model(xv), yv)))]))
        for i, linear in enumerate(m for m in model if isinstance(m, nn.Linear)):
            for part, t in (("kernel", linear.weight.detach().t()), ("bias", linear.bias.detach())):
                train_w.write(event(wall, epoch, [v_histo("dense_Dense%d/%s" % (i + 1, part),
                                                          tf_histogram(t.numpy().astype(np.float32)))]))
        epoch_loss.clear()

    train(model, 30, 0.1, on_step)
    train_w.close()
    val_w.close()
    return train_w.path


def write_custom(directory):
    """A script of one's own: tags no built-in pattern reads (`objective`, `net/<layer>/gradient_l2`)."""
    w = torch_writer(directory)
    model = mlp(6, 16, nn.Sigmoid, 0)

    def on_step(step, loss, model):
        if step % 5:
            return
        wall = WALL + 1 + step
        values = [v_scalar("objective", loss)]
        for name, p in model.named_parameters():
            values.append(v_scalar("net/%s/gradient_l2" % name, float(p.grad.norm())))
        w.write(event(wall, step, values))

    train(model, 60, 0.1, on_step)
    w.close()
    return w.path


def main():
    check_torch_layout()
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    write_pytorch(os.path.join(OUT, "pytorch-sigmoid"), nn.Sigmoid, False, True)
    relu = write_pytorch(os.path.join(OUT, "pytorch-relu-he"), nn.ReLU, True, False)
    write_keras_tf1(os.path.join(OUT, "keras-write-grads"))
    write_keras_tf2(os.path.join(OUT, "keras-tf2"))
    write_tfjs_node(os.path.join(OUT, "tfjs-node"))
    write_custom(os.path.join(OUT, "custom-tags"))
    # Damaged copies of the (scalars only) PyTorch ReLU log: cut inside the last record (a run killed mid-write), one flipped byte in
    # a record's data (its data checksum fails: that record is skipped), and a flipped length (the rest is lost).
    data = open(relu, "rb").read()
    corrupt = os.path.join(OUT, "corrupt")
    os.makedirs(corrupt)
    open(os.path.join(corrupt, "events.out.tfevents.truncated"), "wb").write(data[:-9])
    offsets, offset = [], 0
    while offset < len(data):
        offsets.append(offset)
        offset += 16 + struct.unpack_from("<Q", data, offset)[0]
    flipped = bytearray(data)
    flipped[offsets[5] + 14] ^= 0xFF
    open(os.path.join(corrupt, "events.out.tfevents.bad-data-crc"), "wb").write(bytes(flipped))
    bad_length = bytearray(data)
    bad_length[offsets[len(offsets) // 2]] ^= 0x01
    open(os.path.join(corrupt, "events.out.tfevents.bad-length-crc"), "wb").write(bytes(bad_length))
    open(os.path.join(corrupt, "events.out.tfevents.garbage"), "wb").write(bytes(range(7, 107)))
    for dirpath, _, files in sorted(os.walk(OUT)):
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            print("%8d %s" % (os.path.getsize(path), os.path.relpath(path, ROOT)))


if __name__ == "__main__":
    main()
