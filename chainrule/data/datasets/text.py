"""Text utilities: tokenising, vocabularies, padding, length bucketing and small corpora.

Everything here works on plain Python strings and NumPy ``int64`` arrays of token ids.

Two tiny corpora ship with the library so examples run without any download:

* :data:`BUILTIN_SENTIMENT`, 80 short sentences labelled ``1`` (positive) or ``0`` (negative),
  40 of each;
* :data:`BUILTIN_TEXT`, a few paragraphs of plain English for character-level models.

Example
-------
>>> tokens = [tokenize(s) for s in ["The soup was great!", "The service was slow."]]
>>> vocab = Vocab.build(tokens)
>>> ids, lengths = pad_sequences([vocab.encode(t) for t in tokens])
>>> ids.shape, lengths.tolist()
((2, 5), [5, 5])
>>> vocab.decode(ids[0])
['the', 'soup', 'was', 'great', '!']
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from numbers import Integral
from pathlib import Path

import numpy as np

from chainrule.data.datasets.idx import DataFileNotFound
from chainrule.errors import DataError

__all__ = [
    "BUILTIN_SENTIMENT",
    "BUILTIN_TEXT",
    "CharCorpus",
    "PAD",
    "UNK",
    "Vocab",
    "bucket_by_length",
    "builtin_sentiment",
    "pad_sequences",
    "read_labelled_sentences",
    "tokenize",
]

PAD = "<pad>"
UNK = "<unk>"

# A word is a run of letters/digits, optionally with inner apostrophes ("don't", "o'clock");
# every other non-space character is a token of its own.
_TOKEN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


def _check_int(fn: str, arg: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise DataError(f"{fn}: argument '{arg}' expected an integer >= {minimum}, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------- tokens and vocab


def tokenize(text: str, lower: bool = True) -> list[str]:
    """Split ``text`` into words and punctuation marks.

    Parameters
    ----------
    text : str
        The text.
    lower : bool
        Lower-case the text first.

    Returns
    -------
    list of str

    Examples
    --------
    >>> tokenize("Don't panic, it's only 42 lines!")
    ["don't", 'panic', ',', "it's", 'only', '42', 'lines', '!']
    """
    if not isinstance(text, str):
        raise DataError(f"tokenize: argument 'text' expected a str, got {type(text).__name__}")
    if lower:
        text = text.lower()
    return _TOKEN.findall(text)


class Vocab:
    """A two-way mapping between tokens and integer ids.

    Id 0 is always :data:`PAD` (``"<pad>"``) and id 1 always :data:`UNK` (``"<unk>"``); tokens
    not in the vocabulary are encoded as the unknown id.

    Parameters
    ----------
    itos : sequence of str
        The tokens in id order, starting with ``"<pad>"`` and ``"<unk>"``; usually built with
        :meth:`Vocab.build`. Passing a saved ``vocab.itos`` restores the same vocabulary.

    Attributes
    ----------
    itos : list of str
        Id to token.
    stoi : dict of str to int
        Token to id.

    Examples
    --------
    >>> vocab = Vocab.build([["a", "b", "a"], ["c", "a"]], min_freq=1)
    >>> vocab.itos
    ['<pad>', '<unk>', 'a', 'b', 'c']
    >>> vocab.encode(["a", "zebra"]).tolist()
    [2, 1]
    """

    pad_id = 0
    unk_id = 1

    def __init__(self, itos: Sequence[str]):
        itos = list(itos)
        if itos[:2] != [PAD, UNK]:
            raise DataError(
                f"Vocab: argument 'itos' expected to start with {PAD!r}, {UNK!r}, got {itos[:2]!r}"
            )
        if not all(isinstance(token, str) for token in itos):
            raise DataError("Vocab: argument 'itos' expected only str tokens")
        stoi = {token: index for index, token in enumerate(itos)}
        if len(stoi) != len(itos):
            duplicates = sorted(t for t, c in Counter(itos).items() if c > 1)
            raise DataError(
                f"Vocab: argument 'itos' expected unique tokens, got duplicates {duplicates[:5]}"
            )
        self.itos: list[str] = itos
        self.stoi: dict[str, int] = stoi

    @classmethod
    def build(
        cls, token_lists: Iterable[Iterable[str]], min_freq: int = 1, max_size: int | None = None
    ) -> Vocab:
        """Build a vocabulary from tokenised texts.

        Tokens are ordered by decreasing frequency, ties broken alphabetically, so the result
        does not depend on the order of the texts.

        Parameters
        ----------
        token_lists : iterable of iterables of str
            The tokenised texts, e.g. ``[tokenize(s) for s in sentences]``.
        min_freq : int
            Keep only tokens seen at least this many times.
        max_size : int, optional
            Largest vocabulary size, counting the two special tokens (so the embedding table of
            a model has exactly ``len(vocab) <= max_size`` rows).

        Returns
        -------
        Vocab

        Examples
        --------
        >>> Vocab.build([["x", "y", "y"]], max_size=3).itos
        ['<pad>', '<unk>', 'y']
        """
        min_freq = _check_int("Vocab.build", "min_freq", min_freq, 1)
        if max_size is not None:
            max_size = _check_int("Vocab.build", "max_size", max_size, 2)
        counts: Counter[str] = Counter()
        for position, tokens in enumerate(token_lists):
            if isinstance(tokens, str):
                raise DataError(
                    f"Vocab.build: argument 'token_lists' expected lists of tokens, got a str at "
                    f"position {position}; tokenize the texts first"
                )
            counts.update(tokens)
        counts.pop(PAD, None)
        counts.pop(UNK, None)
        ranked = sorted(
            (token for token, count in counts.items() if count >= min_freq),
            key=lambda token: (-counts[token], token),
        )
        if max_size is not None:
            ranked = ranked[: max_size - 2]
        return cls([PAD, UNK, *ranked])

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)})"

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Map tokens to ids; unknown tokens become ``unk_id``.

        Parameters
        ----------
        tokens : iterable of str
            Tokens, e.g. ``tokenize(sentence)``.

        Returns
        -------
        ndarray, int64, shape (len(tokens),)

        Examples
        --------
        >>> Vocab.build([["hi"]]).encode(["hi", "there"]).tolist()
        [2, 1]
        """
        if isinstance(tokens, str):
            raise DataError(
                "Vocab.encode: argument 'tokens' expected a list of tokens, got a str; "
                "use vocab.encode(tokenize(text))"
            )
        unk = self.unk_id
        return np.fromiter((self.stoi.get(t, unk) for t in tokens), dtype=np.int64)

    def decode(self, ids, skip_pad: bool = False) -> list[str]:
        """Map ids back to tokens.

        Parameters
        ----------
        ids : iterable of int
            Ids in ``[0, len(self))``.
        skip_pad : bool
            Drop padding ids from the result.

        Returns
        -------
        list of str

        Examples
        --------
        >>> vocab = Vocab.build([["hi"]])
        >>> vocab.decode([2, 0, 0], skip_pad=True)
        ['hi']
        """
        ids = np.asarray(ids)
        if ids.size and (ids.ndim != 1 or ids.dtype.kind not in "iu"):
            raise DataError(
                f"Vocab.decode: argument 'ids' expected a 1-D sequence of integers, got "
                f"{ids.dtype} of shape {ids.shape}"
            )
        out = []
        for index in ids.reshape(-1).tolist():
            if not 0 <= index < len(self.itos):
                raise DataError(
                    f"Vocab.decode: argument 'ids' expected ids in [0, {len(self.itos)}), "
                    f"got {index}"
                )
            if skip_pad and index == self.pad_id:
                continue
            out.append(self.itos[index])
        return out


# --------------------------------------------------------------------------- batching helpers


def pad_sequences(seqs, pad_id: int = 0, max_len: int | None = None):
    """Stack variable-length id sequences into one right-padded matrix.

    Parameters
    ----------
    seqs : sequence of sequences of int
        The id sequences.
    pad_id : int
        Value written after the end of each sequence.
    max_len : int, optional
        Width of the result. Longer sequences are cut to their first ``max_len`` ids. Defaults
        to the longest sequence.

    Returns
    -------
    ids : ndarray, int64, shape (n, L)
    lengths : ndarray, int64, shape (n,)
        Number of real (non-padding) ids in each row, after cutting.

    Examples
    --------
    >>> ids, lengths = pad_sequences([[5, 6, 7], [8]], pad_id=0)
    >>> ids.tolist(), lengths.tolist()
    ([[5, 6, 7], [8, 0, 0]], [3, 1])
    """
    fn = "pad_sequences"
    if isinstance(pad_id, bool) or not isinstance(pad_id, Integral):
        raise DataError(f"{fn}: argument 'pad_id' expected an integer, got {pad_id!r}")
    if max_len is not None:
        max_len = _check_int(fn, "max_len", max_len, 0)
    arrays = []
    for position, seq in enumerate(seqs):
        array = np.asarray(seq)
        if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
            raise DataError(
                f"{fn}: argument 'seqs' expected 1-D sequences of integers, got {array.dtype} of "
                f"shape {array.shape} at position {position}"
            )
        arrays.append(array.astype(np.int64, copy=False))
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    if max_len is not None:
        lengths = np.minimum(lengths, max_len)
    width = max_len if max_len is not None else int(lengths.max(initial=0))
    ids = np.full((len(arrays), width), int(pad_id), dtype=np.int64)
    for row, (array, length) in enumerate(zip(arrays, lengths)):
        ids[row, :length] = array[:length]
    return ids, lengths


def bucket_by_length(
    lengths, batch_size: int, seed: int | None = 0, drop_last: bool = False
) -> list[np.ndarray]:
    """Group example indices into batches of similar length, in random batch order.

    Examples are sorted by length (ties in random order), cut into consecutive batches of
    ``batch_size``, and the batches are shuffled. Padding each batch to its own longest example
    then wastes little compute.

    Parameters
    ----------
    lengths : array_like of int, shape (n,)
        Length of each example.
    batch_size : int
        Examples per batch; the last batch may be smaller unless ``drop_last``.
    seed : int or None
        Seed of ``numpy.random.default_rng``.
    drop_last : bool
        Drop the one batch smaller than ``batch_size``, if any.

    Returns
    -------
    list of ndarray of int64
        Index arrays; without ``drop_last`` every index appears in exactly one of them.

    Examples
    --------
    >>> batches = bucket_by_length([5, 1, 4, 2, 5, 1], batch_size=2, seed=0)
    >>> sorted(sorted(b.tolist()) for b in batches)
    [[0, 4], [1, 5], [2, 3]]
    """
    fn = "bucket_by_length"
    batch_size = _check_int(fn, "batch_size", batch_size, 1)
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or (lengths.size and lengths.dtype.kind not in "iu"):
        raise DataError(
            f"{fn}: argument 'lengths' expected a 1-D array of integers, got {lengths.dtype} of "
            f"shape {lengths.shape}"
        )
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(lengths))
    order = shuffled[np.argsort(lengths[shuffled], kind="stable")].astype(np.int64)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    return [batches[i] for i in rng.permutation(len(batches))]


# --------------------------------------------------------------------------- labelled sentences


def _expand_paths(paths) -> list[Path]:
    fn = "read_labelled_sentences"
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[Path] = []
    for entry in paths:
        path = Path(entry).expanduser()
        if path.is_dir():
            found = sorted(
                p
                for p in path.glob("*.txt")
                if p.is_file() and not p.name.lower().startswith("readme")
            )
            if not found:
                raise DataFileNotFound(f"{fn}: directory {path} holds no *.txt files")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise DataFileNotFound(f"{fn}: {path} does not exist")
    if not files:
        raise DataError(f"{fn}: argument 'paths' expected at least one file, got none")
    return files


def read_labelled_sentences(paths) -> tuple[list[str], np.ndarray]:
    """Read ``sentence<TAB>label`` files, one example per line.

    The label is the integer after the last tab; surrounding white space is stripped and blank
    lines are skipped. This is the layout of the UCI "Sentiment Labelled Sentences" data
    (``amazon_cells_labelled.txt``, ``imdb_labelled.txt``, ``yelp_labelled.txt``).

    Parameters
    ----------
    paths : str, PathLike or iterable of them
        Files, or directories whose ``*.txt`` files (other than ``readme*``) are read in sorted
        order.

    Returns
    -------
    sentences : list of str
    labels : ndarray, int64, shape (len(sentences),)

    Raises
    ------
    DataFileNotFound
        If a path does not exist or a directory has no ``*.txt`` file.
    DataError
        If a line is malformed; the message names the file and the line number.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "reviews.txt")
    >>> _ = open(path, "w").write("Loved it.\\t1\\n\\nNever again.\\t0\\n")
    >>> sentences, labels = read_labelled_sentences(path)
    >>> sentences, labels.tolist()
    (['Loved it.', 'Never again.'], [1, 0])
    """
    sentences: list[str] = []
    labels: list[int] = []
    for path in _expand_paths(paths):
        with open(path, encoding="utf-8", errors="replace", newline=None) as handle:
            for lineno, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                sentence, tab, label = line.rstrip("\n").rpartition("\t")
                sentence, label = sentence.strip(), label.strip()
                if not tab or not sentence or not re.fullmatch(r"[+-]?\d+", label):
                    shown = line.rstrip("\n")
                    shown = shown if len(shown) <= 80 else shown[:77] + "..."
                    raise DataError(
                        f"read_labelled_sentences: {path}, line {lineno}: expected "
                        f"'sentence<TAB>integer label', got {shown!r}"
                    )
                sentences.append(sentence)
                labels.append(int(label))
    return sentences, np.asarray(labels, dtype=np.int64)


BUILTIN_SENTIMENT: tuple[tuple[str, int], ...] = (
    ("The food was delicious and the staff were friendly.", 1),
    ("I love this phone, the battery lasts all day.", 1),
    ("What a wonderful film, I laughed from start to finish.", 1),
    ("Great value for the money.", 1),
    ("The service was quick and the waiter was very kind.", 1),
    ("This is the best pizza I have had in years.", 1),
    ("The sound quality is excellent.", 1),
    ("A beautiful story with brilliant acting.", 1),
    ("Highly recommended to anyone who likes good coffee.", 1),
    ("The headset fits well and feels comfortable.", 1),
    ("I enjoyed every minute of this movie.", 1),
    ("Fresh ingredients and generous portions.", 1),
    ("Setup was easy and it worked right away.", 1),
    ("The cast is superb and the music is lovely.", 1),
    ("We had a fantastic evening here.", 1),
    ("Sturdy, light and well made.", 1),
    ("The ending was moving and perfectly done.", 1),
    ("Friendly people, cozy room, great dessert.", 1),
    ("It charges fast and the screen is bright.", 1),
    ("One of the most charming films I have seen.", 1),
    ("The soup was hot and full of flavor.", 1),
    ("Works exactly as described, very happy with it.", 1),
    ("Clever writing and a delightful lead actor.", 1),
    ("I will definitely come back to this place.", 1),
    ("The case is solid and looks nice.", 1),
    ("An uplifting and warm movie for the whole family.", 1),
    ("The pasta was amazing.", 1),
    ("Clear calls and no dropped connections.", 1),
    ("Stunning photography and a gripping plot.", 1),
    ("The owner was welcoming and helpful.", 1),
    ("Excellent product, I would buy it again.", 1),
    ("Funny, smart and surprisingly touching.", 1),
    ("Everything on the menu tasted great.", 1),
    ("The charger is small and works perfectly.", 1),
    ("A real pleasure to watch.", 1),
    ("Our server was attentive and cheerful.", 1),
    ("Good design and easy to use.", 1),
    ("The best performance of her career.", 1),
    ("Nice atmosphere and tasty food.", 1),
    ("I am impressed with the quality.", 1),
    ("The food was cold and tasteless.", 0),
    ("I hate this phone, the battery dies by noon.", 0),
    ("What a boring film, I almost fell asleep.", 0),
    ("A waste of money.", 0),
    ("The service was slow and the waiter was rude.", 0),
    ("This is the worst pizza I have ever had.", 0),
    ("The sound quality is terrible.", 0),
    ("A dull story with awful acting.", 0),
    ("Avoid this place if you want good coffee.", 0),
    ("The headset hurts my ears after ten minutes.", 0),
    ("I regret every minute I spent on this movie.", 0),
    ("Stale bread and tiny portions.", 0),
    ("Setup failed and it never worked.", 0),
    ("The cast is weak and the music is annoying.", 0),
    ("We had a miserable evening here.", 0),
    ("Flimsy, heavy and badly made.", 0),
    ("The ending was silly and poorly done.", 0),
    ("Unfriendly people, dirty room, bland dessert.", 0),
    ("It charges slowly and the screen is dim.", 0),
    ("One of the most tedious films I have seen.", 0),
    ("The soup was lukewarm and far too salty.", 0),
    ("Does not work as described, very disappointed.", 0),
    ("Lazy writing and a wooden lead actor.", 0),
    ("I will never come back to this place.", 0),
    ("The case cracked on the first day.", 0),
    ("A depressing and pointless movie.", 0),
    ("The pasta was overcooked and soggy.", 0),
    ("Calls keep dropping and the voices are muffled.", 0),
    ("Ugly photography and a confusing plot.", 0),
    ("The manager was rude and unhelpful.", 0),
    ("Poor product, it broke within a week.", 0),
    ("Not funny, not smart and far too long.", 0),
    ("Nothing on the menu tasted right.", 0),
    ("The charger overheats and stopped working.", 0),
    ("A chore to sit through.", 0),
    ("Our server ignored us for half an hour.", 0),
    ("Bad design and hard to use.", 0),
    ("The worst performance of her career.", 0),
    ("Noisy room and greasy food.", 0),
    ("I am disappointed with the quality.", 0),
)
"""Eighty short review sentences with labels, 40 positive (``1``) and 40 negative (``0``)."""


def builtin_sentiment() -> tuple[list[str], np.ndarray]:
    """The built-in sentiment corpus as ``(sentences, labels)``, like
    :func:`read_labelled_sentences`.

    Returns
    -------
    sentences : list of str
    labels : ndarray, int64, shape (80,)

    Examples
    --------
    >>> sentences, labels = builtin_sentiment()
    >>> len(sentences), int(labels.sum())
    (80, 40)
    """
    sentences = [sentence for sentence, _ in BUILTIN_SENTIMENT]
    labels = np.array([label for _, label in BUILTIN_SENTIMENT], dtype=np.int64)
    return sentences, labels


# --------------------------------------------------------------------------- character corpus

BUILTIN_TEXT = """\
The lighthouse stood at the end of a long spit of sand and stone, where the river met the sea. \
Every evening the keeper climbed the one hundred and twelve steps of the spiral stair, wound the \
clockwork that turned the great lens, and lit the lamp. From the gallery at the top he could see \
the fishing boats coming home, the gulls settling on the breakwater, and far away the lights of \
the town coming on one by one.

In winter the storms came from the west. Waves broke over the rocks and threw spray as high as \
the lantern room, and the whole tower hummed in the wind like a struck bell. On those nights the \
keeper did not sleep. He sat by the lamp with a pot of tea and a notebook, and every hour he \
wrote down the strength of the wind, the height of the sea, and the ships he saw passing. The \
notebooks filled a whole shelf in the kitchen below, and nobody but the keeper ever read them.

In summer the days were long and quiet. Children from the town walked out along the spit to look \
at the seals that slept on the sandbanks at low tide. The keeper let them climb the stair if they \
promised not to touch the lens, and he told them how the light worked: how the flame was small, \
but the glass rings gathered its light and bent it into a single beam that could be seen twenty \
miles out at sea. A small light, he liked to say, can do a great deal if it is pointed the right \
way.

Years later the light was made automatic. A box of switches and a humming motor took the place \
of the clockwork, and the keeper moved to a small house in the town, near the harbour. He still \
walked out to the lighthouse most mornings. He would stand at the foot of the tower, look up at \
the lantern, and listen to the sea, and then walk home again along the sand, counting the boats.

People in the town said that the beam seemed a little steadier on the nights he had visited. It \
was not true, of course; the motor turned at the same speed whatever anyone did. But sailors are \
fond of stories, and this one was passed from boat to boat for a long time after the old keeper \
was gone.
"""
"""A few paragraphs of plain English (over 2000 characters) for character-level models."""


class CharCorpus:
    """A text seen as a sequence of characters, for next-character prediction.

    Parameters
    ----------
    text : str, optional
        The text; defaults to :data:`BUILTIN_TEXT`.

    Attributes
    ----------
    text : str
    vocab : list of str
        The distinct characters of ``text``, sorted; a character's id is its position here.
    stoi : dict of str to int
    data : ndarray, int64, shape (len(text),)
        The whole text encoded.

    Examples
    --------
    >>> corpus = CharCorpus("hello world")
    >>> "".join(corpus.vocab)
    ' dehlorw'
    >>> corpus.decode(corpus.encode("hello"))
    'hello'
    """

    def __init__(self, text: str | None = None):
        if text is None:
            text = BUILTIN_TEXT
        if not isinstance(text, str) or len(text) < 2:
            raise DataError(
                f"CharCorpus: argument 'text' expected a str of at least 2 characters, got "
                f"{text!r:.40}"
            )
        self.text = text
        self.vocab: list[str] = sorted(set(text))
        self.stoi: dict[str, int] = {ch: i for i, ch in enumerate(self.vocab)}
        self.data = self.encode(text)

    @property
    def vocab_size(self) -> int:
        """Number of distinct characters."""
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.text)

    def __repr__(self) -> str:
        return f"CharCorpus(chars={len(self.text)}, vocab_size={self.vocab_size})"

    def encode(self, text: str) -> np.ndarray:
        """Map each character of ``text`` to its id.

        Raises
        ------
        DataError
            If ``text`` holds a character that is not in the vocabulary.

        Examples
        --------
        >>> CharCorpus("abc").encode("cab").tolist()
        [2, 0, 1]
        """
        try:
            return np.fromiter((self.stoi[ch] for ch in text), dtype=np.int64, count=len(text))
        except KeyError as exc:
            raise DataError(
                f"CharCorpus.encode: character {exc.args[0]!r} is not in the vocabulary of "
                f"{self.vocab_size} characters"
            ) from None

    def decode(self, ids) -> str:
        """Map ids back to a string.

        Examples
        --------
        >>> CharCorpus("abc").decode([2, 0, 1])
        'cab'
        """
        ids = np.asarray(ids).reshape(-1)
        bad_type = ids.dtype.kind not in "iu"
        if ids.size and (bad_type or ids.min() < 0 or ids.max() >= self.vocab_size):
            raise DataError(
                f"CharCorpus.decode: argument 'ids' expected integers in [0, {self.vocab_size}), "
                f"got {ids.dtype} values"
            )
        return "".join(self.vocab[i] for i in ids.tolist())

    def batches(
        self, seq_len: int, batch_size: int, seed: int | None = 0, drop_last: bool = False
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield one epoch of ``(inputs, targets)`` windows for teacher forcing.

        The text is cut into non-overlapping windows of ``seq_len + 1`` characters that share
        their last character with the next window, starting at a random offset; windows are
        shuffled and grouped into batches. ``targets`` is ``inputs`` shifted left by one, so
        ``targets[b, t]`` is the character that follows ``inputs[b, t]``.

        Parameters
        ----------
        seq_len : int
            Characters per example, at least 1 and less than ``len(text)``.
        batch_size : int
            Examples per batch; the last batch may be smaller unless ``drop_last``.
        seed : int or None
            Seed of ``numpy.random.default_rng``; it fixes the offset and the order.
        drop_last : bool
            Skip the final batch if it is smaller than ``batch_size``.

        Yields
        ------
        inputs : ndarray, int64, shape (B, seq_len)
        targets : ndarray, int64, shape (B, seq_len)

        Examples
        --------
        >>> corpus = CharCorpus("abcdefghij")
        >>> x, y = next(corpus.batches(seq_len=3, batch_size=2, seed=0))
        >>> corpus.decode(x[0][1:]) == corpus.decode(y[0][:-1])
        True
        """
        fn = "CharCorpus.batches"
        seq_len = _check_int(fn, "seq_len", seq_len, 1)
        batch_size = _check_int(fn, "batch_size", batch_size, 1)
        n = len(self.data)
        if seq_len + 1 > n:
            raise DataError(
                f"{fn}: argument 'seq_len' expected at most {n - 1} (the text has {n} "
                f"characters), got {seq_len}"
            )
        rng = np.random.default_rng(seed)
        # Any offset up to (n - 1) % seq_len keeps the largest possible number of windows.
        offset = int(rng.integers(0, (n - 1) % seq_len + 1))
        starts = np.arange(offset, n - seq_len, seq_len)
        starts = starts[rng.permutation(len(starts))]
        columns = np.arange(seq_len + 1)
        for i in range(0, len(starts), batch_size):
            chunk = starts[i : i + batch_size]
            if drop_last and len(chunk) < batch_size:
                return
            windows = self.data[chunk[:, None] + columns]
            yield windows[:, :-1].copy(), windows[:, 1:].copy()
