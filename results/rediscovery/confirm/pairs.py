"""Paired differences of the confirmation runs in this folder (python results/rediscovery/confirm/pairs.py):
each found architecture against the seed preset it was compared with, at training seeds its search never
used (each seed also picks the training subset, so a pair shares its data); 95% t interval over the seeds."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

HERE = Path(__file__).resolve().parent
PAIRS = [("rediscovery-uniform-s0", "w1.25-d1:S-post-k2-2xdw-prelu-all", "bin_mobilenet_sp", (1, 2, 3)),
         ("rediscovery-uniform-s0", "w0.5-d1:S-mid-k4-crelu-prelu-all", "mobinet_mid_k4_prelu", (1, 2, 3)),
         ("rediscovery-uniform-s1", "w0.75-d1:S-none-k1-crelu-prelu-pw", "bin_mobilenet_sp", (0, 2, 3)),
         ("rediscovery-per-stage", "w0.7-d1:S-pre-k1-crelu-prelu-pw:LS-none-k0-copy-prelu-pw:L-none-k0-prelu-pw"
          ":S-post-k1-copy-prelu-all:S-none-k3-2xdw-prelu-pw", "bin_mobilenet_sp", (1, 2, 3))]


def top1(arch: str, seed: int) -> float:
    return 100 * json.loads((HERE / f"{arch.replace(':', '_')}-s{seed}.json").read_text())["val_top1"]


rows = []
for search, found, preset, seeds in PAIRS:
    x, y = np.array([top1(found, s) for s in seeds]), np.array([top1(preset, s) for s in seeds])
    d = x - y
    lo, hi = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    rows.append({"search": search, "found": found, "preset": preset, "seeds": " ".join(map(str, seeds)),
                 "found_top1": " / ".join(f"{v:.2f}" for v in x), "preset_top1": " / ".join(f"{v:.2f}" for v in y),
                 "mean_diff": round(d.mean(), 2), "ci_low": round(lo, 2), "ci_high": round(hi, 2),
                 "p": round(stats.ttest_1samp(d, 0).pvalue, 4)})
table = pd.DataFrame(rows)
table.to_csv(HERE / "pairs.csv", index=False)
print(table.to_string(index=False))
