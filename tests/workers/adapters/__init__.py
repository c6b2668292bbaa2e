"""Tests of the architecture adapters against the models' own forward computation."""
