"""CEL compile and evaluation figures for kernel_cel (plugins/cel): a 3-rule set over a Deployment,
as a ValidatingAdmissionPolicy would evaluate it (``object`` dyn, library "admission"), and the
same rules over the Deployment's schema (typed checking, as CRD rules are).

Prints µs per compile, and µs per evaluation of the 3 rules: cel-expr-python's bare eval with a
dict (the floor), kernel_cel's eval building an activation per program, and one activation per
request shared by the 3 programs (what consumers should do); plus the runtime cost bound's
share. No assertions: run it, read the ratios."""

from __future__ import annotations

import argparse
import time

from cel_expr_python import cel

from kernel_cel import DYN, Environment, schema_type

RULES = [
    "object.spec.replicas <= 5",
    "object.spec.template.spec.containers.all(c, c.image.startsWith('registry.example.com/'))",
    "has(object.metadata.labels) && 'app' in object.metadata.labels",
]


def deployment() -> dict:
    container = {"name": "web", "image": "registry.example.com/web:1.2.3",
                 "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                 "env": [{"name": f"VAR_{i}", "value": f"value-{i}"} for i in range(10)],
                 "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "250m"}}}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "frontend"},
                         "annotations": {"note": "x" * 200}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [container, {**container, "name": "sidecar"}]}}}}


SCHEMA = {"type": "object", "properties": {
    "metadata": {"type": "object", "properties": {
        "name": {"type": "string"}, "labels": {"type": "object", "additionalProperties": {"type": "string"}}}},
    "spec": {"type": "object", "properties": {
        "replicas": {"type": "integer"},
        "template": {"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "containers": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "image": {"type": "string"}}}}}}}}}}}}


def per_call(fn, seconds: float) -> float:
    """µs per call of ``fn``: repeated for about ``seconds``, best of 3 rounds."""
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds / 10:
        fn()
        count += 1
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(count * 3):
            fn()
        best = min(best, (time.perf_counter() - start) / (count * 3))
    return best * 1e6


def measure(label: str, env: Environment, obj: dict, seconds: float) -> None:
    programs = [env.compile(rule, result="bool") for rule in RULES]
    raw_env = cel.NewEnv(variables={"object": cel.Type.DYN})
    raw = [raw_env.compile(rule) for rule in RULES]
    counter = iter(range(10**9))
    compile_us = per_call(lambda: env._compile(RULES[1] + f" || {next(counter)} < 0", "bool"), seconds)
    floor = per_call(lambda: [p.eval(data={"object": obj}) for p in raw], seconds)
    each = per_call(lambda: [p.eval({"object": obj}) for p in programs], seconds)

    def shared() -> None:
        activation = env.activation({"object": obj})
        for program in programs:
            program.eval(activation)
    shared_us = per_call(shared, seconds)
    activation_us = per_call(lambda: env.activation({"object": obj}), seconds)
    def shared_unlimited() -> None:
        activation = env.activation({"object": obj})
        for program in programs:
            program.eval(activation, cost_limit=None)
    unlimited = per_call(shared_unlimited, seconds)
    print(f"\n{label}")
    print(f"  compile one rule (check + cost estimate):   {compile_us:9.1f} µs")
    print(f"  estimated costs: {[p.estimated_cost for p in programs]}")
    print(f"  3 rules, cel-expr-python bare eval (floor): {floor:9.1f} µs")
    print(f"  3 rules, an activation per program:         {each:9.1f} µs   ({each / floor:.2f}x floor)")
    print(f"  3 rules, one activation per request:        {shared_us:9.1f} µs   ({shared_us / floor:.2f}x floor)")
    print(f"    of which building the activation:         {activation_us:9.1f} µs")
    print(f"  3 rules, one activation, no cost bound:     {unlimited:9.1f} µs   (the runtime cost bound: "
          f"{shared_us - unlimited:.1f} µs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per figure")
    args = parser.parse_args()
    obj = deployment()
    measure("ValidatingAdmissionPolicy shape: object dyn, library admission",
            Environment(variables={"object": DYN}, library="admission"), obj, args.seconds)
    measure("CRD-rule shape: object typed from a schema (checked fields, converted values)",
            Environment(variables={"object": schema_type(SCHEMA)}, library="crd"), obj, args.seconds)


if __name__ == "__main__":
    main()
