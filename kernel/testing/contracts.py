"""Contract suites for third-party plugins: subclass one in your plugin's tests.

    from kernel.testing.contracts import (AdmissionContract, AuthenticatorContract,
                                         AuthorizerContract, ListPagingContract, StorageContract)

Each suite is a pytest base class (its tests are async: run them with pytest-trio, ``trio_mode =
true``); a subclass provides a few fixtures, named in the suite's docstring, and inherits every
test. The kernel's own plugins run the suite of their kind the same way.
"""

from kernel.storage.testing import StorageConformance as StorageContract
from kernel.storage.testing_lists import ListPagingConformance as ListPagingContract
from kernel.testing.admission import (UNCHANGED, AdmissionCase, AdmissionContract, Mutated,
                                      Refused, request)
from kernel.testing.authenticator import AuthenticatorContract, Credential
from kernel.testing.authorizer import AuthorizerContract, Case, non_resource, resource

__all__ = ["UNCHANGED", "AdmissionCase", "AdmissionContract", "AuthenticatorContract",
           "AuthorizerContract", "Case", "Credential", "ListPagingContract", "Mutated", "Refused",
           "StorageContract", "non_resource", "request", "resource"]
