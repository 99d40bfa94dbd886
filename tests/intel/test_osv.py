"""Reading OSV records and deciding which versions they cover."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from safe_pip.intel.osv import RecordError, parse_record


def test_malicious_report_with_file_hashes(records: dict[str, dict[str, Any]]) -> None:
    adv = parse_record(records["MAL-2026-15859"])
    assert adv.kind == "malicious" and adv.level == "critical"
    (aff,) = adv.affected
    assert aff.name == "0requests"
    assert aff.affects("0.0.1") and not aff.affects("0.0.2")
    digests = {sha for sha, _ in aff.files}
    assert "c8784cf0aa8fa13a43614fbd6d51902feeecafdc06fc4db2695fd2572db66db8" in digests
    # The origin's sha256 is the digest of a report, not of a package file.
    assert "b42d4eed37375dfa065db35c2e08365b9557b442c935e645b3e82564c4c32d7c" not in digests


def test_ranges_follow_osv_event_order(records: dict[str, dict[str, Any]]) -> None:
    (aff,) = parse_record(records["PYSEC-2021-59"]).affected
    assert aff.affects("1.26.4") and aff.affects("1.0") and aff.affects("1.26.5rc1")
    assert not aff.affects("1.26.5") and not aff.affects("2.0.0")
    assert aff.fixed_versions() == ("1.26.5",)


def test_several_ranges_and_last_affected() -> None:
    doc = {
        "id": "GHSA-test",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "Demo_Pkg"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [
                            {"introduced": "2.0"},
                            {"last_affected": "2.2"},
                            {"introduced": "1.0"},
                            {"fixed": "1.5"},
                        ],
                    },
                    {"type": "GIT", "events": [{"introduced": "abc123"}]},
                ],
            }
        ],
    }
    (aff,) = parse_record(doc).affected
    assert aff.name == "demo-pkg"
    assert [
        v for v in ("0.9", "1.0", "1.4", "1.5", "1.9", "2.0", "2.2", "2.2.1") if aff.affects(v)
    ] == [
        "1.0",
        "1.4",
        "2.0",
        "2.2",
    ]


def test_unorderable_version_only_matches_open_ranges(records: dict[str, dict[str, Any]]) -> None:
    (jinja,) = parse_record(records["PYSEC-2021-66"]).affected
    assert not jinja.affects("not-a-version")
    (mal,) = parse_record(
        {
            **records["MAL-2024-12186"],
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": "a-oder"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
                }
            ],
        }
    ).affected
    assert mal.affects("not-a-version") and mal.affects("999")


def test_severity_from_cvss_vector_then_ghsa_rating(records: dict[str, dict[str, Any]]) -> None:
    ghsa = parse_record(records["GHSA-q2q7-5pp4-w6pg"])
    assert ghsa.level == "high" and ghsa.score == 7.5
    moderate = parse_record(records["GHSA-g3rq-g295-4j3m"])
    assert moderate.level == "medium" and moderate.score == 5.3
    no_vector = copy.deepcopy(records["GHSA-g3rq-g295-4j3m"])
    del no_vector["severity"]
    assert parse_record(no_vector).level == "medium"
    assert parse_record(records["PYSEC-2021-66"]).level == "unknown"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema_version": "2.0.0"}, "not supported"),
        ({"id": ""}, "no id"),
        ({"modified": "yesterday"}, "RFC 3339"),
        ({"affected": [{"package": {"ecosystem": "PyPI"}}]}, "no name"),
        (
            {
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": "x"},
                        "ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": "not pep440"}]}],
                    }
                ]
            },
            "PEP 440",
        ),
    ],
)
def test_unreadable_records_are_refused(
    records: dict[str, dict[str, Any]], change: dict[str, Any], message: str
) -> None:
    with pytest.raises(RecordError, match=message):
        parse_record({**records["PYSEC-2021-66"], **change})


def test_other_ecosystems_are_ignored() -> None:
    doc = {
        "id": "GHSA-npm",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"}, "versions": ["1.0"]}],
    }
    assert parse_record(doc).affected == ()
