"""Permission policies used by the tests."""

from chunked_upload.engine.permissions import DefaultPermissionPolicy


class NobodyMayCreate(DefaultPermissionPolicy):
    def can_create(self, user, folder):
        return False
