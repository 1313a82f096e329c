"""One-off migration (issue #12 item 1): ck:Quantity blank nodes -> figures as observations.

Run once (`python scripts/migrate_figures.py`); afterwards the .trig files are the source and this
script is the record of the hand pass. Each blank ck:Quantity/ck:Target is replaced by a figure IRI

    https://w3id.org/chainkg/id/figure/{subject}--{variable}--{time}--{modality}

described in the same claim graph: its variable (a reusable ck:Variable, vocabularies.ttl), its
modality, bounds (ck:minValue/ck:maxValue from the hedge), and its time: ck:pointInTime for a
stock, ck:startTime/ck:endTime for a flow whose period the article states, each with a
ck:hasTimeBasis (ck:TimeStated or ck:TimeFromPublication: the article's date). The table FIGURES
below is the hand pass: one row per figure, read from its quote.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections import defaultdict
from pathlib import Path

import rdflib
from rdflib import Literal, Namespace
from rdflib.namespace import XSD

ROOT = Path(__file__).resolve().parent.parent
CK = Namespace("https://w3id.org/chainkg/ontology#")
ID = "https://w3id.org/chainkg/id/"
CLAIM = "https://w3id.org/chainkg/claim/"
PUBLISHED = {"000": "2026-02-12", "001": "2026-01-08", "002": "2022-08", "003": "2024-04", "004": "2025-01"}

# (claim, original wording[, note fragment]) -> (variable, modality, time)
# modality: a actual, t target, d design, x expected, e estimate
# time: "pub" (the article's date, an instant), "i:T" (a stated instant), "p:T" (a stated period T..T),
#       "p:A/B" (a stated period A..B)
FIGURES = {
    ("000-hisense-xinxin", "第5代"): ("ProductGeneration", "a", "pub"),
    ("000-ic-chain-111-enterprises", "111家"): ("ChainEnterprises", "a", "pub"),
    ("000-nev-chips-per-vehicle", "上千颗"): ("ChipsNeededPerVehicle", "a", "pub"),
    ("000-qingdao-nev-output-2025", "超过20万辆"): ("NevProductionVolume", "a", "p:2025-01/2025-07"),
    ("001-xin-en-8inch-fab", "over 90%"): ("ProductionYieldRate", "a", "pub"),
    ("001-ic-park-48-key-enterprises", "48 key enterprises"): ("KeyEnterprisesSettled", "a", "pub"),
    ("001-ic-park-48-key-enterprises", "about 180 billion yuan"): ("KeyEnterprisesTotalInvestment", "a", "pub"),
    ("001-qcig-figures", "641 projects"): ("ProjectsInvested", "a", "pub"),
    ("001-qcig-figures", "over 60 billion yuan"): ("CapitalLeveragedCumulative", "a", "pub"),
    ("001-qcig-figures", "exceeding 30 billion yuan"): ("FundAmountInvested", "a", "pub"),
    ("001-high-end-manufacturing-ai", "over 300 billion yuan"): ("OverallIndustryScale", "a", "pub"),
    ("001-ic-chain-111-enterprises-2022", "111 enterprises"): ("ChainEnterprises", "a", "i:2022"),
    ("001-china-semiconductor-market", "1302.8 billion yuan"): ("NationalMarketSize", "a", "pub"),
    ("001-hisense-chips", "fifth - generation"): ("ProductGeneration", "a", "pub"),
    ("001-wuyuan-upstream-partners", "over 85%"): ("DomesticRawMaterialRate", "a", "pub"),
    ("001-wuyuan-upstream-partners", "over 70%"): ("DomesticEquipmentRate", "a", "pub"),
    ("001-wuyuan-upstream-partners", "more than 10"): ("PartnerEnterprisesLinked", "a", "pub"),
    ("001-ic-park-funds", "exceeded 14 billion yuan"): ("NewFundSize", "a", "p:2024"),
    ("001-ic-park-funds", "over 20 billion yuan"): ("FundSizeAttracted", "a", "pub"),
    ("001-boe-module-lines", "150 million"): ("LcdModuleCapacity", "x", "pub"),
    ("001-boe-module-lines", "47 production lines"): ("ProductionLinesInOperation", "a", "pub"),
    ("001-ev-chips-vehicle-makers", "1000 - 1200 chips"): ("ChipsNeededPerVehicle", "a", "pub"),
    ("001-city-enterprise-counts", "138,800"): ("SemiconductorEnterprises", "a", "i:2024-08"),
    ("001-city-enterprise-counts", "40,300"): ("SemiconductorEnterprises", "a", "i:2024-08"),
    ("001-city-enterprise-counts", "71,000"): ("SemiconductorEnterprises", "a", "i:2024-08"),
    ("001-aic-funds", '"Big Five"'): ("FundsEstablished", "a", "pub"),
    ("001-goertek-vr", "70%"): ("ResearchForcesShare", "a", "pub"),
    ("001-goertek-vr", "over 80%"): ("VrHeadsetGlobalMarketShare", "a", "pub"),
    ("001-ic-target-2027", "200 billion yuan"): ("OverallIndustryScale", "t", "i:2027"),
    ("002-sco-cleanroom-rd-centre", "5万平方米"): ("CleanroomArea", "a", "pub"),
    ("002-vr-park-target-2024", "300亿元"): ("OverallIndustryScale", "t", "i:2024"),
    ("002-meeting-2022-08-09", "十多个"): ("ParksToBeListed", "x", "pub"),
    ("002-cecgv-qingdao-park", "1000余家"): ("OrganisationsInOperation", "a", "pub"),
    ("002-cecgv-qingdao-park", "超过2000家"): ("OrganisationsSettled", "a", "pub"),
    ("002-cecgv-qingdao-park", "五大"): ("IndustrialClusters", "a", "pub"),
    ("002-auto-new-city", "200余个"): ("ProjectsIntroduced", "a", "pub"),
    ("002-blue-biomed-park", "两种"): ("NewDrugsClassOne", "a", "pub"),
    ("002-microelectronics-park-targets", "年产20亿只"): ("SensorCapacity", "t", "pub"),
    ("002-microelectronics-park-targets", "约200亿元"): ("AnnualOutputValue", "t", "pub"),
    ("002-shanghai-bay-area-figures", "30余个"): ("SupportingProjects", "a", "pub"),
    ("002-shanghai-bay-area-figures", "超过500亿元"): ("ChainProjectsInvestment", "a", "pub"),
    ("002-laixi-nev-park-target", "百万辆规模"): ("VehicleProductionVolume", "t", "pub"),
    ("002-laixi-nev-park-target", "千亿级产业"): ("OverallIndustryScale", "t", "pub"),
    ("002-laixi-nev-park", "2家"): ("VehicleMakers", "a", "pub"),
    ("002-laixi-nev-park", "30余家"): ("AutoPartsMakers", "a", "pub"),
    ("002-ic-park-14-projects", "14个"): ("ProjectsNegotiated", "a", "pub"),
    ("002-three-year-action-24-chains", "24条"): ("KeyIndustrialChains", "a", "pub"),
    ("002-blue-valley-hightech-zone", "17个"): ("ProjectsInNegotiation", "a", "pub"),
    ("002-blue-valley-hightech-zone", "14个"): ("ProjectsLanded", "a", "pub"),
    ("002-yida-valley", "110余家"): ("OrganisationsSettled", "a", "pub"),
    ("002-yida-valley", "22个"): ("ProjectsIntroduced", "a", "pub"),
    ("003-vr-park-2024-targets", "60%以上"): ("IndustryScaleGrowth", "t", "p:2024"),
    ("003-vr-park-2024-targets", "不少于30个"): ("NewProjectsIntroduced", "t", "p:2024"),
    ("003-display-park-growth-2023", "17%"): ("AboveScaleRevenueGrowth", "a", "p:2023"),
    ("003-innovation-platforms", "1家"): ("ResearchInstitutesPerPark", "t", "pub"),
    ("003-innovation-platforms", "25个"): ("ProvincialInnovationPlatforms", "a", "pub"),
    ("003-hanbo-base", "50亿元"): ("ProjectTotalInvestment", "a", "pub"),
    ("003-projects-end-march-2024", "1351.4亿元"): ("UnderConstructionProjectsInvestment", "a", "i:2024-03-31"),
    ("003-projects-end-march-2024", "已签约待开工项目13个"): ("SignedNotStartedProjects", "a", "i:2024-03-31"),
    ("003-projects-end-march-2024", "337.9亿元"): ("SignedNotStartedProjectsInvestment", "a", "i:2024-03-31"),
    ("003-projects-end-march-2024", "在建项目50个"): ("UnderConstructionProjects", "a", "i:2024-03-31"),
    ("003-ai-computing-centre-results", "70个以上"): ("AlgorithmModels", "a", "pub"),
    ("003-ai-computing-centre-results", "50多家"): ("CooperatingEnterprises", "a", "pub"),
    ("003-ai-computing-centre-results", "100多个"): ("SolutionsIncubated", "a", "pub"),
    ("003-vr-headset-optics-project", "22条"): ("ProductionLinesInstalled", "a", "pub"),
    ("003-funds", "172.6亿元"): ("MatchingFundsTotalSize", "a", "pub"),
    ("003-funds", "106.8亿元"): ("FundAmountInvested", "a", "pub"),
    ("003-funds", "20支"): ("FundsEstablished", "a", "pub"),
    ("003-funds", "117.8亿元"): ("FundPaidIn", "a", "pub"),
    ("003-revenue-target", "突破1300亿元"): ("AnnualRevenue", "t", "pub"),
    ("003-dongjiakou-pilot-base-capacity", "60余个"): ("PilotCapacity", "d", "pub"),
    ("003-boe-capacity", "1.5亿片"): ("LcdModuleCapacity", "x", "pub"),
    ("003-computing-power-report", "3.6‰"): ("DigitalEconomyGrowthPerIndexPoint", "e", "pub"),
    ("003-computing-power-report", "1.7‰"): ("GdpGrowthPerIndexPoint", "e", "pub"),
    ("003-ai-park-enterprises", "200余家"): ("EnterprisesGathered", "a", "pub"),
    ("003-ai-park-enterprises", "7家"): ("LittleGiantEnterprises", "a", "pub"),
    ("003-ai-park-enterprises", "40%"): ("UnspecifiedGrowth", "a", "p:2023"),
    ("003-ic-park-april-signings", "6亿元"): ("ProjectTotalInvestment", "a", "pub"),
    ("003-ic-park-april-signings", "9亿元"): ("ProjectTotalInvestment", "a", "pub"),
    ("003-wanda-supplies-boe", "不到一公里"): ("DistanceToBoeBase", "a", "pub"),
    ("004-great-power-qingdao-base", "130亿元"): ("ProjectTotalInvestment", "a", "pub"),
    ("004-great-power-qingdao-base", "36GWh"): ("BatteryCapacity", "d", "pub"),
    ("004-xinhe-base-figures", "84个"): ("ProjectsSettled", "a", "pub"),
    ("004-xinhe-base-figures", "百亿级"): ("OverallIndustryScale", "a", "pub"),
    ("004-xinhe-base-figures", "530多亿元"): ("SettledProjectsInvestment", "a", "pub"),
    ("004-laoshan-ai-2025-plan", "突破400亿元"): ("AiIndustryScale", "t", "i:2025"),
    ("004-laoshan-ai-2025-plan", "30个以上"): ("NewProjectsIntroduced", "t", "p:2025"),
    ("004-jimo-offshore-wind", "百亿级"): ("ProjectTotalInvestment", "a", "pub"),
    ("004-licang-2025-targets", "10家"): ("EnterprisesPerTrack", "t", "p:2025"),
    ("004-licang-2025-targets", "3个"): ("ProjectsOverTenBillionSigned", "t", "p:2025"),
    ("004-licang-2025-targets", "5个"): ("ProjectsOverThreeBillionSigned", "t", "p:2025"),
    ("004-licang-2025-targets", "不少于2个"): ("LeadingProjectsPerTrack", "t", "p:2025"),
    ("004-laoshan-ai-2024", "增长25%"): ("AiIndustryScaleGrowth", "a", "p:2024"),
    ("004-laoshan-ai-2024", "40个"): ("NewProjectsSettled", "a", "p:2024"),
    ("004-laoshan-ai-2024", "约20万平方米"): ("NewCarrierArea", "a", "p:2024"),
    ("004-laoshan-ai-2024", "350亿元"): ("AiIndustryScale", "a", "i:2024"),
    ("004-jimo-offshore-next", "过百亿元"): ("ProjectTotalInvestment", "a", "pub"),
    ("004-xinhe-base-2025", "82亿元"): ("ProjectsImplementedInvestment", "t", "p:2025"),
    ("004-xinhe-base-2025", "24个"): ("ProjectsImplemented", "t", "p:2025"),
    ("004-jimo-vehicle-output-2024", "增长15%"): ("VehicleProductionGrowth", "a", "p:2024"),
    ("004-jimo-vehicle-output-2024", "突破45万辆"): ("VehicleProductionVolume", "a", "p:2024"),
    ("004-jimo-vehicle-output-2024", "超过20%"): ("NevShareOfVehicleOutput", "a", "p:2024"),
    ("004-jiaozhou-smart-appliances", "千亿级"): ("IndustryScaleSmartAppliances", "t", "pub"),
    ("004-open-cell-project", "30亿元"): ("ProjectTotalInvestment", "a", "pub"),
    ("004-open-cell-project", "超300亿元"): ("RelatedChainOutputValue", "x", "pub"),
    ("004-chengyang-next-steps", "10家"): ("BenchmarkEnterprises", "t", "pub"),
    ("004-chengyang-next-steps", "10个"): ("DemonstrationProjects", "t", "pub"),
    ("004-jimo-wind-equipment-park", "百亿级"): ("OverallIndustryScale", "t", "pub"),
    ("004-ic-park-figures", "40家"): ("KeyEnterprisesSettled", "a", "pub"),
    ("004-ic-park-figures", "1793亿元"): ("KeyEnterprisesTotalInvestment", "a", "pub"),
    ("004-jimo-two-industries", "千亿级", "绿色能源"): ("IndustryScaleGreenEnergy", "t", "i:2025"),
    ("004-jimo-two-industries", "千亿级", "汽车"): ("IndustryScaleAutomotive", "t", "i:2025"),
    ("004-powerchina-offshore-pv", "102亿元"): ("ProjectTotalInvestment", "a", "pub"),
    ("004-shinan-2025-software", "5个以上"): ("KeySoftwareProjects", "t", "p:2025"),
    ("004-advantage-industries", "千亿级", "高端化工"): ("IndustryScaleChemicalsNewMaterials", "a", "pub"),
    ("004-advantage-industries", "千亿级", "现代轻工"): ("IndustryScaleModernLightIndustry", "a", "pub"),
    ("004-advantage-industries", "千亿级", "智能家电"): ("IndustryScaleSmartAppliances", "a", "pub"),
    ("004-shinan-software-growth", "11.1%"): ("SoftwareRevenueGrowth", "a", "p:2024"),
    ("004-appliance-centre-technologies", "20项"): ("KeyTechnologiesBrokenThrough", "a", "pub"),
    ("004-chengyang-new-energy-progress", "10万平方米"): ("BuildingArea", "a", "pub"),
    ("004-chengyang-new-energy-progress", "23个"): ("UpstreamDownstreamProjects", "a", "pub"),
    ("004-ten-plus-one-structure", "2个"): ("IndustriesInCategory", "a", "pub"),
    ("004-ten-plus-one-structure", "40个"): ("SubTracks", "a", "pub"),
    ("004-ten-plus-one-structure", "5个"): ("IndustriesInCategory", "a", "pub"),
    ("004-ten-plus-one-structure", "3个"): ("IndustriesInCategory", "a", "pub"),
    ("004-ten-plus-one-structure", "1批"): ("IndustryBatches", "a", "pub"),
    ("004-jimo-vehicle-bases", "400余家"): ("AutoPartsMakers", "a", "pub"),
    ("004-jimo-vehicle-bases", "四大"): ("VehicleProductionBases", "a", "pub"),
    ("004-jimo-vehicle-targets", "突破50万辆"): ("VehicleProductionVolume", "t", "p:2025"),
    ("004-jimo-vehicle-targets", "达到30%"): ("NevShareOfVehicleOutput", "t", "p:2025"),
    ("004-jimo-chery-targets", "40%以上"): ("LocalSupplyRate", "t", "i:2025"),
    ("004-jimo-chery-targets", "超过25万辆"): ("VehicleProductionVolume", "t", "p:2025"),
    ("004-new-display-park-2024-projects", "5个"): ("ProjectsStartedProduction", "a", "p:2024"),
}

# Targets set by a plan or meeting the claim names (ck:setBy).
SET_BY: dict[str, str] = {}

MODALITY = {"a": "ModalityActual", "t": "ModalityTarget", "d": "ModalityDesign", "x": "ModalityExpected",
            "e": "ModalityEstimate"}
LINK = {"a": "hasQuantity", "e": "hasQuantity", "t": "hasTarget", "d": "hasProjection", "x": "hasProjection"}
NOTATION = {"a": "actual", "t": "target", "d": "design", "x": "expected", "e": "estimate"}


def kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()


def typed(t: str) -> str:
    if re.fullmatch(r"\d{4}", t):
        return f'"{t}"^^xsd:gYear'
    if re.fullmatch(r"\d{4}-\d{2}", t):
        return f'"{t}"^^xsd:gYearMonth'
    return f'"{t}"^^xsd:date'


def lit(o) -> str:
    return Literal(o).n3() if not isinstance(o, Literal) else o.n3()


def spans(text: str):
    """(start, end) of every '[ a ck:Quantity|ck:Target ; ... ]' blank node, strings skipped."""
    for m in re.finditer(r"\[\s*a ck:(?:Quantity|Target)\s*;", text):
        i, depth, in_str = m.start(), 0, False
        while True:
            c = text[i]
            if in_str:
                if c == "\\":
                    i += 2
                    continue
                if c == '"':
                    in_str = False
            elif c == '"':
                in_str = True
            elif c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
                if depth == 0:
                    yield m.start(), i + 1
                    break
            i += 1


def claim_end(text: str, claim: str) -> int:
    """Offset of the closing brace of claim graph `claim`."""
    m = re.search(rf"^claim:{re.escape(claim)}\s*\{{", text, re.M)
    i, depth, in_str = m.end() - 1, 0, False
    while True:
        c = text[i]
        if in_str:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1


def migrate(path: Path, keys: dict) -> None:
    text = path.read_text(encoding="utf-8")
    ds = rdflib.Dataset()
    ds.parse(path, format="trig")
    article = path.name[:3]
    # the blank nodes and their data, by claim and wording
    found = {}
    for g in ds.graphs():
        name = str(g.identifier)
        if not name.startswith(CLAIM):
            continue
        claim = name[len(CLAIM):]
        for s, p, q in g:
            if p not in (CK.hasQuantity, CK.hasTarget):
                continue
            po = {pp: oo for pp, oo in g.predicate_objects(q)}
            found.setdefault((claim, str(po[CK.originalWording]), str(po.get(CK.note, ""))), []).append((s, po, claim))
    additions = defaultdict(list)
    replaced = []
    for start, end in spans(text):
        body = text[start:end]
        wording = re.search(r'ck:originalWording\s+("(?:[^"\\]|\\.)*")', body).group(1)
        wording = rdflib.util.from_n3(wording)
        note_m = re.search(r'ck:note\s+("(?:[^"\\]|\\.)*")', body)
        note = str(rdflib.util.from_n3(note_m.group(1))) if note_m else ""
        claim = max((c for c in (m.group(1) for m in re.finditer(r"^claim:([\w-]+)\s*\{", text[:start], re.M))),
                    key=lambda c: text.rfind(f"claim:{c} {{", 0, start))
        key = (claim, str(wording), note)
        subject, po, _ = found[key].pop(0)
        row = FIGURES.get((claim, str(wording))) or next(
            v for k, v in FIGURES.items() if len(k) == 3 and k[:2] == (claim, str(wording)) and k[2] in note)
        var, mod, time = row
        iri = keys[(claim, str(subject), str(wording), note)]
        replaced.append((start, end, iri, mod, claim))
        lines = [f"    fig:{iri} a ck:{'Target' if mod == 't' else 'Quantity'} ;",
                 f"        ck:hasVariable ck:{var} ; ck:hasModality ck:{MODALITY[mod]} ;"]
        metric = str(po[CK.hasMetric]).split("#")[1]
        value = po[CK.value]
        unit = str(po[CK.hasUnit]).split("#")[1]
        lines.append(f"        ck:hasMetric ck:{metric} ; ck:value {value.n3().split('^^')[0].strip(chr(34))} ; ck:hasUnit ck:{unit} ;")
        qual = str(po[CK.hasQualifier]).split("#")[1] if CK.hasQualifier in po else None
        v = float(value)
        mx = po.get(CK.maxValue)
        bounds = []
        if str(wording).endswith("级") or "级" in str(wording):
            qual = "OrderOfMagnitude"
            bounds = [f"ck:minValue {value} ; ck:maxValue {float(v * 10)!r}"]
        elif qual in ("Over", "AtLeast"):
            bounds = [f"ck:minValue {value}"]
        elif qual == "LessThan":
            bounds = [f"ck:maxValue {value}"]
        elif mx is not None:
            bounds = [f"ck:minValue {value} ; ck:maxValue {mx}"]
        if qual:
            bounds.insert(0, f"ck:hasQualifier ck:{qual}")
        if bounds:
            lines.append("        " + " ; ".join(bounds) + " ;")
        if CK.hasIndustry in po:  # the industry the figure is about (a dimension, kept)
            lines.append(f"        ck:hasIndustry id:{str(po[CK.hasIndustry])[len(ID):]} ;")
        # ck:stage on a count is now the variable's ck:constraint (vocabularies.ttl)
        if CK.countOf in po:
            lines.append(f"        ck:countOf ck:{str(po[CK.countOf]).split('#')[1]} ;")
        if CK.targetYear in po:
            lines.append(f"        ck:targetYear {po[CK.targetYear].n3().replace(str(XSD), 'xsd:').replace('<', '').replace('>', '')} ;")
        if mod == "t" and claim in SET_BY:
            lines.append(f"        ck:setBy id:{SET_BY[claim]} ;")
        if CK.note in po:
            lines.append(f"        ck:note {po[CK.note].n3()} ;")
        if time == "pub":
            lines.append(f"        ck:pointInTime {typed(PUBLISHED[article])} ; ck:hasTimeBasis ck:TimeFromPublication ;")
        elif time.startswith("i:"):
            lines.append(f"        ck:pointInTime {typed(time[2:])} ; ck:hasTimeBasis ck:TimeStated ;")
        else:
            a, _, b = time[2:].partition("/")
            lines.append(f"        ck:startTime {typed(a)} ; ck:endTime {typed(b or a)} ; ck:hasTimeBasis ck:TimeStated ;")
        lines.append(f"        ck:originalWording {po[CK.originalWording].n3()} .")
        additions[claim].append("\n".join(lines))
    # rewrite from the end so offsets stay valid
    edits = [(s, e, f"fig:{iri}") for s, e, iri, _, _ in replaced]
    for claim, blocks in additions.items():
        pos = claim_end(text, claim)
        edits.append((pos, pos, "\n" + "\n".join(blocks) + "\n"))
    for s, e, new in sorted(edits, key=lambda x: (x[0], x[1]), reverse=True):
        text = text[:s] + new + text[e:]
    # the link: a target stays ck:hasTarget; an expected or design figure moves to ck:hasProjection;
    # an actual or estimated one stays (or becomes) ck:hasQuantity
    for _, _, iri, mod, _ in replaced:
        text = re.sub(rf"ck:has(?:Quantity|Target)(\s+)fig:{re.escape(iri)}\b", rf"ck:{LINK[mod]}\1fig:{iri}", text)
    if "@prefix fig:" not in text:
        text = text.replace("@prefix id:", "@prefix fig:   <https://w3id.org/chainkg/id/figure/> .\n@prefix id:", 1)
    path.write_text(text, encoding="utf-8")
    print(f"{path.name}: {len(replaced)} figures")


def keys_for(paths) -> dict:
    """The figure IRI (local part) of every blank node: {subject}--{variable}--{time}--{modality};
    two statements of one key that differ in value or wording get a suffix from their wording."""
    rows = {}
    for path in paths:
        ds = rdflib.Dataset()
        ds.parse(path, format="trig")
        article = path.name[:3]
        for g in ds.graphs():
            name = str(g.identifier)
            if not name.startswith(CLAIM):
                continue
            claim = name[len(CLAIM):]
            for s, p, q in g:
                if p not in (CK.hasQuantity, CK.hasTarget):
                    continue
                w = str(g.value(q, CK.originalWording))
                note = str(g.value(q, CK.note) or "")
                row = FIGURES.get((claim, w)) or next(
                    v for k, v in FIGURES.items() if len(k) == 3 and k[:2] == (claim, w) and k[2] in note)
                var, mod, time = row
                t = PUBLISHED[article] if time == "pub" else time[2:].replace("/", "_")
                base = f"{str(s)[len(ID):]}--{kebab(var)}--{t}--{NOTATION[mod]}"
                rows[(claim, str(s), w, note)] = (base, w, str(g.value(q, CK.value)))
    by_base = defaultdict(set)
    for base, w, v in rows.values():
        by_base[base].add((w, v))
    out = {}
    for k, (base, w, v) in rows.items():
        if len(by_base[base]) > 1:
            base += "--" + hashlib.sha1(f"{w}|{v}".encode()).hexdigest()[:6]
        out[k] = base
    return out


if __name__ == "__main__":
    paths = sorted((ROOT / "triples").glob("0*.trig"))
    keys = keys_for(paths)
    if "--dry-run" in sys.argv:
        for v in sorted(keys.values()):
            print(v)
        sys.exit(0)
    for p in paths:
        migrate(p, keys)
