"""runpod.serverless.utils: the official SDK's helpers for handlers, as far as they work offline."""
from .rp_download import download_files_from_urls
from .rp_upload import upload_file_to_bucket, upload_in_memory_object

__all__ = ["download_files_from_urls", "upload_file_to_bucket", "upload_in_memory_object"]
