"""The shipped surrogate prior (``surrogate_prior.json``) and the command that writes a prior less some
architectures (``python -m proxies.priors``)."""
