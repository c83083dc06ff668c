"""Hand-written examples (the /write/ page, the demo): a source kind with nothing to import."""
from curation.sources.plugins import SourceKind, register

# LIMA.md, Table 1: 200 hand-written training examples, 50 dev, 230 of the 300 test prompts.
SOURCE = register(SourceKind(kind="manual", label="Hand-written", licence="CC BY-NC-SA 4.0", order=50,
                             buckets={"hand_written": ("Hand-written", 60)}))
