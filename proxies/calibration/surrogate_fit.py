"""How well a surrogate fitted on held-apart proxy results ranks the reference set.

    python -m proxies.calibration.surrogate_fit [--out results/calibration/surrogate]

(``python benchmarks/surrogate.py`` runs the same command.)

Fits :class:`proxies.priors.surrogate.RidgeSurrogate` on every default-fidelity proxy result (validation
top-1, mean over the runs of an architecture) of architectures **outside** the reference set: the
trained trials of the committed searches (``--searches``) and the rank-fidelity benchmark's run
cache (``--runs``: the papers' architectures, and any other run cached there, such as
``nas.analyze edf --runs`` ones). The reference set is only measured: its architectures are left
out of the fit, and the surrogate's penalty is chosen by leave-one-out on the fitted ones.

Prints and writes (``OUT.json``, ``OUT.csv``: one row per reference architecture):

* Kendall tau, Spearman rho and pairwise accuracy of the predictions against the reference means
  (``proxies.calibration.reference.reference_truth``), with 95% bootstrap intervals; and the same for the
  surrogate as it screens (``surrogate_place``: minus each architecture's place on predicted top-1
  up and OPs down, as the ``screen`` evaluator measures the zero-cost rule), on which
  ``proxies.calibration.rank_fidelity.screen_decision`` decides whether the search screens by default;
* on the reference architectures the default evaluator scored (seed 0), the same for its scores,
  and the bootstrap interval of the surrogate's Kendall gain over it (paired);
* a learning curve: the mean and SD of Kendall when the surrogate is fitted on only n of the
  held-apart architectures (50 random subsets each), as a search that has trained n would fit it,
  how often such a fit passes the permutation test that lets the search screen with it, and its
  mean Kendall when it does;
* per committed search, the surrogate it could have fitted at its end on its trained trials' top-1
  or on the epoch-1 top-1 of every trial it evaluated (``search_targets``), measured alike.

``--prior PATH`` also writes the fitted data as a search's shipped prior
(:mod:`proxies.priors.surrogate_prior`; the committed one is ``proxies/priors/surrogate_prior.json``, written
by ``python -m proxies.calibration.surrogate_fit --prior proxies/priors/surrogate_prior.json``), with the
class names and channel statistics of ``--data-dir``'s training split (the data every cached run
was trained on; the searches' runs are taken to be on it too): the search then fits what is
measured here.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from search_space import ArchConfig, analytic_cost
from search_space.cli import run_cli
from search_space.files import atomic_write_text

from ..data.images import load_dataset
from ..data.loader import channel_stats
from ..priors.surrogate import MIN_FIT, RidgeSurrogate
from ..priors.surrogate_prior import SurrogatePrior
from ..scoring.fidelity import FIDELITIES
from ..scoring.pareto import places
from ..stats import gain_test, kendall, pairwise_accuracy, rank_ci, spearman
from .fidelity_runs import load_runs
from .rank_fidelity import screen_decision
from .reference import read_reference, reference_truth

SEARCHES = ("results/search-50M-default", "results/rediscovery-uniform-s0", "results/rediscovery-uniform-s1",
            "results/rediscovery-per-stage")
COMMAND = "python -m proxies.calibration.surrogate_fit"  # the prior records it as its source


def held_apart(searches: list[Path], cache: pd.DataFrame, fidelity: str, exclude: set[str]) -> pd.Series:
    """Mean default-fidelity top-1 per architecture outside ``exclude``, from searches and the run cache."""
    rows = []
    for folder in searches:
        t = pd.read_csv(folder / "trials.csv")
        t = t[(t["outcome"] == "trained") & (t["fidelity"] == fidelity)]
        rows += list(zip(t["arch"], t["top1"], strict=True))
    train = cache[(cache["kind"] == "train") & (cache["fidelity"] == fidelity) & cache["val_top1"].notna()
                  & ~cache["diverged"].fillna(False).astype(bool)]
    rows += list(zip(train["arch"], train["val_top1"], strict=True))
    data = pd.DataFrame(rows, columns=["arch", "top1"])
    return data[~data["arch"].isin(exclude)].groupby("arch")["top1"].mean()


def search_targets(folder: Path, fidelity: str, exclude: set[str]) -> dict[str, pd.Series]:
    """Per architecture outside ``exclude``, what a search could fit its surrogate on: the top-1 of
    its trials trained to ``fidelity`` (``trained``), or the epoch-1 top-1 of every trial evaluated,
    rung-stopped ones included (``epoch1``: about three times as many architectures)."""
    t = pd.read_csv(folder / "trials.csv")
    t = t[t["outcome"].isin(["trained", "pruned"]) & (t["fidelity"] == fidelity) & ~t["arch"].isin(exclude)]
    trained = t[t["outcome"] == "trained"]
    epoch1 = t["curve"].astype(str).str.split().str[0].astype(float)
    return {"trained": trained.groupby("arch")["top1"].mean(), "epoch1": epoch1.groupby(t["arch"]).mean()}


def data_identity(data_dir: Path, cache: pd.DataFrame) -> tuple[tuple[str, ...], tuple, tuple]:
    """The class names and per-channel mean and SD of ``data_dir``'s training split, as the search's
    loader sees them (:attr:`proxies.ProxyData.classes`, ``mean``, ``std``): what a prior made from
    results on it applies to. Refused when the cached runs name more than one data set."""
    used = cache.loc[cache["kind"] == "train", "data"].dropna().unique()
    if len(used) > 1:
        raise ValueError(f"--prior: the cached runs were trained on {len(used)} data sets"
                         f" ({', '.join(map(str, used))}); a prior is made from one")
    try:
        train = load_dataset(data_dir, "train")
    except ValueError as exc:
        text = str(exc)
        raise ValueError(text if text.startswith("--data-dir") else f"--data-dir: {text}") from None
    mean, std = channel_stats(train.images)
    return tuple(train.classes), mean, std


def _metrics(truth: pd.Series, score: pd.Series, resamples: int) -> dict:
    out = {"n": len(truth)}
    for name, fn in (("kendall", kendall), ("spearman", spearman), ("pairwise", pairwise_accuracy)):
        lo, hi = rank_ci(truth, score, name, n_resamples=resamples)
        out.update({name: fn(truth, score), f"{name}_lo": lo, f"{name}_hi": hi})
    return out


def as_it_screens(pred: pd.Series) -> pd.Series:
    """Minus each architecture's place on (predicted top-1 up, OPs down) within the set, as the
    search's screening ranks a proposal among others (the ``screen`` evaluator's measure)."""
    ops = [analytic_cost(ArchConfig.decode(a)).ops() for a in pred.index]
    return pd.Series([-p for p in places(list(zip(pred.to_numpy(), ops, strict=True)))], index=pred.index)


def learning_curve(train: pd.Series, truth: pd.Series, sizes: list[int]) -> list[dict]:
    """The surrogate fitted on 50 random subsets of ``n`` of ``train`` for each ``n`` in ``sizes``."""
    rng, curve = np.random.default_rng(0), []
    for n in sizes:
        if n >= len(train):
            continue
        ks, kp, useful = [], [], []
        for _ in range(50):
            pick = rng.choice(len(train), n, replace=False)
            sub = RidgeSurrogate().fit(list(train.index[pick]), train.to_numpy()[pick])
            sub_pred = pd.Series(sub.predict(list(truth.index)), index=truth.index)
            ks.append(kendall(truth, sub_pred))
            kp.append(kendall(truth, as_it_screens(sub_pred)))
            useful.append(sub.useful)
        ks_useful = [k for k, u in zip(kp, useful, strict=True) if u]
        curve.append({"n_fit": n, "kendall_mean": float(np.mean(ks)), "kendall_sd": float(np.std(ks, ddof=1)),
                      "place_kendall_mean": float(np.mean(kp)), "place_kendall_sd": float(np.std(kp, ddof=1)),
                      "place_kendall_negative_share": float(np.mean(np.asarray(kp) < 0)),
                      "useful_share": float(np.mean(useful)),
                      "place_kendall_mean_useful": float(np.mean(ks_useful)) if ks_useful else None})
    return curve


def search_replay(searches: list[Path], fidelity: str, truth: pd.Series) -> list[dict]:
    """The surrogate each search could have fitted at its end (:func:`search_targets`), measured."""
    replay = []
    for folder in searches:  # what each committed search could have fitted at its end
        for target, data in search_targets(folder, fidelity, set(truth.index)).items():
            row = {"search": folder.name, "target": target, "n_fit": len(data)}
            if len(data) >= MIN_FIT:
                fit = RidgeSurrogate().fit(list(data.index), data.to_numpy())
                fit_pred = pd.Series(fit.predict(list(truth.index)), index=truth.index)
                row.update(useful=fit.useful, kendall=kendall(truth, fit_pred),
                           place_kendall=kendall(truth, as_it_screens(fit_pred)))
            replay.append(row)
    return replay


def _curve_sizes(text: str) -> list[int]:
    try:
        sizes = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        sizes = [-1]
    if any(n < MIN_FIT for n in sizes):
        raise ValueError(f"--curve: invalid value {text!r} (expected sizes of at least {MIN_FIT}, such as 10,20)")
    return sizes


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--searches", nargs="*", type=Path, default=[Path(s) for s in SEARCHES],
                   help="search folders whose trained trials are fitted on (default: the committed ones)")
    p.add_argument("--runs", type=Path, default=Path("results/calibration/fidelity-runs.csv"))
    p.add_argument("--reference", type=Path, default=Path("results/reference"))
    p.add_argument("--bootstrap", type=int, default=2000)
    p.add_argument("--curve", default="10,20,40", help="subset sizes of the learning curve (empty: none)")
    p.add_argument("--out", type=Path, default=Path("results/calibration/surrogate"))
    p.add_argument("--prior", type=Path, help="also write the fitted data here as the search's prior"
                   " (the committed one: proxies/priors/surrogate_prior.json)")
    p.add_argument("--data-dir", type=Path, default=Path("../shared/data/cifar10"),
                   help="the data set the results were trained on (with --prior: its class names)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Bad input (a search folder without trials.csv, ``--curve``, ``--data-dir``, run caches from two
    data sets) is one line and exit code 2, and writes nothing."""
    return run_cli(_main, argv)


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    for folder in args.searches:
        if not (folder / "trials.csv").is_file():
            raise ValueError(f"--searches: {str(folder)!r} holds no trials.csv")
    sizes = _curve_sizes(args.curve)
    fidelity = FIDELITIES["default"].key()
    truth = reference_truth(read_reference(args.reference))
    cache = load_runs(args.runs, "--runs")
    train = held_apart(args.searches, cache, fidelity, set(truth.index))
    model = RidgeSurrogate().fit(list(train.index), train.to_numpy())
    prior = SurrogatePrior(fidelity, (), (), (), tuple(train.index), tuple(round(float(v), 6) for v in train))
    if args.prior is not None:  # before anything is written: bad data writes nothing
        classes, mean, std = data_identity(args.data_dir, cache)
        prior = replace(prior, classes=classes, mean=mean, std=std,
                        source=f"{COMMAND} --prior {args.prior}")
    pred = pd.Series(model.predict(list(truth.index)), index=truth.index)
    result = {"fidelity": fidelity, "n_fit": len(train), "fit_digest": prior.digest(), "alpha": model.alpha,
              "loo_rmse": model.loo_rmse,
              "loo_r2": model.loo_r2, "p_value": model.p_value, "surrogate": _metrics(truth, pred, args.bootstrap),
              "surrogate_place": _metrics(truth, as_it_screens(pred), args.bootstrap)}
    default = cache[(cache["kind"] == "train") & (cache["fidelity"] == fidelity) & (cache["seed"] == 0)]
    default = default[default["arch"].isin(truth.index)].groupby("arch")["val_top1"].mean()
    both = truth[default.index]
    lo, hi, pval = gain_test(both, default, pred[both.index], n_resamples=args.bootstrap)
    result["on_default_archs"] = {"default": _metrics(both, default, args.bootstrap),
                                  "surrogate": _metrics(both, pred[both.index], args.bootstrap),
                                  "kendall_gain_lo": lo, "kendall_gain_hi": hi, "kendall_gain_p": pval}
    result["learning_curve"] = learning_curve(train, truth, sizes)
    result["search_targets"] = search_replay(args.searches, fidelity, truth)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out.with_suffix(".json"), json.dumps(result, indent=2) + "\n")
    table = pd.DataFrame({"arch": truth.index, "reference_top1": truth.to_numpy(), "predicted": pred.to_numpy(),
                          "default_seed0": default.reindex(truth.index).to_numpy()})
    atomic_write_text(args.out.with_suffix(".csv"), table.to_csv(index=False))
    if args.prior is not None:
        prior.write(args.prior)
    _report(result, model, args)
    return 0


def _report(result: dict, model: RidgeSurrogate, args: argparse.Namespace) -> None:
    """Print the measurements of ``result`` (stdout) and what was written (stderr)."""
    s, d, n_fit = result["surrogate"], result["on_default_archs"], result["n_fit"]
    lo, hi, pval = d["kendall_gain_lo"], d["kendall_gain_hi"], d["kendall_gain_p"]
    print(f"surrogate fitted on {n_fit} held-apart architectures (alpha {model.alpha:.3g}, LOO RMSE"
          f" {100 * model.loo_rmse:.2f} points, R^2 {model.loo_r2:.2f}, permutation p {model.p_value:.2f})")
    print(f"reference set ({s['n']}): Kendall {s['kendall']:+.3f} [{s['kendall_lo']:+.3f}, {s['kendall_hi']:+.3f}],"
          f" Spearman {s['spearman']:+.3f}, pairwise {s['pairwise']:.3f}")
    print(f"on the {d['default']['n']} the default evaluator scored: default Kendall {d['default']['kendall']:+.3f},"
          f" surrogate {d['surrogate']['kendall']:+.3f}; gain [{lo:+.3f}, {hi:+.3f}] (p {pval:.3f})")
    q = result["surrogate_place"]
    print(f"as it screens (place on predicted top-1 and OPs): Kendall {q['kendall']:+.3f} [{q['kendall_lo']:+.3f},"
          f" {q['kendall_hi']:+.3f}]")
    for c in result["learning_curve"]:
        useful = "-" if c["place_kendall_mean_useful"] is None else f"{c['place_kendall_mean_useful']:+.3f}"
        print(f"fitted on {c['n_fit']:3d}: Kendall {c['kendall_mean']:+.3f} (SD {c['kendall_sd']:.3f}), as it screens"
              f" {c['place_kendall_mean']:+.3f} (SD {c['place_kendall_sd']:.3f}, below 0 in"
              f" {100 * c['place_kendall_negative_share']:.0f}%); passes the permutation test"
              f" {100 * c['useful_share']:.0f}% of the time, as it screens then {useful}")
    for r in result["search_targets"]:
        measured = (f"Kendall {r['kendall']:+.3f}, as it screens {r['place_kendall']:+.3f}, permutation test"
                    f" {'passed' if r['useful'] else 'not passed'}") if "kendall" in r else "too few to fit"
        print(f"{r['search']}, fitted at its end on {r['target']} top-1 ({r['n_fit']} architectures): {measured}")
    print(screen_decision("surrogate", q["n"], q["kendall"], q["kendall_lo"])[1])
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.csv')}"
          + (f"; the prior ({n_fit} architectures) to {args.prior}" if args.prior else ""), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
