#!/usr/bin/env python3
"""gen_dataset.py - generate the realistic election data set the load runs vote from.

Reads the 22 departments of Guatemala and their municipalities (stack/data/guatemala.json,
public geographic facts) and the poll catalog (stack/polls.json), and writes one JSON file:

  election:     poll id, parties (the catalog's choices for guatemala-2027), ballot types,
                departments with their official two-digit codes, municipalities
                (four-digit codes "0101"), polling stations per municipality ("0101-003"),
                registered voters per station, regional party preferences;
  voters:       DPI-like voter ids "dpi-<13 digits>" (8-digit serial + check digit +
                department code + municipality code, as on a Guatemalan CUI), each with
                the department / municipality / station where it votes;
  band_contest: the band-contest poll, its choices and audience preference weights.

Deterministic: the same --seed and options give a byte-identical file. Nothing here is
hand-typed data: names come from the two input files, everything else from the seed.

  python3 locust/gen_dataset.py --out .state/load/dataset.json
  python3 locust/gen_dataset.py --seed 7 --voters 50000 --out /tmp/ds.json
"""
import argparse
import hashlib
import json
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Official INE/RENAP department codes (01-22). Used to build municipality and station
# codes the way Guatemalan election data does; the names must match guatemala.json.
DEPARTMENT_CODES = {
    "Guatemala": "01", "El Progreso": "02", "Sacatepéquez": "03", "Chimaltenango": "04",
    "Escuintla": "05", "Santa Rosa": "06", "Sololá": "07", "Totonicapán": "08",
    "Quetzaltenango": "09", "Suchitepéquez": "10", "Retalhuleu": "11", "San Marcos": "12",
    "Huehuetenango": "13", "Quiché": "14", "Baja Verapaz": "15", "Alta Verapaz": "16",
    "Petén": "17", "Izabal": "18", "Zacapa": "19", "Chiquimula": "20", "Jalapa": "21",
    "Jutiapa": "22",
}

# The five ballots a Guatemalan voter receives. Only the presidential one has a poll in
# stack/polls.json; the others are listed so the data set is complete, and marked poll=null.
BALLOT_TYPES = [
    {"id": "presidente", "title": "Presidente y Vicepresidente", "poll": "guatemala-2027"},
    {"id": "diputados-nacional", "title": "Diputados por Lista Nacional", "poll": None},
    {"id": "diputados-distrital", "title": "Diputados Distritales", "poll": None},
    {"id": "corporacion-municipal", "title": "Corporación Municipal", "poll": None},
    {"id": "parlacen", "title": "Diputados al Parlamento Centroamericano", "poll": None},
]

ELECTION_POLL = "guatemala-2027"
BAND_POLL = "band-contest"
NON_PARTY = ("NULO", "BLANCO")


def cui_check_digit(serial8):
    """Check digit of a Guatemalan CUI (DPI): sum(d_i * (i+2)) mod 11 over the 8-digit
    serial; 10 is not a valid digit (such serials are not issued)."""
    total = sum(int(d) * (i + 2) for i, d in enumerate(serial8))
    return total % 11


def make_dpi(serial, dept_code, muni_seq):
    """'dpi-' + 13 digits: serial(8) check(1) department(2) municipality(2). Returns None
    when the serial has no valid check digit."""
    s = "%08d" % (serial % 100000000)
    c = cui_check_digit(s)
    if c == 10:
        return None
    return "dpi-%s%d%s%02d" % (s, c, dept_code, muni_seq % 100)


def weights_dirichlet(rng, n, concentration):
    g = [rng.gammavariate(concentration, 1.0) for _ in range(n)]
    s = sum(g)
    return [x / s for x in g]


def build(args):
    with open(args.geo, encoding="utf-8") as f:
        geo = json.load(f)
    with open(args.catalog, encoding="utf-8") as f:
        catalog = json.load(f)
    polls = {p["id"]: p for p in catalog["polls"]}
    if ELECTION_POLL not in polls or BAND_POLL not in polls:
        sys.exit("gen_dataset: %s must define polls %s and %s" % (args.catalog, ELECTION_POLL, BAND_POLL))

    rng = random.Random(args.seed)
    election = polls[ELECTION_POLL]
    parties = list(election["choices"])
    real_parties = [p for p in parties if p not in NON_PARTY]

    # national party preference, then a regional tilt per department
    national = weights_dirichlet(rng, len(real_parties), 2.0)

    departments = []
    stations_flat = []          # (dept, muni, station, registered)
    for dname, munis in geo["departments"].items():
        code = DEPARTMENT_CODES.get(dname)
        if code is None:
            sys.exit("gen_dataset: department %r has no code in DEPARTMENT_CODES" % dname)
        tilt = weights_dirichlet(rng, len(real_parties), 8.0)
        pref = [0.7 * a + 0.3 * b for a, b in zip(national, tilt)]
        null_share = rng.uniform(0.02, 0.06)
        blank_share = rng.uniform(0.01, 0.04)
        scale = 1.0 - null_share - blank_share
        choice_weights = {p: round(w * scale, 6) for p, w in zip(real_parties, pref)}
        choice_weights.update({"NULO": round(null_share, 6), "BLANCO": round(blank_share, 6)})
        dept = {"code": code, "name": dname, "choice_weights": choice_weights, "municipalities": []}
        for i, mname in enumerate(munis, start=1):
            mcode = "%s%02d" % (code, i)
            # the department capital (listed first) and big cities get more stations
            base = rng.lognormvariate(1.6, 0.6)
            if i == 1:
                base *= 3
            if dname == "Guatemala":
                base *= 2.5
            n_st = max(args.stations_min, min(args.stations_max, int(round(base))))
            stations = []
            for s in range(1, n_st + 1):
                sid = "%s-%03d" % (mcode, s)
                registered = rng.randint(250, 600)      # a "junta receptora" serves a few hundred
                stations.append({"id": sid, "registered": registered})
                stations_flat.append((dept, dname, mname, mcode, i, sid, registered))
            dept["municipalities"].append({"code": mcode, "name": mname, "stations": stations})
        departments.append(dept)
    departments.sort(key=lambda d: d["code"])

    # voters: spread over stations in proportion to registered voters
    total_registered = sum(x[6] for x in stations_flat)
    cum = []
    acc = 0
    for x in stations_flat:
        acc += x[6]
        cum.append(acc)
    voters = []
    serials = rng.sample(range(10000000, 100000000), args.voters * 2)
    si = 0
    import bisect
    while len(voters) < args.voters:
        st = stations_flat[bisect.bisect_right(cum, rng.randrange(total_registered))]
        _, dname, mname, mcode, mseq, sid, _ = st
        dpi = None
        while dpi is None:
            dpi = make_dpi(serials[si], mcode[:2], mseq)
            si += 1
        voters.append({"id": dpi, "department": dname, "municipality": mname, "station": sid})

    band = polls[BAND_POLL]
    band_weights = weights_dirichlet(rng, len(band["choices"]), 3.0)

    return {
        "about": "Generated by locust/gen_dataset.py from stack/data/guatemala.json and stack/polls.json",
        "seed": args.seed,
        "election": {
            "poll": ELECTION_POLL,
            "title": election.get("title"),
            "attrs": election.get("attrs", []),
            "parties": parties,
            "ballot_types": BALLOT_TYPES,
            "national_weights": {p: round(w, 6) for p, w in zip(real_parties, national)},
            "stations": len(stations_flat),
            "registered": total_registered,
            "departments": departments,
        },
        "voters": voters,
        "band_contest": {
            "poll": BAND_POLL,
            "title": band.get("title"),
            "choices": list(band["choices"]),
            "weights": {c: round(w, 6) for c, w in zip(band["choices"], band_weights)},
        },
    }


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Generate the deterministic Guatemala election + band contest data set "
                    "used by locust/locustfile.py.",
        epilog="Example: python3 locust/gen_dataset.py --seed 2027 --voters 20000 --out .state/load/dataset.json")
    ap.add_argument("--seed", type=int, default=2027, help="random seed (default 2027)")
    ap.add_argument("--voters", type=int, default=20000, help="number of voters (default 20000)")
    ap.add_argument("--stations-min", type=int, default=2, help="min polling stations per municipality (default 2)")
    ap.add_argument("--stations-max", type=int, default=60, help="max polling stations per municipality (default 60)")
    ap.add_argument("--geo", default=os.path.join(ROOT, "stack", "data", "guatemala.json"),
                    help="departments/municipalities file (default stack/data/guatemala.json)")
    ap.add_argument("--catalog", default=os.environ.get("POLL_CATALOG", os.path.join(ROOT, "stack", "polls.json")),
                    help="poll catalog (default $POLL_CATALOG or stack/polls.json)")
    ap.add_argument("--out", required=True, help="output JSON path ('-' for stdout)")
    ap.add_argument("--quiet", action="store_true", help="no summary on stderr")
    args = ap.parse_args(argv)
    if args.voters < 1 or args.stations_min < 1 or args.stations_max < args.stations_min:
        ap.error("need --voters >= 1 and 1 <= --stations-min <= --stations-max")

    data = build(args)
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        tmp = args.out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, args.out)
    if not args.quiet:
        e = data["election"]
        nm = sum(len(d["municipalities"]) for d in e["departments"])
        print("gen_dataset: seed %d: %d departments, %d municipalities, %d stations, %d voters, "
              "%d parties, sha256 %s -> %s" % (
                  args.seed, len(e["departments"]), nm, e["stations"], len(data["voters"]),
                  len(e["parties"]), hashlib.sha256(text.encode()).hexdigest()[:12], args.out),
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
