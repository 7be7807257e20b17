"""Evaluators score one quantization table: ``evaluate(qtable) -> {"bpp": ..., ...}``."""
from qsearch.evaluators.base import Evaluator, Metrics, Rejection
from qsearch.evaluators.classifier import ClassifierEvaluator
from qsearch.evaluators.fidelity import FidelityEvaluator
from qsearch.registry import Registry

EVALUATORS = Registry("qsearch.evaluators")
EVALUATORS.register()(ClassifierEvaluator)
EVALUATORS.register()(FidelityEvaluator)

__all__ = ["EVALUATORS", "ClassifierEvaluator", "Evaluator", "FidelityEvaluator", "Metrics", "Rejection"]
