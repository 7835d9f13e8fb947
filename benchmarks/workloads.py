"""The speed workloads of BENCHMARKS.md, written twice: with chainrule's public API (what a user
would write) and with PyTorch eager, starting from identical weights and batch."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

MLP_SIZES = {
    "mlp-small": ([40, 100, 100, 10], 32),
    "mlp-mnist": ([784, 512, 512, 10], 128),
    "mlp-wide": ([1024, 4096, 4096, 10], 256),
    "mlp-mnist-infer": ([784, 512, 512, 10], 128),
}
ALL = ["mlp-small", "mlp-mnist", "mlp-wide", "cnn1d", "cnn2d", "rnn", "transformer",
       "mlp-mnist-infer"]


def _mlp(sizes, lib):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(lib.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(lib.ReLU())
    return lib.Sequential(*layers)


def _cnn1d(lib):
    return lib.Sequential(lib.Conv1d(1, 32, 5, padding=2), lib.ReLU(),
                          lib.Conv1d(32, 32, 3, padding=1), lib.ReLU(),
                          lib.Conv1d(32, 32, 3, padding=1), lib.ReLU(),
                          lib.Flatten(), lib.Linear(1280, 10))


def _cnn2d(lib):
    return lib.Sequential(lib.Conv2d(1, 16, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Conv2d(16, 32, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Flatten(), lib.Linear(1568, 10))


class CharRNN(nn.Module):
    """Embedding 64->32, Elman RNN hidden 128, Linear 128->64 at every step."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(64, 32)
        self.rnn = nn.RNN(32, 128, batch_first=True)
        self.head = nn.Linear(128, 64)

    def forward(self, tokens):
        out, _ = self.rnn(self.emb(tokens))
        return self.head(out)


class Block(nn.Module):
    """One pre-norm encoder block, mean over the sequence, Linear 128->10."""

    def __init__(self, d=128, heads=4, hidden=512):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(hidden, d)
        self.head = nn.Linear(d, 10)

    def forward(self, x):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        x = x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))
        return self.head(x.mean(1))


def build(name, seed=0):
    """(chainrule model, inputs, targets, loss_fn, forward_only) for a workload."""
    cr.manual_seed(seed)
    rng = np.random.default_rng(seed)
    if name in MLP_SIZES:
        sizes, b = MLP_SIZES[name]
        model = _mlp(sizes, nn)
        x = rng.standard_normal((b, sizes[0])).astype(np.float32)
        y = rng.integers(0, sizes[-1], b)
    elif name == "cnn1d":
        model, b = _cnn1d(nn), 32
        x = rng.standard_normal((b, 1, 40)).astype(np.float32)
        y = rng.integers(0, 10, b)
    elif name == "cnn2d":
        model, b = _cnn2d(nn), 64
        x = rng.standard_normal((b, 1, 28, 28)).astype(np.float32)
        y = rng.integers(0, 10, b)
    elif name == "rnn":
        model, b = CharRNN(), 32
        nn.init.normal_(model.emb.weight, generator=cr.default_generator)
        x = rng.integers(0, 64, (b, 50))
        y = rng.integers(0, 64, (b, 50))
    elif name == "transformer":
        model, b = Block(), 16
        x = rng.standard_normal((b, 64, 128)).astype(np.float32)
        y = rng.integers(0, 10, b)
    else:
        raise KeyError(f"unknown workload '{name}'; known: {', '.join(ALL)}")
    return model, x, y, name.endswith("-infer")


def chainrule_step(model, x, y, infer):
    """One step as a user writes it: forward, mean cross-entropy, backward, SGD with momentum."""
    xt, yt = cr.from_numpy(x), cr.from_numpy(y)
    if infer:
        model.eval()

        def infer_step():
            with cr.no_grad():
                model(xt)

        return infer_step
    opt = cr.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad()
        out = model(xt)
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), yt.reshape(-1))
        loss.backward()
        opt.step()
        return loss

    return step


def torch_model(name, cr_model, fused=False):
    """The same architecture in PyTorch, with chainrule's initial weights copied in."""
    import torch
    from torch import nn as tnn

    if name in MLP_SIZES:
        m = _mlp(MLP_SIZES[name][0], tnn)
    elif name == "cnn1d":
        m = _cnn1d(tnn)
    elif name == "cnn2d":
        m = _cnn2d(tnn)
    elif name == "rnn":
        m = _make_torch_char_rnn(fused)
    elif name == "transformer":
        m = _torch_block()
    sd = {k: torch.from_numpy(np.array(v.numpy())) for k, v in cr_model.state_dict().items()}
    m.load_state_dict(sd)
    return m


def _torch_block():
    import torch
    from torch import nn as tnn

    class TBlock(tnn.Module):
        def __init__(self, d=128, heads=4, hidden=512):
            super().__init__()
            self.ln1 = tnn.LayerNorm(d)
            self.attn = tnn.MultiheadAttention(d, heads, batch_first=True)
            self.ln2 = tnn.LayerNorm(d)
            self.fc1 = tnn.Linear(d, hidden)
            self.fc2 = tnn.Linear(hidden, d)
            self.head = tnn.Linear(d, 10)

        def forward(self, x):
            h = self.ln1(x)
            x = x + self.attn(h, h, h, need_weights=False)[0]
            x = x + self.fc2(torch.nn.functional.gelu(self.fc1(self.ln2(x)),
                                                      approximate="tanh"))
            return self.head(x.mean(1))

    return TBlock()


def _make_torch_char_rnn(fused):
    import torch
    from torch import nn as tnn

    class TorchCharRNN(tnn.Module):
        """PyTorch reference: an explicit time loop over the same weights (or fused nn.RNN)."""

        def __init__(self):
            super().__init__()
            self.emb = tnn.Embedding(64, 32)
            self.rnn = tnn.RNN(32, 128, batch_first=True)
            self.head = tnn.Linear(128, 64)
            self.fused = fused

        def forward(self, tokens):
            e = self.emb(tokens)
            if self.fused:
                out, _ = self.rnn(e)
            else:
                r = self.rnn
                xs = e @ r.weight_ih_l0.T + (r.bias_ih_l0 + r.bias_hh_l0)
                h = torch.zeros(e.shape[0], 128)
                outs = []
                for t in range(e.shape[1]):
                    h = torch.tanh(xs[:, t] + h @ r.weight_hh_l0.T)
                    outs.append(h)
                out = torch.stack(outs, 1)
            return self.head(out)

    return TorchCharRNN()


def torch_step(model, x, y, infer):
    import torch

    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    if infer:
        model.eval()

        def infer_step():
            with torch.no_grad():
                model(xt)

        return infer_step
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad()
        out = model(xt)
        loss = torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), yt.reshape(-1))
        loss.backward()
        opt.step()
        return loss

    return step


def matmul_flops(name):
    """Multiply-add FLOPs of one training step (forward + both backward products) for MLPs."""
    if name not in MLP_SIZES:
        return None
    sizes, b = MLP_SIZES[name]
    fwd = sum(2 * b * i * o for i, o in zip(sizes[:-1], sizes[1:]))
    return fwd if name.endswith("-infer") else 3 * fwd
