"""Kubernetes CEL: compile and evaluate expressions as kube-apiserver does.

A pure domain package (no gRPC, no HTTP) shared by CRD validation rules and, later,
ValidatingAdmissionPolicy.

Evaluator: cel-expr-python, the CEL team's binding of cel-cpp (type-checked compilation,
optionals, the strings extension, ``cel.bind``), chosen by measurement over cel-python
(pure Python: no optionals syntax, no extensions, slowest) and common-expression-language
(cel-rust: no ``.?`` optional syntax, no type checker). kube's own libraries (lists,
regex, URLs, quantity, IP, CIDR, sets) are ``kapi.cel.library``; kube's opaque types
travel as protobuf messages (``kapi.cel.opaque``); the cost model, which cel-cpp lacks,
is ``kapi.cel.cost``.

API for CRDs (``kapi.cel.validation``)::

    compiled = compile_rules(structural_schema, path="spec.versions[0].schema.openAPIV3Schema")
    compiled.errors()        # [FieldError]: what kube refuses at CRD create/update
                             # (compilation failed, estimated cost over budget, rule fields)
    compiled.has_rules()
    validate(compiled, new_obj, old_obj) -> [FieldError]        # kube's field errors
    validate_with_warnings(compiled, new_obj, old_obj) -> ([FieldError], [warning])

``compile_rules`` runs once per CRD version schema (a few ms per rule); ``validate`` runs
per write, ``old_obj`` being the stored object on update (None on create). Errors are
``kapi.errors.FieldError`` worded as kube's (``spec: Invalid value: "object": failed rule:
...``; a root rule's path is ``<nil>``), ready for ``errors.invalid(kind, group, name, errs)``.

For other callers (ValidatingAdmissionPolicy): ``Environment(variables).compile(source)``,
``runtime.evaluate(program, data)``, ``cost.estimate(checked.parse(program.serialize()),
sizer)``. The authorizer library of VAP plugs in as one more ``kapi.cel.library`` module
whose functions call an ``Authorizer`` passed in the activation.
"""
