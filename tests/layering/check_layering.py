#!/usr/bin/python3
"""The layering test: every #include of the project's modules follows the module graph.

  check_layering.py GRAPH ROOT [--allowlist FILE] [--write-allowlist FILE] [--doc FILE]

GRAPH is module_graph.json, written by CMake from the DEPS of every abrec_library and
abrec_program (cmake/AbrecTarget.cmake): the graph lives in the CMake files and nowhere else.
ROOT is the source folder. A file belongs to the module that compiles it; a header to the
module that compiles the .cc of the same name, or else to the module owning most sources of its
folder, or else (a header-only INTERNAL folder) to the module that declares the folder
INTERNAL. A module's file may include:

  - headers of its own module, and public headers of the modules it names in DEPS or
    PRIVATE_DEPS and of the modules those pass on in their DEPS (what CMake makes visible:
    PUBLIC links propagate, PRIVATE ones do not);
  - never a header under another module's INTERNAL folder, and a module's public header
    (one outside its INTERNAL folders) not its own internal headers either;
  - a third-party header only when that library's CMake target is visible to it the same way
    (yaml-cpp only in the config reader, sqlite3.h only in the event store's backend, Beast
    only in the HTTP layer).

It also checks that the graph has no cycle, that every header of a module folder belongs to
a module, and (--doc) that the table of docs/architecture.md lists every module with exactly
the modules its DEPS and PRIVATE_DEPS name. Violations print as FILE:LINE: message. Exit 1 on
any error. The CTest test is strict; a later move may use ratchet mode (--allowlist): the
violations listed there (as "FILE -> INCLUDED", line numbers left out, written by
--write-allowlist) are tolerated, and an entry that no longer occurs is an error too, so the
list only shrinks. Standard library only; bench/, fuzz/ and tests/ are not modules and are not
checked.
"""
import collections
import json
import os
import re
import sys

# Third-party headers: include prefix -> the CMake target a module must name to include it.
EXTERNAL = [
    ("yaml-cpp/", "yaml-cpp"),
    ("sqlite3.h", "SQLite::SQLite3"),
    ("boost/", "Boost::headers"),
    ("xgboost/", "XGBoost::XGBoost"),
    ("hnswlib/", "Hnswlib::Hnswlib"),
    ("hiredis/", "Hiredis::Hiredis"),
    ("openssl/", "OpenSSL::Crypto"),
    ("nlohmann/", "nlohmann_json::nlohmann_json"),
    ("fmt/", "fmt::fmt"),
    ("Eigen/", "Eigen3::Eigen"),
]
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
NOT_MODULES = ("bench/", "fuzz/", "tests/", "build")


def load_graph(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def owners(graph, root):
    """file (relative to root) -> module, for every source and header of the modules' folders."""
    owner = {}
    for name, m in graph.items():
        for src in m["sources"]:
            owner[os.path.normpath(src)] = name
    by_folder = collections.defaultdict(collections.Counter)
    for src, name in owner.items():
        by_folder[os.path.dirname(src)][name] += 1
    headers = []
    for folder in list(by_folder):
        for entry in sorted(os.listdir(os.path.join(root, folder))):
            if entry.endswith(".h"):
                headers.append(os.path.join(folder, entry))
    orphans = []
    for hdr in headers:
        stem = hdr[:-2] + ".cc"
        if stem in owner:
            owner[hdr] = owner[stem]
        else:
            owner[hdr] = by_folder[os.path.dirname(hdr)].most_common(1)[0][0]
    # A module's INTERNAL folder may hold headers only: they are that module's.
    for name, m in graph.items():
        for folder in m["internal"]:
            full = os.path.join(root, folder)
            for dirpath, _, filenames in os.walk(full) if os.path.isdir(full) else ():
                for fn in sorted(filenames):
                    path = os.path.normpath(os.path.join(os.path.relpath(dirpath, root), fn))
                    if fn.endswith(".h") and path not in owner:
                        owner[path] = name
    # Headers in subfolders of a module folder that compile nothing (header-only folders).
    module_folders = {os.path.dirname(s) for s in owner}
    for folder in sorted(module_folders):
        full = os.path.join(root, folder)
        for dirpath, dirnames, filenames in os.walk(full):
            rel = os.path.relpath(dirpath, root)
            if rel in by_folder and rel != folder:
                continue
            for fn in filenames:
                path = os.path.normpath(os.path.join(rel, fn))
                if fn.endswith((".h", ".cc")) and path not in owner:
                    orphans.append(path)
    return owner, orphans


def cycle(graph):
    """A dependency cycle among the modules, as a list of names, or None."""
    deps = {n: [d.split("::", 1)[1] for d in m["deps"] + m["private_deps"]
                if d.startswith("abrec::")]
            for n, m in graph.items()}
    state = {}

    def visit(n, path):
        state[n] = 1
        for d in deps.get(n, []):
            if state.get(d) == 1:
                return path[path.index(d):] + [d] if d in path else path + [d]
            if d not in state:
                found = visit(d, path + [d])
                if found:
                    return found
        state[n] = 2
        return None

    for n in sorted(deps):
        if n not in state:
            found = visit(n, [n])
            if found:
                return found
    return None


def visible(graph):
    """module -> every target (abrec::x and third-party) its files may include: its DEPS and
    PRIVATE_DEPS, and what the abrec modules among them pass on through their DEPS."""
    memo = {}

    def public(name):  # what depending on `name` makes visible
        if name not in memo:
            memo[name] = set()
            out = set(graph[name]["deps"])
            for d in graph[name]["deps"]:
                if d.startswith("abrec::"):
                    out |= public(d.split("::", 1)[1])
            memo[name] = out
        return memo[name]

    result = {}
    for name, m in graph.items():
        out = set(m["deps"]) | set(m["private_deps"])
        for d in list(out):
            if d.startswith("abrec::"):
                out |= public(d.split("::", 1)[1])
        result[name] = out
    return result


def violations(graph, root, owner, orphans):
    """[(file, line, included, message)] for every include across a missing edge; `owner`
    and `orphans` as owners() gives them."""
    out = [(f, 1, "", f"belongs to no module (not compiled by any abrec_library or "
                      f"abrec_program, and its folder has no module)") for f in orphans]
    seen = visible(graph)
    abrec_deps = {n: {d.split("::", 1)[1] for d in v if d.startswith("abrec::")}
                  for n, v in seen.items()}
    internal = [(os.path.normpath(i) + os.sep, n) for n, m in graph.items() for i in m["internal"]]
    for path in sorted(owner):
        module = owner[path]
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        for lineno, text in enumerate(lines, 1):
            m = INCLUDE_RE.match(text)
            if not m:
                continue
            inc = m.group(2)
            local = os.path.normpath(inc)
            if m.group(1) == '"' and local in owner:
                target = owner[local]
                if target != module and target not in abrec_deps[module]:
                    out.append((path, lineno, inc,
                                f"module {module} includes {inc} of module {target}, which is "
                                f"not visible to it (it sees {', '.join(sorted(abrec_deps[module])) or 'none'})"))
                for prefix, owning in internal:
                    if local.startswith(prefix) and owning != module:
                        out.append((path, lineno, inc,
                                    f"{inc} is internal to module {owning} "
                                    f"({prefix.rstrip(os.sep)}/ is its INTERNAL folder)"))
                    elif (local.startswith(prefix) and path.endswith(".h") and
                          not path.startswith(prefix)):
                        out.append((path, lineno, inc,
                                    f"public header {path} includes {inc}, internal to its "
                                    "module: every user of the header would compile it"))
                continue
            if m.group(1) == '"':
                out.append((path, lineno, inc, f"{inc} is not a header of any module"))
                continue
            for prefix, target in EXTERNAL:
                if inc.startswith(prefix) and target not in seen[module]:
                    out.append((path, lineno, inc,
                                f"module {module} includes <{inc}> but {target} is not among "
                                "its DEPS or PRIVATE_DEPS, nor passed on by them"))
    return out


def doc_errors(graph, path):
    """Rows "| `module` | → a, b; ⇢ c | ... |" of the architecture page against the graph."""
    with open(path, encoding="utf-8") as f:
        rows = {m.group(1): m.group(2) for m in
                re.finditer(r"^\| `([a-z_]+)` \| ([^|]*) \|", f.read(), re.M)}
    out = []
    for name, m in sorted(graph.items()):
        want = {d.split("::", 1)[1] for d in m["deps"] + m["private_deps"]
                if d.startswith("abrec::")}
        if name not in rows:
            out.append(f"{path}: module {name} has no row in the table")
            continue
        drawn = set(re.findall(r"[a-z_]+", rows[name])) & set(graph)
        if drawn != want:
            out.append(f"{path}: the row of {name} names {sorted(drawn)}, its CMake DEPS "
                       f"{sorted(want)}")
    for name in sorted(set(rows) - set(graph)):
        out.append(f"{path}: the table names {name}, which is not a module")
    return out


def main(argv):
    args = argv[1:]
    allow_path = write_path = None
    if "--allowlist" in args:
        i = args.index("--allowlist")
        allow_path = args[i + 1]
        del args[i:i + 2]
    if "--write-allowlist" in args:
        i = args.index("--write-allowlist")
        write_path = args[i + 1]
        del args[i:i + 2]
    doc_path = None
    if "--doc" in args:
        i = args.index("--doc")
        doc_path = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    graph = load_graph(args[0])
    root = os.path.abspath(args[1])
    errors = 0
    loop = cycle(graph)
    if loop:
        print("the module graph has a cycle: " + " -> ".join(loop))
        errors += 1
    if doc_path:
        for message in doc_errors(graph, doc_path):
            print(message)
            errors += 1
    owner, orphans = owners(graph, root)
    found = violations(graph, root, owner, orphans)
    keys = [f"{f} -> {inc}" for f, _, inc, _ in found]
    if write_path:
        with open(write_path, "w", encoding="utf-8") as f:
            f.write("# Includes that cross a missing edge of the module graph, tolerated until the\n"
                    "# layout move removes them (tests/layering/check_layering.py). Only shrinks.\n")
            f.write("".join(k + "\n" for k in sorted(set(keys))))
    allowed = set()
    if allow_path:
        with open(allow_path, encoding="utf-8") as f:
            allowed = {ln.strip() for ln in f if ln.strip() and not ln.startswith("#")}
    for (f, line, _, msg), key in zip(found, keys):
        if key not in allowed:
            print(f"{f}:{line}: {msg}")
            errors += 1
    for stale in sorted(allowed - set(keys)):
        print(f"{allow_path}: '{stale}' no longer occurs: remove it from the allowlist")
        errors += 1
    modules = len(graph)
    files = len(owner)
    print(f"{modules} modules, {files} files, {len(found)} crossing includes "
          f"({len(found) - sum(1 for k in keys if k not in allowed)} allowlisted), "
          f"{errors} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
