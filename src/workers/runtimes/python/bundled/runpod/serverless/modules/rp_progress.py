"""runpod.serverless.modules.rp_progress: progress_update, where the official SDK keeps it."""
from ..worker import progress_update

__all__ = ["progress_update"]
