"""Figures: one function per product."""

from slitwise.plotting.spectrum import plot_source

__all__ = ["plot_source"]
