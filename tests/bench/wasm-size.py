#!/usr/bin/env python3
"""Where a wasm module's code bytes go, by crate and by function.

Reads the code section and the name section of a wasm file built with names kept
(`-g`, or wasm-bindgen `--keep-debug` before `wasm-opt -g`), demangles Rust's legacy
symbols well enough to group them, and prints the crates and the largest functions.

    python3 tests/bench/wasm-size.py path/to/module.wasm [top-n]
"""

import re
import sys
from collections import Counter


def leb(data, pos):
    """Reads an unsigned LEB128 at `pos`; returns (value, next position)."""
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def sections(data):
    """Yields (id, payload start, payload end) for every section."""
    pos = 8
    while pos < len(data):
        sid = data[pos]
        size, pos = leb(data, pos + 1)
        yield sid, pos, pos + size
        pos += size


def imported_functions(data, start, end):
    count, pos = leb(data, start)
    funcs = 0
    for _ in range(count):
        for _ in range(2):
            n, pos = leb(data, pos)
            pos += n
        kind = data[pos]
        pos += 1
        if kind == 0:
            _, pos = leb(data, pos)
            funcs += 1
        elif kind == 1:
            pos += 1
            flags, pos = leb(data, pos)
            _, pos = leb(data, pos)
            if flags & 1:
                _, pos = leb(data, pos)
        elif kind == 2:
            flags, pos = leb(data, pos)
            _, pos = leb(data, pos)
            if flags & 1:
                _, pos = leb(data, pos)
        elif kind == 3:
            pos += 2
        else:
            raise ValueError(f"import kind {kind}")
    return funcs


def function_names(data, start, end):
    n, pos = leb(data, start)
    pos += n  # "name"
    names = {}
    while pos < end:
        sub = data[pos]
        size, pos = leb(data, pos + 1)
        if sub == 1:
            count, p = leb(data, pos)
            for _ in range(count):
                idx, p = leb(data, p)
                ln, p = leb(data, p)
                names[idx] = data[p : p + ln].decode("utf-8", "replace")
                p += ln
        pos += size
    return names


def demangle(name):
    """`_ZN4core3fmt5write17h…E` → `core::fmt::write` (legacy mangling only)."""
    if not name.startswith("_ZN"):
        return name
    parts, pos = [], 3
    while pos < len(name) and name[pos].isdigit():
        m = re.match(r"\d+", name[pos:])
        n = int(m.group())
        pos += len(m.group())
        parts.append(name[pos : pos + n])
        pos += n
    if parts and re.fullmatch(r"h[0-9a-f]{16}", parts[-1]):
        parts.pop()
    text = "::".join(parts)
    for code, ch in (("$LT$", "<"), ("$GT$", ">"), ("$u20$", " "), ("$RF$", "&"),
                     ("$C$", ","), ("$u7b$", "{"), ("$u7d$", "}"), ("..", "::")):
        text = text.replace(code, ch)
    return text


def crate_of(name):
    text = name.lstrip("<&_ ")
    text = re.sub(r"^(dyn |mut |impl )", "", text)
    head = re.split(r"::|[ <>,]", text, 1)[0]
    return head or name


def main():
    path = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    data = open(path, "rb").read()
    imports = 0
    bodies = []
    names = {}
    totals = Counter()
    for sid, start, end in sections(data):
        totals[sid] += end - start
        if sid == 2:
            imports = imported_functions(data, start, end)
        elif sid == 10:
            count, pos = leb(data, start)
            for _ in range(count):
                size, body = leb(data, pos)
                bodies.append(size + (body - pos))
                pos = body + size
        elif sid == 0:
            n, p = leb(data, start)
            if data[p : p + n] == b"name":
                names = function_names(data, start, end)
    by_crate = Counter()
    by_fn = Counter()
    for i, size in enumerate(bodies):
        name = demangle(names.get(imports + i, f"<func {imports + i}>"))
        by_fn[name] += size
        by_crate[crate_of(name)] += size
    code = sum(bodies)
    print(f"{path}: {len(data)} B; code {code} B in {len(bodies)} functions; "
          f"data {totals[11]} B")
    print("\nby crate (code bytes):")
    for crate, size in by_crate.most_common(top):
        print(f"{size:9} {100 * size / code:5.1f} %  {crate}")
    print("\nlargest functions:")
    for name, size in by_fn.most_common(top):
        print(f"{size:9}  {name[:150]}")


if __name__ == "__main__":
    main()
