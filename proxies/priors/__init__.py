"""The surrogate: a ridge model on architecture features (:mod:`proxies.priors.surrogate`), the shipped
prior fitted on held-apart results (``surrogate_prior.json``, :mod:`proxies.priors.surrogate_prior`),
and the command that writes a prior less some architectures (``python -m proxies.priors``)."""

from .surrogate import RidgeSurrogate, arch_features
from .surrogate_prior import PRIOR_FILE, SurrogatePrior, load_prior, without

__all__ = ["PRIOR_FILE", "RidgeSurrogate", "SurrogatePrior", "arch_features", "load_prior", "without"]
