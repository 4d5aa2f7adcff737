"""The project library's errors, under the platform's one root (:mod:`carbonledger.errors`).

The API maps them to problem+json: unknown project 404, a transition or role not allowed 409/403,
a declaration that does not validate 422.
"""

from __future__ import annotations

from carbonledger.errors import CarbonLedgerError


class ProjectError(CarbonLedgerError):
    """Something about a climate project is wrong (the message says what)."""


class UnknownProjectError(ProjectError):
    def __init__(self, project_id: str) -> None:
        self.project_id = project_id
        super().__init__(f"project {project_id} not found")


class DeclarationError(ProjectError):
    """A declaration does not hold together (taxonomy, meters, method parameters)."""


class TransitionError(ProjectError):
    """The stage does not allow this action (e.g. admitting a project not yet screened)."""


class RoleError(ProjectError):
    """The actor's role may not take this action (the enterprise declares, the bureau screens)."""


class MethodError(ProjectError):
    """A reduction cannot be computed by the project's method (missing factor, unsupported
    carrier, no baseline data)."""
