"""``python -m proxies.priors --without CSV [CSV ...] --out FILE``: write a surrogate prior less some
architectures (:func:`proxies.priors.surrogate_prior.without`), for a search that is compared with them."""

from __future__ import annotations

from pathlib import Path

from .surrogate_prior import PRIOR_FILE, load_prior, without


def main(argv: list[str] | None = None) -> int:
    """``python -m proxies.priors --without CSV [CSV ...] --out FILE``: the shipped prior less the
    architectures of the ``arch`` column of each CSV (for a search compared with those architectures)."""
    import argparse
    import sys

    import pandas as pd

    from search_space import ArchConfig
    from search_space.cli import run_cli

    def _main(args_list):
        p = argparse.ArgumentParser(prog="python -m proxies.priors", description=main.__doc__)
        p.add_argument("--without", nargs="+", type=Path, required=True, metavar="CSV")
        p.add_argument("--prior", type=Path, default=PRIOR_FILE, help="the prior to start from (default: shipped)")
        p.add_argument("--out", type=Path, required=True)
        args = p.parse_args(args_list)
        drop: set[str] = set()
        for csv in args.without:
            if not csv.is_file():
                raise ValueError(f"--without: {str(csv)!r} is not a file")
            frame = pd.read_csv(csv, dtype={"arch": str})
            if "arch" not in frame.columns:
                raise ValueError(f"--without: {str(csv)!r} has no column 'arch'")
            drop |= {ArchConfig.decode(a).encode() for a in frame["arch"].dropna()}
        prior = load_prior(args.prior)
        if prior is None:
            raise ValueError(f"--prior: {str(args.prior)!r} is not a file")
        command = "python -m proxies.priors " + " ".join(args_list if args_list is not None else sys.argv[1:])
        out = without(prior, drop, command)
        out.write(args.out)
        print(f"wrote {args.out}: {len(out.archs)} of the prior's {len(prior.archs)} results"
              f" ({len(prior.archs) - len(out.archs)} left out)", file=sys.stderr)
        return 0

    return run_cli(_main, argv)




if __name__ == "__main__":
    raise SystemExit(main())
