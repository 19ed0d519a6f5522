"""An SQS stand-in answering as SQS's API reference documents, where moto is kinder than SQS.

moto always returns the waiting messages (/work/shared/NOTES.md); SQS does not:
- ReceiveMessage with short polling (``WaitTimeSeconds`` 0) "samples a subset of servers … only
  the messages on the sampled machines are returned. If the number of messages in the queue is
  extremely small, you might not receive any messages in a particular ReceiveMessage response.
  If this happens, repeat the request." Long polling (``WaitTimeSeconds`` > 0) "queries all of
  the servers" and returns as soon as a message is available, else after the wait, empty.
  Here a short poll answers empty (``small_queue_sampling``) while messages wait.
- A received message is hidden for the ``VisibilityTimeout`` and then visible again; each receive
  gives a new receipt handle. DeleteMessage with an older handle "succeeds, but the message might
  not be deleted" (here: it is not). ChangeMessageVisibility on a message that is no longer in
  flight fails with ``MessageNotInflight``.
- GetQueueAttributes counts visible (ApproximateNumberOfMessages) and hidden
  (ApproximateNumberOfMessagesNotVisible) messages; a received message carries its
  ``SentTimestamp`` (epoch milliseconds).

Time is the stand-in's own ``now`` (epoch seconds, from the wall clock at its creation), moved by the test (a replay's run) and by a long
poll that waits. Every call is recorded in ``calls``.
"""

# ruff: noqa: N803 - the methods take boto3's keyword arguments, spelt as the SQS API spells them

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

QUEUE_DEFAULT_VISIBILITY = 30


@dataclass
class StoodInMessage:
    id: str
    body: str
    attributes: dict[str, Any]
    sent_at: float
    visible_at: float = 0.0
    handle: str | None = None  # the newest receipt handle
    received: int = 0


def _error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@dataclass
class DocumentedSqs:
    # Short polls sample a server holding none of a small queue's messages (False: they find them,
    # as they may; the other documented behaviours stay).
    small_queue_sampling: bool = True
    now: float = field(default_factory=time.time)  # epoch seconds, as SentTimestamp counts
    queues: dict[str, list[StoodInMessage]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # receipt handles used after a newer one was given
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    @staticmethod
    def url(name: str) -> str:
        return f"https://sqs.us-east-1.amazonaws.com/123456789012/{name}"

    def add_queue(self, name: str) -> str:
        self.queues.setdefault(name, [])
        return self.url(name)

    def send(self, name: str, body: str, attributes: dict[str, Any] | None = None) -> str:
        message = StoodInMessage(
            f"msg-{next(self._ids)}", body, attributes or {}, sent_at=self.now, visible_at=self.now
        )
        self.queues[name].append(message)
        return message.id

    def _queue(self, url: str) -> list[StoodInMessage]:
        return self.queues[url.rsplit("/", 1)[-1]]

    def _visible(self, url: str) -> list[StoodInMessage]:
        return [m for m in self._queue(url) if m.visible_at <= self.now]

    # --- the client's operations -----------------------------------------------------

    def get_queue_url(self, QueueName: str) -> dict[str, Any]:
        self.calls.append(("GetQueueUrl", {"QueueName": QueueName}))
        if QueueName not in self.queues:
            raise _error(
                "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.", "GetQueueUrl"
            )
        return {"QueueUrl": self.url(QueueName)}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:
        self.calls.append(("GetQueueAttributes", {"QueueUrl": QueueUrl}))
        queue = self._queue(QueueUrl)
        visible = len(self._visible(QueueUrl))
        return {
            "Attributes": {
                "ApproximateNumberOfMessages": str(visible),
                "ApproximateNumberOfMessagesNotVisible": str(len(queue) - visible),
            }
        }

    def receive_message(
        self,
        QueueUrl: str,
        MaxNumberOfMessages: int = 1,
        VisibilityTimeout: int = QUEUE_DEFAULT_VISIBILITY,
        WaitTimeSeconds: int = 0,
        **_: Any,
    ) -> dict[str, Any]:
        self.calls.append(("ReceiveMessage", {"QueueUrl": QueueUrl, "WaitTimeSeconds": WaitTimeSeconds}))
        visible = self._visible(QueueUrl)
        if WaitTimeSeconds == 0 and self.small_queue_sampling:
            return {}  # the sampled servers hold none of this small queue's messages
        if not visible:
            # A long poll waits: it answers with a message that becomes visible meanwhile, else empty.
            due = min((m.visible_at for m in self._queue(QueueUrl)), default=None)
            if due is None or due > self.now + WaitTimeSeconds:
                self.now += WaitTimeSeconds
                return {}
            self.now = due
            visible = self._visible(QueueUrl)
        answer = []
        for message in visible[:MaxNumberOfMessages]:
            message.received += 1
            message.handle = f"{message.id}/receipt-{message.received}"
            message.visible_at = self.now + VisibilityTimeout
            answer.append(
                {
                    "MessageId": message.id,
                    "ReceiptHandle": message.handle,
                    "Body": message.body,
                    "MessageAttributes": message.attributes,
                    "Attributes": {"SentTimestamp": str(int(message.sent_at * 1000))},
                }
            )
        return {"Messages": answer}

    def _by_handle(self, url: str, handle: str) -> StoodInMessage | None:
        return next((m for m in self._queue(url) if handle.startswith(f"{m.id}/")), None)

    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> dict[str, Any]:
        self.calls.append(("DeleteMessage", {"ReceiptHandle": ReceiptHandle}))
        message = self._by_handle(QueueUrl, ReceiptHandle)
        if message is not None and message.handle != ReceiptHandle:
            self.stale.append(ReceiptHandle)  # the request succeeds, nothing is deleted
        elif message is not None:
            self._queue(QueueUrl).remove(message)
        return {}

    def change_message_visibility(self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int) -> dict[str, Any]:
        self.calls.append(
            ("ChangeMessageVisibility", {"ReceiptHandle": ReceiptHandle, "VisibilityTimeout": VisibilityTimeout})
        )
        message = self._by_handle(QueueUrl, ReceiptHandle)
        if message is None or message.visible_at <= self.now:
            raise _error(
                "AWS.SimpleQueueService.MessageNotInflight", "The message is not in flight.", "ChangeMessageVisibility"
            )
        if message.handle != ReceiptHandle:
            self.stale.append(ReceiptHandle)
        else:
            message.visible_at = self.now + VisibilityTimeout
        return {}

    # --- what the tests read -------------------------------------------------------------

    def count(self, name: str) -> int:
        return len(self.queues[name])


@dataclass
class StandInSession:
    """A boto3 Session whose SQS client is the stand-in and whose other clients are given."""

    sqs: DocumentedSqs
    others: dict[str, Any] = field(default_factory=dict)
    region_name: str = "us-east-1"

    def client(self, service: str, **_: Any) -> Any:
        return self.sqs if service == "sqs" else self.others[service]
