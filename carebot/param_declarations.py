"""Read the parameters a node declares from its source, without importing or running it.

``carebot.config_check`` uses this to know each node's parameter names, types and
ranges. A small evaluator over the module's syntax tree follows the usual ways nodes
declare parameters:

- literal calls: ``self.declare_parameter("rate_hz", 10.0, ParameterDescriptor(
  floating_point_range=[FloatingPointRange(from_value=0.5, to_value=30.0)]))``;
- ``declare_parameters(namespace, [(name, default, descriptor), ...])``;
- helper functions and lambdas that forward a name to ``declare_parameter`` (also
  from other ``carebot`` modules): ``declare_float(self, "lookahead", 0.6, "...", 0.1, 3.0)``;
- loops over a module-level table: ``for p in settings.PARAMETERS:
  self.declare_parameter(p.name, p.default, ...)`` with ``Parameter("imgsz", 640, "...")``
  entries of a dataclass.

Types come from the default (``float(x)`` counts as a double even when x is unknown),
``Parameter.Type.X`` or the descriptor's ``type``; ranges from ``integer_range`` /
``floating_point_range``. Whenever a name cannot be known (built at run time, or a
helper that receives the node cannot be read), the result is marked *open*: then the
caller must not refuse keys it does not know.
"""
from __future__ import annotations

import ast
import builtins
import enum
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

MAX_DEPTH = 4                  # helper calls followed into helpers, at most


class ParamType(enum.Enum):
    """ROS parameter types as a YAML file can express them."""

    BOOL = "bool"
    INTEGER = "integer"
    DOUBLE = "double"
    STRING = "string"
    BOOL_ARRAY = "bool list"
    INTEGER_ARRAY = "integer list"
    DOUBLE_ARRAY = "double list"
    STRING_ARRAY = "string list"


_ARRAY_OF = {bool: ParamType.BOOL_ARRAY, int: ParamType.INTEGER_ARRAY,
             float: ParamType.DOUBLE_ARRAY, str: ParamType.STRING_ARRAY}
_SCALAR_OF = {bool: ParamType.BOOL, int: ParamType.INTEGER,
              float: ParamType.DOUBLE, str: ParamType.STRING}
# rcl_interfaces/ParameterType names and rclpy Parameter.Type names -> ParamType
_TYPE_NAMES = {name: kind for kind in ParamType for name in (
    kind.name, f"PARAMETER_{kind.name}")}
_TYPE_NAMES.update({"DOUBLE": ParamType.DOUBLE, "PARAMETER_DOUBLE": ParamType.DOUBLE})
_CASTS = {"float": ParamType.DOUBLE, "int": ParamType.INTEGER, "str": ParamType.STRING,
          "bool": ParamType.BOOL}


def value_type(value: Any) -> ParamType | None:
    """The ROS type a YAML/Python value becomes, or None when rclpy cannot take it."""
    if isinstance(value, list):
        if not value:
            return None
        kinds = {type(item) for item in value}
        if len(kinds) != 1 or kinds.pop() not in _ARRAY_OF:
            return None
        return _ARRAY_OF[type(value[0])]
    return _SCALAR_OF.get(type(value))


@dataclass(frozen=True)
class Declaration:
    """One declared parameter; None where the source does not tell."""

    name: str
    type: ParamType | None = None
    min: float | None = None
    max: float | None = None
    description: str = ""


@dataclass
class Declarations:
    params: dict[str, Declaration] = field(default_factory=dict)
    open: bool = False
    notes: list[str] = field(default_factory=list)


class _Unknown:
    def __repr__(self) -> str:
        return "?"


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class _TypeHint:
    type: ParamType


@dataclass(frozen=True)
class _Obj:
    fields: dict


@dataclass(frozen=True)
class _Range:
    low: Any
    high: Any


@dataclass
class _Module:
    name: str
    tree: ast.Module
    constants: dict = field(default_factory=dict)
    functions: dict = field(default_factory=dict)      # name -> FunctionDef | Lambda
    classes: dict = field(default_factory=dict)        # name -> ClassDef
    imports: dict = field(default_factory=dict)        # alias -> (module, attribute or None)


def _params_of(fn) -> list[str]:
    args = fn.args
    return [a.arg for a in args.posonlyargs + args.args]


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


_CAREBOT_DIR = Path(__file__).resolve().parent


def module_source(module: str) -> str | None:
    """Source text of a module, found without importing it (nor its packages), or None."""
    parts = module.split(".")
    if parts[0] == "carebot":   # the package's own files: no import of heavy role packages
        base = _CAREBOT_DIR.joinpath(*parts[1:])
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                return path.read_text(encoding="utf-8")
        return None
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin).read_text(encoding="utf-8")


class _Reader:
    def __init__(self, resolve: Callable[[str], str | None]):
        self._resolve = resolve
        self._modules: dict[str, _Module | None] = {}
        self.out = Declarations()
        self._templates_used: set[int] = set()
        self._templates_unknown: dict[int, str] = {}
        self._declares: dict[int, bool] = {}
        self._eval_depth = 0
        self._main: _Module | None = None

    # ------------------------------------------------------------------ modules
    def load(self, name: str, source: str | None = None) -> _Module | None:
        if name in self._modules:
            return self._modules[name]
        self._modules[name] = None                     # guards import cycles
        source = source if source is not None else self._resolve(name)
        if source is None:
            return None
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return None
        module = _Module(name, tree)
        package = name.rsplit(".", 1)[0]
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                module.functions.setdefault(node.name, node)
            elif isinstance(node, ast.ClassDef):
                module.classes.setdefault(node.name, node)
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        module.functions.setdefault(target.id, node.value)
            elif isinstance(node, ast.ImportFrom) and node.module is not None:
                base = node.module if node.level == 0 else f"{package}.{node.module}"
                for alias in node.names:
                    module.imports[alias.asname or alias.name] = (base, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    module.imports[alias.asname or alias.name.split(".")[0]] = (
                        alias.name if alias.asname else alias.name.split(".")[0], None)
        self._modules[name] = module
        for stmt in tree.body:                         # module constants, in order
            targets, value = [], None
            if isinstance(stmt, ast.Assign):
                targets, value = [t for t in stmt.targets if isinstance(t, ast.Name)], stmt.value
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
                targets, value = [stmt.target], stmt.value
            for target in targets:
                module.constants[target.id] = self.eval(value, {}, module)
        return module

    def _submodule(self, module: _Module, alias: str) -> _Module | None:
        """The carebot module an alias names (``from carebot.x import y as z`` of a module)."""
        if alias not in module.imports:
            return None
        base, attr = module.imports[alias]
        full = f"{base}.{attr}" if attr else base
        if not full.startswith("carebot"):
            return None
        return self.load(full)

    def resolve_callable(self, func: ast.AST, module: _Module):
        """(function node, its module, implicit self) for a call target, or None."""
        if isinstance(func, ast.Name):
            name, owner = func.id, module
        elif isinstance(func, ast.Attribute):
            name = func.attr
            if isinstance(func.value, ast.Name) and func.value.id not in ("self", "node"):
                owner = self._submodule(module, func.value.id)
                if owner is None:
                    return None
            else:
                owner = module
        else:
            return None
        if name in owner.functions:
            fn = owner.functions[name]
            implicit_self = isinstance(func, ast.Attribute) and _params_of(fn)[:1] == ["self"]
            return fn, owner, implicit_self
        if name in owner.classes:
            cls = owner.classes[name]
            for stmt in cls.body:
                if isinstance(stmt, ast.FunctionDef) and stmt.name == "__init__":
                    return stmt, owner, True
            if _is_dataclass(cls) or not cls.bases:
                return cls, owner, True      # generated or inherited-from-object __init__
            return None
        if name in owner.imports:
            base, attr = owner.imports[name]
            if base.startswith("carebot") and attr:
                target = self.load(base)
                if target is not None and target is not owner:
                    return self.resolve_callable(ast.Name(id=attr), target)
        return None

    def is_external(self, func: ast.AST, module: _Module) -> bool:
        """A call into code outside carebot (rclpy, the standard library ...)."""
        root = func
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and root.id in module.imports:
            return not module.imports[root.id][0].startswith("carebot")
        return isinstance(root, ast.Name) and hasattr(builtins, root.id)

    # ------------------------------------------------------------------ evaluation
    def eval(self, expr: ast.AST | None, env: dict, module: _Module) -> Any:
        if expr is None:
            return UNKNOWN
        if isinstance(expr, ast.Constant):
            return expr.value
        if isinstance(expr, ast.Name):
            if expr.id in env:
                return env[expr.id]
            if expr.id in module.constants:
                return module.constants[expr.id]
            base, attr = module.imports.get(expr.id, ("", None))
            if attr and base.startswith("carebot"):       # from carebot.x import CONSTANT
                source = self.load(base)
                if source is not None and source is not module:
                    return source.constants.get(attr, UNKNOWN)
            return UNKNOWN
        if isinstance(expr, ast.Attribute):
            if expr.attr in _TYPE_NAMES and isinstance(expr.value, ast.Attribute | ast.Name):
                chain = expr.value.attr if isinstance(expr.value, ast.Attribute) else expr.value.id
                if chain in ("Type", "ParameterType"):
                    return _TypeHint(_TYPE_NAMES[expr.attr])
            if isinstance(expr.value, ast.Name) and expr.value.id not in env:
                sub = self._submodule(module, expr.value.id)
                if sub is not None:
                    return sub.constants.get(expr.attr, UNKNOWN)
            base = self.eval(expr.value, env, module)
            if isinstance(base, _Obj):
                return base.fields.get(expr.attr, UNKNOWN)
            return UNKNOWN
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
            value = self.eval(expr.operand, env, module)
            return -value if isinstance(value, (int, float)) and not isinstance(value, bool) else UNKNOWN
        if isinstance(expr, ast.BinOp):
            left, right = self.eval(expr.left, env, module), self.eval(expr.right, env, module)
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right)):
                ops = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
                       ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b}
                try:
                    return ops[type(expr.op)](left, right)
                except (KeyError, ZeroDivisionError):
                    return UNKNOWN
            return UNKNOWN
        if isinstance(expr, (ast.List, ast.Tuple)):
            return [self.eval(item, env, module) for item in expr.elts]
        if isinstance(expr, ast.Call):
            return self._eval_call(expr, env, module)
        return UNKNOWN

    def _eval_call(self, call: ast.Call, env: dict, module: _Module) -> Any:
        name = _call_name(call)
        if isinstance(call.func, ast.Name) and name in _CASTS and len(call.args) == 1:
            value = self.eval(call.args[0], env, module)
            if value is UNKNOWN or isinstance(value, (_TypeHint, _Obj, list)):
                return _TypeHint(_CASTS[name])
            try:
                return {"float": float, "int": int, "str": str, "bool": bool}[name](value)
            except (TypeError, ValueError):
                return _TypeHint(_CASTS[name])
        if name in ("FloatingPointRange", "IntegerRange"):
            kw = {k.arg: self.eval(k.value, env, module) for k in call.keywords}
            return _Range(kw.get("from_value"), kw.get("to_value"))
        found = self._dataclass(call.func, module)
        if found is None:
            return self._eval_helper(call, env, module)
        cls, owner = found
        fields = _dataclass_fields(cls)
        values = {f: self.eval(default, {}, owner) for f, default in fields.items() if default is not None}
        values.update({f: self.eval(a, env, module) for f, a in zip(fields, call.args)})
        values.update({k.arg: self.eval(k.value, env, module) for k in call.keywords if k.arg})
        return _Obj(values)

    def _eval_helper(self, call: ast.Call, env: dict, module: _Module) -> Any:
        """Value of a call to a one-line helper (``def _range(lo, hi): return [...]``)."""
        target = self.resolve_callable(call.func, module)
        if target is None or not isinstance(target[0], (ast.FunctionDef, ast.Lambda)):
            return UNKNOWN
        fn, owner, implicit_self = target
        if isinstance(fn, ast.Lambda):
            result = fn.body
        else:
            body = [stmt for stmt in fn.body if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))]
            if len(body) != 1 or not isinstance(body[0], ast.Return):
                return UNKNOWN
            result = body[0].value
        if self._eval_depth >= MAX_DEPTH:
            return UNKNOWN
        self._eval_depth += 1
        try:
            return self.eval(result, self._bind(fn, owner, implicit_self, call, env, module), owner)
        finally:
            self._eval_depth -= 1

    def _bind(self, fn, owner: _Module, implicit_self: bool, call: ast.Call, env: dict, module: _Module) -> dict:
        """The helper's parameters bound to the call's (evaluated) arguments."""
        names = _params_of(fn)
        params = names[1 if implicit_self else 0:]
        bound = {p: UNKNOWN for p in names}
        defaults = fn.args.defaults
        for p, default in zip(params[len(params) - len(defaults):], defaults):
            bound[p] = self.eval(default, {}, owner)
        for p, arg in zip(params, call.args):
            bound[p] = self.eval(arg, env, module)
        for keyword in call.keywords:
            if keyword.arg in bound:
                bound[keyword.arg] = self.eval(keyword.value, env, module)
        return bound

    def _dataclass(self, func: ast.AST, module: _Module, depth: int = 0):
        """(ClassDef, module) of a dataclass a call constructs, or None."""
        owner, name = module, _call_name(ast.Call(func=func, args=[], keywords=[]))
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owner = self._submodule(module, func.value.id) or module
        if name in owner.classes:
            cls = owner.classes[name]
            return (cls, owner) if _is_dataclass(cls) else None
        if name in owner.imports and depth < MAX_DEPTH:
            base, attr = owner.imports[name]
            target = self.load(base) if base.startswith("carebot") and attr else None
            if target is not None and target is not owner:
                return self._dataclass(ast.Name(id=attr), target, depth + 1)
        return None

    # ------------------------------------------------------------------ declarations
    def declares(self, fn, module: _Module, depth: int = 0, seen: frozenset = frozenset()) -> bool:
        """Whether calling ``fn`` (transitively) declares parameters (memoised)."""
        if id(fn) in self._declares:
            return self._declares[id(fn)]
        if id(fn) in seen:
            return False                    # a cycle: the first caller decides
        result = self._declares_uncached(fn, module, depth, seen)
        if not seen:                        # only top-level answers are complete
            self._declares[id(fn)] = result
        return result

    def _declares_uncached(self, fn, module: _Module, depth: int, seen: frozenset) -> bool:
        body = fn.body if isinstance(fn.body, list) else [fn.body]
        for node in (n for stmt in body for n in ast.walk(stmt)):
            if isinstance(node, ast.Call):
                if _call_name(node) in ("declare_parameter", "declare_parameters"):
                    return True
                target = self.resolve_callable(node.func, module)
                if target and self.declares(target[0], target[1], depth + 1, seen | {id(fn)}):
                    return True
        return False

    def record(self, call: ast.Call, env: dict, module: _Module, template: int | None) -> None:
        kw = {k.arg: k.value for k in call.keywords}
        if _call_name(call) == "declare_parameter":
            args = list(call.args) + [None] * 3
            entries = [(self.eval(args[0] or kw.get("name"), env, module),
                        args[1] or kw.get("value"), args[2] or kw.get("descriptor"))]
        else:   # declare_parameters(namespace, [(name, default, descriptor), ...])
            prefix = self.eval(call.args[0] if call.args else kw.get("namespace"), env, module)
            items = call.args[1] if len(call.args) > 1 else kw.get("parameters")
            if not isinstance(items, (ast.List, ast.Tuple)) or not isinstance(prefix, str):
                self._unknown(template, "declare_parameters with a computed list")
                return
            entries = []
            for item in items.elts:
                parts = (list(item.elts) if isinstance(item, ast.Tuple) else [item]) + [None] * 3
                name = self.eval(parts[0], env, module)
                entries.append((f"{prefix}.{name}" if prefix and isinstance(name, str) else name,
                                parts[1], parts[2]))
        for name, default_node, descriptor_node in entries:
            if not isinstance(name, str):
                self._unknown(template, "a parameter name computed at run time")
                continue
            declaration = self._descriptor(name, descriptor_node, env, module)
            if declaration.type is None and default_node is not None:
                default = self.eval(default_node, env, module)
                kind = default.type if isinstance(default, _TypeHint) else (
                    None if default is UNKNOWN or isinstance(default, _Obj) else value_type(default))
                declaration = Declaration(name, kind, declaration.min, declaration.max, declaration.description)
            self.out.params[name] = declaration

    def _unknown(self, template: int | None, why: str) -> None:
        if template is not None:
            self._templates_unknown.setdefault(template, why)   # fine if expanded at call sites
        else:
            self.out.open = True
            self.out.notes.append(why)

    def _descriptor(self, name: str, node: ast.AST | None, env: dict, module: _Module) -> Declaration:
        if not isinstance(node, ast.Call):
            return Declaration(name)
        kind, low, high, description = None, None, None, ""
        for keyword in node.keywords:
            if keyword.arg == "type":
                value = self.eval(keyword.value, env, module)
                kind = value.type if isinstance(value, _TypeHint) else None
            elif keyword.arg == "description":
                value = self.eval(keyword.value, env, module)
                description = value if isinstance(value, str) else ""
            elif keyword.arg in ("integer_range", "floating_point_range"):
                ranges = self.eval(keyword.value, env, module)
                for item in ranges if isinstance(ranges, list) else []:
                    if isinstance(item, _Range):
                        low = item.low if _is_number(item.low) else low
                        high = item.high if _is_number(item.high) else high
        return Declaration(name, kind, low, high, description)

    def visit(self, node: ast.AST, env: dict, module: _Module, depth: int, template: int | None) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            if not self.declares(node, module):
                return                      # declares nothing, directly or through helpers
            params = [p for p in _params_of(node) if p not in ("self", "cls")]
            if params:
                # a helper: declares what its callers pass; read at each call site,
                # and here only for what does not depend on its arguments
                inner = {**env, **{p: UNKNOWN for p in _params_of(node)}}
                for child in (node.body if isinstance(node.body, list) else [node.body]):
                    self.visit(child, inner, module, depth, id(node))
                return
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name):
            items = self.eval(node.iter, env, module)
            if isinstance(items, list):
                for item in items:
                    for child in node.body:
                        self.visit(child, {**env, node.target.id: item}, module, depth, template)
                return
            env = {**env, node.target.id: UNKNOWN}
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name in ("declare_parameter", "declare_parameters"):
                self.record(node, env, module, template)
            else:
                self._expand(node, env, module, depth, template)
        for child in ast.iter_child_nodes(node):
            self.visit(child, env, module, depth, template)

    def _expand(self, call: ast.Call, env: dict, module: _Module, depth: int, template: int | None) -> None:
        target = self.resolve_callable(call.func, module)
        if target is None:
            passes_node = any(isinstance(a, ast.Name) and a.id == "self"
                              for a in list(call.args) + [k.value for k in call.keywords])
            if passes_node and not self.is_external(call.func, module):
                self._unknown(template, f"the node is passed to {ast.unparse(call.func)}(), which "
                                        "cannot be read")
            return
        fn, owner, implicit_self = target
        if depth >= MAX_DEPTH or not self.declares(fn, owner):
            return
        if owner is self._main and not [p for p in _params_of(fn) if p not in ("self", "cls")]:
            return        # nothing to bind: its body is read where it is defined
        self._templates_used.add(id(fn))
        bound = self._bind(fn, owner, implicit_self, call, env, module)
        for child in (fn.body if isinstance(fn.body, list) else [fn.body]):
            self.visit(child, bound, owner, depth + 1, template)

    def finish(self) -> Declarations:
        for template, why in self._templates_unknown.items():
            if template not in self._templates_used:
                self.out.open = True
                self.out.notes.append(why)
        if not self.out.params:
            self.out.open = True
            self.out.notes.append("no parameter declarations found")
        return self.out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_dataclass(cls: ast.ClassDef) -> bool:
    return any("dataclass" in ast.unparse(d) for d in cls.decorator_list)


def _dataclass_fields(cls: ast.ClassDef) -> dict[str, ast.AST | None]:
    """Field names in order, with their default expressions (None: no default)."""
    return {s.target.id: s.value for s in cls.body
            if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
            and "ClassVar" not in ast.unparse(s.annotation)}


class DeclarationReader:
    """Reads several node modules, parsing each shared helper module only once."""

    def __init__(self, resolve: Callable[[str], str | None] = module_source):
        self._reader = _Reader(resolve)

    def read(self, module: str, source: str | None = None) -> Declarations:
        """Parameters the module declares; SyntaxError when it cannot be read."""
        reader = self._reader
        reader.out, reader._templates_used, reader._templates_unknown = Declarations(), set(), {}
        main = reader.load(module, source)
        if main is None:
            raise SyntaxError(f"cannot read {module}")
        reader._main = main
        for stmt in main.tree.body:
            reader.visit(stmt, {}, main, 0, None)
        return reader.finish()


def read_declarations(source: str, module: str = "__node__",
                      resolve: Callable[[str], str | None] = module_source) -> Declarations:
    """Parameters a node module declares; ``resolve`` finds the source of other modules."""
    return DeclarationReader(resolve).read(module, source)
