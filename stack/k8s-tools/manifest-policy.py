#!/usr/bin/env python3
"""Checks one rendered overlay for the rules a schema cannot express, and splits it for applying.

Usage: manifest-policy.py RENDERED.yaml OUT_DIR KAFKA_VERSION

Rules (each violation is one line naming the object, exit 1):
  - a Deployment scaled by an HPA or a KEDA ScaledObject sets no spec.replicas (every apply
    would reset the scaled count);
  - a KEDA kafka trigger names the bootstrap Service by its namespace's FQDN (the KEDA operator
    resolves names in its own namespace);
  - every Strimzi Kafka runs KAFKA_VERSION (the version the local stack runs);
  - the edge's nginx ConfigMap (edge-nginx-conf*) holds every file its files include by a
    relative name (nginx -t in the pod would fail on a missing one).
Writes OUT_DIR/namespaces.yaml (applied first: a dry run cannot create a namespace for the
objects in it), OUT_DIR/objects.yaml (everything else) and OUT_DIR/autoscaled.txt
("namespace deployment" per line).
"""
import re
import sys

import yaml


def name_of(doc):
    meta = doc.get("metadata") or {}
    return "%s %s/%s" % (doc.get("kind"), meta.get("namespace", "-"), meta.get("name"))


def main():
    rendered, out_dir, kafka_version = sys.argv[1:4]
    with open(rendered) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    errors = []
    scaled = set()
    for d in docs:
        ns = (d.get("metadata") or {}).get("namespace")
        spec = d.get("spec") or {}
        if d.get("kind") in ("HorizontalPodAutoscaler", "ScaledObject"):
            ref = spec.get("scaleTargetRef") or {}
            if ref.get("kind", "Deployment") == "Deployment":
                scaled.add((ns, ref.get("name")))
        if d.get("kind") == "ScaledObject":
            for t in spec.get("triggers") or []:
                if t.get("type") != "kafka":
                    continue
                for server in str((t.get("metadata") or {}).get("bootstrapServers", "")).split(","):
                    host = server.rsplit(":", 1)[0]
                    if not (host.endswith(".%s.svc" % ns) or ".%s.svc." % ns in host):
                        errors.append("%s: trigger bootstrapServers %s is not in namespace %s "
                                      "(use <service>.%s.svc:<port>)" % (name_of(d), server, ns, ns))
        if d.get("kind") == "Kafka" and d.get("apiVersion", "").startswith("kafka.strimzi.io/"):
            have = (spec.get("kafka") or {}).get("version")
            if have != kafka_version:
                errors.append("%s: spec.kafka.version is %s, the stack runs %s" % (name_of(d), have, kafka_version))
    for d in docs:
        meta = d.get("metadata") or {}
        if d.get("kind") == "Deployment" and (meta.get("namespace"), meta.get("name")) in scaled \
                and "replicas" in (d.get("spec") or {}):
            errors.append("%s: spec.replicas is set but an autoscaler owns it (every apply would "
                          "reset the scaled count)" % name_of(d))
    for d in docs:
        meta = d.get("metadata") or {}
        if d.get("kind") != "ConfigMap" or not str(meta.get("name", "")).startswith("edge-nginx-conf"):
            continue
        files = d.get("data") or {}
        for fname, text in sorted(files.items()):
            for inc in sorted(set(re.findall(r"\binclude\s+([^\s;]+)\s*;", str(text)))):
                if not inc.startswith("/") and inc not in files:
                    errors.append("%s: %s includes %s, which the ConfigMap does not hold "
                                  "(add it to the configMapGenerator)" % (name_of(d), fname, inc))
    for e in errors:
        print(e)
    namespaces = [d for d in docs if d.get("kind") == "Namespace"]
    with open(out_dir + "/namespaces.yaml", "w") as f:
        yaml.safe_dump_all(namespaces, f)
    with open(out_dir + "/objects.yaml", "w") as f:
        yaml.safe_dump_all([d for d in docs if d.get("kind") != "Namespace"], f)
    with open(out_dir + "/autoscaled.txt", "w") as f:
        for ns, name in sorted(scaled, key=str):
            f.write("%s %s\n" % (ns, name))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
