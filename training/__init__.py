"""Training: point-in-time windows of the five models, validated, trained into checkpoints.

from training import training_dataset
ds = training_dataset("seq300_minute", home=".barstore", symbols=["BTCUSDT"])
window, label = ds[0]            # (300, 20) float64 view of the aligned matrix, forward return
ds.timestamps[0], ds.symbol(0)   # the decision time and symbol of sample 0
"""

from barstore.windows import window_dataset as training_dataset

__all__ = ["training_dataset"]
