"""What a run says: reference curves and re-scored fronts, Pareto tools and BD-rates,
operating points judged held out, plots, the codec ladder, and a run folder read back."""
