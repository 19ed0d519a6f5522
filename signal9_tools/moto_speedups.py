"""Eleven of moto's costs removed, with the same results moto gives: the emulator's and the tests' moto.

moto spends most of a Signal9 workload's time in eleven places that do not decide anything:

- **Encoding item responses.** moto 5.2 encodes every response by walking the operation's
  output shape and probing each attribute of each item through several alias lookups. For
  the item operations (Query, Scan, GetItem, ...) moto's handler has already built the wire
  document (``DynamoResult`` turned every ``DynamoType`` into its ``{"S": ...}`` form), so the
  walk re-derives the same JSON; for a page of a few hundred items it costs more than the
  operation. :func:`direct_item_responses` writes those documents with ``json.dumps``, keeping
  the output shape's members only, as moto's serializer does.
- **Checking an item's size per attribute.** moto builds each written item one attribute at a
  time, and each step re-sums the size of every attribute so far (quadratic in the
  attributes: a 60-field statement row costs ~1,800 size computations).
  :func:`item_size_checked_once` builds the item and sums its size once; the item is refused
  (``ItemSizeTooLarge``) exactly when moto refuses it, since sizes only add up.
- **Finding a Query's partition.** A Query on a table (not an index) gathers every item of the
  table, sorts them all and keeps the partition's; moto already holds each partition apart.
  :func:`partition_queries` hands moto's Query that partition, which it then filters, sorts
  and pages as before.
- **Copying every item a Scan or Query reads.** A table Scan deep-copies each item before it
  filters and encodes it, which reads the copy only (a projection builds a new item); a Query
  deep-copies its matches likewise. Scans are how the smoke proves what was and was not
  written, over every table; the earnings calendar is read one date's index Query at a time.
  :func:`uncopied_scans` and :func:`uncopied_queries` let moto's Scan and Query read the stored
  items themselves.
- **An RSA key pair for every KMS key.** moto gives each KMS key, symmetric ones included, a
  private key for Sign/Verify/GetPublicKey, generating a 2048-bit RSA pair (tens to hundreds
  of milliseconds) as the key is created. Creating an encrypted table creates the
  ``aws/dynamodb`` key, so every test with tables paid for one. :func:`lazy_kms_private_keys`
  has moto's own function generate it on first use.
- **Listing a response class's methods for every request.** Before it calls an action, moto's
  dispatch lists the methods of the service's response class (``inspect.getmembers``, a fifth
  of a small request's time) to see whether the action is one of them.
  :func:`action_names_listed_once` lists each class once; a class's methods do not change
  while it serves requests.
- **Routing every request afresh.** moto's in-process hook (``BotocoreStubber``) finds each
  request's handler by trying every service's URL pattern, then the backend's URLs, rebuilt and
  matched per request. The handler depends on the URL alone (the patterns and URLs are moto's
  modules): :func:`routes_found_once` lets moto route a URL's first request and sends the later
  ones to the handler it found (passthrough URLs still go to moto every time).
- **Parsing a request member by member.** moto reads a JSON request by walking its input shape:
  each structure tries every member it could have (an attribute value, ten, for the one it
  holds), and each value's parser is looked up by name. :func:`structures_parsed_by_their_keys`
  walks the keys the structure has, in the members' order; :func:`shape_parsers_looked_up_once`
  looks each parser class's parser of a type up once. DynamoDB's requests (items) are most of it.
- **Converting a result value by value.** Before it encodes a DynamoDB result, moto turns its
  attribute values into plain dicts, asking each string whether it is a datetime, a DynamoType or
  has ``to_json``. :func:`plain_values_passed_through` passes strings, numbers and the like, and
  expands non-binary attribute values, directly; everything else is moto's own conversion.
- **Decoding the same archive for every deploy.** moto base64-decodes and hashes each archive
  it is given; every emulated deploy publishes the same 25 MB layer. :func:`archives_decoded_once`
  keeps the last few decodings for the process, found by an archive's length and ends and used only
  when the whole base64 text is the same.

Nothing else changes: moto still parses (with the same parsers), validates and executes every
request, encodes every other operation and every error, and checks the size of updated items
itself. ``checked=True`` does each step both ways and raises :class:`MotoSpeedupMismatchError` on
any difference (tests/test_moto_speedups.py runs real workloads that way). Measured: the SyncAssets
and SyncNewsSentiment tests take about half the time; ``benchmarks/speed.py`` prints the suite and
``signal9 local up``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import moto.backend_index as backend_index
from botocore.awsrequest import AWSPreparedRequest
from botocore.model import Shape, StructureShape
from moto import backends
from moto.awslambda import models as lambda_models
from moto.core import responses as moto_responses
from moto.core import utils
from moto.core.base_backend import BackendDict
from moto.core.botocore_stubber import BotocoreStubber
from moto.core.config import passthrough_service, passthrough_url, service_whitelisted
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.parse import BaseJSONParser, RequestParser
from moto.core.request import normalize_request
from moto.core.responses import ActionContext, ActionResult
from moto.core.utils import get_equivalent_url_in_aws_domain
from moto.dynamodb import responses as dynamodb_responses
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models import table as moto_table
from moto.dynamodb.models import utilities
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodb.responses import DynamoResult
from moto.kms import models as kms_models
from moto.kms import utils as kms_utils
from moto.moto_api import recorder
from werkzeug.exceptions import HTTPException

# Operations whose result is only items, keys, counts and consumed capacity. Table
# descriptions (timestamps, enums) stay with moto's serializer, and so does any result that
# is not plain JSON (binary attributes, which moto base64-encodes).
ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
JSON_CONTENT_TYPE = "application/x-amz-json-1.0"


class MotoSpeedupMismatchError(AssertionError):
    """A shortcut gave another result than moto's own code: it is not safe for this input."""


@contextmanager
def direct_item_responses(*, checked: bool = False) -> Iterator[None]:
    moto_encoding = DynamoResult.execute_result

    def execute_result(self: ActionResult, context: ActionContext) -> Any:
        output = context.operation_model.output_shape
        result = self.result
        if context.operation_model.name not in ITEM_OPERATIONS or output is None or not isinstance(result, dict):
            return moto_encoding(self, context)
        # Only the output shape's members, as moto's serializer writes (moto's DeleteItem adds a
        # legacy ConsumedCapacityUnits, for one).
        document = {key: value for key, value in result.items() if key in output.members and value is not None}
        try:
            direct = (200, {"Content-Type": JSON_CONTENT_TYPE}, json.dumps(document))
        except TypeError:  # a value JSON cannot hold as is (binary attributes): moto base64-encodes it
            return moto_encoding(self, context)
        if checked:
            status, _headers, body = moto_encoding(self, context)
            expected, got = json.loads(body), json.loads(direct[2])
            if (status, expected) != (direct[0], got):
                differing = sorted(k for k in expected.keys() | got.keys() if expected.get(k) != got.get(k))
                raise MotoSpeedupMismatchError(
                    f"{context.operation_model.name}: moto encodes {status}, the shortcut {direct[0]}; "
                    f"they differ in {differing}: moto {json.dumps({k: expected.get(k) for k in differing})[:400]}, "
                    f"the shortcut {json.dumps({k: got.get(k) for k in differing})[:400]}"
                )
        return direct

    with mock.patch.object(DynamoResult, "execute_result", execute_result):
        yield


ITEM_SIZE_LIMIT = 405_000  # moto's own limit (between DynamoDB's measured 409 and 410 KB)


@contextmanager
def item_size_checked_once(*, checked: bool = False) -> Iterator[None]:
    moto_init = Item.__init__

    def init(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
        converted = {key: DynamoType(value) for key, value in attrs.items()}
        # moto's per-attribute check refuses as soon as the running total passes the limit; the
        # total only grows, so that happens exactly when the whole item's size passes it.
        too_large = sum(bytesize(key) + value.size() for key, value in converted.items()) > ITEM_SIZE_LIMIT
        if checked:
            try:
                moto_init(self, hash_key, range_key, attrs)
                refused = False
            except ItemSizeTooLarge:
                refused = True
            if refused != too_large or (not refused and self.attrs != converted):
                raise MotoSpeedupMismatchError(
                    f"item {hash_key.value!r}: moto {'refuses' if refused else 'accepts'} it, "
                    f"the one-pass check {'refuses' if too_large else 'accepts'} it"
                    + ("" if refused != too_large else "; the attributes differ")
                )
        if too_large:
            raise ItemSizeTooLarge
        self.hash_key = hash_key
        self.range_key = range_key
        self.attrs = LimitedSizeDict(converted)  # dict.update: no per-attribute check

    with mock.patch.object(Item, "__init__", init):
        yield


# What moto's dynamo_to_dict returns as it is (no DynamoType, datetime or to_json), by exact type.
PLAIN_VALUES = frozenset({str, int, float, bool, bytes, type(None)})
BINARY_TYPES = frozenset({"B", "BS"})  # moto decodes these values


@contextmanager
def plain_values_passed_through(*, checked: bool = False) -> Iterator[None]:
    moto_to_dict = utilities.dynamo_to_dict

    def to_dict(value: Any) -> Any:
        kind = type(value)
        if kind in PLAIN_VALUES:
            return value
        if kind is dict:
            return {key: to_dict(member) for key, member in value.items()}
        if kind is list:
            return [to_dict(member) for member in value]
        if kind is DynamoType and value.type not in BINARY_TYPES:
            return {value.type: to_dict(value.value)}  # as moto expands a non-binary value
        return moto_to_dict(value)  # moto's conversions, recursing through to_dict

    def result_to_dict(result: Any) -> Any:
        converted = to_dict(result)
        if checked:
            with mock.patch.object(utilities, "dynamo_to_dict", moto_to_dict):
                expected = moto_to_dict(result)
            try:
                same = expected == converted
            except AttributeError:  # moto's DynamoType compared with a plain value
                same = False
            if not same:
                raise MotoSpeedupMismatchError(
                    f"a DynamoDB result: moto converts it to {str(expected)[:300]}, the shortcut to {str(converted)[:300]}"
                )
        return converted

    with (
        mock.patch.object(utilities, "dynamo_to_dict", to_dict),  # moto's own recursion
        mock.patch.object(dynamodb_responses, "dynamo_to_dict", result_to_dict),  # DynamoResult's
    ):
        yield


ArchiveContent = tuple[bytes, int, str, str]  # what moto's _zipfile_content gives: bytes, size, sha256 (b64, hex)
ARCHIVE_PROBE = 4096  # characters from each end of an archive's base64 that key the decoded ones
DECODED_ARCHIVES_KEPT = 32  # the layer and the functions' archives of a few stacks
# For the process: every emulator run publishes the same layer (~25 MB) and function archives.
_decoded_archives: dict[tuple[int, Any, Any], tuple[Any, ArchiveContent]] = {}


@contextmanager
def archives_decoded_once(*, checked: bool = False) -> Iterator[None]:
    moto_zipfile_content = lambda_models._zipfile_content

    def zipfile_content(content: str | bytes) -> ArchiveContent:
        key = (len(content), content[:ARCHIVE_PROBE], content[-ARCHIVE_PROBE:])
        found = _decoded_archives.get(key)
        if found is None or found[0] != content:  # the same ends, another archive: decoded afresh
            if len(_decoded_archives) >= DECODED_ARCHIVES_KEPT:
                del _decoded_archives[next(iter(_decoded_archives))]  # the oldest
            found = _decoded_archives[key] = (content, moto_zipfile_content(content))
        if checked and moto_zipfile_content(content) != found[1]:
            raise MotoSpeedupMismatchError(f"an archive of {len(content)} characters: moto decodes it otherwise")
        return found[1]

    with mock.patch.object(lambda_models, "_zipfile_content", zipfile_content):
        yield


# Table.query's positional parameters, as DynamoDBBackend.query passes them.
QUERY_INDEX_NAME_POSITION = 7


@contextmanager
def partition_queries(*, checked: bool = False) -> Iterator[None]:
    moto_query = Table.query

    def query(self: Table, hash_key: DynamoType | None, *args: Any, **kwargs: Any) -> Any:
        if _index_name(args, kwargs, QUERY_INDEX_NAME_POSITION) is not None or hash_key is None:
            return moto_query(self, hash_key, *args, **kwargs)
        stored = self.items.get(hash_key)  # .get: the table's defaultdict must not grow a partition
        partition = [] if stored is None else list(stored.values()) if self.range_key_attr else [stored]
        # moto's table Query keeps the items of all_items() whose hash key matches: give it
        # those (an instance attribute, for this call: where handlers use threads, moto answers
        # one request at a time, signal9_tools/motolock.py).
        vars(self)["all_items"] = lambda: partition
        try:
            result = moto_query(self, hash_key, *args, **kwargs)
        finally:
            del vars(self)["all_items"]
        if checked:
            expected = moto_query(self, hash_key, *args, **kwargs)
            _expect_same(f"Query of {self.name} partition {hash_key.value!r}", expected, "the partition lookup", result)
        return result

    with mock.patch.object(Table, "query", query):
        yield


# Table.scan's positional parameters, as DynamoDBBackend.scan passes them.
SCAN_INDEX_NAME_POSITION = 5


class _Uncopied:
    """The ``copy`` module as moto's Table.scan and Table.query see it inside the uncopied shortcuts."""

    copy = staticmethod(copy.copy)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value


def _read_uncopied(read: Callable[..., Any], what: str, *, checked: bool) -> Callable[..., Any]:
    """``read`` (a Table's Scan or Query) with moto's deep copy of the items it reads skipped."""

    def uncopied(self: Table, *args: Any, **kwargs: Any) -> Any:
        # For this call only (moto answers one request at a time where handlers use threads).
        with mock.patch.object(moto_table, "copy", _Uncopied):
            result = read(self, *args, **kwargs)
        if checked:
            _expect_same(f"{what} of {self.name}", read(self, *args, **kwargs), f"the uncopied {what.lower()}", result)
        return result

    return uncopied


@contextmanager
def uncopied_scans(*, checked: bool = False) -> Iterator[None]:
    moto_scan = Table.scan
    table_scan = _read_uncopied(moto_scan, "Scan", checked=checked)

    def scan(self: Table, *args: Any, **kwargs: Any) -> Any:
        if _index_name(args, kwargs, SCAN_INDEX_NAME_POSITION) is not None:
            return moto_scan(self, *args, **kwargs)  # index scans keep moto's copies: Signal9 scans tables only
        return table_scan(self, *args, **kwargs)

    with mock.patch.object(Table, "scan", scan):
        yield


@contextmanager
def uncopied_queries(*, checked: bool = False) -> Iterator[None]:
    # Around moto's Query, or partition_queries' around it.
    with mock.patch.object(Table, "query", _read_uncopied(Table.query, "Query", checked=checked)):
        yield


def _index_name(args: tuple[Any, ...], kwargs: dict[str, Any], position: int) -> Any:
    """The ``index_name`` moto's backend passed to Table.query/scan, by position or by keyword."""
    return args[position - 1] if len(args) >= position else kwargs.get("index_name")


def _expect_same(what: str, expected: Any, shortcut: str, got: Any) -> None:
    """A Query's or Scan's (items, scanned count, last key) as moto found them, or the mismatch raised."""
    if _query_result(expected) != _query_result(got):
        raise MotoSpeedupMismatchError(f"{what}: moto finds {_query_result(expected)}, {shortcut} {_query_result(got)}")


def _query_result(result: tuple[list[Item], int, Any]) -> tuple[list[Any], int, Any]:
    items, scanned, last_key = result
    return [item.to_json() for item in items], scanned, last_key


class LazyPrivateKey:
    """A KMS key's private key as moto uses it (sign, verify, public_key), generated on first use."""

    def __init__(self, key_spec: str, generate: Any) -> None:
        self.key_spec = key_spec
        self._generate = generate
        self.generated: Any = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in {"key_spec", "_generate", "generated"}:
            raise AttributeError(name)  # copy and pickle probe dunders before __init__ ran
        if self.generated is None:
            self.generated = self._generate(self.key_spec)
        return getattr(self.generated, name)


@contextmanager
def lazy_kms_private_keys() -> Iterator[None]:
    moto_generate = kms_utils.generate_private_key  # the function moto's Key() calls
    with mock.patch.object(
        kms_models, "generate_private_key", lambda key_spec: LazyPrivateKey(key_spec, moto_generate)
    ):
        yield


@contextmanager
def action_names_listed_once(*, checked: bool = False) -> Iterator[None]:
    moto_method_names = utils.method_names_from_class  # BaseResponse.call_action calls its own import of it
    listed: dict[object, list[str]] = {}

    def method_names(response_class: object) -> list[str]:
        names = listed.get(response_class)
        if names is None:
            names = listed[response_class] = moto_method_names(response_class)
        if checked and names != moto_method_names(response_class):
            raise MotoSpeedupMismatchError(
                f"{getattr(response_class, '__name__', response_class)}: its methods changed after they were listed"
            )
        return names

    with mock.patch.object(moto_responses, "method_names_from_class", method_names):
        yield


# A structure's members in moto's order (name, name on the wire, shape), and each wire name's place.
Members = tuple[tuple[tuple[str, str, Shape], ...], dict[str, int]]


def _members(shape: StructureShape) -> Members | None:
    """``shape``'s members as moto's JSON parser walks them; None if two share a wire name."""
    members = tuple((name, member.serialization.get("name", name), member) for name, member in shape.members.items())
    places = {wire_name: place for place, (_, wire_name, _) in enumerate(members)}
    return (members, places) if len(places) == len(members) else None


@contextmanager
def structures_parsed_by_their_keys(*, checked: bool = False) -> Iterator[None]:
    moto_parse_structure = BaseJSONParser._parse_structure
    listed: dict[StructureShape, Members | None] = {}  # the shapes held too: ids never reused

    def parse_structure(self: BaseJSONParser, shape: StructureShape, value: Any) -> Any:
        if type(value) is not dict or shape.is_document_type:
            return moto_parse_structure(self, shape, value)  # type: ignore[no-untyped-call]
        if shape not in listed:
            listed[shape] = _members(shape)
        found = listed[shape]
        if found is None:
            return moto_parse_structure(self, shape, value)  # type: ignore[no-untyped-call]
        members, places = found
        given = [places[key] for key in value if key in places]
        if len(given) > 1:
            given.sort()  # moto's order: the members'
        parsed = self.MAP_TYPE()
        for place in given:
            name, wire_name, member = members[place]
            if value[wire_name] is not None:
                parsed[name] = self._parse_shape(member, value[wire_name])  # type: ignore[no-untyped-call]
        if checked:
            expected = moto_parse_structure(self, shape, value)  # type: ignore[no-untyped-call]
            if expected != parsed or list(expected) != list(parsed):
                raise MotoSpeedupMismatchError(
                    f"{shape.name}: moto parses {json.dumps(expected, default=str)[:300]}, "
                    f"the walk of the given keys {json.dumps(parsed, default=str)[:300]}"
                )
        return parsed

    with mock.patch.object(BaseJSONParser, "_parse_structure", parse_structure):
        yield


@contextmanager
def shape_parsers_looked_up_once(*, checked: bool = False) -> Iterator[None]:
    parsers: dict[tuple[type, str], Callable[..., Any]] = {}

    def parse_shape(self: RequestParser, shape: Shape, node: Any) -> Any:
        # moto looks its parser up by name for every value: getattr(self, f"_parse_{type}", self._default_handle).
        key = (type(self), shape.type_name)
        if key not in parsers:
            parsers[key] = getattr(type(self), f"_parse_{shape.type_name}", type(self)._default_handle)
        parser = parsers[key]
        if checked and getattr(self, f"_parse_{shape.type_name}", self._default_handle) != parser.__get__(self):
            raise MotoSpeedupMismatchError(f"{type(self).__name__}: its parser of {shape.type_name} changed")
        return parser(self, shape, node)

    # QueryParser has a _parse_shape of its own (with a prefix): untouched.
    with mock.patch.object(RequestParser, "_parse_shape", parse_shape):
        yield


Handler = Callable[[Any, str, Any], Any]


def _handler_for(clean_url: str) -> Handler | None:
    """The handler moto's ``BotocoreStubber.process_request`` finds for ``clean_url``, found as it finds
    it: the first service whose URL pattern matches and whose backend has a URL that matches too."""
    for service, pattern in backend_index.backend_url_patterns:
        if not pattern.match(clean_url) or passthrough_service(service) or not service_whitelisted(service):
            continue  # passed through or refused: moto decides that itself (never cached)
        backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
        if isinstance(backend_dict, BackendDict):
            accounts = backend_dict[DEFAULT_ACCOUNT_ID]
            backend = accounts["us-east-1"] if "us-east-1" in accounts else accounts["aws"]
        else:
            backend = backend_dict["global"]
        for url, handler in backend.urls.items():
            if re.compile(url).match(clean_url):
                return handler  # type: ignore[no-any-return]
    return None


@contextmanager
def routes_found_once(*, checked: bool = False) -> Iterator[None]:
    moto_process_request = BotocoreStubber.process_request
    found: dict[str, Handler] = {}

    def process_request(self: BotocoreStubber, request: AWSPreparedRequest) -> Any:
        parsed_url, _ = get_equivalent_url_in_aws_domain(request.url)
        clean_url = f"{parsed_url.scheme}://{parsed_url.netloc}{parsed_url.path}"
        handler = found.get(clean_url)
        if handler is None or passthrough_url(clean_url):
            answer = moto_process_request(self, request)
            if answer is not None and (handler := _handler_for(clean_url)) is not None:
                found[clean_url] = handler
            return answer
        if checked and (routed := _handler_for(clean_url)) != handler:
            raise MotoSpeedupMismatchError(f"{clean_url}: moto now routes it to {routed}, not {handler}")
        # The rest of moto's process_request, as it runs once the handler is found.
        normalized = normalize_request(request)
        try:
            recorder._record_request(normalized)
            return handler(normalized, normalized.raw_url, normalized.headers)
        except HTTPException as error:
            return error.code, error.get_headers(), error.get_body()

    with mock.patch.object(BotocoreStubber, "process_request", process_request):
        yield


@contextmanager
def moto_speedups(*, checked: bool = False) -> Iterator[None]:
    """All eleven shortcuts (``checked``: each compared with moto's own result as it runs; a lazily
    generated key is moto's own, so there is nothing to compare)."""
    with (
        direct_item_responses(checked=checked),
        item_size_checked_once(checked=checked),
        partition_queries(checked=checked),
        uncopied_scans(checked=checked),
        uncopied_queries(checked=checked),  # around partition_queries' Query
        lazy_kms_private_keys(),
        action_names_listed_once(checked=checked),
        routes_found_once(checked=checked),
        structures_parsed_by_their_keys(checked=checked),
        shape_parsers_looked_up_once(checked=checked),
        plain_values_passed_through(checked=checked),
        archives_decoded_once(checked=checked),
    ):
        yield
