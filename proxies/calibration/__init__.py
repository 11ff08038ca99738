"""How far the cheap scores can be trusted: the reference set trained at 10x fidelity
(``python -m proxies.reference``), the evaluators and their rank fidelity against it, the seed noise,
and the comparison with the papers' published tables (``python -m proxies.calibrate``, on the shipped
``paper_tables.csv``; ``summary_table`` puts its summaries side by side). Its measuring commands:
``fidelity_bench`` (rank fidelity), ``replay_noise`` (another CPU thread count against another seed) and
``surrogate_fit`` (the surrogate on held-apart results, and the search's shipped prior:
``python -m proxies.calibration.surrogate_fit``)."""

from .noise import SEED_NOISE, SeedNoise, pooled_sd, seed_noise

__all__ = ["SEED_NOISE", "SeedNoise", "pooled_sd", "seed_noise"]
