"""Evaluator implementations, registered under the ``qsearch.evaluators`` entry-point group
(see setup.cfg); the contract is :mod:`qsearch.search.evaluator`."""
