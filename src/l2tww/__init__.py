"""l2tww: a reproducible implementation of "Learning What and Where to Transfer" (Jang et al., ICML 2019)."""

__version__ = "0.1.0"
