"""Does a regular expression compile with RE2? A pure-Python syntax checker, because Python's ``re`` is not RE2.

Istio's webhook compiles every VirtualService regex with Go's ``regexp`` (RE2 syntax) and Envoy compiles them
with C++ RE2; a regex Python accepts (lookarounds, backreferences, possessive quantifiers, ``{1001}``) is
rejected by both, and every Envoy NACKs the route update. This module follows Go's ``regexp/syntax`` parser
(Perl flags, as ``regexp.Compile`` uses) and returns Go's error text (``invalid repeat count: `{1001}```).

What it checks: repetition counts (at most 1000, ``min <= max``, and nested ``{n}`` repeats whose product
exceeds 1000), repetition without an operand and stacked repetition (``a**``, ``a*+``), unbalanced
parentheses and brackets, escapes RE2 lacks (backreferences ``\\1``, ``\\Z``, ``\\G``, ``\\K``, ``\\C``,
``\\e``, ...), Perl groups RE2 lacks (lookahead/lookbehind ``(?=`` ``(?!`` ``(?<=`` ``(?<!``, atomic
``(?>``, comments ``(?#``, conditionals, ``(?x)`` and other unknown flags), named groups (``(?P<n>``,
``(?<n>``: word characters, unique), character-class ranges and POSIX class names, nesting depth (1000).
Limits: Unicode class names after ``\\p{...}`` are checked against the general categories and a list of
common scripts only; RE2's program-size limit is not computed (Istio approximates it by length: > 1024
characters is rejected, and so is the empty regex).
"""

from __future__ import annotations

MAX_REPEAT = 1000
MAX_DEPTH = 1000
MAX_LENGTH = 1024  # Istio's validateStringRegexp
_POSIX = {"alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space", "upper", "word", "xdigit"}
_CATEGORIES = {"Any", "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn", "N", "Nd", "Nl", "No",
               "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm", "So", "Z", "Zl", "Zp", "Zs"}
_SCRIPTS = {"Arabic", "Armenian", "Bengali", "Bopomofo", "Braille", "Cherokee", "Common", "Cyrillic", "Devanagari", "Ethiopic",
            "Georgian", "Greek", "Gujarati", "Gurmukhi", "Han", "Hangul", "Hebrew", "Hiragana", "Inherited", "Kannada", "Katakana",
            "Khmer", "Lao", "Latin", "Malayalam", "Mongolian", "Myanmar", "Ogham", "Oriya", "Runic", "Sinhala", "Syriac", "Tamil",
            "Telugu", "Thaana", "Thai", "Tibetan", "Yi"}


class RE2Error(ValueError):
    """Go's ``*syntax.Error``: ``code`` (e.g. "invalid repeat count") and the offending ``expr``."""

    def __init__(self, code: str, expr: str) -> None:
        super().__init__(f"error parsing regexp: {code}: `{expr}`")
        self.code = code
        self.expr = expr


class _Node:
    """Just enough of the parse tree for Go's nested-repeat check: a ``{min,max}`` node and its subtrees."""

    __slots__ = ("rmax", "subs")

    def __init__(self, rmax: int | None = None, subs: list[_Node] | None = None) -> None:
        self.rmax = rmax  # the repeat's max (its min when unbounded); None for anything but {n,m}
        self.subs = subs or []


def _repeat_ok(node: _Node, n: int) -> bool:
    """Go's ``repeatIsValid``: nested ``{}`` repeats may multiply to at most ``n``."""
    if node.rmax is not None and node.rmax != 0:
        if node.rmax > n:
            return False
        n //= node.rmax
    return all(_repeat_ok(s, n) for s in node.subs)


class _Parser:
    def __init__(self, s: str) -> None:
        self.s = s
        self.i = 0
        self.names: set[str] = set()
        #: escapes Go accepts but Envoy's RE2 build refuses (``\\x{100}`` and above), as written
        self.wide_escapes: list[str] = []

    def fail(self, code: str, start: int, end: int | None = None) -> RE2Error:
        return RE2Error(code, self.s[start : self.i if end is None else end])

    # --- structure -------------------------------------------------------------------------------------
    def parse(self) -> None:
        self._alternation(0)
        if self.i < len(self.s):  # only a stray ')' stops the top level early
            raise RE2Error("unexpected )", self.s)

    def _alternation(self, depth: int) -> _Node:
        if depth > MAX_DEPTH:
            raise RE2Error("expression nests too deeply", self.s)
        node = _Node(subs=[self._concat(depth)])
        while self.i < len(self.s) and self.s[self.i] == "|":
            self.i += 1
            node.subs.append(self._concat(depth))
        return node

    def _concat(self, depth: int) -> _Node:
        s, items = self.s, _Node()
        last_repeat: tuple[int, int] | None = None  # span of the repetition just parsed (Go's lastRepeat)
        while self.i < len(s) and s[self.i] not in "|)":
            start = self.i
            c = s[self.i]
            if c in "*+?" or (c == "{" and self._repeat_braces() is not None):
                bounds = self._repeat_braces() if c == "{" else None
                if bounds is not None:
                    lo, hi, self.i = bounds
                    if lo > MAX_REPEAT or hi > MAX_REPEAT or (hi >= 0 and lo > hi):
                        raise self.fail("invalid repeat count", start)
                else:
                    self.i += 1
                if self.i < len(s) and s[self.i] == "?":
                    self.i += 1  # non-greedy
                if last_repeat is not None:
                    raise self.fail("invalid nested repetition operator", last_repeat[0])
                if not items.subs:
                    raise self.fail("missing argument to repetition operator", start)
                if bounds is not None:
                    rep = _Node(bounds[1] if bounds[1] >= 0 else bounds[0], [items.subs[-1]])
                    items.subs[-1] = rep
                    if (bounds[0] >= 2 or bounds[1] >= 2) and not _repeat_ok(rep, MAX_REPEAT):
                        raise self.fail("invalid repeat count", start)
                last_repeat = (start, self.i)
                continue
            last_repeat = None
            if c == "(":
                items.subs.append(self._group(depth))
            elif c == "[":
                self._char_class()
                items.subs.append(_Node())
            elif c == "\\":
                if self._escape_atom():
                    items.subs.append(_Node())
            else:
                self.i += 1
                items.subs.append(_Node())
        return items

    def _repeat_braces(self) -> tuple[int, int, int] | None:
        """``{n}``, ``{n,}``, ``{n,m}`` at self.i -> (min, max (-1 = none), end); None when ``{`` is a literal."""
        s, j = self.s, self.i + 1

        def num(k: int) -> tuple[int, int] | None:
            e = k
            while e < len(s) and s[e].isdigit() and s[e].isascii():
                e += 1
            if e == k or (e - k >= 2 and s[k] == "0"):
                return None  # Go refuses leading zeros
            return (int(s[k:e]) if e - k <= 8 else 10**9), e

        first = num(j)
        if first is None:
            return None
        lo, j = first
        hi = lo
        if j < len(s) and s[j] == ",":
            j += 1
            if j < len(s) and s[j] == "}":
                hi = -1
            else:
                second = num(j)
                if second is None:
                    return None
                hi, j = second
        if j >= len(s) or s[j] != "}":
            return None
        return lo, hi, j + 1

    def _group(self, depth: int) -> _Node:
        s, start = self.s, self.i
        self.i += 1
        if s.startswith("?", self.i):
            if s.startswith("?P<", self.i) or (s.startswith("?<", self.i) and not s.startswith(("?<=", "?<!"), self.i)):
                name_start = self.i + (3 if s[self.i + 1] == "P" else 2)
                end = s.find(">", name_start)
                if end < 0:
                    raise self.fail("invalid named capture", start, len(s))
                name = s[name_start:end]
                if not name or not all(ch == "_" or (ch.isascii() and ch.isalnum()) for ch in name) or name in self.names:
                    raise self.fail("invalid named capture", start, end + 1)
                self.names.add(name)
                self.i = end + 1
            else:
                self.i += 1
                negated = saw_flag = False
                while True:
                    if self.i >= len(s):
                        raise self.fail("missing closing )", 0, len(s))
                    c = s[self.i]
                    self.i += 1
                    if c in "imsU":
                        saw_flag = True
                    elif c == "-" and not negated:
                        negated, saw_flag = True, False
                    elif c in ":)":
                        if negated and not saw_flag:
                            raise self.fail("invalid or unsupported Perl syntax", start)
                        if c == ")":
                            return _Node()  # (?i) sets flags for the rest of the group
                        break
                    else:
                        raise self.fail("invalid or unsupported Perl syntax", start)
        node = self._alternation(depth + 1)
        if self.i >= len(s) or s[self.i] != ")":
            raise RE2Error("missing closing )", s)
        self.i += 1
        return node

    # --- atoms -----------------------------------------------------------------------------------------
    def _escape_atom(self) -> bool:
        """An escape outside a class; False for ``\\Q...\\E`` that quoted nothing."""
        s, start = self.s, self.i
        if self.i + 1 >= len(s):
            raise RE2Error("trailing backslash at end of expression", "")
        c = s[self.i + 1]
        if c in "AzbBdDsSwW":
            self.i += 2
            return True
        if c == "Q":
            end = s.find("\\E", self.i + 2)
            text_end = len(s) if end < 0 else end
            self.i = len(s) if end < 0 else end + 2
            return text_end > start + 2
        if c in "pP":
            self._unicode_class()
            return True
        if c == "C":
            raise self.fail("invalid escape sequence", start, self.i + 2)
        self._escape()
        return True

    def _unicode_class(self) -> None:
        s, start = self.s, self.i
        self.i += 2
        if self.i >= len(s):
            raise self.fail("invalid character class range", start)
        if s[self.i] == "{":
            end = s.find("}", self.i)
            if end < 0:
                raise self.fail("invalid character class range", start, len(s))
            name = s[self.i + 1 : end].removeprefix("^")
            self.i = end + 1
        else:
            name = s[self.i]
            self.i += 1
        if name not in _CATEGORIES and name not in _SCRIPTS:
            raise self.fail("invalid character class range", start)

    def _escape(self) -> str:
        """A single-character escape (Go's ``parseEscape``); returns the character it stands for."""
        s, start = self.s, self.i
        self.i += 1
        if self.i >= len(s):
            raise RE2Error("trailing backslash at end of expression", "")
        c = s[self.i]
        self.i += 1
        if c in "1234567":
            if self.i >= len(s) or s[self.i] not in "01234567":
                raise self.fail("invalid escape sequence", start)  # a backreference: RE2 has none
        if c in "01234567":
            end = self.i
            while end < len(s) and end < self.i + 2 and s[end] in "01234567":
                end += 1
            val = int(s[self.i - 1 : end], 8)
            self.i = end
            return chr(val)
        if c == "x":
            if self.i < len(s) and s[self.i] == "{":
                end = s.find("}", self.i)
                digits = s[self.i + 1 : end] if end > 0 else ""
                if end < 0 or not digits or not all(ch in "0123456789abcdefABCDEF" for ch in digits) or int(digits, 16) > 0x10FFFF:
                    raise self.fail("invalid escape sequence", start, end + 1 if end > 0 else len(s))
                self.i = end + 1
                if int(digits, 16) > 0xFF:
                    self.wide_escapes.append(s[start : self.i])
                return chr(int(digits, 16))
            digits = s[self.i : self.i + 2]
            if len(digits) < 2 or not all(ch in "0123456789abcdefABCDEF" for ch in digits):
                raise self.fail("invalid escape sequence", start, min(len(s), self.i + 2))
            self.i += 2
            return chr(int(digits, 16))
        simple = {"a": "\a", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
        if c in simple:
            return simple[c]
        if ord(c) < 0x80 and not c.isalnum():
            return c  # escaped punctuation
        raise self.fail("invalid escape sequence", start)

    def _char_class(self) -> None:
        s, start = self.s, self.i
        self.i += 1
        if self.i < len(s) and s[self.i] == "^":
            self.i += 1
        first = True
        while self.i < len(s) and (s[self.i] != "]" or first):
            first = False
            if s.startswith("[:", self.i):
                end = s.find(":]", self.i + 2)
                if end >= 0:
                    name = s[self.i + 2 : end].removeprefix("^")
                    if name not in _POSIX:
                        raise self.fail("invalid character class range", self.i, end + 2)
                    self.i = end + 2
                    continue
            item_start = self.i
            lo = self._class_char(start)
            if lo is None:
                continue  # \d, \pL ... inside the class
            if self.i + 1 < len(s) and s[self.i] == "-" and s[self.i + 1] != "]":
                self.i += 1
                hi = self._class_char(start)
                if hi is None or hi < lo:
                    raise self.fail("invalid character class range", item_start)
        if self.i >= len(s):
            raise self.fail("missing closing ]", start, len(s))
        self.i += 1

    def _class_char(self, class_start: int) -> str | None:
        s = self.s
        if self.i >= len(s):
            raise self.fail("missing closing ]", class_start, len(s))
        if s[self.i] != "\\":
            self.i += 1
            return s[self.i - 1]
        if self.i + 1 < len(s) and s[self.i + 1] in "dDsSwW":
            self.i += 2
            return None
        if self.i + 1 < len(s) and s[self.i + 1] in "pP":
            self._unicode_class()
            return None
        return self._escape()


def re2_error(regex: str) -> str | None:
    """Why Istio (Go RE2) and Envoy (C++ RE2) refuse ``regex``, in Istio's words, or None if it compiles."""
    if regex == "":
        return "regex string match should not be empty"
    if len(regex) > MAX_LENGTH:
        return f"regex is too large, max length allowed is {MAX_LENGTH}"
    try:
        _Parser(regex).parse()
    except RE2Error as e:
        return str(e)
    return None


def envoy_error(regex: str) -> str | None:
    """Why Envoy refuses a regex Istio's validation accepts, or None. Measured with Envoy 1.40 (``envoy --mode
    validate``, tests/test_analyze_regex.py): ``\\x{...}`` escapes above ``\\x{ff}`` are "invalid escape sequence"."""
    if re2_error(regex) is not None:
        return None
    p = _Parser(regex)
    p.parse()
    if p.wide_escapes:
        return f"invalid escape sequence: {p.wide_escapes[0]} (Envoy accepts \\x escapes up to \\x{{ff}} only)"
    return None
