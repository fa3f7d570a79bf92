"""runpod.serverless.utils.rp_upload: where a handler's output files go.

Without bucket credentials the official SDK saves them to a local folder and returns that path; with
them it uploads through boto3, which the bundled module does without. Here every upload is the local
one, with the SDK's warning, so a handler that uploads its results runs offline.
"""
import os
import shutil
import sys
import uuid

from ..._missing import missing


def _save_locally(file_name, folder, source=None, data=None):
    credentials = all(os.environ.get(name) for name in ("BUCKET_ENDPOINT_URL", "BUCKET_ACCESS_KEY_ID", "BUCKET_SECRET_ACCESS_KEY"))
    why = "the bundled runpod module cannot upload to a bucket" if credentials else "No bucket endpoint set"
    print("{}, saving to disk folder '{}'.".format(why, folder), file=sys.stderr)
    os.makedirs(folder, exist_ok=True)
    location = "{}/{}".format(folder, file_name)
    if source is not None:
        shutil.copyfile(source, location)
    else:
        with open(location, "wb") as out:
            out.write(data)
    return location


def upload_image(job_id, image_location, result_index=0, results_list=None, bucket_name=None):
    """Saves a file as simulated_uploaded/XXXXXXXX.ext; returns that path (also into results_list)."""
    name = str(uuid.uuid4())[:8] + os.path.splitext(image_location)[1]
    location = _save_locally(name, "simulated_uploaded", source=image_location)
    if results_list is not None:
        results_list[result_index] = location
    return location


def files(job_id, file_list):
    """upload_image() for each file; returns their paths in order."""
    return [upload_image(job_id, path) for path in file_list]


def upload_file_to_bucket(file_name, file_location, bucket_creds=None, bucket_name=None, prefix=None, extra_args=None):
    """Saves a file as local_upload/FILE_NAME; returns that path."""
    return _save_locally(file_name, "local_upload", source=file_location)


def upload_in_memory_object(file_name, file_data, bucket_creds=None, bucket_name=None, prefix=None):
    """Saves bytes as local_upload/FILE_NAME; returns that path."""
    return _save_locally(file_name, "local_upload", data=file_data)


def bucket_upload(job_id, file_list, bucket_creds):
    """Needs boto3 in the SDK too: there is no local stand-in for a named bucket."""
    raise ImportError(missing("runpod.serverless.utils.rp_upload.bucket_upload (it uploads through boto3)"))
