"""Command line: ``python -m skfavor.experiments COMMAND``.

COMMAND is ``kernel-regression``, ``variance``, ``sampling`` or ``transformer``;
``classification`` is another name of ``kernel-regression``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace

from ..datasets import UCI_DATASETS
from ._output import add_output_arguments, non_negative_int, positive_int
from .transformer import add_parser as add_transformer_parser

_DATASETS = (*UCI_DATASETS, "synthetic")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="python -m skfavor.experiments",
        description="Reproduce the FAVOR# experiments against RBFSampler.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for sub in (
        _add_regression_parser(commands),
        _add_variance_parser(commands),
        _add_sampling_parser(commands),
    ):
        add_output_arguments(sub)
    add_transformer_parser(commands)
    return parser


def _add_regression_parser(commands) -> argparse.ArgumentParser:
    """The ``kernel-regression`` (alias ``classification``) subcommand."""
    regression = commands.add_parser(
        "kernel-regression",
        aliases=["classification"],
        help="Nadaraya–Watson and Ridge classification on the UCI sets (accuracy)",
        description=(
            "Classification on the UCI sets, metric test accuracy: "
            "Nadaraya–Watson with every positive sampler and RBFSampler "
            "(M = d · multiplier features, repeated draws, mean ± standard "
            "error, exact kernel as the ceiling) and Pipeline(sampler, "
            "RidgeClassifier) tuned by GridSearchCV, there with AutoSampler too. "
            "The summary compares SDERF with orthogonal ω, and on the Ridge "
            "route AutoSampler, with RBFSampler at equal M. The default runs in "
            "a few minutes on two "
            "cores with fewer draws and the large sets subsampled; --full runs "
            "the paper's 500 draws on the full split."
        ),
    )
    regression.add_argument(
        "--datasets", nargs="+", choices=UCI_DATASETS, default=list(UCI_DATASETS)
    )
    regression.add_argument(
        "--repeats",
        type=positive_int,
        help="Nadaraya–Watson draws per point (default 5; --full: 500)",
    )
    regression.add_argument(
        "--ridge-repeats",
        type=non_negative_int,
        help=(
            "Ridge draws per point (each a grid search; default 1, --full: 10); "
            "0 skips the Ridge route"
        ),
    )
    regression.add_argument(
        "--multipliers",
        nargs="+",
        type=positive_int,
        help="M = d · multiplier (default: 1 2 4 10)",
    )
    regression.add_argument(
        "--max-train",
        type=positive_int,
        help="Nadaraya–Watson training rows per set (default 2000; --full: all)",
    )
    regression.add_argument(
        "--max-test",
        type=positive_int,
        help="test rows per set, both routes (default 500; --full: all)",
    )
    regression.add_argument(
        "--ridge-max-train",
        type=positive_int,
        help="Ridge training rows per set (default 500; --full: 5000)",
    )
    regression.add_argument(
        "--full",
        action="store_true",
        help="the paper's protocol: 500 draws, full data (Ridge: 5000 rows)",
    )
    regression.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the draws (default 0); draw r has the same seed for every method",
    )
    regression.add_argument(
        "--n-jobs", type=positive_int, default=1, help="worker processes for the draws"
    )
    return regression


def _add_variance_parser(commands) -> argparse.ArgumentParser:
    """The ``variance`` subcommand."""
    variance = commands.add_parser(
        "variance",
        help="exact log variance of each family against the data scale",
        description=(
            "Exact mean log(Var/K²) of RFF, PosRF, GERF, SDERF, ADERF and "
            "SADERF against a multiplier of σ on the UCI sets and synthetic "
            "Gaussian data, a Monte-Carlo check at a few points, and the gains "
            "over RFF and GERF."
        ),
    )
    variance.add_argument("--datasets", nargs="+", choices=_DATASETS, default=None)
    return variance


def _add_sampling_parser(commands) -> argparse.ArgumentParser:
    """The ``sampling`` subcommand."""
    sampling = commands.add_parser(
        "sampling",
        help="i.i.d., orthogonal and simplex ω by Monte Carlo; AutoSampler",
        description=(
            "Gram-matrix MSE of every family under i.i.d., orthogonal and "
            "simplex directions at M = d and 4d, and AutoSampler against "
            "RBFSampler and every candidate over the σ range of 'variance'."
        ),
    )
    sampling.add_argument("--datasets", nargs="+", choices=_DATASETS, default=None)
    sampling.add_argument("--seeds", type=positive_int, default=100)
    sampling.add_argument("--auto-seeds", type=non_negative_int, default=10)
    sampling.add_argument(
        "--ridge-seeds",
        type=non_negative_int,
        default=0,
        help="draws of the Ridge route with AutoSampler (0 skips it)",
    )
    return sampling


def main(argv: Sequence[str] | None = None) -> dict:
    """Parse ``argv`` and run the chosen experiment.

    Parameters
    ----------
    argv : sequence of str, default=None
        Arguments (``sys.argv[1:]`` if None).

    Returns
    -------
    dict
        The rows the experiment wrote, by table name.
    """
    args = build_parser().parse_args(argv)
    if args.command == "transformer":
        from . import transformer

        return transformer.main(args)
    if args.command == "sampling":
        from . import sampling

        datasets = _DATASETS if args.datasets is None else tuple(args.datasets)
        return sampling.run(
            args.out,
            datasets=datasets,
            n_seeds=args.seeds,
            auto_seeds=args.auto_seeds,
            ridge_seeds=args.ridge_seeds,
            quiet=args.quiet,
        )
    if args.command == "variance":
        from . import variance

        datasets = _DATASETS if args.datasets is None else tuple(args.datasets)
        return variance.run(args.out, datasets=datasets, quiet=args.quiet)

    from . import kernel_regression

    config = kernel_regression.FULL if args.full else kernel_regression.DEFAULT
    overrides = {
        "repeats": args.repeats,
        "ridge_repeats": args.ridge_repeats,
        "multipliers": None if args.multipliers is None else tuple(args.multipliers),
        "max_train": args.max_train,
        "max_test": args.max_test,
        "ridge_max_train": args.ridge_max_train,
    }
    config = replace(
        config,
        datasets=tuple(args.datasets),
        seed=args.seed,
        n_jobs=args.n_jobs,
        quiet=args.quiet,
        **{key: value for key, value in overrides.items() if value is not None},
    )
    return kernel_regression.run(config, args.out)


if __name__ == "__main__":
    main()
