"""`prune-lineage`: what the pipeline produced and where it came from, read from ML Metadata.

Built on the `ml_metadata` API alone (no SQL), so it reads the local SQLite store, a MySQL store
or the gRPC metadata service Kubeflow runs. Imports no TensorFlow: it answers in about a second.
"""
