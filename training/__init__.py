"""Training data: point-in-time windows for the five models, as torch Datasets.

    from training import training_dataset
    ds = training_dataset("seq300_minute", home=".barstore", symbols=["BTCUSDT"])
    window, label = ds[0]            # (300, 20) float64 view of the aligned matrix, forward return
    ds.timestamps[0], ds.symbol(0)   # the decision time and symbol of sample 0
"""

from .build import training_dataset

__all__ = ["training_dataset"]
