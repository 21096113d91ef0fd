"""The matchmaker's query language: Nakama's (Bleve's query-string syntax), parsed with luqum and
compiled once per query into one Python function over the other ticket's properties.

A ticket's query is matched against another ticket's properties: `string_properties` and
`numeric_properties`, both addressed as `properties.<name>` (a name given in both is numeric, as
Nakama merges the two maps). What Kizuna implements, construct by construct:

- `*` (or an empty query, which Nakama's socket turns into `*`): always.
- `properties.region:europe`: the string property is exactly `europe` (Nakama indexes strings as
  keywords: no tokenising, case-sensitive).
- `properties.rank:5` (a number): the numeric property equals 5, or the string property is `5`.
- `properties.name:"john smith"` (a phrase): the string property is exactly `john smith`.
- `properties.rank:>5`, `:>=5`, `:<5`, `:<=5`: the *numeric* property is in range (a string never
  is); negative bounds are allowed. Lucene's `[5 TO 10]`, `{5 TO 10]`, `[5 TO *]` (luqum's syntax;
  Bleve has only `>`/`<`) mean the same.
- `properties.when:>="2024-01-01T00:00:00Z"`: the string property is a date (RFC 3339, or
  `YYYY-MM-DD[ HH:MM:SS]`) in range.
- `properties.region:eu*` (also `?`): the string property matches the wildcard (matched in
  linear time); `properties.region:*` matches when the property exists.
- `properties.name:jon~`, `~2`: the string property is within 1 (or 2) edits.
- `properties.region:/eu-.*/` (a regular expression) is refused: Python's engine backtracks
  (Go's, Nakama's, does not), so one crafted query and a few properties could stall the node.
- A term with no field (`europe`): never (Nakama's documents have no default field).

Combining: `+clause` is required, `-clause` (or `NOT clause`) excluded, a bare clause optional;
as in Bleve, every required clause must match, no excluded one may, and when a query (or group)
has no required clause at least one optional clause must match (a query of only exclusions
matches everything else). Luqum also gives Lucene's `AND` / `OR` and parentheses, which Bleve's
syntax lacks; Kizuna honours them (`a AND b`: both required, `a OR b`: at least one).

Scores and boosts: as in Nakama (constant similarity), a matching candidate scores the sum of the
boosts (`^N`, default 1) of the clauses it matches; a boosted group multiplies its own score.
The engine offers a ticket its candidates highest score first, then longest waiting first.

Invalid queries raise `KizunaError(INVALID_ARGUMENT, "Invalid matchmaker query: ...")`.

Compiling: luqum's tree becomes a small intermediate form, then the source of one function whose
every query value (field names, texts, numbers) is bound as a default argument, never written
into the source; queries of one shape (other values) share one code object. Compiled queries are
cached by text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from types import CodeType, FunctionType
from typing import Any

from luqum import tree as lq
from luqum.exceptions import ParseError
from luqum.thread import parse as _luqum_parse

from kizuna.errors import Code, KizunaError

__all__ = ["Evaluator", "Key", "NumericRange", "Query", "compile_query"]

# An exact value a ticket may have: (field, string) or (field, float). Both index tickets.
Key = tuple[str, str | float]

# Evaluates a query against (string properties, numeric properties): the score, or -1.0.
Evaluator = Callable[[Mapping[str, str], Mapping[str, float]], float]

MAX_QUERY_LENGTH = 4096  # bytes of a socket message; a longer query never came from a client
_MAX_DEPTH = 24  # nesting of groups and operators; keeps compilation far from recursion limits
_MAX_PATTERN = 128  # characters of a wildcard or fuzzy term
_NAN = math.nan
_INF = math.inf
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_ESCAPED = re.compile(r"\\(.)")
# luqum reads `>=-5` as `>=` then a prohibition; escaping the sign keeps it in the bound.
_NEGATIVE_BOUND = re.compile(r"(:[<>]=?)-(?=[0-9.])")


@dataclass(frozen=True, slots=True)
class NumericRange:
    """A required numeric range on one field (several on the same field are intersected)."""
    field: str
    low: float
    low_inclusive: bool
    high: float
    high_inclusive: bool

    def contains(self, value: float) -> bool:
        if value < self.low or (value == self.low and not self.low_inclusive):
            return False
        return not (value > self.high or (value == self.high and not self.high_inclusive))


@dataclass(frozen=True, slots=True)
class Query:
    """A compiled query: `evaluate(strings, numbers)` is the score of a candidate, -1.0 if it
    does not match; the rest tells the engine which index can find candidates."""
    text: str
    evaluate: Evaluator
    # Scores can differ between matching candidates (optional clauses beside required ones,
    # several optional clauses, boosts): the engine then ranks candidates by score.
    scored: bool
    best_score: float  # no candidate scores more (when a candidate does, look no further)
    match_all: bool
    # Required exact terms, by field (sorted): a candidate's value of each field must be one of
    # the values given (a number term gives its text and its number; none left: nothing matches).
    must_terms: tuple[tuple[str, tuple[str | float, ...]], ...]
    # Required numeric ranges, one per field.
    must_ranges: tuple[NumericRange, ...]
    # When the query is only optional exact terms: a candidate must have one of these keys.
    any_keys: tuple[Key, ...] | None


def invalid_query(detail: str) -> KizunaError:
    return KizunaError(Code.INVALID_ARGUMENT, f"Invalid matchmaker query: {detail}")


# -- the intermediate form --------------------------------------------------------------------


@dataclass(slots=True)
class _Term:  # exact string, and the number when the text is one
    field: str
    text: str
    number: float | None
    boost: float = 1.0


@dataclass(slots=True)
class _Exists:
    field: str
    boost: float = 1.0


@dataclass(slots=True)
class _Pattern:  # a wildcard over the string value
    field: str
    glob: _Glob
    boost: float = 1.0


@dataclass(slots=True)
class _Fuzzy:
    field: str
    text: str
    edits: int
    boost: float = 1.0


@dataclass(slots=True)
class _Range:
    field: str
    low: float
    low_inclusive: bool
    high: float
    high_inclusive: bool
    dates: bool  # bounds are timestamps, compared with the string value read as a date
    boost: float = 1.0


@dataclass(slots=True)
class _Const:  # `*` matches all; a term without a field matches nothing
    value: bool
    boost: float = 1.0


@dataclass(slots=True)
class _Bool:
    must: list[_Node]
    should: list[_Node]
    must_not: list[_Node]
    boost: float = 1.0


_Node = _Term | _Exists | _Pattern | _Fuzzy | _Range | _Const | _Bool


def _unescape(text: str) -> str:
    return _ESCAPED.sub(r"\1", text)


def _number(text: str) -> float | None:
    return float(text) if _NUMBER.fullmatch(text) else None


def _boost_value(force: Any) -> float:
    value = float(force)
    if not math.isfinite(value) or value < 0:
        raise invalid_query(f"boost {force} must be a finite number >= 0")
    return value


def _date(text: str) -> float | None:
    """Seconds since the epoch of a date as Nakama indexes them, None if the text is not one."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


class _Builder:
    """luqum's tree → the intermediate form, with the field in scope."""

    def node(self, item: lq.Item, field: str | None, depth: int) -> _Node:
        if depth > _MAX_DEPTH:
            raise invalid_query(f"nested more than {_MAX_DEPTH} levels deep")
        depth += 1
        if isinstance(item, lq.SearchField):
            name = _unescape(item.name)
            if name == "*" and isinstance(item.expr, lq.Word) and item.expr.value == "*":
                return _Const(True)  # Lucene's *:*
            return self.node(item.expr, name, depth)
        if isinstance(item, lq.Boost):
            inner = self.node(item.expr, field, depth)
            inner.boost *= _boost_value(item.force)
            return inner
        if isinstance(item, (lq.Group, lq.FieldGroup)):
            return self.node(item.expr, field, depth)
        if isinstance(item, (lq.UnknownOperation, lq.AndOperation, lq.OrOperation)):
            return self.operation(item, field, depth)
        if isinstance(item, (lq.Plus, lq.Prohibit, lq.Not)):
            # A lone +x / -x, or `field:-5` (Bleve reads a negative number there).
            if field is not None and isinstance(item, lq.Prohibit) and isinstance(item.a, lq.Word):
                return self.word("-" + item.a.value, field)
            if field is not None and isinstance(item, lq.Prohibit) and isinstance(item.a, lq.Boost) \
                    and isinstance(item.a.expr, lq.Word):
                inner = self.word("-" + item.a.expr.value, field)
                inner.boost *= _boost_value(item.a.force)
                return inner
            return self.operation(lq.UnknownOperation(item), field, depth)
        if isinstance(item, lq.Word):
            return self.word(item.value, field)
        if isinstance(item, lq.Phrase):
            if field is None:
                return _Const(False)
            return _Term(field, _unescape(item.value[1:-1]), None)
        if isinstance(item, lq.Proximity):  # a phrase is one keyword: proximity changes nothing
            return self.node(item.term, field, depth)
        if isinstance(item, lq.Regex):
            # Python's regular expressions backtrack (Go's, which Nakama uses, do not): one
            # query could stall the node on crafted properties. Not offered.
            raise invalid_query(f"regular expressions ({item.value}) are not supported")
        if isinstance(item, lq.Fuzzy):
            if field is None or not isinstance(item.term, lq.Word):
                return _Const(False)
            # Bleve: `~` alone allows one edit, `~N` N edits.
            edits = 1 if item._implicit_degree else int(item.degree)
            if edits < 0 or edits > 2:
                raise invalid_query(f"fuzziness {item.degree} must be 0, 1 or 2")
            if len(item.term.value) > _MAX_PATTERN:
                raise invalid_query(f"fuzzy term longer than {_MAX_PATTERN} characters")
            return _Fuzzy(field, _unescape(item.term.value), edits)
        if isinstance(item, (lq.From, lq.To)):
            if field is None:
                raise invalid_query(f"range {item} needs a field")
            low, high = (item.a, None) if isinstance(item, lq.From) else (None, item.a)
            return self.range(field, low, bool(item.include), high, bool(item.include), str(item))
        if isinstance(item, lq.Range):
            if field is None:
                raise invalid_query(f"range {item} needs a field")
            return self.range(field, item.low, bool(item.include_low), item.high,
                              bool(item.include_high), str(item))
        raise invalid_query(f"unsupported syntax {str(item).strip()!r}")

    def operation(self, item: lq.BaseOperation, field: str | None, depth: int) -> _Bool:
        out = _Bool([], [], [])
        for operand in item.operands:
            if isinstance(operand, lq.Plus):
                out.must.append(self.node(operand.a, field, depth))
            elif isinstance(operand, (lq.Prohibit, lq.Not)):
                out.must_not.append(self.node(operand.a, field, depth))
            elif isinstance(item, lq.AndOperation):
                out.must.append(self.node(operand, field, depth))
            else:
                out.should.append(self.node(operand, field, depth))
        return out

    def word(self, raw: str, field: str | None) -> _Node:
        if raw == "*":
            return _Exists(field) if field is not None else _Const(True)
        if field is None:
            return _Const(False)
        term = lq.Word(raw)
        if term.has_wildcard():
            if len(raw) > _MAX_PATTERN:
                raise invalid_query(f"wildcard term longer than {_MAX_PATTERN} characters")
            return _Pattern(field, _Glob(term.split_wildcards()))
        text = _unescape(raw)
        return _Term(field, text, self.negative(text) if text.startswith("-") else _number(text))

    @staticmethod
    def negative(text: str) -> float | None:
        number = _number(text[1:])
        return -number if number is not None else None

    def range(self, field: str, low: lq.Item | None, low_inclusive: bool, high: lq.Item | None,
              high_inclusive: bool, shown: str) -> _Range:
        bounds: list[float] = []
        kinds: set[str] = set()
        for bound, infinite in ((low, -_INF), (high, _INF)):
            value, kind = self.bound(bound, shown)
            bounds.append(infinite if value is None else value)
            if kind:
                kinds.add(kind)
        if len(kinds) > 1:
            raise invalid_query(f"range {shown.strip()} mixes a number and a date")
        if bounds[0] == -_INF and bounds[1] == _INF:
            raise invalid_query(f"range {shown.strip()} needs a bound")
        return _Range(field, bounds[0], low_inclusive, bounds[1], high_inclusive, kinds == {"date"})

    def bound(self, item: lq.Item | None, shown: str) -> tuple[float | None, str]:
        if item is None or (isinstance(item, lq.Word) and item.value == "*"):
            return None, ""
        if isinstance(item, lq.Prohibit) and isinstance(item.a, lq.Word):
            number = _number(_unescape(item.a.value))
            if number is not None:
                return -number, "number"
        if isinstance(item, lq.Word):
            text = _unescape(item.value)
            number = self.negative(text) if text.startswith("-") else _number(text)
            if number is not None:
                return number, "number"
        if isinstance(item, lq.Phrase):
            when = _date(_unescape(item.value[1:-1]))
            if when is not None:
                return when, "date"
            raise invalid_query(f"range {shown.strip()}: {item.value} is not a date")
        raise invalid_query(f"range {shown.strip()}: bounds must be numbers (or quoted dates)")


# -- compilation to one function -------------------------------------------------------------


def _fuzzy(value: str | None, text: str, edits: int) -> bool:
    """Whether the Levenshtein distance of value and text is at most `edits` (0-2). Only the
    band of the table within `edits` of its diagonal is computed: linear in the length."""
    if value is None or abs(len(value) - len(text)) > edits:
        return False
    if edits == 0 or value == text:
        return value == text
    far = edits + 1
    previous = {j: j for j in range(min(len(text), edits) + 1)}
    for i, a in enumerate(value, 1):
        current = {i - edits - 1: far} if i - edits - 1 >= 0 else {}
        low, high = max(0, i - edits), min(len(text), i + edits)
        best = far
        for j in range(low, high + 1):
            if j == 0:
                cost = i
            else:
                cost = min(previous.get(j, far) + 1, current.get(j - 1, far) + 1,
                           previous.get(j - 1, far) + (a != text[j - 1]))
            current[j] = cost
            best = min(best, cost)
        if best > edits:
            return False
        previous = current
    return previous.get(len(text), far) <= edits


class _Glob:
    """A wildcard term (`*`: any run of characters, `?`: any one) matched without
    backtracking: the pieces between stars have fixed lengths and must appear in order, so the
    leftmost place of each is the right one. Linear in the value for a given term."""

    __slots__ = ("pieces",)

    def __init__(self, parts: list[str]) -> None:
        # luqum splits a term into text and wildcards (`\\*` is an escaped backslash, then *).
        pieces: list[list[str | None]] = [[]]  # characters; None for ?
        for part in parts:
            if part in ("*", "?") or (len(part) == 3 and part[:2] == "\\\\"
                                      and part[2] in "*?"):
                if len(part) == 3:
                    pieces[-1].append("\\")
                if part[-1] == "*":
                    pieces.append([])
                else:
                    pieces[-1].append(None)
            else:
                pieces[-1].extend(_unescape(part))
        self.pieces = [
            (re.compile("".join("." if c is None else re.escape(c) for c in piece), re.DOTALL),
             len(piece))
            for piece in pieces]

    def __call__(self, value: str | None) -> bool:
        if value is None:
            return False
        pieces = self.pieces
        if len(pieces) == 1:
            return pieces[0][0].fullmatch(value) is not None
        (head, start), (tail, tail_length) = pieces[0], pieces[-1]
        end = len(value) - tail_length
        if end < start or head.match(value) is None or tail.fullmatch(value, end) is None:
            return False
        for piece, _ in pieces[1:-1]:
            found = piece.search(value, start, end)
            if found is None:
                return False
            start = found.end()
        return True


@lru_cache(maxsize=1024)
def _date_of(value: str) -> float:
    when = _date(value)
    return _NAN if when is None else when


def _date_value(value: str | None) -> float:
    if value is None or len(value) > 40:  # no date is longer
        return _NAN
    return _date_of(value)


class _Codegen:
    """Emits a Python expression per node. Every value that comes from the query (fields,
    texts, numbers, patterns) is bound as a constant argument `_kN`; the source holds only
    names this class makes, so no query text ever becomes code."""

    def __init__(self) -> None:
        self.constants: list[object] = []

    def const(self, value: object) -> str:
        self.constants.append(value)
        return f"_k{len(self.constants) - 1}"

    def match(self, node: _Node) -> str:
        if isinstance(node, _Const):
            return "True" if node.value else "False"
        if isinstance(node, _Term):
            f = self.const(node.field)
            text = f"s.get({f}) == {self.const(node.text)}"
            if node.number is None:
                return f"({text})"
            return f"({text} or n.get({f}) == {self.const(node.number)})"
        if isinstance(node, _Exists):
            f = self.const(node.field)
            return f"({f} in s or {f} in n)"
        if isinstance(node, _Pattern):
            return f"{self.const(node.glob)}(s.get({self.const(node.field)}))"
        if isinstance(node, _Fuzzy):
            return (f"_fuzzy(s.get({self.const(node.field)}), {self.const(node.text)}, "
                    f"{self.const(node.edits)})")
        if isinstance(node, _Range):
            f = self.const(node.field)
            value = f"_date_value(s.get({f}))" if node.dates else f"n.get({f}, _NAN)"
            low = "<=" if node.low_inclusive else "<"
            high = "<=" if node.high_inclusive else "<"
            return (f"({self.const(node.low)} {low} {value} {high} {self.const(node.high)})")
        parts = [self.match(m) for m in node.must]
        parts += [f"not {self.match(m)}" for m in node.must_not]
        if node.should and not node.must:
            parts.append("(" + " or ".join(self.match(s) for s in node.should) + ")")
        return "(" + (" and ".join(parts) if parts else "True") + ")"

    def score(self, node: _Node) -> str:
        """The score of a node known to match."""
        if not isinstance(node, _Bool):
            return self.const(node.boost)
        terms = [self.score(m) for m in node.must]
        terms += [f"({self.score(s)} if {self.match(s)} else 0.0)" for s in node.should]
        if not node.must and not node.should:
            terms = ["1.0"]  # only exclusions: Bleve starts from match-all, scored 1
        total = " + ".join(terms)
        return f"(({total}) * {self.const(node.boost)})" if node.boost != 1.0 else f"({total})"

    def function(self, top: _Bool) -> Evaluator:
        """The top level as statements, so each clause is evaluated once."""
        lines = []
        for m in top.must:
            lines.append(f"    if not {self.match(m)}: return -1.0")
        for m in top.must_not:
            lines.append(f"    if {self.match(m)}: return -1.0")
        must_score = " + ".join(self.score(m) for m in top.must) or "0.0"
        if not top.must and not top.should:
            must_score = "1.0"
        lines.append(f"    sc = {must_score}")
        need_one = bool(top.should) and not top.must
        if need_one:
            lines.append("    hit = False")
        for s in top.should:
            lines.append(f"    if {self.match(s)}:")
            lines.append(f"        sc += {self.score(s)}")
            if need_one:
                lines.append("        hit = True")
        if need_one:
            lines.append("    if not hit: return -1.0")
        if top.boost != 1.0:
            lines.append(f"    return sc * {self.const(top.boost)}")
        else:
            lines.append("    return sc")
        params = "".join(f", _k{i}=None" for i in range(len(self.constants)))
        source = f"def _query(s, n{params}):\n" + "\n".join(lines) + "\n"
        # Queries of one shape (the same clauses, other values) share one code object: only the
        # constants, bound as the arguments' defaults, differ.
        fn: Evaluator = FunctionType(_code(source), _GLOBALS, "_query", tuple(self.constants))
        return fn


_GLOBALS: dict[str, Any] = {
    "__builtins__": {},
    "_NAN": _NAN, "_fuzzy": _fuzzy, "_date_value": _date_value,
}


@lru_cache(maxsize=2048)
def _code(source: str) -> CodeType:
    namespace: dict[str, Any] = {}
    exec(compile(source, "<matchmaker query>", "exec"), dict(_GLOBALS), namespace)
    code: CodeType = namespace["_query"].__code__
    return code


def _varies(node: _Node) -> bool:
    """Whether matching candidates can score differently."""
    if not isinstance(node, _Bool):
        return False
    if any(_varies(c) for c in node.must) or any(_varies(c) for c in node.should):
        return True
    if node.should and node.must:
        return True
    if len(node.should) < 2:
        return False
    # `region:eu region:us`: exact terms on one field with one boost are mutually exclusive.
    first = node.should[0]
    return not (isinstance(first, _Term) and all(
        isinstance(s, _Term) and s.field == first.field and s.boost == first.boost
        for s in node.should))


def _best(node: _Node) -> float:
    """The highest score a node can give."""
    if not isinstance(node, _Bool):
        return node.boost
    inner = sum(_best(c) for c in node.must) + sum(_best(c) for c in node.should)
    return (inner if node.must or node.should else 1.0) * node.boost


def _keys(node: _Term) -> tuple[Key, ...]:
    if node.number is None:
        return ((node.field, node.text),)
    return ((node.field, node.text), (node.field, node.number))


def _plan(top: _Bool) -> tuple[tuple[tuple[str, tuple[str | float, ...]], ...],
                               tuple[NumericRange, ...], tuple[Key, ...] | None]:
    terms: dict[str, tuple[str | float, ...]] = {}
    for m in top.must:
        if isinstance(m, _Term):
            values = tuple(v for _, v in _keys(m))
            old = terms.get(m.field)
            terms[m.field] = values if old is None else tuple(v for v in old if v in values)
    must_terms = tuple(sorted(terms.items()))
    ranges: dict[str, NumericRange] = {}
    for m in top.must:
        if isinstance(m, _Range) and not m.dates:
            r = NumericRange(m.field, m.low, m.low_inclusive, m.high, m.high_inclusive)
            prev = ranges.get(m.field)
            if prev is not None:  # intersect
                low, low_inc = max((prev.low, not prev.low_inclusive), (r.low, not r.low_inclusive))
                high, high_inc = min((prev.high, prev.high_inclusive), (r.high, r.high_inclusive))
                r = NumericRange(m.field, low, not low_inc, high, high_inc)
            ranges[m.field] = r
    any_keys: tuple[Key, ...] | None = None
    if not top.must and top.should and all(isinstance(s, _Term) for s in top.should):
        any_keys = tuple(k for s in top.should if isinstance(s, _Term) for k in _keys(s))
    return must_terms, tuple(ranges.values()), any_keys


def _always(strings: Mapping[str, str], numbers: Mapping[str, float]) -> float:
    return 1.0


@lru_cache(maxsize=16384)
def compile_query(text: str) -> Query:
    """The compiled form of a query (cached: players of one game send a few shapes of query)."""
    if len(text) > MAX_QUERY_LENGTH:
        raise invalid_query(f"longer than {MAX_QUERY_LENGTH} characters")
    if "\x00" in text:
        raise invalid_query("contains U+0000")
    stripped = text.strip()
    if stripped in ("", "*", "*:*"):
        return Query(text, _always, False, 1.0, True, (), (), None)
    try:
        parsed = _luqum_parse(_NEGATIVE_BOUND.sub(r"\1\\-", stripped))
    except ParseError as exc:
        detail = " ".join(str(exc).replace("Syntax error in input : ", "").split())
        raise invalid_query(detail.rstrip("!")) from None
    except RecursionError:
        raise invalid_query(f"nested more than {_MAX_DEPTH} levels deep") from None
    node = _Builder().node(parsed, None, 0)
    if isinstance(node, _Const) and node.value and node.boost == 1.0:
        return Query(text, _always, False, 1.0, True, (), (), None)
    top = node if isinstance(node, _Bool) else _Bool([], [node], [])
    evaluate = _Codegen().function(top)
    must_terms, must_ranges, any_keys = _plan(top)
    return Query(text, evaluate, _varies(top), _best(top), False, must_terms, must_ranges, any_keys)

