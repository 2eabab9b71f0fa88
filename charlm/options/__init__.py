"""Every option of charlm, declared once: what it is called, what values it takes, its default, its help.

The command line (:mod:`charlm.cli.declared`), the library (:class:`charlm.TrainConfig`,
:class:`ScoringOptions`, the service's limits) and the service's request bodies are built from these
declarations, so a value gets the same verdict and a missing value the same default everywhere.

    values.py    kinds of value: Int, Float, Choice, Text, ... (parse text, check values, bad examples)
    declare.py   Opt, the registry, declared()/default()/check()
    train.py     training and tokenizer options
    use.py       scoring, evaluation, sampling, prediction, rescoring, service, export, diagnostics
    scoring.py   ScoringOptions: the options that cross every scoring method
"""

from charlm.options.declare import Opt, all_options, check, check_all, declared, default
from charlm.options.scoring import ScoringOptions

__all__ = ["Opt", "ScoringOptions", "all_options", "check", "check_all", "declared", "default"]
