"""Parse preprocessed C with pycparser and inspect the tree: the heavy half of the check.

:mod:`xbgen.check` runs cpp and caches findings; it imports this module only
when a file must really be parsed, so a run whose findings are cached never
loads pycparser.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise

from pycparser import c_ast, c_parser
from pycparser.c_parser import ParseError

from .diagnostic import Diagnostic

FALLTHROUGH = "__xbgen_fallthrough"
NORETURN_PREFIX = "__xbgen_noreturn_"
XENBUS_STATE = "xenbus_state"
BUILTINS = frozenset({"__func__", "__FUNCTION__"})


_PARSE_LOC = re.compile(r"^(?P<file>.*?):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*)$")


def parse_and_inspect(
    preprocessed: str, text: str, path: str, headers: dict[str, str] | None = None
) -> list[Diagnostic]:
    try:
        ast = c_parser.CParser().parse(preprocessed, path)
    except ParseError as exc:
        return [_parse_diagnostic(str(exc), text, path)]
    return Inspector(path, headers).run(ast)


def _parse_diagnostic(message: str, text: str, path: str) -> Diagnostic:
    m = _PARSE_LOC.match(message)
    if m:
        line, col, msg = int(m["line"]), int(m["col"]), f"parse error {m['msg']}"
        if m["file"] == path:
            line, col, msg = _blame_previous_line(text, line, col, msg)
        return Diagnostic(m["file"], line, col, msg)
    lineno, token = _last_token(text)
    return Diagnostic(path, lineno, 0, f"parse error: {message} (near {token!r})")


def _blame_previous_line(text: str, line: int, col: int, msg: str) -> tuple[int, int, str]:
    """An error at a line's first token usually means the line above is unfinished."""
    lines = text.splitlines()
    if not 0 < line <= len(lines) or lines[line - 1][: col - 1].strip():
        return line, col, msg
    for prev in range(line - 1, 0, -1):
        stripped = lines[prev - 1].rstrip()
        if stripped:
            end = len(stripped.expandtabs(1)) + 1
            return prev, end, f"{msg} on line {line} (missing ';' at the end of this line?)"
    return line, col, msg


def _last_token(text: str) -> tuple[int, str]:
    """The last token of `text` and its line: where an 'end of input' error points."""
    lines = text.splitlines()
    for lineno in range(len(lines), 0, -1):
        tokens = re.findall(r"\w+|[^\s\w]", lines[lineno - 1])
        if tokens:
            return lineno, tokens[-1]
    return 1, ""


# --------------------------------------------------------------------------- types


def _base(node: c_ast.Node | None) -> c_ast.Node | None:
    """Strip declarator layers (pointer, array, TypeDecl) down to the base type."""
    while isinstance(node, (c_ast.TypeDecl, c_ast.PtrDecl, c_ast.ArrayDecl, c_ast.Typename)):
        node = node.type
    return node


def _type_key(node: c_ast.Node | None) -> str:
    """A comparable spelling of a type (qualifiers dropped)."""
    if isinstance(node, c_ast.PtrDecl):
        return _type_key(node.type) + "*"
    if isinstance(node, c_ast.ArrayDecl):
        return _type_key(node.type) + "[]"
    if isinstance(node, (c_ast.TypeDecl, c_ast.Typename)):
        return _type_key(node.type)
    if isinstance(node, c_ast.IdentifierType):
        return " ".join(node.names)
    if isinstance(node, c_ast.Struct):
        return f"struct {node.name}"
    if isinstance(node, c_ast.Enum):
        return f"enum {node.name}"
    if isinstance(node, c_ast.FuncDecl):
        return f"fn->{_type_key(node.type)}"
    return "?"


# --------------------------------------------------------------------------- the inspector


class Inspector:
    """Walks one translation unit and reports what the compiler would reject."""

    def __init__(self, path: str, headers: dict[str, str] | None = None) -> None:
        self.path = path
        #: The tree's own headers (as cpp named them -> path in the tree): inspected too.
        self.headers = headers or {}
        self.found: list[Diagnostic] = []
        self.functions: dict[str, c_ast.FuncDecl] = {}
        self.structs: dict[str, dict[str, c_ast.Node]] = {}
        self.typedefs: dict[str, c_ast.Node] = {}
        self.enumerators: dict[str, str | None] = {}
        self.enums: dict[str, list[str]] = {}
        self.scopes: list[dict[str, c_ast.Node]] = [{}]

    # ---- reporting

    def report(self, node: c_ast.Node, message: str) -> None:
        coord = node.coord
        if coord is None:
            self.found.append(Diagnostic(self.path, 0, 0, message))
        else:
            file = self.headers.get(coord.file, coord.file)
            self.found.append(Diagnostic(file, coord.line, coord.column or 0, message))

    def mine(self, node: c_ast.Node) -> bool:
        """Only the tree's own code is inspected, not the fake kernel headers."""
        return node.coord is not None and (
            node.coord.file == self.path or node.coord.file in self.headers
        )

    # ---- driver

    def run(self, ast: c_ast.FileAST) -> list[Diagnostic]:
        for ext in ast.ext:
            self.declare_external(ext)
            if not self.mine(ext):
                continue
            if isinstance(ext, c_ast.FuncDef):
                self.function(ext)
            elif isinstance(ext, c_ast.Decl) and ext.init is not None:
                self.initializer(ext.type, ext.init)
                self.expr(ext.init)
            elif isinstance(ext, c_ast.StaticAssert):
                self.expr(ext.cond)
        return self.found

    # ---- declarations

    def declare_external(self, ext: c_ast.Node) -> None:
        if isinstance(ext, c_ast.FuncDef):
            self.declare(ext.decl)
        elif isinstance(ext, c_ast.Typedef):
            self.typedefs[ext.name] = ext.type
            self.collect_tags(ext.type)
        elif isinstance(ext, c_ast.Decl):
            self.declare(ext)

    def declare(self, decl: c_ast.Decl) -> None:
        self.collect_tags(decl.type)
        if decl.name is None:
            return
        if isinstance(decl.type, c_ast.FuncDecl):
            self.functions[decl.name] = decl.type
        self.scopes[-1][decl.name] = decl.type

    def collect_tags(self, node: c_ast.Node | None) -> None:
        """Record struct members and enumerators defined anywhere inside `node`."""
        if node is None:
            return
        for sub in _walk(node):
            if isinstance(sub, c_ast.Struct) and sub.decls is not None and sub.name:
                self.structs[sub.name] = {d.name: d.type for d in sub.decls if d.name}
            elif isinstance(sub, c_ast.Enum) and sub.values is not None:
                names = [e.name for e in sub.values.enumerators]
                if sub.name:
                    self.enums[sub.name] = names
                for name in names:
                    self.enumerators[name] = sub.name

    def lookup(self, name: str) -> c_ast.Node | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def known(self, name: str) -> bool:
        return (
            self.lookup(name) is not None
            or name in self.enumerators
            or name in self.functions
            or name in BUILTINS
        )

    # ---- functions and statements

    def function(self, fn: c_ast.FuncDef) -> None:
        self.scopes.append({})
        params = fn.decl.type.args
        if params is not None:
            for param in params.params:
                if isinstance(param, c_ast.Decl) and param.name:
                    self.scopes[-1][param.name] = param.type
        self.statement(fn.body)
        self.scopes.pop()

    def statement(self, node: c_ast.Node | None) -> None:
        if node is None:
            return
        if isinstance(node, c_ast.Compound):
            self.scopes.append({})
            for item in node.block_items or []:
                self.statement(item)
            self.scopes.pop()
        elif isinstance(node, c_ast.Decl):
            self.declare(node)
            if node.init is not None:
                self.initializer(node.type, node.init)
                self.expr(node.init)
        elif isinstance(node, c_ast.DeclList):
            for decl in node.decls:
                self.statement(decl)
        elif isinstance(node, c_ast.Switch):
            self.expr(node.cond)
            self.switch(node)
            self.statement(node.stmt)
        elif isinstance(node, (c_ast.Case, c_ast.Default)):
            if isinstance(node, c_ast.Case):
                self.expr(node.expr)
            for stmt in node.stmts or []:
                self.statement(stmt)
        elif isinstance(node, c_ast.For):
            self.scopes.append({})
            self.statement(node.init)
            for part in (node.cond, node.next):
                self.expr(part)
            self.statement(node.stmt)
            self.scopes.pop()
        elif isinstance(node, (c_ast.If, c_ast.While, c_ast.DoWhile)):
            self.expr(node.cond)
            for part in ("iftrue", "iffalse", "stmt"):
                self.statement(getattr(node, part, None))
        elif isinstance(node, c_ast.Label):
            self.statement(node.stmt)
        elif isinstance(node, c_ast.Return):
            self.expr(node.expr)
        elif isinstance(node, (c_ast.Break, c_ast.Continue, c_ast.Goto, c_ast.EmptyStatement)):
            pass
        else:
            self.expr(node)

    # ---- expressions

    def expr(self, node: c_ast.Node | None) -> None:
        if node is None:
            return
        if isinstance(node, c_ast.ID):
            if not self.known(node.name):
                self.report(node, f"'{node.name}' undeclared")
        elif isinstance(node, c_ast.FuncCall):
            if isinstance(node.name, c_ast.ID) and node.name.name == "offsetof":
                self.offsetof(node)
            else:
                self.call(node)
        elif isinstance(node, c_ast.StructRef):
            self.expr(node.name)
            self.member(node)
        elif isinstance(node, c_ast.NamedInitializer):
            self.expr(node.expr)
        elif isinstance(node, (c_ast.Cast, c_ast.Typename)):
            if isinstance(node, c_ast.Cast):
                self.expr(node.expr)
        elif (
            isinstance(node, c_ast.UnaryOp)
            and node.op == "sizeof"
            and isinstance(node.expr, c_ast.Typename)
        ):
            pass
        else:
            for _, child in node.children():
                self.expr(child)

    def offsetof(self, node: c_ast.FuncCall) -> None:
        """offsetof(struct x, member): the member must be one of struct x's."""
        args = node.args.exprs if node.args is not None else []
        if len(args) != 2 or not isinstance(args[1], c_ast.ID):
            return
        base = _base(args[0])
        if isinstance(base, c_ast.IdentifierType) and base.names[0] in self.typedefs:
            base = _base(self.typedefs[base.names[0]])
        if (
            isinstance(base, c_ast.Struct)
            and base.name in self.structs
            and args[1].name not in self.structs[base.name]
        ):
            self.report(args[1], f"struct {base.name} has no member '{args[1].name}'")

    def call(self, node: c_ast.FuncCall) -> None:
        name = node.name
        if isinstance(name, c_ast.ID):
            if name.name not in self.functions and self.lookup(name.name) is None:
                self.report(name, f"call to undeclared function '{name.name}'")
        else:
            self.expr(name)
        if node.args is not None:
            for arg in node.args.exprs:
                self.expr(arg)

    def member(self, node: c_ast.StructRef) -> None:
        struct = self.struct_of(node.name)
        if struct is None or struct not in self.structs:
            return
        field = node.field.name
        if field not in self.structs[struct]:
            self.report(node.field, f"struct {struct} has no member named '{field}'")

    def struct_of(self, node: c_ast.Node) -> str | None:
        base = _base(self.resolve(self.type_of(node)))
        return base.name if isinstance(base, c_ast.Struct) else None

    def resolve(self, node: c_ast.Node | None) -> c_ast.Node | None:
        """Follow typedef names to the type they stand for."""
        for _ in range(16):
            base = _base(node)
            if isinstance(base, c_ast.IdentifierType) and base.names[-1] in self.typedefs:
                node = self.typedefs[base.names[-1]]
            else:
                break
        return node

    def type_of(self, node: c_ast.Node) -> c_ast.Node | None:
        """The declared type of an lvalue-ish expression, or None if unknown."""
        if isinstance(node, c_ast.ID):
            return self.lookup(node.name)
        if isinstance(node, c_ast.StructRef):
            struct = self.struct_of(node.name)
            return self.structs.get(struct or "", {}).get(node.field.name)
        if isinstance(node, c_ast.UnaryOp) and node.op in {"*", "&"}:
            return self.type_of(node.expr)
        if isinstance(node, c_ast.ArrayRef):
            return self.type_of(node.name)
        if isinstance(node, c_ast.Cast):
            return node.to_type
        if isinstance(node, c_ast.FuncCall) and isinstance(node.name, c_ast.ID):
            fn = self.functions.get(node.name.name)
            return fn.type if fn is not None else None
        return None

    # ---- initializers

    def initializer(self, decl_type: c_ast.Node, init: c_ast.Node) -> None:
        if not isinstance(init, c_ast.InitList):
            return
        base = _base(self.resolve(decl_type))
        if not isinstance(base, c_ast.Struct) or base.name not in self.structs:
            return
        members = self.structs[base.name]
        for item in init.exprs:
            if not isinstance(item, c_ast.NamedInitializer):
                continue
            field = item.name[0]
            if not isinstance(field, c_ast.ID):
                continue
            if field.name not in members:
                self.report(field, f"struct {base.name} has no member named '{field.name}'")
            else:
                self.function_pointer(field, members[field.name], item.expr)

    def function_pointer(self, field: c_ast.ID, member: c_ast.Node, value: c_ast.Node) -> None:
        """`.remove = fn`: fn must return what the member's function type returns."""
        if not (isinstance(member, c_ast.PtrDecl) and isinstance(member.type, c_ast.FuncDecl)):
            return
        if not isinstance(value, c_ast.ID) or value.name not in self.functions:
            return
        want = _type_key(member.type.type)
        have = _type_key(self.functions[value.name].type)
        if want != have:
            self.report(
                value,
                f"'{value.name}' returns '{have}' but member '{field.name}' "
                f"expects a function returning '{want}'",
            )

    # ---- switch statements

    def switch(self, node: c_ast.Switch) -> None:
        body = node.stmt
        if not isinstance(body, c_ast.Compound):
            return
        labels = [i for i in body.block_items or [] if isinstance(i, (c_ast.Case, c_ast.Default))]
        self.fallthroughs(labels)
        if self.is_state_switch(node.cond, labels):
            self.coverage(node, labels)

    def is_state_switch(self, cond: c_ast.Node, labels: list[c_ast.Node]) -> bool:
        base = _base(self.resolve(self.type_of(cond)))
        if isinstance(base, c_ast.Enum) and base.name == XENBUS_STATE:
            return True
        return any(
            isinstance(lab, c_ast.Case)
            and isinstance(lab.expr, c_ast.ID)
            and self.enumerators.get(lab.expr.name) == XENBUS_STATE
            for lab in labels
        )

    def coverage(self, node: c_ast.Switch, labels: list[c_ast.Node]) -> None:
        if any(isinstance(lab, c_ast.Default) for lab in labels):
            return
        covered = {
            lab.expr.name
            for lab in labels
            if isinstance(lab, c_ast.Case) and isinstance(lab.expr, c_ast.ID)
        }
        missing = [s for s in self.enums.get(XENBUS_STATE, []) if s not in covered]
        if missing:
            self.report(
                node,
                "switch on enum xenbus_state has no default and misses " + ", ".join(missing),
            )

    def fallthroughs(self, labels: list[c_ast.Node]) -> None:
        for label, following in pairwise(labels):
            stmts = label.stmts or []
            if stmts and not self.terminates(stmts[-1]):
                self.report(
                    following,
                    "case falls through from the one above without 'fallthrough;'",
                )

    def terminates(self, stmt: c_ast.Node) -> bool:
        """Does control never run off the end of `stmt`?"""
        if isinstance(stmt, (c_ast.Break, c_ast.Return, c_ast.Goto, c_ast.Continue)):
            return True
        if isinstance(stmt, c_ast.FuncCall) and isinstance(stmt.name, c_ast.ID):
            name = stmt.name.name
            return name == FALLTHROUGH or name.startswith(NORETURN_PREFIX)
        if isinstance(stmt, c_ast.Compound):
            items = stmt.block_items or []
            return bool(items) and self.terminates(items[-1])
        if isinstance(stmt, c_ast.If):
            return (
                stmt.iffalse is not None
                and self.terminates(stmt.iftrue)
                and self.terminates(stmt.iffalse)
            )
        if isinstance(stmt, c_ast.Label):
            return self.terminates(stmt.stmt)
        return False


def _walk(node: c_ast.Node) -> Iterator[c_ast.Node]:
    yield node
    for _, child in node.children():
        yield from _walk(child)
