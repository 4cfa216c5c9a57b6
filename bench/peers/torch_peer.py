"""PyTorch peer for gradscope's benchmark: `python3 torch_peer.py '<RunSpec JSON>'` (see src/bench/protocol.ts).

Single-threaded (torch.set_num_threads(1); the orchestrator also sets OMP_NUM_THREADS=1 and OMP_WAIT_POLICY=PASSIVE)
so it is compared core for core with the JavaScript runners; with GRADSCOPE_TORCH_THREADS=N it runs N threads, for
the comparison with gradscope at N kernel threads. W1, W2, W5 and W6 use nn.Linear / nn.LSTM / nn.Conv2d /
nn.TransformerEncoder, the usual losses
and torch.optim.SGD; a step is zero_grad, forward, loss, backward, step, with the loss read back (.item()).
Prints one line: the result marker followed by JSON.
"""

import json
import math
import os
import resource
import sys
import time

# The orchestrator's runner id for this process: "pytorch" (1 thread) or "pytorch-2t" (GRADSCOPE_TORCH_THREADS=2).
RUNNER = os.environ.get("GRADSCOPE_TORCH_RUNNER", "pytorch")

MARKER = "@@gradscope-bench@@"


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class MemoryProbe:
    def __init__(self):
        self.baseline = rss_bytes()
        self.peak = self.baseline

    def sample(self):
        now = rss_bytes()
        if now > self.peak:
            self.peak = now

    def result(self):
        return {
            "baselineRssBytes": self.baseline,
            "sampledPeakRssBytes": self.peak,
            "maxRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        }


def choose_iterations(spec, key, seconds_per_iteration):
    given = (spec.get("iterations") or {}).get(key)
    if given is not None:
        return given
    cal = spec["calibration"]
    wanted = math.ceil(cal["targetSeconds"] / max(seconds_per_iteration, 1e-9))
    return min(cal["maxIterations"], max(cal["minIterations"], wanted))


def median(values):
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def time_steps(spec, step, memory):
    warm = spec["warmup"]
    times = []
    start = time.perf_counter()
    first_loss = float("nan")
    for i in range(warm["maxSteps"]):
        t = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t)
        memory.sample()
        if i == 0:
            first_loss = loss
        if i + 1 >= warm["minSteps"] and time.perf_counter() - start >= warm["minSeconds"]:
            break
    per_step = median(times[1:] if len(times) > 1 else times)
    iterations = choose_iterations(spec, "step", per_step)
    last_loss = float("nan")
    t0 = time.perf_counter()
    for _ in range(iterations):
        last_loss = step()
        memory.sample()
    seconds = time.perf_counter() - t0
    timing = {
        "iterations": iterations,
        "seconds": seconds,
        "stepsPerSecond": iterations / seconds,
        "firstLoss": first_loss,
        "lastLoss": last_loss,
    }
    return timing, {"step": iterations}


def main():
    spec = json.loads(sys.argv[1])
    import torch

    # One thread unless the orchestrator asks for more (its "PyTorch (2 threads)" runner).
    threads = int(os.environ.get("GRADSCOPE_TORCH_THREADS", "1"))
    torch.set_num_threads(threads)
    torch.manual_seed(spec["seed"])
    blas = "unknown BLAS"
    try:
        config = torch.__config__.show()
        blas = "MKL" if "USE_MKL=ON" in config else "system BLAS"
        maps = open("/proc/self/maps").read()
        if "openblas" in maps:
            blas = "OpenBLAS"
        elif "libblas.so" in maps:
            blas = "reference BLAS (install libopenblas0-pthread for a fair peer)"
    except Exception:  # noqa: BLE001 - only a label
        pass
    version = f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {blas}"
    notes = []
    workload = spec["workload"]

    if workload == "W3":
        results, used = [], {}
        for shape in spec["shapes"]["matmul"]:
            m, k, n = shape["m"], shape["k"], shape["n"]
            a, b, dc = torch.randn(m, k), torch.randn(k, n), torch.randn(m, n)
            runs = {"NN": lambda: a @ b, "NT": lambda: dc @ b.t(), "TN": lambda: a.t() @ dc}
            for kind in ("NN", "NT", "TN"):
                run = runs[kind]
                warm = []
                start = time.perf_counter()
                for i in range(spec["warmup"]["maxSteps"]):
                    t = time.perf_counter()
                    run()
                    warm.append(time.perf_counter() - t)
                    if i + 1 >= spec["warmup"]["minSteps"] and time.perf_counter() - start >= spec["warmup"]["minSeconds"]:
                        break
                key = f"{shape['name']}/{kind}"
                iterations = choose_iterations(spec, key, median(warm))
                t0 = time.perf_counter()
                for _ in range(iterations):
                    run()
                seconds = time.perf_counter() - t0
                used[key] = iterations
                results.append({"shape": shape["name"], "product": kind, "m": m, "k": k, "n": n, "iterations": iterations,
                                "seconds": seconds, "gflops": 2 * m * k * n * iterations / seconds / 1e9})
        emit({"ok": True, "runner": RUNNER, "workload": workload, "version": version, "products": results,
              "iterations": used, "memory": MemoryProbe().result(), "notes": notes})
        return

    nn = torch.nn
    if workload == "W1":
        s = spec["shapes"]["mlp"]
        layers = []
        width_in = s["input"]
        for _ in range(s["depth"]):
            layers += [nn.Linear(width_in, s["width"]), nn.Tanh()]
            width_in = s["width"]
        layers.append(nn.Linear(width_in, s["classes"]))
        model = nn.Sequential(*layers)
        x = torch.randn(s["batch"], s["input"])
        y = torch.randint(0, s["classes"], (s["batch"],))
        loss_fn = nn.CrossEntropyLoss()
        forward = lambda: loss_fn(model(x), y)  # noqa: E731
    elif workload == "W2":
        s = spec["shapes"]["lstm"]
        lstm = nn.LSTM(s["input"], s["hidden"])
        head = nn.Linear(s["hidden"], s["output"])
        model = nn.ModuleList([lstm, head])
        x = torch.rand(s["steps"], s["batch"], s["input"])
        y = torch.rand(s["batch"], s["output"])
        loss_fn = nn.MSELoss()

        def forward():
            out, _ = lstm(x)
            return loss_fn(head(out[-1]), y)

        notes.append("nn.LSTM on CPU (ATen's loop over time steps, input projection for all steps at once)")
    elif workload == "W5":
        s = spec["shapes"]["conv"]
        layers = []
        channels = s["inChannels"]
        for out in s["channels"]:
            layers += [nn.Conv2d(channels, out, 3, padding=1), nn.ReLU()]
            channels = out
        layers += [nn.Flatten(), nn.Linear(channels * s["size"] * s["size"], s["classes"])]
        model = nn.Sequential(*layers)
        x = torch.randn(s["batch"], s["inChannels"], s["size"], s["size"])
        y = torch.randint(0, s["classes"], (s["batch"],))
        loss_fn = nn.CrossEntropyLoss()
        forward = lambda: loss_fn(model(x), y)  # noqa: E731
        notes.append("nn.Conv2d (ATen's CPU convolution: im2col + BLAS, or mkldnn where built in)")
    elif workload == "W6":
        s = spec["shapes"]["transformer"]
        d, seq = s["dModel"], s["seq"]
        # Sinusoidal positions (Vaswani et al. 2017), as gradscope's TransformerInput adds them.
        position = torch.arange(seq).unsqueeze(1)
        div = torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))
        pe = torch.zeros(seq, 1, d)
        pe[:, 0, 0::2] = torch.sin(position * div)
        pe[:, 0, 1::2] = torch.cos(position * div)
        layer = nn.TransformerEncoderLayer(d, s["heads"], s["ffWidth"], dropout=0.0, activation="gelu", norm_first=True)
        encoder = nn.TransformerEncoder(layer, s["layers"], enable_nested_tensor=False)
        embed = nn.Linear(s["input"], d)
        final_norm = nn.LayerNorm(d)
        head = nn.Linear(d, s["classes"])
        model = nn.ModuleList([embed, encoder, final_norm, head])
        x = torch.randn(seq, s["batch"], s["input"])
        y = torch.randint(0, s["classes"], (s["batch"],))
        loss_fn = nn.CrossEntropyLoss()

        def forward():
            h = encoder(embed(x) + pe)
            return loss_fn(head(final_norm(h).mean(0)), y)

        notes.append("nn.TransformerEncoder (norm_first, GELU, dropout 0), time-major [seq, batch, dModel]")
    else:
        raise ValueError(f"the PyTorch peer runs W1, W2, W3, W5 and W6, not {workload}")
    optimizer = torch.optim.SGD(model.parameters(), lr=s["learningRate"])

    def step():
        optimizer.zero_grad()
        loss = forward()
        loss.backward()
        optimizer.step()
        return loss.item()

    memory = MemoryProbe()
    timing, used = time_steps(spec, step, memory)
    emit({"ok": True, "runner": RUNNER, "workload": workload, "version": version, "steps": timing,
          "iterations": used, "memory": memory.result(), "notes": notes})


def emit(result):
    sys.stdout.write(MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # noqa: BLE001 - reported to the orchestrator
        import traceback

        spec_workload = "W1"
        try:
            spec_workload = json.loads(sys.argv[1])["workload"]
        except Exception:  # noqa: BLE001
            pass
        emit({"ok": False, "runner": RUNNER, "workload": spec_workload, "error": f"{error}\n{traceback.format_exc()}"})
        sys.exit(1)
