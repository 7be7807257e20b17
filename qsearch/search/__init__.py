"""The search: the searcher and evaluator contracts, search spaces, trials and the objective,
early rejection, the study loop, its durable record, and evaluation on workers."""
