"""How much a short-training proxy spends on one architecture."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace

from search_space.checks import check_int

__all__ = ["FIDELITIES", "MIN_VAL_SIZE", "Fidelity", "fit_to_data", "get_fidelity"]

MIN_VAL_SIZE = 10
_KEY = re.compile(r"e(\d+)-n(\d+)-r(\d+)-ws([0-9.]+)-b(\d+)-v(\d+)")


@dataclass(frozen=True)
class Fidelity:
    """Epochs, training images, input resolution and width scale of a proxy evaluation.

    ``width_scale`` multiplies the architecture's width for the proxy only (a cheaper
    stand-in network); ``resolution`` is the proxy input size (CIFAR-10: 32). Neither changes
    the architecture's OPs, which are always stated at the deployment input.
    """

    epochs: int = 2
    train_subset: int = 3000
    resolution: int = 32
    width_scale: float = 1.0
    batch_size: int = 32
    val_size: int = 2000

    def __post_init__(self) -> None:
        for name, lo in (("epochs", 1), ("train_subset", 10), ("resolution", 8),
                         ("batch_size", 1), ("val_size", 10)):
            value = getattr(self, name)
            check_int(name, value, lo)
        if not isinstance(self.width_scale, int | float) or not 0.1 <= self.width_scale <= 4:
            raise ValueError(f"width_scale: invalid value {self.width_scale!r} (expected 0.1..4)")
        if self.train_subset < self.batch_size:
            raise ValueError(
                f"train_subset: {self.train_subset} images give no full batch of {self.batch_size}"
            )

    def key(self) -> str:
        """A short string naming this fidelity (part of the proxy cache key)."""
        return (f"e{self.epochs}-n{self.train_subset}-r{self.resolution}-ws{self.width_scale:g}"
                f"-b{self.batch_size}-v{self.val_size}")

    @classmethod
    def from_key(cls, key: str) -> Fidelity:
        """The fidelity a :meth:`key` names (as a study stores it); ValueError for anything else."""
        m = _KEY.fullmatch(str(key))
        if m is None:
            raise ValueError(f"fidelity: {key!r} is not a fidelity key (like {cls().key()!r})")
        e, n, r, ws, b, v = m.groups()
        return cls(epochs=int(e), train_subset=int(n), resolution=int(r), width_scale=float(ws), batch_size=int(b),
                   val_size=int(v))

    def to_dict(self) -> dict:
        return asdict(self)


FIDELITIES: dict[str, Fidelity] = {
    "smoke": Fidelity(epochs=1, train_subset=1000, val_size=500),
    "default": Fidelity(epochs=2, train_subset=3000, val_size=2000),
    "thorough": Fidelity(epochs=6, train_subset=20000, val_size=5000),
}


def get_fidelity(name: str) -> Fidelity:
    if name not in FIDELITIES:
        raise ValueError(f"fidelity: unknown name {name!r} (choose from {', '.join(FIDELITIES)})")
    return FIDELITIES[name]


def fit_to_data(fidelity: Fidelity, n_train: int, *, val_size_given: bool = False,
                train_subset_given: bool = False) -> Fidelity:
    """``fidelity`` on a data set of ``n_train`` training images: the sizes the user did not give
    shrink to fit (validation: a fifth of the images, at least ``MIN_VAL_SIZE``, at most the
    fidelity's; training subset: at most what the validation split leaves). Given sizes are kept
    (and refused later, naming the flag and the largest value that fits, if they cannot fit)."""
    val = fidelity.val_size if val_size_given else min(fidelity.val_size, max(MIN_VAL_SIZE, n_train // 5))
    train = fidelity.train_subset if train_subset_given else min(fidelity.train_subset, n_train - val)
    if not train_subset_given and train < fidelity.batch_size:
        raise ValueError(f"--data-dir: {n_train} training images leave {max(train, 0)} after a validation split of"
                         f" {val}, fewer than a batch of {fidelity.batch_size} (use a larger data set, or a smaller"
                         " --val-size)")
    return replace(fidelity, val_size=val, train_subset=train)
