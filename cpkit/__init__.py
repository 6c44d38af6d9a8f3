"""cpkit: train and measure the critical learning periods of two-sensor nets.

The library behind the cpkit book, a reproduction of Kleinman, Achille and
Soatto, "Critical Learning Periods for Multisensory Integration in Deep
Networks" (CVPR 2023).
"""

from cpkit.errors import ConfigError

__version__ = "0.1.0"

__all__ = ["ConfigError", "__version__"]
