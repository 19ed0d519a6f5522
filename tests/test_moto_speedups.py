"""moto's shortcuts give the results moto's own code gives.

Every test here runs with ``moto_speedups_checked``: each item response is encoded both ways,
each written item built and size-checked both ways, each Query and Scan answered both ways
(and uncopied), each request's route found again, each request parsed, each result converted and each
archive decoded both ways, and any difference raises ``MotoSpeedupMismatchError`` inside the call.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import boto3
import moto.backend_index as backend_index
import pytest
from botocore.exceptions import ClientError
from moto.awslambda import models as lambda_models
from moto.core.parse import JSONParser
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.responses import DynamoHandler
from moto.kms.models import kms_backends

from signal9_tools import moto_speedups
from signal9_tools.fakes.server import FakeServer
from signal9_tools.moto_speedups import ITEM_SIZE_LIMIT, LazyPrivateKey, MotoSpeedupMismatchError
from tests.handler_support import Fleet, eventbridge_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

TABLE = "encoding-workout"
INDEX = "by-kind"


@pytest.fixture
def moto_speedups_checked() -> bool:
    return True


@pytest.fixture
def client(aws: None) -> Any:
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "kind", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": INDEX,
                "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def item(pk: str, sk: int, **extra: Any) -> dict[str, Any]:
    return {
        "pk": {"S": pk},
        "sk": {"N": str(sk)},
        "kind": {"S": "even" if sk % 2 == 0 else "odd"},
        "price": {"N": "123.4500"},
        "nested": {"M": {"list": {"L": [{"S": "a"}, {"N": "-1"}, {"NULL": True}, {"BOOL": False}]}}},
        "tags": {"SS": ["x", "y"]},
        "sizes": {"NS": ["1", "2.5"]},
        "text": {"S": "na\u00efve \u2013 \u00fcn\u00efcode \u2713"},
        **extra,
    }


def test_every_item_operation_and_option_encodes_as_moto_does(client: Any) -> None:
    key = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    assert client.put_item(TableName=TABLE, Item=item("a", 1), ReturnConsumedCapacity="TOTAL")
    old = client.put_item(TableName=TABLE, Item=item("a", 1, extra={"S": "v2"}), ReturnValues="ALL_OLD")
    assert old["Attributes"]["price"] == {"N": "123.4500"}
    client.batch_write_item(
        RequestItems={TABLE: [{"PutRequest": {"Item": item(pk, sk)}} for pk in "abc" for sk in range(2, 10)]},
        ReturnConsumedCapacity="INDEXES",
        ReturnItemCollectionMetrics="SIZE",
    )
    assert client.get_item(TableName=TABLE, Key=key, ReturnConsumedCapacity="INDEXES")["Item"]["extra"]
    assert "Item" not in client.get_item(TableName=TABLE, Key={"pk": {"S": "none"}, "sk": {"N": "0"}})
    client.get_item(
        TableName=TABLE, Key=key, ProjectionExpression="#n, sizes", ExpressionAttributeNames={"#n": "nested"}
    )
    got = client.batch_get_item(
        RequestItems={
            TABLE: {"Keys": [key, {"pk": {"S": "b"}, "sk": {"N": "2"}}, {"pk": {"S": "zz"}, "sk": {"N": "1"}}]}
        }
    )
    assert len(got["Responses"][TABLE]) == 2
    page = client.query(
        TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "a"}}, Limit=3
    )
    assert page["Count"] == 3 and "LastEvaluatedKey" in page
    client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p AND sk BETWEEN :lo AND :hi",
        FilterExpression="contains(tags, :t)",
        ExpressionAttributeValues={":p": {"S": "b"}, ":lo": {"N": "2"}, ":hi": {"N": "6"}, ":t": {"S": "x"}},
        ScanIndexForward=False,
        ExclusiveStartKey={"pk": {"S": "b"}, "sk": {"N": "7"}},
        ReturnConsumedCapacity="TOTAL",
    )
    assert client.query(
        TableName=TABLE, IndexName=INDEX, KeyConditionExpression="kind = :k",
        ExpressionAttributeValues={":k": {"S": "odd"}}, Select="COUNT",
    )["Count"] > 0  # fmt: skip
    client.query(TableName=TABLE, IndexName=INDEX, KeyConditionExpression="kind = :k",
                 ExpressionAttributeValues={":k": {"S": "even"}}, Limit=4)  # fmt: skip
    scanned = client.scan(
        TableName=TABLE, Limit=5, FilterExpression="sk > :n", ExpressionAttributeValues={":n": {"N": "3"}}
    )
    assert scanned["ScannedCount"] == 5
    client.scan(TableName=TABLE, Segment=1, TotalSegments=2, ProjectionExpression="pk, sk")
    client.scan(TableName=TABLE, Select="COUNT")
    updated = client.update_item(
        TableName=TABLE, Key=key, UpdateExpression="SET price = price + :d, added = :n REMOVE extra",
        ExpressionAttributeValues={":d": {"N": "1"}, ":n": {"L": []}}, ReturnValues="ALL_NEW",
    )  # fmt: skip
    assert Decimal(updated["Attributes"]["price"]["N"]) == Decimal("124.45")
    client.update_item(TableName=TABLE, Key=key, UpdateExpression="ADD tags :t",
                       ExpressionAttributeValues={":t": {"SS": ["z"]}}, ReturnValues="UPDATED_OLD")  # fmt: skip
    client.update_item(
        TableName=TABLE, Key=key, UpdateExpression="SET n2 = :v", ExpressionAttributeValues={":v": {"N": "0"}}
    )
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": item("t", 1)}},
            {"Update": {"TableName": TABLE, "Key": key, "UpdateExpression": "SET done = :y",
                        "ExpressionAttributeValues": {":y": {"BOOL": True}}}},
            {"ConditionCheck": {"TableName": TABLE, "Key": {"pk": {"S": "b"}, "sk": {"N": "2"}},
                                "ConditionExpression": "attribute_exists(pk)"}},
            {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "c"}, "sk": {"N": "9"}}}},
        ],
        ReturnConsumedCapacity="TOTAL",
    )  # fmt: skip
    transacted = client.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE, "Key": key}}])
    assert transacted["Responses"][0]["Item"]["done"] == {"BOOL": True}
    assert client.delete_item(TableName=TABLE, Key=key, ReturnValues="ALL_OLD")["Attributes"]
    client.delete_item(TableName=TABLE, Key={"pk": {"S": "none"}, "sk": {"N": "0"}})
    client.batch_write_item(RequestItems={TABLE: [{"DeleteRequest": {"Key": {"pk": {"S": "a"}, "sk": {"N": "2"}}}}]})


def test_queries_of_missing_partitions_and_of_a_hash_only_table_find_what_moto_finds(client: Any) -> None:
    client.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": item("a", sk)}} for sk in range(3)]})
    absent = client.query(
        TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "b"}}
    )
    assert absent["Count"] == 0
    client.create_table(
        TableName="hash-only",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.put_item(TableName="hash-only", Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    for pk, count in (("a", 1), ("b", 0)):
        found = client.query(
            TableName="hash-only", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": pk}}
        )
        assert found["Count"] == count
    # Looking a partition up never adds an empty one (moto keeps partitions in a defaultdict).
    assert client.scan(TableName="hash-only")["Count"] == 1


def test_a_query_answered_from_other_items_than_motos_is_caught(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client.put_item(TableName=TABLE, Item=item("a", 1))
    # Treat index queries as table queries: the shortcut then looks in the table's partitions.
    monkeypatch.setattr(moto_speedups, "QUERY_INDEX_NAME_POSITION", 99)
    with pytest.raises(MotoSpeedupMismatchError, match="partition lookup"):
        client.query(
            TableName=TABLE, IndexName=INDEX, KeyConditionExpression="kind = :k",
            ExpressionAttributeValues={":k": {"S": "odd"}},
        )  # fmt: skip


def test_a_scan_that_hands_out_other_items_than_motos_is_caught(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client.put_item(TableName=TABLE, Item=item("a", 1))

    def trimmed(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Item):
            return Item(
                value.hash_key, value.range_key, {k: v.to_json() for k, v in value.attrs.items() if k != "price"}
            )
        return value

    monkeypatch.setattr(moto_speedups._Uncopied, "deepcopy", staticmethod(trimmed))
    with pytest.raises(MotoSpeedupMismatchError, match="Scan of encoding-workout"):
        client.scan(TableName=TABLE)


def test_a_query_that_hands_out_other_items_than_motos_is_caught(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client.put_item(TableName=TABLE, Item=item("a", 1))

    def trimmed(value: Any, memo: Any = None) -> Any:  # moto's Query copies its list of matches
        return [
            Item(i.hash_key, i.range_key, {k: v.to_json() for k, v in i.attrs.items() if k != "price"}) for i in value
        ]

    monkeypatch.setattr(moto_speedups._Uncopied, "deepcopy", staticmethod(trimmed))
    with pytest.raises(MotoSpeedupMismatchError, match="Query of encoding-workout: moto finds"):
        client.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "a"}})


def test_projected_and_filtered_queries_and_scans_leave_the_stored_items_as_they_were(client: Any) -> None:
    stored = item("a", 1)
    client.put_item(TableName=TABLE, Item=stored)
    key = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    for read in (client.query, client.scan):
        arguments = {"KeyConditionExpression": "pk = :p"} if read == client.query else {}
        found = read(
            TableName=TABLE,
            ProjectionExpression="pk, sk, nested, price",
            FilterExpression="price > :min",
            ExpressionAttributeValues={":min": {"N": "1"}, **({":p": {"S": "a"}} if read == client.query else {})},
            **arguments,
        )["Items"]
        assert found == [{key: stored[key] for key in ("pk", "sk", "nested", "price")}]
        assert client.get_item(TableName=TABLE, Key=key)["Item"] == stored


def kms_key(key_id: str) -> Any:
    return kms_backends["123456789012"]["us-east-1"].keys[key_id]


def test_an_encrypted_table_creates_its_kms_key_without_a_key_pair(client: Any) -> None:
    client.create_table(
        TableName="encrypted",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True},
    )
    key_arn = client.describe_table(TableName="encrypted")["Table"]["SSEDescription"]["KMSMasterKeyArn"]
    private_key = kms_key(key_arn.rsplit("/", 1)[-1]).private_key
    assert isinstance(private_key, LazyPrivateKey) and private_key.generated is None


@pytest.mark.parametrize(
    ("spec", "algorithm"), [("RSA_2048", "RSASSA_PSS_SHA_256"), ("ECC_NIST_P256", "ECDSA_SHA_256")]
)
def test_an_asymmetric_key_signs_and_verifies_with_the_pair_moto_generates_on_first_use(
    aws: None, spec: str, algorithm: str
) -> None:
    kms = boto3.client("kms")
    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec=spec)["KeyMetadata"]["KeyId"]
    assert kms_key(key_id).private_key.generated is None
    signature = kms.sign(KeyId=key_id, Message=b"signal9", SigningAlgorithm=algorithm)["Signature"]
    assert kms_key(key_id).private_key.generated is not None
    verified = kms.verify(KeyId=key_id, Message=b"signal9", Signature=signature, SigningAlgorithm=algorithm)
    assert verified["SignatureValid"]
    assert kms.get_public_key(KeyId=key_id)["PublicKey"]
    forged = kms.verify(KeyId=key_id, Message=b"signal8", Signature=signature, SigningAlgorithm=algorithm)
    assert not forged["SignatureValid"]


def test_a_binary_attribute_is_left_to_moto(client: Any) -> None:
    client.put_item(TableName=TABLE, Item=item("bin", 1, blob={"B": b"\x00\xff"}, blobs={"BS": [b"a", b"b"]}))
    stored = client.get_item(TableName=TABLE, Key={"pk": {"S": "bin"}, "sk": {"N": "1"}})["Item"]
    assert stored["blob"] == {"B": b"\x00\xff"} and sorted(stored["blobs"]["BS"]) == [b"a", b"b"]


def test_pollenations_encode_as_moto_does(
    moto_tables: dict[str, str], monkeypatch: pytest.MonkeyPatch, alphavantage: FakeServer
) -> None:
    # The heaviest real workload: five datasets, ~100 statement rows, the pollenation transaction.
    fleet = Fleet(moto_tables, monkeypatch, alphavantage_url=alphavantage.url)
    event: dict[str, Any] = {"symbol": "IBM", "reason": "regular", "requestedAt": "2026-11-02T20:00:00Z"}
    first = fleet.invoke("PollenateAsset", eventbridge_event("pollenationNeeded", event))
    repeat = fleet.invoke(
        "PollenateAsset", eventbridge_event("pollenationNeeded", {**event, "requestedAt": "2026-11-03T20:00:00Z"})
    )
    assert first["collection"] == repeat["collection"] == "collected"
    assert Counter(row["symbol"] for row in fleet.rows("assets"))["IBM"] == 2


def test_an_encoding_that_differs_from_motos_is_caught(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def miscounting(document: Any) -> str:
        if isinstance(document, dict) and "Count" in document:
            document = {**document, "Count": document["Count"] + 1}
        return json.dumps(document)

    monkeypatch.setattr(moto_speedups, "json", SimpleNamespace(dumps=miscounting, loads=json.loads))
    client.put_item(TableName=TABLE, Item=item("a", 1))
    with pytest.raises(MotoSpeedupMismatchError, match="Query: moto encodes 200"):
        client.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "a"}})


@pytest.mark.parametrize("over", [-1, 0, 1, 40], ids=["just-under", "at", "just-over", "over"])
def test_items_around_the_size_limit_are_accepted_and_refused_as_moto_does(client: Any, over: int) -> None:
    # Attribute names and values count; one big string makes the total land exactly where asked.
    base = {"pk": {"S": "big"}, "sk": {"N": "1"}}
    overhead = sum(len(name) for name in base) + len("big") + 1 + len("blob")  # N "1" is 1 byte here
    filler = "x" * (ITEM_SIZE_LIMIT - overhead + over)
    if over > 0:
        with pytest.raises(ClientError, match="Item size has exceeded the maximum allowed size"):
            client.put_item(TableName=TABLE, Item={**base, "blob": {"S": filler}})
    else:
        client.put_item(TableName=TABLE, Item={**base, "blob": {"S": filler}})
        stored = client.get_item(TableName=TABLE, Key=base)["Item"]
        assert len(stored["blob"]["S"]) == len(filler)


def test_a_size_check_that_differs_from_motos_is_caught(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto_speedups, "ITEM_SIZE_LIMIT", 1_000)
    with pytest.raises(MotoSpeedupMismatchError, match="moto accepts it, the one-pass check refuses it"):
        client.put_item(TableName=TABLE, Item=item("a", 1, blob={"S": "x" * 2_000}))


def test_each_services_actions_are_found_as_moto_finds_them(client: Any) -> None:
    # Every call here lists its response class's methods both ways (checked): DynamoDB's, then
    # other services' (JSON, query and REST protocols), and an action moto lacks fails as in moto.
    client.put_item(TableName=TABLE, Item=item("a", 1))
    assert client.get_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})["Item"]
    queue = boto3.client("sqs").create_queue(QueueName="listed-once")["QueueUrl"]
    boto3.client("sqs").send_message(QueueUrl=queue, MessageBody="x")
    assert boto3.client("iam").create_role(RoleName="listed-once", AssumeRolePolicyDocument="{}")["Role"]
    assert boto3.client("lambda").list_functions()["Functions"] == []
    with pytest.raises(NotImplementedError, match="The describe_contributor_insights action has not been implemented"):
        client.describe_contributor_insights(TableName=TABLE)


def test_a_response_class_whose_methods_changed_is_caught(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client.get_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})  # DynamoHandler listed
    monkeypatch.setattr(DynamoHandler, "a_new_action", lambda self: None, raising=False)
    with pytest.raises(MotoSpeedupMismatchError, match="DynamoHandler: its methods changed after they were listed"):
        client.get_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})


def test_a_request_whose_route_moto_would_now_find_elsewhere_is_caught(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every service's second request takes the route its first found (checked: found again and compared).
    for _ in range(2):
        assert client.get_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"N": "1"}}).get("Item") is None
        assert boto3.client("lambda").list_functions()["Functions"] == []
        assert boto3.client("sqs").list_queues().get("QueueUrls") is None
    monkeypatch.setattr(backend_index, "backend_url_patterns", [])  # moto would now find no route
    with pytest.raises(MotoSpeedupMismatchError, match=r"https://dynamodb.us-east-1.amazonaws.com/: moto now routes"):
        client.get_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})


def test_requests_are_parsed_as_moto_parses_them(client: Any) -> None:
    # Checked: each structure walked both ways (the given keys, moto's every member) and each value's
    # parser found both ways: items with every attribute type, binary ones, nulls and unknown keys.
    client.put_item(TableName=TABLE, Item=item("p", 1, blob={"B": b"\x00\xff"}, blobs={"BS": [b"a"]}))
    client.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": item("p", n)}} for n in range(2, 27)]})
    found = client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p AND sk BETWEEN :low AND :high",
        ExpressionAttributeValues={":p": {"S": "p"}, ":low": {"N": "1"}, ":high": {"N": "30"}},
        Limit=30,
        ReturnConsumedCapacity="TOTAL",
    )
    assert found["Count"] == 26
    assert boto3.client("events").put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}])
    # REST-JSON (a service moto parses as it does DynamoDB): a parser class with parsers of its own.
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        boto3.client("emr-serverless").get_application(applicationId="none-here")


def test_a_structure_walked_otherwise_than_moto_walks_it_is_caught(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def without_the_last_member(shape: Any) -> Any:
        members = tuple(
            (name, member.serialization.get("name", name), member) for name, member in shape.members.items()
        )
        return members[:-1], {wire: place for place, (_, wire, _) in enumerate(members[:-1])}

    monkeypatch.setattr(moto_speedups, "_members", without_the_last_member)
    with pytest.raises(MotoSpeedupMismatchError, match="moto parses"):
        client.put_item(TableName=TABLE, Item=item("a", 1), ReturnValues="ALL_OLD")


def test_a_parser_changed_after_it_was_looked_up_is_caught(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client.put_item(TableName=TABLE, Item=item("a", 1))  # JSONParser's parsers looked up
    monkeypatch.setattr(JSONParser, "_parse_string", lambda self, shape, value: value, raising=False)
    with pytest.raises(MotoSpeedupMismatchError, match="JSONParser: its parser of string changed"):
        client.put_item(TableName=TABLE, Item=item("a", 1))


def test_a_result_converted_otherwise_than_moto_converts_it_is_caught(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.put_item(TableName=TABLE, Item=item("a", 1))  # a map attribute: a dict of moto's DynamoType values
    monkeypatch.setattr(moto_speedups, "PLAIN_VALUES", moto_speedups.PLAIN_VALUES | {dict})  # left unconverted
    with pytest.raises(MotoSpeedupMismatchError, match="a DynamoDB result: moto converts it to"):
        client.get_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})


def test_archives_with_the_same_ends_are_each_decoded_as_moto_decodes_them(aws: None) -> None:
    # An archive's base64 is looked up by its length and ends, then compared whole (checked: decoded again).
    first, second = (base64.b64encode(b"PK" + b"a" * 9_000 + middle + b"z" * 9_000).decode() for middle in (b"1", b"2"))
    assert first[:4096] == second[:4096] and first[-4096:] == second[-4096:] and first != second
    for content in (first, second, first, second.encode()):
        assert lambda_models._zipfile_content(content)[3] == hashlib.sha256(base64.b64decode(content)).hexdigest()


def test_an_archive_decoded_otherwise_than_moto_decodes_it_is_caught(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = base64.b64encode(b"PK" + b"a" * 9_000).decode()
    stale = (content, (b"", 0, "", ""))  # a decoding that is not this archive's
    key = (len(content), content[: moto_speedups.ARCHIVE_PROBE], content[-moto_speedups.ARCHIVE_PROBE :])
    monkeypatch.setitem(moto_speedups._decoded_archives, key, stale)
    with pytest.raises(MotoSpeedupMismatchError, match="an archive of 12004 characters: moto decodes it otherwise"):
        lambda_models._zipfile_content(content)
