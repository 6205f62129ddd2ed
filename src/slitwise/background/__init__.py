"""Background subtraction of slitlet exposures: nod differences and stuck-closed shutters."""

from slitwise.background.nod import NodDifference, background_sets, nod_subtract
from slitwise.background.stuck import (
    configured_stuck_exposures,
    detect_missing_source,
    shutter_label,
    source_shutter_index,
)

__all__ = [
    "NodDifference",
    "nod_subtract",
    "background_sets",
    "configured_stuck_exposures",
    "detect_missing_source",
    "shutter_label",
    "source_shutter_index",
]
