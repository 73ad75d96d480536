"""The train stage: labelled datasets and snapshots, PyTorch training tracked in MLflow, the model registry,
inference, lineage and scheduled retraining."""
