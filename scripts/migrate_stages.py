"""One-off migration (issue #12 item 2): timeless ck:stage -> dated milestones.

Run once; afterwards the .trig files are the source and this script is the record of the hand
pass. Every `X ck:stage S` of a claim becomes `X ck:hasMilestone ms:{x}--{stage}--{time}--{modality}`
with a ck:Milestone node in the same claim graph (stage, modality, ck:pointInTime, ck:hasTimeBasis);
MILESTONES lists, per claim and subject, the milestones read from the claim's quote (a stated time,
else the article's date), including those the quote states and the old model could not hold.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from migrate_figures import MODALITY, NOTATION, PUBLISHED, claim_end, kebab, typed  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# (claim, subject) -> [(stage, modality, time)]; time "pub" or "i:T" (stated)
MILESTONES = {
    ("001-xin-en-8inch-fab", "xin-en-8inch-fab"): [("InProduction", "a", "i:2018")],
    ("001-foxconn-packaging-testing", "foxconn-wafer-level-packaging-factory"): [("InProduction", "a", "i:2021")],
    ("001-huike-6inch-line", "huike-6inch-power-device-line"): [("InProduction", "a", "i:2022")],
    ("002-ten-planned-parks", "qingdao-ten-emerging-industry-parks"): [("Planned", "a", "pub")],
    ("002-microelectronics-park", "qingdao-microelectronics-park-phase-1"): [("InProduction", "a", "pub")],
    ("002-display-park-projects", "zhongnan-hightech-qingdao-optoelectronics-park"): [("UnderConstruction", "a", "pub")],
    ("002-display-park-projects", "wanda-optoelectronics-qingdao-base"): [("UnderConstruction", "a", "pub")],
    ("003-ai-park-projects", "sugon-global-rd-hq-base"): [("UnderConstruction", "a", "pub")],
    ("003-ai-park-projects", "faw-jiefang-qingdao-cv-research-institute"): [("UnderConstruction", "a", "pub")],
    ("003-ai-park-projects", "taikeda-data-centre"): [("UnderConstruction", "a", "pub")],
    ("003-ic-park-april-signings", "beisilan-wet-equipment-hq-base"): [("Signed", "a", "i:2024-04")],
    ("003-ic-park-april-signings", "kexin-chip-design-hq"): [("Signed", "a", "i:2024-04")],
    ("003-vr-headset-optics-project", "vr-headset-optical-module-project-phase-1"): [("InProduction", "a", "pub")],
    ("003-vr-chuangxiang-centre", "vr-chuangxiang-centre"): [("UnderConstruction", "a", "pub")],
    # "签约10天即实现封顶": signed, then topped out ten days later
    ("003-hanbo-base", "hanbo-optoelectronics-production-base"): [("Signed", "a", "pub"), ("ToppedOut", "a", "pub")],
    ("003-ai-computing-centre-results", "qingdao-ai-computing-centre"): [("InProduction", "a", "pub")],
    ("003-zhongwei-ipm-project", "zhongwei-chuangxin-ipm-project"): [("InProduction", "a", "i:2023-09")],
    ("003-dongjiakou-pilot-base", "dongjiakou-new-materials-pilot-base"): [("UnderConstruction", "a", "pub")],
    # 003: boards leave the line and go to BOE's base: producing
    ("003-wanda-supplies-boe", "wanda-optoelectronics-qingdao-base"): [("InProduction", "a", "pub")],
    # "争取……落地开工": planned now, the start of construction is a target
    ("004-jimo-offshore-next", "huaneng-jimo-offshore-wind-project"): [("Planned", "a", "pub"), ("Started", "t", "pub")],
    ("004-jimo-offshore-next", "huadian-jimo-offshore-wind-project"): [("Planned", "a", "pub"), ("Started", "t", "pub")],
    ("004-licang-life-health-projects", "caibao-industrial-park-project"): [("UnderConstruction", "a", "pub")],
    ("004-great-power-project", "great-power-energy-storage-battery-project"): [("UnderConstruction", "a", "pub")],
    # "海上部分开工建设，预计2025年3月首批并网发电"
    ("004-powerchina-pv-phase-one", "powerchina-offshore-pv-phase-one"): [
        ("UnderConstruction", "a", "pub"), ("GridConnection", "x", "i:2025-03")],
    ("004-laoshan-ai-2025-plan", "laoshan-ai-large-model-innovation-centre"): [("Planned", "a", "pub")],
    ("004-open-cell-project", "qingdao-super-large-panel-open-cell-project"): [("Signed", "a", "i:2025")],
}


def main() -> None:
    for path in sorted((ROOT / "triples").glob("0*.trig")):
        text = path.read_text(encoding="utf-8")
        article = path.name[:3]
        todo = {k: v for k, v in MILESTONES.items() if k[0][:3] == article}
        if not todo:
            continue
        done = set()
        # 1. each `ck:stage ck:StageX` becomes a link to the first milestone of its subject
        out, pos = [], 0
        for m in re.finditer(r"ck:stage ck:Stage(\w+)", text):
            head = text[:m.start()]
            claim = re.findall(r"^claim:([\w-]+)\s*\{", head, re.M)[-1]
            subject = re.findall(r"^    id:([\w-]+)", head, re.M)[-1]
            key = (claim, subject)
            stage, mod, time = todo[key][0]
            out.append(text[pos:m.start()] + f"ck:hasMilestone ms:{iri(subject, stage, mod, time, article)}")
            pos = m.end()
            done.add(key)
        text = "".join(out) + text[pos:]
        # 2. the milestone nodes (and links not yet written) at the end of each claim graph
        for (claim, subject), rows in todo.items():
            lines = []
            for i, (stage, mod, time) in enumerate(rows):
                node = iri(subject, stage, mod, time, article)
                if i > 0 or (claim, subject) not in done:
                    lines.append(f"    id:{subject} ck:hasMilestone ms:{node} .")
                t = PUBLISHED[article] if time == "pub" else time[2:]
                basis = "TimeFromPublication" if time == "pub" else "TimeStated"
                lines.append(f"    ms:{node} a ck:Milestone ;\n        ck:milestoneStage ck:Stage{stage} ; "
                             f"ck:hasModality ck:{MODALITY[mod]} ;\n        ck:pointInTime {typed(t)} ; ck:hasTimeBasis ck:{basis} .")
            end = claim_end(text, claim)
            text = text[:end] + "\n" + "\n".join(lines) + "\n" + text[end:]
        if "@prefix ms:" not in text:
            text = text.replace("@prefix id:", "@prefix ms:    <https://w3id.org/chainkg/id/milestone/> .\n@prefix id:", 1)
        path.write_text(text, encoding="utf-8")
        print(f"{path.name}: {sum(len(v) for v in todo.values())} milestones")


def iri(subject: str, stage: str, mod: str, time: str, article: str) -> str:
    t = PUBLISHED[article] if time == "pub" else time[2:]
    return f"{subject}--{kebab(stage)}--{t}--{NOTATION[mod]}"


if __name__ == "__main__":
    main()
