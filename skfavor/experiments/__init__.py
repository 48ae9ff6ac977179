"""The FAVOR# experiments, run with ``python -m skfavor.experiments``.

Four subcommands (``--help`` on each lists its options):

* ``kernel-regression`` (or ``classification``): classification on the UCI
  sets, scored by test accuracy, by Nadaraya–Watson with every sampler
  against :class:`~sklearn.kernel_approximation.RBFSampler` and by the Ridge
  route (``Pipeline(sampler, RidgeClassifier)`` tuned by ``GridSearchCV``),
  each with the exact kernel as the ceiling; its summary compares SDERF with
  orthogonal ω, the recommended configuration, with RBFSampler
  (:mod:`skfavor.experiments.kernel_regression`);
* ``variance``: the exact mean log variance of each family against the data
  scale (:mod:`skfavor.experiments.variance`);
* ``sampling``: the Gram-matrix error of the couplings of ω (i.i.d.,
  orthogonal, simplex) by Monte Carlo, and AutoSampler against RBFSampler
  (:mod:`skfavor.experiments.sampling`);
* ``transformer``: small Transformers trained with each attention family
  (MQAR, character language modelling, uptraining), needs PyTorch
  (:mod:`skfavor.experiments.transformer`).

Nothing in :mod:`skfavor` imports this package; matplotlib is used for the
plots when it is installed and tqdm for the progress bars when it is.
"""
