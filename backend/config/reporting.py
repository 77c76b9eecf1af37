"""Django's exception reporter filter, masking credentials that Django's own pattern misses."""

import re

from django.views.debug import SafeExceptionReporterFilter


class SecretsFilter(SafeExceptionReporterFilter):
    """Mask any setting or request variable named like a credential, a URL or a backend.

    Django's pattern (API, AUTH, TOKEN, KEY, SECRET, PASS, SIGNATURE) leaves out
    CELERY_BROKER_URL, CELERY_RESULT_BACKEND and DATABASE_URL, which carry passwords; under
    runserver the environment is in request.META, so they show there too.
    """

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|URL|BROKER|BACKEND", flags=re.I
    )
