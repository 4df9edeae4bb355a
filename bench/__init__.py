"""Benchmark suite of issue 7: ``python -m bench`` (``make bench``), see ``bench/__main__.py``."""
