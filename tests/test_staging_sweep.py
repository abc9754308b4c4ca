"""Listing staged files while other processes finalize or delete them."""

from chunked_upload.staging.local import LocalStaging


def test_files_removed_while_listing_are_skipped(tmp_path):
    staging = LocalStaging(tmp_path)
    keys = {"aa-one", "aa-two"}  # one directory: listed in one go, then stat'ed one by one
    for key in keys:
        staging.open(key, create=True).close()
    listing = staging.keys()
    first, _ = next(listing)
    staging.delete((keys - {first}).pop())  # removed after the listing, before its stat
    assert list(listing) == []
