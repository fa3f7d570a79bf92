"""runpod.serverless.utils.rp_cleanup: removes what the SDK's helpers left in the working folder."""
import os
import shutil


def clean(folder_list=None):
    """Removes input_objects/, output_objects/, job_files/ and output.zip, and every folder listed."""
    for folder in ["input_objects", "output_objects", "job_files"] + list(folder_list or []):
        shutil.rmtree(folder, ignore_errors=True)
    if os.path.exists("output.zip"):
        os.remove("output.zip")
