"""Reconcile a realistic table of names against the graph through /reconcile; print precision,
recall and the latency per query.

    .venv/bin/python scripts/benchmark_reconcile.py            # in process (Flask test client)
    .venv/bin/python scripts/benchmark_reconcile.py --url http://127.0.0.1:8000   # a running server

The table mixes Chinese and English names, legal suffixes, the city prefix, typos, and names that
are not in the graph: real companies, some named in the articles (中芯国际), some Qingdao or group
companies near a name we hold (海信家电集团, 歌尔微电子, Qingdao Haier Biomedical). The expected
entity comes from the graph's own labels, never from memory.

Measures: a row is *matched* when the service says match=true. Match precision = correct matches /
matches; match recall = correct matches / rows whose entity is in the graph; top-1 recall = rows
whose best candidate is the right entity / rows in the graph; unknown rows must get no match.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (name as a user's table writes it, expected id or None when the graph does not hold it, what it tests)
TABLE = [
    ("海尔集团", "haier", "zh, group suffix"),
    ("Haier Group Co., Ltd.", "haier", "en, legal form"),
    ("青岛海信", "hisense", "city prefix"),
    ("Hisense Visual Technology Co., Ltd.", "hisense-visual", "en, legal form"),
    ("海信视象", "hisense-visual", "typo (象 for 像)"),
    ("芯恩（青岛）集成电路有限公司", "xin-en", "full-width parentheses"),
    ("XIN EN (Qingdao) Integrated Circuit Co.,Ltd", "xin-en", "en, full name"),
    ("北方华创科技集团股份有限公司", "naura", "zh, full legal name"),
    ("NAURA Technology Group", "naura", "en, group"),
    ("Goertek Inc.", "goertek", "en, Inc."),
    ("歌尔股份有限公司", "goertek", "zh, listed-company suffix"),
    ("Goertec", "goertek", "typo"),
    ("青岛惠科微电子有限公司", "huike-microelectronics", "Qingdao subsidiary"),
    ("惠科集团", "huike-group", "group"),
    ("Datang Semiconductor Technology Co., Ltd.", "datang-semiconductor", "en, full name"),
    ("大唐半导体", "datang-semiconductor", "short name"),
    ("Qingdao Microelectronics Industrial Prak", "qingdao-microelectronics-industrial-park", "typo"),
    ("青岛市集成电路产业园", "qingdao-ic-industrial-park", "park"),
    ("崂山区", "laoshan-district", "district, zh"),
    ("Huangdao District", "huangdao-district", "district, en"),
    ("中国海洋大学", "ocean-university-of-china", "university"),
    ("Ocean Univ. of China", "ocean-university-of-china", "abbreviation"),
    ("京东方", "boe", "zh short name"),
    ("BOE Technology Group Co., Ltd.", "boe", "en official name, not a label"),
    ("一汽解放", "faw-jiefang", "zh"),
    ("FAW-Volkswagen Automotive Co., Ltd.", "faw-volkswagen", "en, longer official name"),
    ("中科曙光", "sugon", "zh"),
    ("Gotion High-tech Co., Ltd.", "gotion-high-tech", "en, legal form"),
    ("TSMC", "tsmc", "acronym"),
    ("Airbus Helicopters", "airbus-helicopters", "en"),
    ("青岛城投集团", "qcig", "city prefix and group"),
    ("Qingdao Blue Valley Hi-tech Zone", "qingdao-blue-valley-hightech-zone", "spelling variant"),
    ("青岛啤酒股份有限公司", "tsingtao-brewery", "city prefix inside the name"),
    ("National Virtual Reality Innovation Center (Qingdao)", "national-vr-innovation-centre", "American spelling"),
    # not in the graph
    ("中芯国际集成电路制造有限公司", None, "named in article 000, not in the graph"),
    ("TCL科技集团股份有限公司", None, "absent"),
    ("Qingdao Haier Biomedical Co., Ltd.", None, "near Haier: a different company"),
    ("海信家电集团", None, "near Hisense: a different company"),
    ("歌尔微电子", None, "near Goertek: a subsidiary we do not hold"),
    ("Weichai Power Co., Ltd.", None, "absent"),
    ("Lenovo Group Limited", None, "absent"),
    ("华为技术有限公司", None, "absent"),
]


def post_batch(send, rows: list[tuple]) -> tuple[dict, list[float]]:
    """Reconcile rows one query per request (the latency of each) -> ({row index: result}, latencies)."""
    results, latencies = {}, []
    for i, (name, _, _) in enumerate(rows):
        t0 = time.perf_counter()
        body = send({"q": {"query": name, "limit": 3}})
        latencies.append(time.perf_counter() - t0)
        results[i] = body["q"]["result"]
    return results, latencies


def score(rows: list[tuple], results: dict) -> dict:
    matches = correct = top1 = in_graph = wrong_unknown = 0
    details = []
    for i, (name, expected, why) in enumerate(rows):
        result = results[i]
        best = result[0] if result else None
        matched = next((c for c in result if c.get("match")), None)
        in_graph += expected is not None
        if matched:
            matches += 1
            correct += matched["id"] == expected
            wrong_unknown += expected is None
        top1 += best is not None and expected is not None and best["id"] == expected
        details.append((name, expected, best["id"] if best else None, best["score"] if best else None,
                        bool(matched), why))
    return {
        "rows": len(rows), "in_graph": in_graph, "matches": matches, "correct_matches": correct,
        "match_precision": correct / matches if matches else 1.0,
        "match_recall": correct / in_graph if in_graph else 0.0,
        "top1_recall": top1 / in_graph if in_graph else 0.0,
        "unknown_matched": wrong_unknown, "details": details,
    }


def in_process_sender():
    sys.path.insert(0, str(ROOT / "server"))
    from chainkg.build.pipeline import build
    from chainkg.config import Config
    from chainkg.web.app import create_app

    config = Config(root=ROOT)
    client = create_app(config, build(config).dataset).test_client()
    client.get("/reconcile")  # build the index before timing

    def send(batch: dict) -> dict:
        r = client.post("/reconcile", data={"queries": json.dumps(batch, ensure_ascii=False)})
        assert r.status_code == 200, r.data
        return r.get_json()

    return send


def http_sender(url: str):
    def send(batch: dict) -> dict:
        data = urllib.parse.urlencode({"queries": json.dumps(batch, ensure_ascii=False)}).encode()
        with urllib.request.urlopen(url.rstrip("/") + "/reconcile", data=data, timeout=30) as r:
            return json.load(r)

    return send


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running chainkg server (default: in process)")
    args = parser.parse_args()
    send = http_sender(args.url) if args.url else in_process_sender()
    send({"warm": {"query": "海尔"}})
    results, latencies = post_batch(send, TABLE)
    s = score(TABLE, results)
    print(f"{'name':44} {'expected':36} {'best candidate':36} score match")
    for name, expected, best, sc, matched, _ in s["details"]:
        flag = "" if (best == expected) or (expected is None and not matched) else "  <-"
        print(f"{name[:44]:44} {str(expected)[:36]:36} {str(best)[:36]:36} {sc!s:>5} {'yes' if matched else '':5}{flag}")
    print()
    print(f"rows {s['rows']} (in graph {s['in_graph']}, not in graph {s['rows'] - s['in_graph']})")
    print(f"match precision {s['match_precision']:.3f}  ({s['correct_matches']} correct of {s['matches']} matches)")
    print(f"match recall    {s['match_recall']:.3f}  top-1 recall {s['top1_recall']:.3f}  "
          f"unknown names matched: {s['unknown_matched']}")
    ms = sorted(x * 1000 for x in latencies)
    print(f"latency per query ({'HTTP ' + args.url if args.url else 'in process'}): median {statistics.median(ms):.1f} ms, "
          f"p90 {ms[int(0.9 * (len(ms) - 1))]:.1f} ms, max {ms[-1]:.1f} ms")
    # a full batch of 50 (the service's limit) in one request
    batch = {f"q{i}": {"query": TABLE[i % len(TABLE)][0]} for i in range(50)}
    t0 = time.perf_counter()
    send(batch)
    print(f"one batch of 50 queries: {(time.perf_counter() - t0) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
