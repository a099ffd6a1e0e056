"""Duplicate resources: the last definition wins everywhere, and the dropped ones are reported."""

from __future__ import annotations

from meshctl.sources import load_text
from meshctl.sources.duplicates import resolve_duplicates

A = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 1}]}\n"
B = "apiVersion: v1\nkind: Service\nmetadata: {name: b}\n"
A2 = "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: default}\nspec: {ports: [{port: 2}]}\n"


def test_last_definition_wins_at_first_position() -> None:
    rs = load_text(A + "---\n" + B + "---\n" + A2, "x.yaml")
    kept, dups = resolve_duplicates(rs)
    assert [r.name for r in kept] == ["a", "b"]
    assert kept[0].spec["ports"][0]["port"] == 2
    assert len(dups) == 1 and dups[0].dropped.line == 1 and dups[0].kept.line == 10
    assert "x.yaml:10 replaces x.yaml:1" in dups[0].message()


def test_no_duplicates_is_identity() -> None:
    rs = load_text(A + "---\n" + B, "x.yaml")
    kept, dups = resolve_duplicates(rs)
    assert kept is rs and dups == []
