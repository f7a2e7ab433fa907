"""The security headers every answer carries but the health probes': a Content-Security-Policy,
no framing, no MIME sniffing, a referrer policy, an opener policy, and HSTS in production.

They are put on in one place no route can forget (the ASGI guard, app/serving/guard.py), on pages,
API answers, errors and static files alike. The policy allows no inline script: scripts and styles
come from files on this site. It is exported on its own too, for the one page that widens it (the
contexts lab's, app/contexts/views.py).
"""

from __future__ import annotations

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "img-src 'self' data: https: http:",  # avatars and pictures in articles live anywhere
    "style-src 'self'", "style-src-attr 'unsafe-inline'",  # markdown tables' text-align only
    "object-src 'none'", "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'",
])
SECURITY_HEADERS = [  # the policy first: a route that sets its own replaces just that one
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
