"""Web hosts that each keep their own generated media: names, beat entries and queues.

`GENERATED_MEDIA_HOSTS=web1,web2` gives each host a weekly media entry of its own, sent to a
queue that only that host's media worker consumes (config/celery.py builds the entries).
"""

import re

MEDIA_ENTRY = "clean-generated-media-weekly"
_HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")


def parse_media_hosts(raw: str) -> tuple[str, ...]:
    """Return the comma-separated host names of `raw` in order; raise ValueError on a bad one.

    A name is what goes into a queue and an entry name: letters, digits, `-` and `_`, up to
    63 characters, like a DNS label. Empty (or only commas and spaces): no hosts.
    """
    names = tuple(part.strip() for part in raw.split(",") if part.strip())
    for name in names:
        if not _HOST_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a host name")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"{', '.join(duplicates)} named twice")
    return names


def media_entry(host: str) -> str:
    """The beat entry of `host`'s weekly media run: `clean-generated-media-weekly-web1`."""
    return f"{MEDIA_ENTRY}-{host}"


def media_queue(host: str) -> str:
    """The queue that only `host`'s media worker consumes: `media.web1`."""
    return f"media.{host}"
