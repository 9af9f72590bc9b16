"""A local FPR API: the `/fpr_data` contract served from seeded synthetic data on loopback.

Standard library only, so that it runs anywhere Python does and adds nothing to the
connector's requirements.
"""

from fpr_local_api.dataset import Dataset
from fpr_local_api.server import LocalFprApi

__all__ = ["Dataset", "LocalFprApi"]
