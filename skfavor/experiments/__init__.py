"""The FAVOR# experiments, run with ``python -m skfavor.experiments``.

Two subcommands (``--help`` on each lists its options):

* ``kernel-regression``: Nadaraya–Watson classification on the UCI sets with
  every sampler against :class:`~sklearn.kernel_approximation.RBFSampler`,
  and the Ridge route (``Pipeline(sampler, RidgeClassifier)`` tuned by
  ``GridSearchCV``), each with the exact kernel as the ceiling
  (:mod:`skfavor.experiments.kernel_regression`);
* ``variance``: the exact mean log variance of each family against the data
  scale (:mod:`skfavor.experiments.variance`).

Nothing in :mod:`skfavor` imports this package; matplotlib is used for the
plots when it is installed and tqdm for the progress bars when it is.
"""
