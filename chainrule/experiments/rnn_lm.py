"""An Elman RNN character language model trained with teacher forcing.

At every position the network reads the true previous character (teacher forcing) and is scored
by the cross-entropy of the next one; perplexity is ``exp`` of that loss per character, so a model
that guesses uniformly among V characters has perplexity V. The held-out tail of the text shows
how much of the gain is learning English and how much is memorising the training text.

Samples drawn from the model at a few points during training show the progression from random
characters to words. Backpropagation through time is made visible by the size of the gradient
that the loss at the last position sends back to the input k steps earlier: through a tanh
recurrence it shrinks roughly geometrically with k (vanishing gradients).

``--data FILE`` trains on any UTF-8 text file instead of the built-in few paragraphs.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

import chainrule as cr
import chainrule.nn.utils  # noqa: F401  (makes cr.nn.utils.clip_grad_norm_ reachable)

from ._base import plt

NAME = "rnn-lm"
SUMMARY = "Elman RNN character model with teacher forcing: perplexity, samples, BPTT gradients"

_PROMPT = "The "


class CharRNN(cr.nn.Module):
    """Embedding -> Elman RNN (tanh) -> linear read-out over the characters."""

    def __init__(self, vocab_size, embed, hidden, g):
        super().__init__()
        nn = cr.nn
        self.embed = nn.Embedding(vocab_size, embed, generator=g)
        self.rnn = nn.RNN(embed, hidden, batch_first=True, generator=g)
        self.head = nn.Linear(hidden, vocab_size, generator=g)

    def forward(self, x, h=None):
        states, h = self.rnn(self.embed(x), h)
        return self.head(states), h


def _text(ctx):
    if ctx.data is None:
        return cr.data.datasets.BUILTIN_TEXT, "the built-in text"
    path = Path(ctx.data).expanduser()
    if not path.is_file():
        raise cr.errors.DataError(f"experiment rnn-lm: --data expected a text file, got {path}")
    return path.read_text(encoding="utf-8", errors="replace"), path.name


def _sequence_loss(model, ids):
    """Mean next-character cross-entropy over one long teacher-forced pass."""
    with cr.no_grad():
        logits, _ = model(cr.tensor(ids[None, :-1]))
        return cr.nn.functional.cross_entropy(logits[0], cr.tensor(ids[1:])).item()


def _sample(model, corpus, n_chars, g, temperature=0.8):
    """Draw ``n_chars`` characters after the prompt, feeding each one back in."""
    ids = list(corpus.encode(_PROMPT))
    with cr.no_grad():
        logits, h = model(cr.tensor(np.array([ids])))
        for _ in range(n_chars):
            z = logits[0, -1].numpy().astype(np.float64) / temperature
            p = np.exp(z - z.max())
            cdf = np.cumsum(p / p.sum())
            nxt = int(min(np.searchsorted(cdf, cr.rand(1, generator=g).item()), len(cdf) - 1))
            ids.append(nxt)
            logits, h = model(cr.tensor(np.array([[nxt]])), h)
    return corpus.decode(np.array(ids))


def _real_word_fraction(sample, known):
    words = [w for w in cr.data.datasets.tokenize(sample[len(_PROMPT):]) if w.isalpha()]
    return sum(w in known for w in words) / len(words) if words else 0.0


def _bptt_profile(model, windows):
    """``|d loss_T / d x_{T-k}|`` for k = 0..T-1, the loss taken at the last position only.

    x_t is the embedded input at step t; the profile is averaged over the batch."""
    x = cr.tensor(windows[:, :-1])
    e = model.embed(x)
    states, _ = model.rnn(e)
    loss = cr.nn.functional.cross_entropy(model.head(states[:, -1]),
                                          cr.tensor(windows[:, -1]))
    (ge,) = cr.autograd.grad(loss, [e])
    norms = np.sqrt(np.square(ge.numpy().astype(np.float64)).sum(axis=2)).mean(axis=0)
    return norms[::-1].copy()  # index k = steps back from the loss


def _decay_per_step(profile, k):
    return float((profile[k] / profile[0]) ** (1.0 / k))


def run(ctx):
    text, source = _text(ctx)
    corpus = cr.data.datasets.CharCorpus(text)
    V = corpus.vocab_size
    n_train = int(0.85 * len(corpus.data))
    train, val = corpus.data[:n_train], corpus.data[n_train:]
    known = {w for w in cr.data.datasets.tokenize(corpus.decode(train)) if w.isalpha()}

    g = cr.Generator().manual_seed(ctx.seed)
    g_sample = cr.Generator().manual_seed(ctx.seed + 1)
    steps = ctx.pick(300, 3000)
    hidden = ctx.pick(64, 128)
    seq_len, batch, lr = ctx.pick(32, 64), 32, 3e-3
    n_evals = ctx.pick(15, 60)
    eval_at = sorted(set(np.linspace(0, steps, n_evals + 1).astype(int).tolist()))
    sample_at = sorted({0, steps // 10, steps // 3, steps})
    sample_len = ctx.pick(100, 240)
    bptt_len = ctx.pick(40, 80)

    model = CharRNN(V, 16, hidden, g)
    params = list(model.parameters())
    opt = cr.optim.Adam(params, lr=lr)
    F = cr.nn.functional

    counts = np.bincount(train, minlength=V) + 1.0  # add-one so unseen characters stay finite
    unigram_val = float(math.exp(-np.log(counts / counts.sum())[val[1:]].mean()))

    probe = int(min(64, len(train) - bptt_len - 1))
    probe_starts = cr.randint(0, len(train) - bptt_len - 1, (probe,), generator=g).numpy()
    probe_windows = train[probe_starts[:, None] + np.arange(bptt_len + 1)]
    bptt_init = _bptt_profile(model, probe_windows)

    curve = {"step": [], "train_loss": [], "val_loss": []}
    samples, grad_norms = [], []
    columns = np.arange(seq_len + 1)
    for step in ctx.progress(range(steps + 1), desc="training"):
        if step in eval_at:
            curve["step"].append(step)
            curve["train_loss"].append(_sequence_loss(model, train))
            curve["val_loss"].append(_sequence_loss(model, val))
        if step in sample_at:
            s = _sample(model, corpus, sample_len, g_sample)
            samples.append({"step": step, "text": s, "real_words": _real_word_fraction(s, known)})
        if step == steps:
            break
        starts = cr.randint(0, len(train) - seq_len - 1, (batch,), generator=g).numpy()
        w = train[starts[:, None] + columns]
        opt.zero_grad()
        logits, _ = model(cr.tensor(w[:, :-1]))
        loss = F.cross_entropy(logits.reshape(-1, V), cr.tensor(w[:, 1:].reshape(-1)))
        loss.backward()
        grad_norms.append(float(cr.nn.utils.clip_grad_norm_(params, 1.0)))
        opt.step()
    bptt_trained = _bptt_profile(model, probe_windows)

    curve = {k: np.array(v) for k, v in curve.items()}
    ppl_train = np.exp(curve["train_loss"])
    ppl_val = np.exp(curve["val_loss"])
    best = int(np.argmin(ppl_val))
    k = min(20, bptt_len - 1)
    decay_init = _decay_per_step(bptt_init, k)
    decay_trained = _decay_per_step(bptt_trained, k)

    p = plt()
    fig = p.figure(figsize=(13, 7.5))
    grid = fig.add_gridspec(2, 3, height_ratios=[1, 0.55])
    ax_loss, ax_ppl, ax_bptt = (fig.add_subplot(grid[0, i]) for i in range(3))
    ax_text = fig.add_subplot(grid[1, :])
    ax_loss.plot(curve["step"], curve["train_loss"], "o-", ms=3, label="training text")
    ax_loss.plot(curve["step"], curve["val_loss"], "s-", ms=3, label="held-out text")
    ax_loss.axhline(math.log(unigram_val), color="gray", ls="--", label="unigram baseline")
    ax_loss.set_xlabel("training step")
    ax_loss.set_ylabel("cross-entropy (nats per character)")
    ax_loss.set_title("teacher-forced loss")
    ax_loss.legend(fontsize=8)
    ax_ppl.semilogy(curve["step"], ppl_train, "o-", ms=3, label="training text")
    ax_ppl.semilogy(curve["step"], ppl_val, "s-", ms=3, label="held-out text")
    ax_ppl.axhline(unigram_val, color="gray", ls="--", label=f"unigram ({unigram_val:.1f})")
    ax_ppl.axhline(V, color="k", ls=":", label=f"uniform guess ({V})")
    ax_ppl.plot(curve["step"][best], ppl_val[best], "r*", ms=12, label="best held-out")
    ax_ppl.set_xlabel("training step")
    ax_ppl.set_ylabel("perplexity")
    ax_ppl.set_title("perplexity = exp(loss)")
    ax_ppl.legend(fontsize=8)
    ks = np.arange(bptt_len)
    ax_bptt.semilogy(ks, bptt_init / bptt_init[0], "o-", ms=3,
                     label=f"initialisation (x{decay_init:.2f} per step)")
    ax_bptt.semilogy(ks, bptt_trained / bptt_trained[0], "s-", ms=3,
                     label=f"after training (x{decay_trained:.2f} per step)")
    ax_bptt.set_xlabel("k: steps back from the predicted character")
    ax_bptt.set_ylabel("|d loss_T / d x_(T-k)|, relative to k = 0")
    ax_bptt.set_title("gradient through time (BPTT)")
    ax_bptt.legend(fontsize=8)
    ax_text.axis("off")
    lines = []
    for s in samples:
        body = s["text"].replace("\n", " ")
        wrapped = [body[i:i + 120] for i in range(0, len(body), 120)]
        lines.append(f"step {s['step']:>5} ({s['real_words']:.0%} real words):")
        lines += ["    " + w for w in wrapped]
    ax_text.text(0.0, 1.0, "\n".join(lines), family="monospace", fontsize=8, va="top",
                 transform=ax_text.transAxes)
    ax_text.set_title(f"samples (temperature 0.8) after the prompt {_PROMPT!r}", loc="left")
    fig.suptitle(f"Elman RNN ({hidden} tanh units) on {source}: {len(train)} training and "
                 f"{len(val)} held-out characters, {V} symbols")
    fig.tight_layout()
    ctx.figure(fig, "rnn_lm")

    final_val, best_val = float(ppl_val[-1]), float(ppl_val[best])
    after = (f"then rose to {final_val:.1f} as the model memorised the training text"
             if final_val > 1.1 * best_val else f"and ended at {final_val:.1f}")
    ctx.conclude(
        f"Teacher-forced training took the training perplexity from {ppl_train[0]:.1f} to "
        f"{ppl_train[-1]:.2f} per character. Held-out perplexity was lowest "
        f"({best_val:.1f}) at step {int(curve['step'][best])}, "
        f"{'below' if best_val < unigram_val else 'not below'} the unigram baseline of "
        f"{unigram_val:.1f}, {after}. Real words in the samples went from "
        f"{samples[0]['real_words']:.0%} to {samples[-1]['real_words']:.0%}. Through time, the "
        f"gradient from the last prediction shrank by x{decay_init:.2f} per step back at "
        f"initialisation ({bptt_init[k] / bptt_init[0]:.0e} after {k} steps) and by "
        f"x{decay_trained:.2f} after training ({bptt_trained[k] / bptt_trained[0]:.0e}).")
    return {"source": source, "vocab_size": V, "train_chars": len(train), "val_chars": len(val),
            "hidden": hidden, "steps": steps, "curve": curve, "train_perplexity": ppl_train,
            "val_perplexity": ppl_val, "best_val_perplexity": best_val,
            "best_val_step": int(curve["step"][best]), "unigram_val_perplexity": unigram_val,
            "samples": samples, "bptt_init": bptt_init, "bptt_trained": bptt_trained,
            "bptt_decay_per_step_init": decay_init,
            "bptt_decay_per_step_trained": decay_trained, "grad_norm": np.array(grad_norms)}
