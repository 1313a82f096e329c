"""The ontology is in OWL 2 RL, as checked by a real profile checker: the OWL API's OWL2RLProfile.

The OWL API (Debian's libowlapi-java, installed by `scripts/install-system-deps.sh test`)
implements the grammar of each OWL 2 profile. A twenty-line Java checker is compiled at test
time into a temporary folder and run on every file of ontology/ merged into one graph, the way
the build loads them into graph/ontology. Every violation is printed; any one fails the test.
OWL2RLProfile checks OWL 2 DL first (declarations, punning, annotation vs data properties), so
undeclared external terms and a data property under an annotation property are reported too.
Fixtures in tests/fixtures/owl/ prove that the check bites.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from rdflib import Graph

from conftest import FIXTURES, ROOT, missing_input

OWLAPI_JARS = os.environ.get("CHAINKG_OWLAPI_CLASSPATH", "/usr/share/java/*")

CHECKER = """\
import java.io.File;
import org.semanticweb.owlapi.apibinding.OWLManager;
import org.semanticweb.owlapi.formats.TurtleDocumentFormat;
import org.semanticweb.owlapi.io.FileDocumentSource;
import org.semanticweb.owlapi.model.OWLOntology;
import org.semanticweb.owlapi.model.OWLOntologyManager;
import org.semanticweb.owlapi.profiles.OWL2RLProfile;
import org.semanticweb.owlapi.profiles.OWLProfileReport;
import org.semanticweb.owlapi.profiles.OWLProfileViolation;

/** Prints one line per OWL 2 RL violation of a Turtle file, then the axiom count. */
public class RLProfileCheck {
    public static void main(String[] args) throws Exception {
        OWLOntologyManager manager = OWLManager.createOWLOntologyManager();
        OWLOntology ontology = manager.loadOntologyFromOntologyDocument(
            new FileDocumentSource(new File(args[0]), new TurtleDocumentFormat()));
        OWLProfileReport report = new OWL2RLProfile().checkOntology(ontology);
        for (OWLProfileViolation v : report.getViolations()) {
            System.out.println("VIOLATION\\t" + v.getClass().getSimpleName() + "\\t"
                + v.toString().replaceAll(" in OntologyID\\\\(.*\\\\)\\\\]$", "]"));
        }
        System.out.println("AXIOMS\\t" + ontology.getAxiomCount());
    }
}
"""


@pytest.fixture(scope="module")
def checker(tmp_path_factory) -> Path:
    """The compiled checker's folder (javac at test time, against the OWL API jars)."""
    if not shutil.which("javac") or not shutil.which("java"):
        missing_input("no JDK (javac): run scripts/install-system-deps.sh test (default-jdk-headless)")
    if not glob.glob("/usr/share/java/owlapi-distribution*.jar") and "CHAINKG_OWLAPI_CLASSPATH" not in os.environ:
        missing_input("no OWL API: run scripts/install-system-deps.sh test (libowlapi-java)")
    folder = tmp_path_factory.mktemp("owlapi")
    (folder / "RLProfileCheck.java").write_text(CHECKER, encoding="utf-8")
    done = subprocess.run(["javac", "-cp", OWLAPI_JARS, "-d", str(folder), str(folder / "RLProfileCheck.java")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return folder


def merged(tmp_path: Path, *extra: Path) -> Path:
    """ontology/*.ttl (plus `extra` files) as one Turtle document, as the build's graph/ontology."""
    g = Graph()
    for f in sorted((ROOT / "ontology").glob("*.ttl")) + list(extra):
        g.parse(f, format="turtle")
    out = tmp_path / "ontology.ttl"
    g.serialize(out, format="turtle")
    return out


def violations(checker: Path, document: Path) -> list[str]:
    done = subprocess.run(["java", "-cp", f"{OWLAPI_JARS}{os.pathsep}{checker}", "RLProfileCheck", str(document)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    axioms = [int(line.split("\t")[1]) for line in lines if line.startswith("AXIOMS\t")]
    assert axioms and axioms[0] > 500, f"the checker read too little: {done.stdout[-500:]}"
    return sorted({line.split("\t", 1)[1] for line in lines if line.startswith("VIOLATION\t")})


def test_ontology_is_in_owl2_rl(checker, tmp_path):
    found = violations(checker, merged(tmp_path))
    assert not found, f"{len(found)} OWL 2 RL profile violations:\n" + "\n".join(found)


def test_an_existential_in_an_equivalence_is_reported(checker, tmp_path):
    found = violations(checker, merged(tmp_path, FIXTURES / "owl" / "existential-equivalence.ttl"))
    assert any(v.startswith("UseOfNonEquivalentClassExpression") and "chainLeaderOf" in v for v in found), found


def test_a_data_property_under_an_annotation_property_is_reported(checker, tmp_path):
    found = violations(checker, merged(tmp_path, FIXTURES / "owl" / "datatype-under-annotation.ttl"))
    assert any(v.startswith("IllegalPunning") and "ontology#note" in v for v in found), found


def test_an_undeclared_external_term_is_reported(checker, tmp_path):
    found = violations(checker, merged(tmp_path, FIXTURES / "owl" / "undeclared-external.ttl"))
    assert any(v.startswith("UseOfUndeclaredClass") and "schema.org/InvestmentFund" in v for v in found), found
