"""The benchmark: Carnation's figures beside same-run baselines (run as ``python -m bench``)."""
