"""The embedded broker: kombu's filesystem transport, with whole-or-nothing sends and queue
expiry.

kombu's own truncates a message on a full disk and keeps dead queues' bindings forever
(celery/kombu#1551, #1280); the faults and the fix: docs/periodic-tasks.md, "The embedded
broker".
"""

import contextlib
import os
import uuid
from pathlib import Path
from time import monotonic, time
from urllib.parse import quote

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.transport.base import to_rabbitmq_queue_arguments
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def __init__(self, *args: object, **kwargs: object) -> None:
        self._expiring: dict[str, float] = {}  # queue -> x-expires (s), declared here
        self._renewed: dict[str, float] = {}  # queue -> when this channel last pushed it on
        super().__init__(*args, **kwargs)

    def _lease(self, queue: str) -> Path:
        return self.control_folder / f"{quote(queue, safe='')}.lease"

    def prepare_queue_arguments(self, arguments: dict, **kwargs: object) -> dict:
        """Pass a queue's `expires` on as `x-expires` (kombu's base drops it; redis's keeps it)."""
        return to_rabbitmq_queue_arguments(arguments, **kwargs)

    def _new_queue(self, queue: str, **kwargs: object) -> None:
        """Declare `queue`; with an `x-expires` argument (ms) it gets a lease."""
        expires_ms = (kwargs.get("arguments") or {}).get("x-expires")
        if expires_ms:
            self._expiring[queue] = expires_ms / 1000
            self._renew(queue, time())
        super()._new_queue(queue, **kwargs)

    def _renew(self, queue: str, now: float) -> None:
        deadline = now + self._expiring[queue]
        lease = self._lease(queue)
        try:
            os.utime(lease, (deadline, deadline))
        except FileNotFoundError:  # new, or expired while this consumer did not poll
            lease.touch()
            os.utime(lease, (deadline, deadline))
            for exchange, routing_key, arguments in self.state.queue_bindings(queue):
                meta = self.typeof(exchange).prepare_bind(queue, exchange, routing_key, arguments)
                self._queue_bind(exchange, *meta)
        self._renewed[queue] = now

    def _get(self, queue: str) -> dict:
        """Get the next message of `queue`, pushing its lease on (at most 4 times per expiry)."""
        expires = self._expiring.get(queue)
        now = time()
        if expires is not None and now - self._renewed.get(queue, 0.0) >= expires / 4:
            self._renew(queue, now)
        return super()._get(queue)

    def get_table(self, exchange: str) -> list:
        """The bindings of `exchange`; a queue past its lease is unbound and emptied on the way."""
        now = time()
        live = []
        for binding in super().get_table(exchange):
            try:
                expired = os.stat(self._lease(binding.queue)).st_mtime < now
            except FileNotFoundError:  # declared without an expiry
                expired = False
            if expired:
                self._delete(binding.queue, exchange, binding.routing_key, binding.pattern)
            else:
                live.append(binding)
        return live

    def _delete(self, queue: str, *args: object, **kwargs: object) -> None:
        """Unbind `queue` from one exchange and drop its messages (kombu's); and its lease
        with its last binding."""
        super()._delete(queue, *args, **kwargs)
        for table in self.control_folder.glob("*.exchange"):
            exchange = table.name.removesuffix(".exchange")
            if any(b.queue == queue for b in filesystem.Channel.get_table(self, exchange)):
                return
        with contextlib.suppress(FileNotFoundError):
            os.remove(self._lease(queue))

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
    """`filesystem://` with whole-or-nothing sends and queue expiry (settings.py names it:
    CELERY_BROKER_TRANSPORT)."""

    Channel = Channel

    def drain_events(self, connection: object, timeout: float | None = None) -> None:
        """kombu's, in slices of one polling interval, ending early once the worker stops.

        A worker waits for messages 2 s at a time (celery/worker/loops.py) and only then
        sees a Ctrl-C; here it sees it within one polling interval (0.2 s).
        """
        if timeout is None:
            return super().drain_events(connection)
        deadline = monotonic() + timeout
        while True:
            try:
                return super().drain_events(connection, timeout=min(timeout, self.slice_s))
            except TimeoutError:  # socket.timeout
                if _worker_stopping() or monotonic() >= deadline:
                    raise

    @property
    def slice_s(self) -> float:
        return self.polling_interval or 1.0


def _worker_stopping() -> bool:
    from celery.worker import state  # a Celery worker's shutdown flags, set by its signals

    return state.should_stop is not None or state.should_terminate is not None
