"""chainkg: a knowledge graph of Qingdao's industrial chains, built from news articles.

The data flows one way: load -> validate -> reason -> dataset (frozen) -> sparql / queries /
linked_data / export, with app and cli on top.
"""

__version__ = "0.1.0"
