"""A custom user model for one CI pass (``CHUNKED_UPLOAD_TEST_USER_MODEL=custom``).

Its ``USERNAME_FIELD`` is ``login`` and it has no ``username`` column, so any
code that assumes ``auth.User`` (``owner__username`` lookups, say) fails there.
``username`` is a read-only property only so that the tests can say
``user.username`` whatever the model.
"""
