"""The matcher behind the Reconciliation Service API (/reconcile): an index of the graph's names,
built once per dataset version, and the scoring of a query against it.

Every thing under id/ with a ck: type and a label is a candidate. Its names are its rdfs:label,
skos:prefLabel and skos:altLabel in zh and en, each parsed by names.parse() into a full key and a
core key (no legal form, no city). The index holds the keys in dictionaries (exact lookups) and
their character n-grams in posting lists: a query reads the postings of its own n-grams, ranks the
labels they reach by the share of n-grams in common, and scores only the best CANDIDATES of them
with difflib. Nothing scans every label per query.

Scores (0-100) of one label:
    100  the whole name is the same (after NFKC, case and punctuation folds)
     95  the same core: only a legal form or a leading city differs (海尔集团 / Haier Group / 海尔)
     85  the same core, but one name is a group and the other a company, or one names a city in
         parentheses (芯恩(青岛)...: a Qingdao company or branch) and the other does not
   <=90  otherwise 100 x difflib's ratio of the cores, minus 5 (a containment counts as a ratio
         of at least 0.5 + 0.4 x the shorter's share)
A candidate's score is its best label's. `match` is true only for a candidate at 90 or more whose
nearest rival is at least MARGIN below it, that meets every property constraint (and, with
type_strict "should", the type).
"""

from __future__ import annotations

import bisect
import difflib
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from chainkg.build.dataset import PREFIXES, FrozenDataset
from chainkg.integrate.names import Name, grams, is_cjk, key, parse

CK = PREFIXES["ck"]
ID = PREFIXES["id"]
RDFS_LABEL = PREFIXES["rdfs"] + "label"
SKOS = PREFIXES["skos"]
MATCH_SCORE = 90
MARGIN = 10
CANDIDATES = 40
MAX_LIMIT = 25
DEFAULT_LIMIT = 5

# Properties with a name of their own (the rest of ck:'s properties are reachable by local name).
# id -> (en, zh, description)
NAMED_PROPERTIES = {
    "district": ("district", "所在区(市)", "the district or county-level city it lies in (ck:locatedIn, transitively)"),
    "city": ("city", "所在城市", "the city it lies in (ck:locatedIn, transitively)"),
    "park": ("industrial park", "所在园区", "the industrial park it is a tenant of or lies in"),
    "segment": ("chain segment", "产业链环节", "the industrial-chain segment it works in (ck:inSegment)"),
    "figures": ("figures", "数据", "its quantities: metric, the article's wording and time"),
    "type": ("type", "类型", "its ck: classes, most specific first"),
    "label_zh": ("Chinese name", "中文名", "rdfs:label in Chinese"),
    "label_en": ("English name", "英文名", "rdfs:label in English"),
}


class QueryError(ValueError):
    """A query the service cannot answer as asked: the message says what to change (400)."""


@dataclass
class Entity:
    iri: str
    labels: dict[str, list[str]] = field(default_factory=lambda: {"zh": [], "en": [], "": []})
    types: set[str] = field(default_factory=set)  # ck: local names, direct and inferred
    out: dict[str, list] = field(default_factory=lambda: defaultdict(list))  # ck: local name -> values

    @property
    def id(self) -> str:
        return self.iri[len(ID):]

    def name(self, lang: str) -> str:
        for choice in (lang, "en" if lang == "zh" else "zh", ""):
            if self.labels.get(choice):
                return self.labels[choice][0]
        return self.id


@dataclass(frozen=True)
class Candidate:
    entity: Entity
    score: float
    features: dict
    match: bool = False


class ReconcileIndex:
    """Everything /reconcile needs from one dataset version, built once (a few SPARQL queries)."""

    def __init__(self, ds: FrozenDataset):
        self.version = ds.version
        self.entities: dict[str, Entity] = {}
        self._load_labels(ds)
        self._load_types(ds)
        self._load_values(ds)
        self.entities = {i: e for i, e in self.entities.items() if e.types and any(e.labels.values())}
        self._index_names()

    # -- building ------------------------------------------------------------------------------------
    def _entity(self, iri: str) -> Entity:
        e = self.entities.get(iri)
        if e is None:
            e = self.entities[iri] = Entity(iri)
        return e

    def _load_labels(self, ds: FrozenDataset) -> None:
        # rdfs:label first (one per language), then prefLabel, then altLabels: the first is the name shown
        rows = ds.select(f"""
            PREFIX rdfs: <{PREFIXES['rdfs']}> PREFIX skos: <{SKOS}>
            SELECT ?s ?l ?rank WHERE {{
              {{ ?s rdfs:label ?l BIND(0 AS ?rank) }} UNION {{ ?s skos:prefLabel ?l BIND(1 AS ?rank) }}
              UNION {{ ?s skos:altLabel ?l BIND(2 AS ?rank) }}
              FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{ID}") && isLiteral(?l))
            }} ORDER BY ?s ?rank ?l""")
        langs = {r["s"] + "\0" + r["l"]: None for r in rows}  # keep order, drop duplicates
        lang_of = self._languages(ds)
        for k in langs:
            s, label = k.split("\0", 1)
            lang = lang_of.get((s, label), "")
            bucket = self._entity(s).labels.setdefault(lang if lang in ("zh", "en") else "", [])
            if label not in bucket:
                bucket.append(label)
        # class and property labels, for types and properties
        self.class_labels: dict[str, dict[str, str]] = defaultdict(dict)
        for r in ds.select(f"""
            PREFIX rdfs: <{PREFIXES['rdfs']}>
            SELECT ?c ?l (LANG(?l) AS ?lang) WHERE {{ ?c rdfs:label ?l FILTER(STRSTARTS(STR(?c), "{CK}")) }}"""):
            self.class_labels[r["c"][len(CK):]].setdefault(r.get("lang", ""), r["l"])

    @staticmethod
    def _languages(ds: FrozenDataset) -> dict:
        rows = ds.select(f"""
            PREFIX rdfs: <{PREFIXES['rdfs']}> PREFIX skos: <{SKOS}>
            SELECT ?s ?l (LANG(?l) AS ?lang) WHERE {{
              VALUES ?p {{ rdfs:label skos:prefLabel skos:altLabel }} ?s ?p ?l
              FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{ID}") && isLiteral(?l)) }}""")
        return {(r["s"], r["l"]): r.get("lang", "") for r in rows}

    def _load_types(self, ds: FrozenDataset) -> None:
        for r in ds.select(f"""SELECT DISTINCT ?s ?t WHERE {{ ?s a ?t
                FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{ID}") && STRSTARTS(STR(?t), "{CK}")) }}"""):
            self._entity(r["s"]).types.add(r["t"][len(CK):])
        # the class tree: every ck: class (owl:Class in the ontology) and its ck: superclasses
        self.classes: dict[str, set[str]] = defaultdict(set)  # class -> superclasses (transitive, inferred)
        for r in ds.select(f"""
            PREFIX owl: <{PREFIXES['owl']}> PREFIX rdfs: <{PREFIXES['rdfs']}>
            SELECT DISTINCT ?c ?sup WHERE {{ ?c a owl:Class FILTER(STRSTARTS(STR(?c), "{CK}"))
              OPTIONAL {{ ?c rdfs:subClassOf+ ?sup FILTER(STRSTARTS(STR(?sup), "{CK}") && ?sup != ?c) }} }}"""):
            c = r["c"][len(CK):]
            self.classes[c]
            if r.get("sup"):
                self.classes[c].add(r["sup"][len(CK):])
        self.subclasses: dict[str, set[str]] = defaultdict(set)  # class -> itself and every subclass
        for c, sups in self.classes.items():
            self.subclasses[c].add(c)
            for s in sups:
                self.subclasses[s].add(c)
        for e in self.entities.values():  # the types the reasoner gave are complete, but make sure
            for t in list(e.types):
                e.types |= self.classes.get(t, set())

    def _load_values(self, ds: FrozenDataset) -> None:
        """Outgoing ck: properties (asserted and inferred) and the figures of every thing under id/."""
        self.value_labels: dict[str, dict[str, str]] = defaultdict(dict)  # any IRI value -> lang -> label
        for r in ds.select(f"""
            SELECT ?s ?p ?o ?ol (LANG(?ol) AS ?lang) (DATATYPE(?o) AS ?dt) WHERE {{ ?s ?p ?o
              FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{ID}") && STRSTARTS(STR(?p), "{CK}"))
              FILTER(!isBlank(?o))
              OPTIONAL {{ ?o <{RDFS_LABEL}> ?ol }} }}"""):
            e = self._entity(r["s"])
            p, o = r["p"][len(CK):], r["o"]
            if r.get("dt"):
                value = ("literal", o, r["dt"])
            else:
                value = ("iri", o, None)
                if r.get("ol"):
                    self.value_labels[o].setdefault(r.get("lang", ""), r["ol"])
            if value not in e.out[p]:
                e.out[p].append(value)
        for r in ds.select(f"""
            PREFIX rdfs: <{PREFIXES['rdfs']}>
            SELECT ?s ?metric ?wording ?value ?time ?target WHERE {{
              ?s ?p ?q . VALUES ?p {{ <{CK}hasQuantity> <{CK}hasTarget> }}
              FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{ID}"))
              OPTIONAL {{ ?q <{CK}hasMetric> ?m . ?m rdfs:label ?metric FILTER(LANG(?metric) = "en") }}
              OPTIONAL {{ ?q <{CK}originalWording> ?wording }}
              OPTIONAL {{ ?q <{CK}value> ?value }}
              OPTIONAL {{ ?q <{CK}refersToTime> ?refersTo }}
              OPTIONAL {{ ?q <{CK}pointInTime> ?instant }}
              OPTIONAL {{ ?q <{CK}endTime> ?end }}
              # a target's year: the year of its instant or of the end of its period
              BIND (IF(?p = <{CK}hasTarget>, SUBSTR(STR(COALESCE(?instant, ?end)), 1, 4), ?unbound) AS ?target)
              BIND (IF(?p = <{CK}hasTarget>, ?unbound, STR(COALESCE(?refersTo, ?instant, ?end))) AS ?time)
            }} ORDER BY ?s ?metric ?time ?wording"""):
            text = f"{r.get('metric', 'figure')}: {r.get('wording') or r.get('value', '?')}"
            when = r.get("time") or (f"target {r['target']}" if r.get("target") else None)
            text += f" ({when})" if when else ""
            figures = self._entity(r["s"]).out["figures"]
            if ("literal", text, None) not in figures:
                figures.append(("literal", text, None))

    def _index_names(self) -> None:
        self.full: dict[str, list[int]] = defaultdict(list)  # whole-name key -> label numbers
        self.core: dict[str, list[int]] = defaultdict(list)  # core key -> label numbers
        self.labels: list[tuple[str, Name, int]] = []  # (entity IRI, parsed name, number of n-grams)
        self.postings: dict[str, list[int]] = defaultdict(list)
        for iri in sorted(self.entities):
            e = self.entities[iri]
            for label in dict.fromkeys(label for labels in e.labels.values() for label in labels):
                name = parse(label)
                g = grams(name.core) | grams(name.full)
                i = len(self.labels)
                self.labels.append((iri, name, len(g)))
                self.full[name.full].append(i)
                self.core[name.core].append(i)
                for piece in g | self._unigrams(name.full):
                    self.postings[piece].append(i)
        self.postings = dict(self.postings)
        # sorted keys for prefix suggestions: (key, label number)
        self.sorted_keys = sorted({(k, i) for i, (_, n, _) in enumerate(self.labels) for k in (n.full, n.core)})
        # reverse index for property constraints and property-only queries: value IRI -> subjects
        self.reverse: dict[tuple[str, str], set[str]] = defaultdict(set)
        for iri, e in self.entities.items():
            for p, values in self.property_values_all(e).items():
                for kind, v, _ in values:
                    if kind == "iri":
                        self.reverse[(p, v)].add(iri)

    @staticmethod
    def _unigrams(k: str) -> set[str]:
        return {c for c in k if is_cjk(c)}

    # -- types and properties ------------------------------------------------------------------------
    def type_id(self, raw: str) -> str:
        """Our class named by raw ("Enterprise", "ck:Enterprise" or the full IRI); QueryError if none."""
        local = raw[len(CK):] if raw.startswith(CK) else raw[3:] if raw.startswith("ck:") else raw
        if local not in self.classes:
            raise QueryError(f"unknown type {raw[:100]!r}: types are ck: classes such as 'Enterprise' "
                             "(see /reconcile/suggest/type)")
        return local

    def type_name(self, t: str, lang: str) -> str:
        labels = self.class_labels.get(t, {})
        return labels.get(lang) or labels.get("en") or t

    def specific_types(self, e: Entity) -> list[str]:
        """The entity's most specific ck: classes (none of its other classes is below them)."""
        types = {t for t in e.types if t in self.classes}
        return sorted(t for t in types if not any(t in self.classes.get(o, ()) for o in types if o != t))

    def property_ids(self) -> list[str]:
        used = sorted({p for e in self.entities.values() for p in e.out if p != "figures"})
        return list(NAMED_PROPERTIES) + [p for p in used if p not in NAMED_PROPERTIES]

    def property_id(self, raw: str) -> str:
        local = raw[len(CK):] if raw.startswith(CK) else raw[3:] if raw.startswith("ck:") else raw
        if local in NAMED_PROPERTIES or local in self.class_labels and local[:1].islower():
            return local
        raise QueryError(f"unknown property {raw[:100]!r}: use one of {', '.join(NAMED_PROPERTIES)} "
                         "or a ck: property such as 'locatedIn' (see /reconcile/suggest/property)")

    def property_name(self, p: str, lang: str) -> str:
        if p in NAMED_PROPERTIES:
            en, zh, _ = NAMED_PROPERTIES[p]
            return zh if lang == "zh" else en
        labels = self.class_labels.get(p, {})
        return labels.get(lang) or labels.get("en") or p

    def _places(self, e: Entity, cls: str) -> list:
        return [v for v in e.out.get("locatedIn", []) if v[0] == "iri" and cls in self._types_of(v[1])]

    def _types_of(self, iri: str) -> set[str]:
        e = self.entities.get(iri)
        return e.types if e else set()

    def values(self, e: Entity, p: str) -> list[tuple]:
        """(kind, value, datatype) triples of property p on e; kind is "iri" or "literal"."""
        if p == "district":
            return self._places(e, "District")
        if p == "city":
            return self._places(e, "City")
        if p == "park":
            seen = dict.fromkeys(v for v in e.out.get("tenantOf", []) + self._places(e, "IndustrialPark"))
            return list(seen)
        if p == "segment":
            return e.out.get("inSegment", [])
        if p == "type":
            return [("iri", CK + t, None) for t in self.specific_types(e)]
        if p in ("label_zh", "label_en"):
            return [("literal", label, None) for label in e.labels.get(p[-2:], [])[:1]]
        return e.out.get(p, [])

    def property_values_all(self, e: Entity) -> dict[str, list]:
        return {p: self.values(e, p) for p in ("district", "city", "park", "segment", *e.out)}

    def label_of(self, iri: str, lang: str) -> str:
        e = self.entities.get(iri)
        if e:
            return e.name(lang)
        labels = self.value_labels.get(iri, {})
        return labels.get(lang) or labels.get("en") or labels.get("") or iri.rsplit("/", 1)[-1].rsplit("#", 1)[-1]

    def describe(self, e: Entity, lang: str) -> str:
        """A short description: most specific type, then the district or city."""
        parts = [self.type_name(t, lang) for t in self.specific_types(e)[:2]]
        places = self.values(e, "district") or self.values(e, "city")
        if places:
            parts.append(self.label_of(places[0][1], lang))
        return " · ".join(parts)

    # -- matching ------------------------------------------------------------------------------------
    def resolve(self, raw: str) -> Entity | None:
        """The entity of an id: its slug or its full IRI."""
        iri = raw if raw.startswith(ID) else ID + raw
        return self.entities.get(iri)

    def candidates(self, query: Name, allowed=None) -> dict[str, tuple[float, dict]]:
        """{entity IRI: (score, features)} for the labels near the query, best label per entity."""
        hits: dict[int, float] = {}
        q_grams = grams(query.core) | grams(query.full)
        if len(query.full) == 1:  # one Chinese character: its own piece
            q_grams = {query.full}
        shared = Counter(i for g in q_grams for i in self.postings.get(g, ()))
        for i, n in shared.items():
            hits[i] = n / max(1, len(q_grams) + self.labels[i][2] - n)  # Jaccard of the n-gram sets
        ranked = sorted(hits, key=lambda i: (-hits[i], i))
        best: dict[str, tuple[float, dict]] = {}
        pool = [i for i in ranked if allowed is None or self.labels[i][0] in allowed][:CANDIDATES]
        exact = set(self.full.get(query.full, ())) | set(self.core.get(query.core, ()))
        pool += [i for i in sorted(exact - set(pool)) if allowed is None or self.labels[i][0] in allowed]
        for i in pool:
            iri, name, _ = self.labels[i]
            score, features = score_names(query, name)
            if iri not in best or score > best[iri][0]:
                best[iri] = (score, features)
        return best

    def allowed_by_types(self, types: list[str], strict: str) -> set[str] | None:
        """The entities a type filter lets through (None: no filter)."""
        if not types or strict == "should":
            return None
        sets = [{iri for c in self.subclasses[t] for iri in self._by_type.get(c, ())} for t in types]
        return set.intersection(*sets) if strict == "all" else set.union(*sets)

    @property
    def _by_type(self) -> dict[str, set[str]]:
        cached = getattr(self, "_by_type_cache", None)
        if cached is None:
            cached = defaultdict(set)
            for iri, e in self.entities.items():
                for t in e.types:
                    cached[t].add(iri)
            self._by_type_cache = cached
        return cached

    def satisfies(self, e: Entity, pid: str, wanted: list) -> bool:
        """Does any value of pid on e match any wanted value (an entity id, a name, a number)?"""
        values = self.values(e, pid)
        for w in wanted:
            if isinstance(w, dict):
                target = self.resolve(w["id"])
                iri = target.iri if target else w["id"]
                if any(kind == "iri" and v in (iri, CK + w["id"]) for kind, v, _ in values):
                    return True
                continue
            if isinstance(w, bool):
                text = "true" if w else "false"
            else:
                text = str(w)
            if isinstance(w, (int, float)) and not isinstance(w, bool):
                for kind, v, _ in values:
                    try:
                        if kind == "literal" and float(v) == float(w):
                            return True
                    except ValueError:
                        pass
            wn = parse(text)
            for kind, v, _ in values:
                names = [v] if kind == "literal" else self._all_labels(v)
                for n in names:
                    pn = parse(n)
                    if wn.full == pn.full or wn.core == pn.core or (kind == "iri" and key(text) == key(v.rsplit("/", 1)[-1])):
                        return True
        return False

    def _all_labels(self, iri: str) -> list[str]:
        e = self.entities.get(iri)
        if e:
            return [label for labels in e.labels.values() for label in labels]
        return list(self.value_labels.get(iri, {}).values())

    def reconcile(self, q: dict) -> list[Candidate]:
        """One query of a batch (already checked by the web layer's parse_batch) -> candidates."""
        types = [self.type_id(t) for t in q.get("types", [])]
        strict = q.get("type_strict", "any")
        allowed = self.allowed_by_types(types, strict)
        props = [(self.property_id(p["pid"]), p["v"] if isinstance(p["v"], list) else [p["v"]])
                 for p in q.get("properties", [])]
        limit = q.get("limit", DEFAULT_LIMIT)
        text = q.get("query", "").strip()
        if text:
            query = parse(text)
            scored = self.candidates(query, allowed)
        else:  # properties only: the things that meet them (through the reverse index where it can)
            pool = allowed if allowed is not None else set(self.entities)
            for pid, wanted in props:
                ids = [w for w in wanted if isinstance(w, dict)]
                if ids and len(ids) == len(wanted):
                    reach = set()
                    for w in ids:
                        target = self.resolve(w["id"])
                        reach |= self.reverse.get((pid, target.iri if target else w["id"]), set())
                    pool = pool & reach
            scored = {iri: (50.0, {"name": 0.0}) for iri in pool}
        out = []
        for iri, (score, features) in scored.items():
            e = self.entities[iri]
            features = dict(features)
            ok = True
            for pid, wanted in props:
                hit = self.satisfies(e, pid, wanted)
                features[f"property:{pid}"] = hit
                ok = ok and hit
                score = min(100.0, score + 5) if hit else score - 30
            if types and strict == "should":
                typed = any(e.types & self.subclasses[t] for t in types)
                features["type"] = typed
                score = score if typed else score - 10
                ok = ok and typed  # another type may rank, never match
            if not text and not ok:
                continue
            out.append((round(max(score, 0.0), 1), ok, e, features))
        out.sort(key=lambda x: (-x[0], x[2].iri))
        out = out[:limit]
        result = []
        for n, (score, ok, e, features) in enumerate(out):
            rival = out[1][0] if n == 0 and len(out) > 1 else None
            confident = (n == 0 and text != "" and ok and score >= MATCH_SCORE
                         and (rival is None or rival <= score - MARGIN))
            result.append(Candidate(e, score, features, confident))
        return result

    # -- suggest -------------------------------------------------------------------------------------
    def suggest_entities(self, prefix: str, limit: int, cursor: int = 0) -> list[Entity]:
        """Entities with a name that starts with prefix (first) or contains it, in zh or en."""
        k = key(prefix)
        if not k:
            return []
        order: dict[str, int] = {}
        lo = bisect.bisect_left(self.sorted_keys, (k, -1))
        for label_key, i in self.sorted_keys[lo:]:
            if not label_key.startswith(k):
                break
            order.setdefault(self.labels[i][0], 0)
        pieces = grams(k) - {g for g in grams(k) if g.startswith("^") or g.endswith("$")} if not is_cjk(k) else grams(k)
        if len(k) == 1 and is_cjk(k):
            pieces = {k}
        if pieces:
            sets = [set(self.postings.get(g, ())) for g in pieces]
            for i in sorted(set.intersection(*sets)):
                iri, name, _ = self.labels[i]
                if k in name.full or k in name.core:
                    order.setdefault(iri, 1)
        ranked = sorted(order, key=lambda iri: (order[iri], len(self.entities[iri].name("en")), iri))
        return [self.entities[iri] for iri in ranked[cursor:cursor + limit]]

    def suggest_labels(self, options: dict[str, list[str]], prefix: str, limit: int, cursor: int = 0) -> list[str]:
        """Ids among options ({id: [names]}) whose id or a name starts with, then contains, prefix.
        The option lists are small (dozens of classes and properties), so this one may scan."""
        k = key(prefix)
        starts, contains = [], []
        for oid, names in options.items():
            keys = [key(oid)] + [key(n) for n in names]
            if any(x.startswith(k) for x in keys):
                starts.append(oid)
            elif any(k in x for x in keys):
                contains.append(oid)
        return (sorted(starts) + sorted(contains))[cursor:cursor + limit]


def score_names(query: Name, label: Name) -> tuple[float, dict]:
    """(score 0-100, features) of one query name against one label name (see the module doc)."""
    if query.full == label.full:
        return 100.0, {"name_exact": True, "name_core": True, "name_similarity": 1.0}
    if query.core == label.core:
        score = 95.0
        if query.city_paren != label.city_paren:
            score = 85.0
        if (query.group and label.legal and not label.group) or (label.group and query.legal and not query.group):
            score = 85.0
        return score, {"name_exact": False, "name_core": True, "name_similarity": 1.0}
    a, b = query.core, label.core
    ratio = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    short, long = sorted((a, b), key=len)
    if len(short) >= (2 if is_cjk(short) else 4) and short in long:
        ratio = max(ratio, 0.5 + 0.4 * len(short) / len(long))
    score = min(90.0, round(100 * ratio - 5, 1))
    return max(score, 0.0), {"name_exact": False, "name_core": False, "name_similarity": round(ratio, 3)}
