"""Searcher implementations, registered under the ``qsearch.searchers`` entry-point group
(see setup.cfg); the contract is :mod:`qsearch.search.searcher`."""
