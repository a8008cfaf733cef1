"""What --cert-dir holds and for how long: shared by the check of existing certificates
(``certs``, standard library only) and their generation (``certgen``, cryptography)."""

from __future__ import annotations

import datetime

CA_CERT, CA_KEY = "ca.crt", "ca.key"
SERVING_CERT, SERVING_KEY = "apiserver.crt", "apiserver.key"
CA_VALIDITY = datetime.timedelta(days=3650)
SERVING_VALIDITY = datetime.timedelta(days=365)
RENEW_BEFORE = datetime.timedelta(days=1)
