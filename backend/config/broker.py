"""The embedded broker's transport: kombu's filesystem transport, with whole-or-nothing sends.

kombu's own `filesystem` transport writes each message straight into the queue folder
under its final name, with one unbuffered `write` whose return value it ignores. When the
disk is full (or a file size limit is hit) that write stores part of the message and
returns a short count, so the sender (e.g. `celery -A config call`) prints a task id and
exits 0, and the next worker to read the truncated file stops with "Unrecoverable error:
JSONDecodeError" (the failure reported in celery/kombu#1551 and treeverse/dvc#7903). A
worker polling the folder can also pick up a file that is still being written.

Here a message is written in full to a hidden temporary name in the same folder, then
renamed to its final name, which a reader sees whole or not at all; a failed write
removes the temporary file and raises `ChannelError`, so the sender fails loudly and
nothing is half-sent. Reading is kombu's, unchanged (it lists only `*.<queue>.msg`).
"""

import contextlib
import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: dict, **kwargs: object) -> None:
        """Put the message on `queue` as one file that appears complete or not at all."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.part")  # not *.<queue>.msg
        data = str_to_bytes(dumps(payload))
        try:
            with open(partial, "xb") as out:  # buffered: a short write raises, never passes
                out.write(data)
            os.rename(partial, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.remove(partial)
            raise ChannelError(
                f"cannot write a message to {self.data_folder_out}: {exc.strerror or exc}"
            ) from exc


class Transport(filesystem.Transport):
    """`filesystem://` with whole-or-nothing sends (config/celery.py maps the scheme here)."""

    Channel = Channel
