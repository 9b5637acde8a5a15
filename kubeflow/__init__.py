"""Kubeflow Pipelines v2: compile (runner.py), container image (Dockerfile), deploy (deploy.py)."""
