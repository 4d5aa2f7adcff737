"""One router per resource; :mod:`accounts.api.main` mounts them under ``/v1``."""
