"""The customer and staff portal (HTML pages without JavaScript) and the JSON API under /api/v1/, on port 8081.

`build_portal(settings, uow)` returns the ASGI application the daemon serves (domainpriv/daemon.py). Pages and
API call the services of accounts/, selfservice/ and notify/, which check permissions and tenant scope and write
the audit; this package only authenticates, parses, renders and maps errors to statuses.
"""

from domainpriv.portal.app import build_portal

__all__ = ["build_portal"]
